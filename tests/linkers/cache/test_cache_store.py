"""The module cache on its own: keys, verification, locking, pruning, index, CLI."""
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiln.linkers.cache import CacheLocationError, ModuleCache, key as keymod, module_key
from kiln.linkers.cache.cli import main as cli_main, parse_size

REPO = Path(__file__).resolve().parents[3]


def _builder(payload: bytes, calls: list):
    def build(d: Path):
        calls.append(d)
        (d / "mod.so").write_bytes(payload)
        return ["mod.so"]
    return build


def test_build_once_then_hit(tmp_path):
    c = ModuleCache(tmp_path / "c")
    calls = []
    p1 = c.get_or_build("k" * 40, _builder(b"abc", calls))
    p2 = c.get_or_build("k" * 40, _builder(b"abc", calls))
    assert p1 == p2 and len(calls) == 1 and (p1 / "mod.so").read_bytes() == b"abc"
    st = c.stats()
    assert (st.hits, st.misses, st.compiles, st.rebuilt) == (1, 1, 1, 0)
    assert not list((c.root / "tmp").iterdir())  # the build dir was renamed into place


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete_manifest"])
def test_corrupt_entry_is_rebuilt_never_returned(tmp_path, damage):
    c = ModuleCache(tmp_path / "c")
    calls = []
    d = c.get_or_build("a1", _builder(b"x" * 1000, calls))
    so = d / "mod.so"
    if damage == "truncate":
        so.write_bytes(so.read_bytes()[:500])
    elif damage == "flip":
        so.write_bytes(b"y" + so.read_bytes()[1:])
    else:
        (d / "manifest.json").unlink()
    assert c.verified("a1") is None
    d2 = c.get_or_build("a1", _builder(b"x" * 1000, calls))
    assert len(calls) == 2 and (d2 / "mod.so").read_bytes() == b"x" * 1000
    assert c.stats().rebuilt == 1


def test_failed_build_publishes_nothing(tmp_path):
    c = ModuleCache(tmp_path / "c")

    def bad(d):
        (d / "mod.so").write_bytes(b"half")
        raise RuntimeError("compiler exploded")

    with pytest.raises(RuntimeError, match="exploded"):
        c.get_or_build("b2", bad)
    assert c.verified("b2") is None and not c.entry_dir("b2").exists()
    assert not list((c.root / "tmp").iterdir())


def test_cache_dir_created_private(tmp_path):
    c = ModuleCache(tmp_path / "new" / "cache")
    for d in (c.root, c.root / "modules", c.root / "locks"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_directory_writable_by_others_is_refused(tmp_path, mode):
    d = tmp_path / "shared"
    d.mkdir()
    os.chmod(d, mode)
    with pytest.raises(CacheLocationError, match="writable by group or others"):
        ModuleCache(d)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_directory_owned_by_another_user_is_refused(tmp_path):
    d = tmp_path / "theirs"
    d.mkdir(mode=0o700)
    os.chown(d, 54321, 54321)
    with pytest.raises(CacheLocationError, match="owned by uid 54321"):
        ModuleCache(d)


def test_key_covers_source_flags_compiler_and_cpu(monkeypatch):
    base = module_key("int f;", "cc", ["-O2"])
    assert base == module_key("int f;", "cc", ["-O2"])
    assert base != module_key("int g;", "cc", ["-O2"])
    assert base != module_key("int f;", "cc", ["-O3"])
    assert base != module_key("int f;", "no-such-cc-xyz", ["-O2"])
    monkeypatch.setattr(keymod, "cpu_features", lambda: "sse2 only")
    assert base != module_key("int f;", "cc", ["-O2"])


def test_codegen_version_follows_codegen_sources():
    v = keymod.codegen_version()
    assert len(v) == 16 and v == keymod.codegen_version.__wrapped__()


def test_lru_prune(tmp_path):
    c = ModuleCache(tmp_path / "c")
    for i, k in enumerate(["old", "mid", "new"]):
        d = c.get_or_build(k, _builder(b"z" * 1000, []))
        os.utime(d / "manifest.json", (1000 + i, 1000 + i))
    c.get_or_build("old", _builder(b"", []))  # a hit refreshes "old": now "mid" is the LRU one
    size = {e.key: e.size for e in c.entries()}
    removed = c.prune(max_size=size["new"] + size["old"])
    assert removed == ["mid"]
    assert sorted(e.key for e in c.entries()) == ["new", "old"]
    assert c.prune(max_size=0) and not list(c.entries())


def test_function_index(tmp_path):
    c = ModuleCache(tmp_path / "c")
    c.get_or_build("m1", _builder(b"1", []))
    c.index_put("sig", ["m1"], {"segments": ["add"]})
    assert c.index_get("sig") == {"artifacts": ["m1"], "meta": {"segments": ["add"]}}
    assert c.index_get("other") is None
    c.index_put("sig2", ["m1", "gone"])
    assert c.index_get("sig2") is None   # an index entry whose artifacts vanished is a miss


def test_cli_info_list_prune_clear(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path / "c"))
    c = ModuleCache()
    for k in ("e1", "e2"):
        d = c.get_or_build(k, _builder(b"q" * 2048, []))
        os.utime(d / "manifest.json", (1000, 1000))
    c.get_or_build("e1", _builder(b"", []))   # a hit: e1 becomes the most recently used
    assert cli_main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"location: {tmp_path / 'c'}" in out and "entries:  2" in out
    assert "hits:     1" in out and "misses:   2" in out and "compiles: 2" in out
    assert cli_main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == ["e2", "e1"]  # least recently used first
    assert cli_main(["prune", "--max-size", "3KB"]) == 0
    assert [e.key for e in c.entries()] == ["e1"]
    capsys.readouterr()
    assert cli_main(["clear"]) == 0
    assert "removed 1 entries" in capsys.readouterr().out and not list(c.entries())
    assert c.stats().compiles == 0


def test_cli_runs_as_module(tmp_path):
    env = dict(os.environ, KILN_CACHE_DIR=str(tmp_path / "c"), PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-m", "kiln.cache", "info"], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert "entries:  0" in out


def test_parse_size():
    assert parse_size("500MB") == 500 * 2**20 and parse_size("2 GiB") == 2 * 2**30
    with pytest.raises(ValueError):
        parse_size("lots")


_HOLD_LOCK = r"""
import sys, time
from pathlib import Path
from kiln.linkers.cache import ModuleCache
c = ModuleCache(sys.argv[1])
def build(d):
    Path(sys.argv[2]).write_text("holding")   # tell the parent we are inside the locked build
    time.sleep(600)
c.get_or_build("victim", build)
"""


def test_process_killed_while_building_leaves_no_blocking_lock(tmp_path):
    root, ready = tmp_path / "c", tmp_path / "ready"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(root), str(ready)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None, "the lock holder died early"
            assert time.monotonic() < deadline, "the lock holder never started building"
            time.sleep(0.02)
        c = ModuleCache(root)
        from filelock import Timeout
        with pytest.raises(Timeout):        # really held while it lives
            with c.lock("victim", timeout=0.2):
                pass
    finally:
        proc.kill()                          # SIGKILL: no cleanup code runs
        proc.wait()
    with c.lock("victim", timeout=5):        # the OS released it
        pass
    calls = []
    d = c.get_or_build("victim", _builder(b"ok", calls))
    assert (d / "mod.so").read_bytes() == b"ok" and len(calls) == 1
