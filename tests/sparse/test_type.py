"""SparseTensorType, variables, constructors, constants, shared variables, errors, pickling."""
import pickle
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as ss

import kiln
import kiln.sparse as ks
import kiln.tensor as kt
from tests.sparse.sparse_helpers import empty, rand_sparse


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_variables_and_constructors(fmt):
    x = getattr(ks, f"{fmt}_matrix")("x", dtype="float32")
    assert (x.format, x.dtype, x.ndim) == (fmt, "float32", 2)
    assert getattr(ks, f"{fmt}_dmatrix")().dtype == "float64"
    assert getattr(ks, f"{fmt}_fmatrix")().dtype == "float32"
    assert x.T.format == ("csc" if fmt == "csr" else "csr")
    assert isinstance(x + x, ks.SparseVariable) and isinstance(x * x, ks.SparseVariable)
    assert ks.csr_matrix("y").dtype == kiln.config.floatX


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_filter_dtype_format_and_dense(fmt):
    t = ks.SparseTensorType(fmt, "float64")
    v = rand_sparse(fmt, dtype="float32")
    out = t.filter(v)
    assert out.format == fmt and out.dtype == np.float64
    np.testing.assert_allclose(out.toarray(), v.toarray())
    with pytest.raises(TypeError, match="without loss"):
        ks.SparseTensorType(fmt, "float32").filter(rand_sparse(fmt))
    assert ks.SparseTensorType(fmt, "float32").filter(rand_sparse(fmt), allow_downcast=True).dtype == np.float32
    with pytest.raises(TypeError, match="dense 2-d ndarray"):
        t.filter(np.zeros((2, 2)))
    other = "csc" if fmt == "csr" else "csr"
    with pytest.raises(TypeError, match=f"expected a {fmt} matrix"):
        t.filter(rand_sparse(other))
    with pytest.raises(ValueError, match="static shape"):
        ks.SparseTensorType(fmt, "float64", (2, 2)).filter(rand_sparse(fmt))
    # sparse arrays are accepted and come back as matrices
    arr = getattr(ss, f"{fmt}_array")(np.eye(2))
    assert isinstance(t.filter(arr), ss.spmatrix)


def test_function_errors_name_the_problem(mode):
    x = ks.csr_matrix("x", dtype="float64")
    f = kiln.function([x], ks.sp_sum(x), mode=mode)
    with pytest.raises(TypeError, match="scipy.sparse csr"):
        f(np.eye(2))
    with pytest.raises(TypeError, match="expected a csr matrix"):
        f(ss.csc_matrix(np.eye(2)))
    w = kt.dmatrix("w")
    g = kiln.function([x, w], ks.dot(x, w), mode=mode)
    with pytest.raises(ValueError, match="not aligned"):
        g(rand_sparse("csr", (3, 4)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="not aligned"):
        ks.dot(ks.csr_matrix(shape=(2, 3)), kt.tensor("float64", shape=(4, 2)))
    with pytest.raises(TypeError, match="neither"):
        ks.dot(w, w)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_constant_and_outputs_keep_format(fmt, mode):
    v = rand_sparse(fmt)
    c = ks.as_sparse_variable(v)
    assert isinstance(c, ks.SparseConstant) and c.format == fmt
    assert ks.as_sparse(ss.coo_matrix(v)).format == "csr"
    f = kiln.function([], [c * 2.0, c.toarray()], mode=mode)
    s, d = f()
    assert isinstance(s, ss.spmatrix) and s.format == fmt
    np.testing.assert_allclose(s.toarray(), 2 * v.toarray())
    np.testing.assert_allclose(d, v.toarray())
    with pytest.raises(TypeError, match="scipy.sparse"):
        ks.as_sparse_variable(np.eye(2))


def test_constant_signature_merges_equal_values():
    a, b = ks.as_sparse(ss.csr_matrix(np.eye(2))), ks.as_sparse(ss.csr_matrix(np.eye(2)))
    assert a.signature() == b.signature()
    assert a.signature() != ks.as_sparse(ss.csr_matrix(2 * np.eye(2))).signature()


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_shared_sparse_with_updates(fmt, mode):
    v = rand_sparse(fmt)
    s = kiln.shared(v, name="s")
    assert isinstance(s, ks.SparseSharedVariable) and s.type.format == fmt
    d = kiln.shared(np.zeros(2))          # dense shared variables are unchanged
    assert isinstance(d.type, kt.TensorType)
    f = kiln.function([], ks.sp_sum(s), updates=[(s, s * 2.0)], mode=mode)
    assert float(f()) == pytest.approx(v.sum())
    assert float(f()) == pytest.approx(2 * v.sum())
    got = s.get_value()
    assert got.format == fmt
    np.testing.assert_allclose(got.toarray(), 4 * v.toarray())
    s.set_value(empty(fmt, (4, 3)))
    assert float(f()) == 0.0
    with pytest.raises(TypeError, match="scipy.sparse"):
        s.set_value(np.zeros((4, 3)))
    v.data[:] = 100.0                     # the shared variable holds its own copy
    assert s.get_value().sum() == 0.0


def test_pickle_compiled_function(mode):
    x = ks.csc_matrix("x", dtype="float64")
    w = kt.dvector("w")
    f = kiln.function([x, w], [ks.dot(x, w), ks.structured_exp(x)], mode=mode)
    g = pickle.loads(pickle.dumps(f))
    v, wv = rand_sparse("csc"), np.arange(3.0)
    for a, b in zip(f(v, wv), g(v, wv)):
        a = a.toarray() if ss.issparse(a) else a
        b = b.toarray() if ss.issparse(b) else b
        np.testing.assert_allclose(a, b)


def test_import_kiln_does_not_import_scipy():
    code = "import sys, kiln, kiln.sparse; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
