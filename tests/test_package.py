"""The package itself: its top-level names, and `import kiln` without SciPy (SciPy's import
alone is about 0.3 s of issue 6's 0.25 s budget: ops that compute with SciPy resolve it on
first use, kiln._lazy)."""
import subprocess
import sys


def test_import_kiln_does_not_import_scipy():
    code = "import sys, kiln; print(sorted(m for m in sys.modules if m == 'scipy' or m.startswith('scipy.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_deferred_scipy_function_matches_scipy_and_pickles():
    import pickle

    import numpy as np
    import scipy.special as sps

    from kiln._lazy import scipy_function

    f = scipy_function("special", "gammaln")
    x = np.linspace(0.1, 30.0, 50)
    np.testing.assert_array_equal(f(x), sps.gammaln(x))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(f))(x), sps.gammaln(x))


def test_top_level_names_follow_pytensor():
    """pytensor's top-level aliases: Lop/Rop/pullback/pushforward, get_mode, dprint."""
    import kiln
    import kiln.gradient as kg
    from kiln.compile.mode import get_mode
    from kiln.printing import debugprint

    assert (kiln.Lop, kiln.Rop, kiln.pullback, kiln.pushforward) == (kg.Lop, kg.Rop, kg.pullback, kg.pushforward)
    assert kiln.get_mode is get_mode and kiln.dprint is debugprint
