"""einsum as a graph of existing ops.

Each operand first loses its repeated labels (a diagonal: multiply by an identity mask, sum one
axis) and the labels nobody else needs (a sum).  Operands are then contracted left to right,
two at a time, as one batched matmul: labels shared and still needed are batch axes (they
broadcast like matmul's batch axes), labels shared and no longer needed are contracted, the
others are kept.  A final sum and transpose give the requested output order.  Derivatives and
(later) C code come from the ops used: dimshuffle, reshape, mul, sum, matmul.
"""
from __future__ import annotations

from typing import Any

import kiln.tensor.math as km
from kiln.tensor.basic import as_tensor_variable, describe

__all__ = ["einsum"]

_ELL = [chr(0x391 + i) for i in range(24)]   # private labels standing for '...' axes


def _parse(subscripts: str, ops: list) -> tuple[list[str], str]:
    s = subscripts.replace(" ", "")
    if "->" in s:
        lhs, out = s.split("->")
        explicit = True
    else:
        lhs, out, explicit = s, "", False
    terms = lhs.split(",")
    if len(terms) != len(ops):
        raise ValueError(f"einsum: {len(terms)} operand terms in {subscripts!r} but {len(ops)} operands")
    max_ell = 0
    res = []
    for t, x in zip(terms, ops):
        if "." in t:
            if t.count("...") != 1 or t.replace("...", "").count("."):
                raise ValueError(f"einsum: invalid ellipsis in term {t!r}")
            k = x.ndim - (len(t) - 3)
            if k < 0:
                raise ValueError(f"einsum: term {t!r} has more labels than {describe(x)} has axes")
            max_ell = max(max_ell, k)
            t = t.replace("...", "".join(_ELL[len(_ELL) - k:]) if k else "")
        for c in t:
            if not (c.isalpha() and c.isascii()) and c not in _ELL:
                raise ValueError(f"einsum: invalid label {c!r} in {subscripts!r}")
        if len(t) != x.ndim:
            raise ValueError(f"einsum: term {t!r} has {len(t)} labels but operand is {describe(x)}")
        res.append(t)
    ell = "".join(_ELL[len(_ELL) - max_ell:]) if max_ell else ""
    if explicit:
        if "." in out:
            out = out.replace("...", ell)
        elif ell:
            pass   # ellipsis axes not named in the output are summed (as NumPy does)
        for c in out:
            if out.count(c) > 1:
                raise ValueError(f"einsum: output label {c!r} repeated in {subscripts!r}")
            if not any(c in t for t in res):
                raise ValueError(f"einsum: output label {c!r} does not appear in the inputs of {subscripts!r}")
    else:
        counts: dict[str, int] = {}
        for t in res:
            for c in t:
                if c not in _ELL:
                    counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1))
    return res, out


def _diagonals(x, labels: str):
    """Remove repeated labels of one operand by taking diagonals."""
    from kiln.tensor.linalg._util import eye_mask
    from kiln.tensor.shape import transpose

    while len(set(labels)) < len(labels):
        c = next(c for c in labels if labels.count(c) > 1)
        i = labels.index(c)
        j = labels.index(c, i + 1)
        rest = [d for d in range(x.ndim) if d not in (i, j)]
        x = transpose(x, rest + [i, j])
        x = km.sum(x * eye_mask(x), axis=-1)
        labels = "".join(labels[d] for d in rest) + c
    return x, labels


def _sum_out(x, labels: str, keep: set):
    drop = [d for d, c in enumerate(labels) if c not in keep]
    if drop:
        x = km.sum(x, axis=tuple(drop))
        labels = "".join(c for c in labels if c in keep)
    return x, labels


def _size(x, d):
    from kiln.tensor.shape import shape_i

    s = x.type.shape[d]
    return s if s is not None else shape_i(x, d)


def _prod(sizes):
    from kiln.tensor.basic import constant

    if all(isinstance(s, int) for s in sizes):
        p = 1
        for s in sizes:
            p *= s
        return p
    acc = constant(1, dtype="int64")
    for s in sizes:
        acc = km.mul(acc, s)
    return acc


def _contract(a, la: str, b, lb: str, needed: set):
    """Contract two operands as one batched matmul; returns (result, its labels)."""
    from kiln.tensor.blas import matmul
    from kiln.tensor.shape import reshape, transpose

    batch = [c for c in la if c in lb and c in needed]
    con = [c for c in la if c in lb and c not in needed]
    fa = [c for c in la if c not in lb]
    fb = [c for c in lb if c not in la]
    at = transpose(a, [la.index(c) for c in batch + fa + con])
    bt = transpose(b, [lb.index(c) for c in batch + con + fb])
    nb = len(batch)
    sa = {c: _size(at, d) for d, c in enumerate(batch + fa + con)}
    sb = {c: _size(bt, d) for d, c in enumerate(batch + con + fb)}
    # batch axes stay separate so that matmul broadcasts length-1 ones
    a3 = reshape(at, [sa[c] for c in batch] + [_prod([sa[c] for c in fa]), _prod([sa[c] for c in con])],
                 ndim=nb + 2)
    b3 = reshape(bt, [sb[c] for c in batch] + [_prod([sb[c] for c in con]), _prod([sb[c] for c in fb])],
                 ndim=nb + 2)
    p = matmul(a3, b3)
    shape = [_size(p, d) for d in range(nb)] + [sa[c] for c in fa] + [sb[c] for c in fb]
    return reshape(p, shape, ndim=len(shape)), "".join(batch + fa + fb)


def einsum(subscripts: str, *operands: Any):
    """numpy.einsum for real tensors: explicit ('ij,jk->ik') or implicit ('ij,jk') output,
    '...' broadcasting, repeated labels (diagonals, traces), any number of operands
    (contracted left to right).

    >>> import numpy as np, kiln.tensor as kt
    >>> a, b = kt.dmatrix("a"), kt.dmatrix("b")
    >>> einsum("ij,jk->ik", a, b).eval({a: np.eye(2), b: np.array([[1.0, 2.0], [3.0, 4.0]])})
    array([[1., 2.],
           [3., 4.]])
    """
    from kiln.tensor.shape import transpose

    if not isinstance(subscripts, str):
        raise TypeError("einsum: the first argument must be the subscripts string")
    ops = [as_tensor_variable(x) for x in operands]
    if not ops:
        raise ValueError("einsum: at least one operand is needed")
    terms, out = _parse(subscripts, ops)
    items = [_diagonals(x, t) for x, t in zip(ops, terms)]
    keep_final = set(out)

    def needed_after(k):
        s = set(keep_final)
        for _, t in items[k + 1:]:
            s.update(t)
        return s

    cur, lc = items[0]
    for k in range(1, len(items)):
        x, lx = items[k]
        after = needed_after(k)
        cur, lc = _sum_out(cur, lc, after | set(lx))
        x, lx = _sum_out(x, lx, after | set(lc))
        cur, lc = _contract(cur, lc, x, lx, after)
    cur, lc = _sum_out(cur, lc, keep_final)
    if lc != out:
        cur = transpose(cur, [lc.index(c) for c in out])
    return cur
