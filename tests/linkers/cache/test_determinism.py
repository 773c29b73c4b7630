"""Equal programs generate equal C in every process (issue 6: a second process compiles nothing).

Graph nodes hash by identity, so any iteration over a set of nodes in the rewrite pipeline
or the code generator can order a fused op's inputs differently in each process; the
generated source, and so the module keys, would then differ.  Different PYTHONHASHSEEDs
also vary the order of sets of strings.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kiln.linkers.c.compiler import have_compiler
from kiln.linkers.cache import ModuleCache

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")
REPO = Path(__file__).resolve().parents[3]

# one SGD step of a small MLP (tanh, softmax cross-entropy) under the default rewrites
_PROGRAM = r"""
import json
import numpy as np, kiln, kiln.tensor as kt
rng = np.random.default_rng(0)
X = kt.matrix("X"); Y = kt.matrix("Y")
W1 = kiln.shared(rng.normal(size=(8, 16)) * 0.1, name="W1"); b1 = kiln.shared(np.zeros(16), name="b1")
W2 = kiln.shared(rng.normal(size=(16, 4)) * 0.1, name="W2"); b2 = kiln.shared(np.zeros(4), name="b2")
h = kt.tanh(X @ W1 + b1)
logits = h @ W2 + b2
p = kt.exp(logits - logits.max(axis=1, keepdims=True))
p = p / p.sum(axis=1, keepdims=True)
cost = -(Y * kt.log(p)).sum(axis=1).mean()
params = [W1, b1, W2, b2]
grads = kiln.grad(cost, params)
f = kiln.function([X, Y], cost, updates=[(q, q - 0.1 * g) for q, g in zip(params, grads)],
                  mode=kiln.Mode(linker="c"))
x = rng.normal(size=(5, 8)); y = np.eye(4)[rng.integers(0, 4, 5)]
c = f(x, y)
from kiln.linkers.cache import get_cache
print(json.dumps({"cost": float(c), "W1": W1.get_value().tolist(), "session": get_cache().session}))
"""


def _run(cache: Path, seed: int) -> dict:
    env = dict(os.environ, KILN_CACHE_DIR=str(cache), PYTHONPATH=str(REPO), PYTHONHASHSEED=str(seed))
    env.pop("KILN_FLAGS", None)
    res = subprocess.run([sys.executable, "-c", _PROGRAM], env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def _sources(cache: Path) -> dict[str, str]:
    return {e.key: (e.path / "mod.c").read_text() for e in ModuleCache(cache).entries()}


def test_mlp_gradient_generates_identical_source_in_fresh_processes(tmp_path):
    a = _run(tmp_path / "a", seed=1)
    b = _run(tmp_path / "b", seed=2)      # an independent empty cache, another hash seed
    assert a["session"]["compiles"] > 0
    src_a, src_b = _sources(tmp_path / "a"), _sources(tmp_path / "b")
    assert src_a and src_a == src_b
    # the same numbers, and they are right (checked against the python linker in-process)
    assert a["cost"] == b["cost"] and a["W1"] == b["W1"]


def test_mlp_gradient_second_process_compiles_nothing(tmp_path):
    first = _run(tmp_path / "c", seed=3)
    second = _run(tmp_path / "c", seed=4)
    assert first["session"]["compiles"] > 0
    assert second["session"]["compiles"] == 0 and second["session"]["misses"] == 0
    assert second["cost"] == first["cost"]


def _python_linker_reference() -> dict:
    ns: dict = {}
    src = _PROGRAM.replace('linker="c"', 'linker="py"').replace("print(json.dumps(", "result = ((")
    exec(compile(src, "<mlp>", "exec"), ns)
    return ns["result"]


def test_mlp_program_matches_python_linker(tmp_path):
    """What the processes compute is right: the python linker's results."""
    ref = _python_linker_reference()
    out = _run(tmp_path / "d", seed=5)
    np.testing.assert_allclose(out["cost"], ref["cost"], rtol=1e-12)
    np.testing.assert_allclose(out["W1"], ref["W1"], rtol=1e-12)
