"""PyTensor module paths: `from pytensor.tensor.<mod> import name` ports to
`from kiln.tensor.<mod> import name` for every public function of those modules that kiln has.

The walk over PyTensor's modules lists what is still missing; the list must equal the short
allow-list below, where each name kiln deliberately lacks has its reason."""
from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
import types
import warnings

import pytest

import kiln.tensor as kt

MODULES = ["math", "basic", "extra_ops", "slinalg", "nlinalg", "linalg", "subtensor", "shape", "special",
           "elemwise", "blas", "sort", "random", "fft", "exceptions", "blockwise"]

#: (module, name) -> why kiln does not have it
ALLOWED_MISSING = {
    ("basic", "transfer"): "moves a variable to another device in PyTensor's GPU backends; kiln's linkers "
                           "choose the device of a whole graph",
    ("shape", "register_shape_c_code"): "registers C code in PyTensor's C backend; kiln's C linker uses "
                                        "lowering tables (kiln/linkers/c/lower.py)",
    ("shape", "register_shape_i_c_code"): "the same, for Shape_i",
    ("shape", "shape_tuple"): "an internal helper of PyTensor's rewrites (kt.shape / shape_i serve users)",
    ("shape", "vectorize_shape"): "PyTensor's vectorize_graph dispatch for Shape (an internal hook)",
    ("elemwise", "get_normalized_batch_axes"): "internal helper of PyTensor's Elemwise vectorization",
    ("elemwise", "scalar_elemwise"): "PyTensor's decorator defining tensor functions from scalar ops; kiln "
                                     "builds them as Elemwise(scalar_op) instances in kiln.tensor.math",
    ("elemwise", "scalar_identity"): "internal scalar op instance of PyTensor's rewrites",
    ("elemwise", "vectorize_careduce"): "PyTensor's vectorize_graph dispatch for CAReduce (internal hook)",
    ("elemwise", "vectorize_dimshuffle"): "PyTensor's vectorize_graph dispatch for DimShuffle (internal hook)",
    **{("blas", n): "a BLAS op of PyTensor's C backend; in kiln the specialize phase makes its own "
                    "gemm/gemv forms from dot/matmul, and users call kt.dot / kt.matmul"
       for n in ("gemm", "gemm_inplace", "gemm_no_inplace", "gemv", "gemv_inplace", "gemv_no_inplace", "ger",
                 "ger_destructive")},
    ("blas", "ldflags"): "PyTensor's BLAS link flags; kiln gets BLAS from SciPy's cython_blas at load time",
    ("blas", "must_initialize_y_gemv"): "internal probe of PyTensor's C gemv",
    ("blas", "view_roots"): "internal helper of PyTensor's inplace BLAS rewrites",
    ("fft", "sqrt"): "pytensor.tensor.math's sqrt, imported by PyTensor's fft module for its own use (kt.sqrt)",
    ("blockwise", "vectorize_node_fallback"): "PyTensor's vectorize_graph dispatch for ops without their own "
                                              "(an internal hook); kiln's vectorize_graph maps the core graph",
    ("random", "default_rng"): "a symbolic seed -> Generator op; kiln draws take a NumPy Generator or a shared "
                               "one (kiln.shared(np.random.default_rng(seed)) or RandomStream(seed))",
}


def _public_callables(modname: str) -> list[str]:
    """PyTensor's public callables of pytensor.tensor.<modname>: its __all__, or for deprecated
    shims their moved names, or else the functions it defines and the Op instances it holds."""
    from pytensor.graph.op import Op

    mod = importlib.import_module(f"pytensor.tensor.{modname}")
    if hasattr(mod, "__all__"):
        names, own = list(mod.__all__), False
    elif "_MOVED_NAMES" in vars(mod):
        names, own = list(mod._MOVED_NAMES), False
    else:
        names, own = list(vars(mod)), True
    out = set()
    for n in names:
        if n.startswith("_"):
            continue
        obj = getattr(mod, n, None)
        if obj is None or not callable(obj) or isinstance(obj, type) or inspect.ismodule(obj):
            continue
        if own:
            if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
                if obj.__module__ != mod.__name__:      # imported from elsewhere
                    continue
            elif not isinstance(obj, Op):
                continue
        out.add(n)
    return sorted(out)


