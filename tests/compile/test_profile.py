"""function(..., profile=...) (PyTensor's ProfileStats): call counts and times, per node with
the python linker; Function.get_shared, dprint and free."""
import io

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.compile.profiling import ProfileStats


@pytest.mark.parametrize("mode", [kiln.Mode(linker="py"), None], ids=["py", "default"])
def test_profile_counts_calls_and_keeps_results(mode):
    x = kt.dvector("x")
    f = kiln.function([x], kt.exp(x).sum() + kt.sin(x).max(), profile=True, mode=mode)
    v = np.linspace(0, 1, 50)
    for _ in range(3):
        np.testing.assert_allclose(f(v), np.exp(v).sum() + np.sin(v).max())
    p = f.profile
    assert p.fct_callcount == 3 and p.fct_call_time > 0 and p.compile_time > 0
    if mode is not None:   # the python linker times every node
        assert sum(c for c, _ in p.apply_time.values()) == 3 * len(f.fgraph.apply_nodes)
    buf = io.StringIO()
    p.summary(file=buf)
    assert "3 calls" in buf.getvalue()


def test_profile_name_shared_stats_and_no_profile():
    x = kt.dvector("x")
    stats = ProfileStats(name="both")
    f = kiln.function([x], x + 1, profile=stats)
    g = kiln.function([x], x * 2, profile=stats)
    f(np.ones(2)), g(np.ones(2)), g(np.ones(2))
    assert stats.fct_callcount == 3
    assert kiln.function([x], x + 1, profile="named").profile.name == "named"
    assert kiln.function([x], x + 1).profile is None


def test_get_shared_dprint_free(capsys):
    w = kiln.shared(np.ones(2), name="w")
    x = kt.dvector("x")
    f = kiln.function([x], (x * w).sum(), updates=[(w, w + 1)])
    assert f.get_shared() == [w]
    assert float(f(np.ones(2))) == 2.0
    f.free()
    assert float(f(np.ones(2))) == 4.0 and w.get_value().tolist() == [3.0, 3.0]
    f.dprint()
    assert "w" in capsys.readouterr().out


def test_free_keeps_the_profile():
    x = kt.dvector("x")
    f = kiln.function([x], x * 3, profile=True, mode=kiln.Mode(linker="py"))
    f(np.ones(2))
    f.free()
    np.testing.assert_allclose(f(np.ones(2)), [3.0, 3.0])
    assert f.profile.fct_callcount == 2 and sum(c for c, _ in f.profile.apply_time.values()) == 2
