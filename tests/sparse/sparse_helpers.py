"""Helpers for kiln.sparse tests: random csr/csc values, and a finite-difference check of
gradients on the stored entries of sparse inputs."""
import numpy as np
import scipy.sparse as ss

import kiln


def rand_sparse(fmt, shape=(4, 3), dtype="float64", density=0.5, seed=0):
    """A random sparse matrix (values in [0.5, 1.5) so logs and divisions are safe)."""
    rng = np.random.default_rng(seed)
    m = ss.random(*shape, density=density, format=fmt, random_state=rng, dtype="float64")
    m.data = rng.uniform(0.5, 1.5, size=m.nnz)
    m.sort_indices()
    return m.astype(dtype)


def empty(fmt, shape=(3, 2), dtype="float64"):
    """A matrix storing nothing."""
    return getattr(ss, f"{fmt}_matrix")(shape, dtype=dtype)


def check_grad(cost_fn, inputs, values, mode=None, eps=1e-6, rtol=1e-5, structured=True):
    """grad of cost_fn(*inputs) against central differences: for a sparse input over its
    stored entries (the gradient must be sparse with the same pattern), for a dense one
    over every entry."""
    cost = cost_fn(*inputs)
    grads = kiln.grad(cost, list(inputs))
    f = kiln.function(list(inputs), cost, mode=mode)
    g = kiln.function(list(inputs), grads, mode=mode)
    got = g(*values)
    for k, (v, gk) in enumerate(zip(values, got)):
        def at(delta, k=k):
            vals = list(values)
            vals[k] = delta
            return float(f(*vals))

        if ss.issparse(v):
            assert ss.issparse(gk) and gk.format == v.format, f"gradient {k} is {type(gk)}"
            gd = gk.toarray()
            if structured:
                assert np.all(gd[v.toarray() == 0] == 0), "gradient outside the input's pattern"
            num = np.zeros(v.nnz)
            for e in range(v.nnz):
                p, m = v.copy(), v.copy()
                p.data[e] += eps
                m.data[e] -= eps
                num[e] = (at(p) - at(m)) / (2 * eps)
            coo = v.tocoo()
            np.testing.assert_allclose(gd[coo.row, coo.col], num, rtol=rtol, atol=1e-7)
        else:
            v = np.asarray(v, dtype="float64")
            num = np.zeros(v.shape)
            for idx in np.ndindex(v.shape):
                p, m = v.copy(), v.copy()
                p[idx] += eps
                m[idx] -= eps
                num[idx] = (at(p) - at(m)) / (2 * eps)
            np.testing.assert_allclose(gk, num, rtol=rtol, atol=1e-7)