def test_pytensor_names_resolve_at_the_same_module_path():
    pytest.importorskip("pytensor")
    missing = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # slinalg/nlinalg are deprecated shims in PyTensor
        for m in MODULES:
            kmod = importlib.import_module(f"kiln.tensor.{m}")
            for n in _public_callables(m):
                if not hasattr(kmod, n):
                    missing.add((m, n))
    assert sorted(missing) == sorted(ALLOWED_MISSING), (
        f"newly missing: {sorted(missing - set(ALLOWED_MISSING))}; "
        f"now present (drop from the allow-list): {sorted(set(ALLOWED_MISSING) - missing)}")


@pytest.mark.parametrize("stmt,ref", [
    ("from kiln.tensor.math import betainc", "betainc"),
    ("from kiln.tensor.basic import stack", "stack"),
    ("from kiln.tensor.extra_ops import repeat", "repeat"),
    ("from kiln.tensor.slinalg import solve_triangular", "linalg.solve_triangular"),
    ("from kiln.tensor.nlinalg import matrix_inverse", "linalg.inv"),
    ("from kiln.tensor.subtensor import set_subtensor", "set_subtensor"),
    ("from kiln.tensor.shape import shape_padleft", "shape_padleft"),
    ("from kiln.tensor.sort import argsort", "argsort"),
    ("from kiln.tensor.special import logit", None),
    ("from kiln.tensor.slinalg import lu_factor", "linalg.lu_factor"),
    ("from kiln.tensor.nlinalg import tensorinv", "linalg.tensorinv"),
])
def test_ported_imports_are_kilns_own_objects(stmt, ref):
    ns: dict = {}
    exec(stmt, ns)
    name = stmt.split()[-1]
    obj = ns[name]
    assert callable(obj)
    if ref is not None:
        target = kt
        for part in ref.split("."):
            target = getattr(target, part)
        assert obj is target


def test_reexported_names_stay_out_of_star_imports_and_show_in_dir():
    import kiln.tensor.math as km

    assert "betainc" not in km.__all__
    assert "betainc" in dir(km)
    with pytest.raises(AttributeError, match="no attribute 'not_a_function'"):
        km.not_a_function  # noqa: B018


def test_reexport_works_in_a_fresh_interpreter():
    """The lazy names resolve when the module is the first thing imported."""
    code = ("from kiln.tensor.math import betainc; from kiln.tensor.shape import shape_padleft; "
            "import kiln.tensor as kt; print(betainc is kt.betainc and shape_padleft is kt.shape_padleft)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_special_and_random_names():
    import numpy as np
    import scipy.special as sp

    from kiln.tensor.special import factorial, logit, poch
    import kiln.tensor.random as kr

    x = kt.dvector("x")
    vals = np.array([0.2, 0.5, 0.9])
    np.testing.assert_allclose(logit(x).eval({x: vals}), sp.logit(vals))
    np.testing.assert_allclose(poch(x, 2.5).eval({x: vals}), sp.poch(vals, 2.5))
    n = np.array([0.0, 3.0, 4.5, -1.0])
    np.testing.assert_allclose(factorial(x).eval({x: n}), sp.factorial(n))
    got = kr.nbinom(5, 0.3, size=4, rng=np.random.default_rng(0)).eval()
    np.testing.assert_array_equal(got, np.random.default_rng(0).negative_binomial(5, 0.3, size=4))
    assert kr.gengamma(2.0, 1.5, 3.0, size=2).dtype == kr.truncexpon(1.0, size=2).dtype


@pytest.mark.parametrize("name", ["kiln.tensor.special_more", "kiln.tensor._reexport", "kiln.tensor.sort",
                                  "kiln.tensor.slinalg", "kiln.tensor.nlinalg"])
def test_docstring_examples(name):
    import doctest

    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0


def test_sort_module_path_keeps_kt_sort_the_function():
    import numpy as np

    from kiln.tensor.sort import argsort

    assert callable(kt.sort) and not isinstance(kt.sort, types.ModuleType)
    x = kt.dvector("x")
    np.testing.assert_array_equal(argsort(x).eval({x: np.array([3.0, 1.0, 2.0])}), [1, 2, 0])
