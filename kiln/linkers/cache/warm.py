"""Warm starts: find a compiled function by the graph the *user* built, before rewriting.

A cold `kiln.function` rewrites the graph (tens to hundreds of ms on big graphs), renders C
and compiles it.  A second process building the same graph needs none of that: the
rewritten graph and the keys of its modules are stored in the module cache under the
signature of the user's graph, and a warm start loads them back (rewrites run: 0).

The signature (`warm_signature`) covers everything the rewritten graph and its modules
depend on, as text (no pickled objects):

- the user's graph: inputs (types and names), every node (op class and parameters, in a
  structural order), constants (exact bytes), outputs, and which outputs update which
  shared variables (givens are already substituted in it);
- the mode (linker, rewrite level, include/exclude), kiln.config;
- the rule tables that can change at run time: the rewrite database (names, phases, tags,
  and each rule's function), the C lowering / scalar C / renderer tables;
- kiln's own source (every kiln/*.py and template by size and mtime, once per process), NumPy's and
  Python's versions, and the compiler's identity, flags and the CPU features (as in module keys).

Anything that has no stable text (an op parameter printed as `<object at 0x...>` or an
abbreviated `...` repr) makes the graph uncacheable: it is rewritten every time, never
served a wrong entry.  The text of each op and constant is computed once per process
(ops and constants are immutable; remembered by identity, never by equality).

The entry (`fn-<signature>` in the module cache: atomic publish, verified sha256 on load,
LRU pruning, listed by `python -m kiln.cache list`) holds one pickle of plain data: the
rewritten graph flattened by `kiln.graph.flat.freeze_graph` (function inputs replaced by bare
variables of the same types, so shared values are not stored), the module keys, the C
layout (kiln.linkers.c.layout: segments and descriptor orders, replayed by the C linker so a
warm start imports no lowering, kernel IR or renderer) and the rewrite report.  Pickle is
safe here for the reason native modules are: the cache
directory is private to the user (kiln refuses any other), and the entry is verified
against its manifest before it is read.  On load the graph's input and output types are
checked against the user's graph; any mismatch or failure falls back to rewriting.
"""
from __future__ import annotations

import functools
import hashlib
import pickle
import platform
import sys
import weakref
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["warm_signature", "WarmStart", "warm_lookup", "warm_counts"]

_FORMAT = "kiln-warm-1"
_ARTIFACT = "graph.pkl"
_KILN_ROOT = Path(__file__).resolve().parents[2]

#: this process's counts: warm starts served, rewrites run for lack of an entry, entries
#: stored, graphs that could not be keyed, entries that failed to load
_COUNTS = {"warm_starts": 0, "rewrites_run": 0, "stored": 0, "uncacheable": 0, "bad_entries": 0}


def warm_counts() -> dict[str, int]:
    """This process's warm-start counters (a copy): `warm_starts`, `rewrites_run`, `stored`,
    `uncacheable`, `bad_entries`.

    >>> sorted(warm_counts())
    ['bad_entries', 'rewrites_run', 'stored', 'uncacheable', 'warm_starts']
    """
    return dict(_COUNTS)


class _Uncacheable(Exception):
    """A value in the graph has no stable text."""


#: id(object) -> (weak reference to it, its text), for ops and constants: they are
#: immutable, so each one's text is computed once per process (a warm start's signature is
#: then one pass of joins over the nodes).  Keyed by identity, not equality: equal ops may
#: still print differently (a parameter 1 and one True are equal), and the text must be exact.
_MEMO: dict[int, tuple[Any, str]] = {}


def _memo_text(obj: Any, make) -> str:
    key = id(obj)
    hit = _MEMO.get(key)
    if hit is not None and hit[0]() is obj:
        return hit[1]
    text = make(obj)   # may raise _Uncacheable: nothing is remembered then

    def forget(ref, key=key) -> None:
        if _MEMO.get(key, (None,))[0] is ref:
            del _MEMO[key]

    try:
        _MEMO[key] = (weakref.ref(obj, forget), text)
    except TypeError:   # an object without weak references: not memoized
        pass
    return text


def _op_text(op: Any) -> str:
    t = type(op)
    return f"{t.__module__}.{t.__qualname__}({','.join(_text(p) for p in op._props())})"


def _constant_text(c: Any) -> str:
    return "c" + _text(c.signature())


def _text(obj: Any) -> str:
    """Deterministic text for op parameters, types and constant signatures."""
    from kiln.graph.op import Op

    if isinstance(obj, Op):
        return _memo_text(obj, _op_text)
    if isinstance(obj, (tuple, list)):
        return ("[" if isinstance(obj, list) else "(") + ",".join(_text(o) for o in obj) + ")"
    if isinstance(obj, (frozenset, set)):
        return "{" + ",".join(sorted(_text(o) for o in obj)) + "}"
    if isinstance(obj, dict):
        return "{" + ",".join(sorted(f"{_text(k)}:{_text(v)}" for k, v in obj.items())) + "}"
    if isinstance(obj, (bytes, bytearray)):
        return f"b{len(obj)}:" + hashlib.sha256(obj).hexdigest()
    if isinstance(obj, np.ndarray):
        data = np.ascontiguousarray(obj)
        return f"a{data.dtype.str}{data.shape}:" + hashlib.sha256(data.view(np.uint8).tobytes()).hexdigest()
    if isinstance(obj, np.generic):
        return f"g{obj.dtype.str}:{obj.tobytes().hex()}"
    if obj is None or isinstance(obj, (bool, int, float, complex, str)):
        return f"{type(obj).__name__}:{obj!r}"
    if isinstance(obj, type):
        return f"T{obj.__module__}.{obj.__qualname__}"
    r = repr(obj)
    if " at 0x" in r or "..." in r or r.startswith("<"):
        raise _Uncacheable(f"{type(obj).__qualname__} has no stable text: {r[:80]}")
    return f"{type(obj).__module__}.{type(obj).__qualname__}:{r}"


def _fn_name(f: Any) -> str:
    f = getattr(f, "__func__", f)
    return f"{getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', type(f).__qualname__)}"


def _graph_text(fgraph) -> list[str]:
    from kiln.graph.basic import Constant
    from kiln.linkers.c.linker import canonical_order

    index = {v: k for k, v in enumerate(fgraph.inputs)}
    parts = ["in:" + ";".join(f"{_text(v.type)}|{v.name!r}" for v in fgraph.inputs)]

    def ref(v) -> str:
        k = index.get(v)
        if k is not None:
            return str(k)
        if isinstance(v, Constant):
            return _memo_text(v, _constant_text)
        raise _Uncacheable(f"{v} is not computed by the graph")

    for node in canonical_order(fgraph):
        parts.append(f"{_text(node.op)}[{','.join(ref(i) for i in node.inputs)}]")
        for o in node.outputs:
            index[o] = len(index)
    parts.append("out:" + ",".join(ref(o) for o in fgraph.outputs))
    parts.append("updates:" + _text(dict(fgraph.update_mapping)))
    return parts


@functools.lru_cache(maxsize=None)
def _source_hash() -> str:
    """A fingerprint of kiln's own source and templates (once per process): any edit to
    kiln changes every signature, so no version number is ever bumped by hand.

    Each file counts by path, size and modification time (ns), not content: reading and
    hashing 1.5 MB of source would cost a warm start ~15 ms, and an edit always moves the
    mtime (a reinstall that changes it only costs one cold start).
    """
    import os

    h = hashlib.sha256()
    stack = [str(_KILN_ROOT)]
    while stack:
        d = stack.pop()
        with os.scandir(d) as it:
            for e in sorted(it, key=lambda e: e.name):
                if e.is_dir(follow_symlinks=False):
                    if e.name != "__pycache__":
                        stack.append(e.path)
                elif e.name.endswith((".py", ".pyx", ".c", ".h", ".cu")):
                    st = e.stat()
                    h.update(f"{e.path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


#: C tables (module, name) users may extend at run time.  Only entries from outside kiln
#: count: kiln's own are covered by the source fingerprint, and kiln fills these tables
#: lazily (importing them here would cost a warm start the renderers' import time); a
#: module not imported yet holds no user entry.
_C_TABLES = (("kiln.linkers.c.lower", "LOWERINGS"), ("kiln.linkers.c.scalar_c", "SCALAR_C"),
             ("kiln.linkers.c.render", "RENDERERS"))


def _tables_text() -> str:
    """The rule tables users can change at run time: every rewrite rule (names, phases,
    tags, functions) and the user-added C implementations."""
    from kiln.rewrites.db import GLOBAL_DB

    parts = []
    for name in GLOBAL_DB.names():
        e = GLOBAL_DB[name]
        r = e.rule
        fn = getattr(r, "fn", None) or getattr(r, "apply", None) or r
        parts.append(f"{name}|{e.phase}|{sorted(e.tags)}|{e.default}|{type(r).__qualname__}|{_fn_name(fn)}")
    for modname, attr in _C_TABLES:
        mod = sys.modules.get(modname)
        if mod is None:
            continue
        user = sorted(f"{_fn_name(k)}={_fn_name(v)}" for k, v in getattr(mod, attr).items()
                      if not (_fn_name(k).startswith("kiln.") and _fn_name(v).startswith("kiln.")))
        if user:
            parts.append(f"{modname}:" + ";".join(user))
    return "\n".join(parts)


def _mode_text(mode: Any) -> str:
    from kiln.configuration import config

    include = [i if isinstance(i, str) else f"rule:{getattr(i, 'name', '?')}:{_fn_name(getattr(i, 'fn', i))}"
               for i in getattr(mode, "include", ())]
    cfg = {k: getattr(config, k) for k in ("floatX", "linker", "check_outputs", "on_unused_input")}
    cfg["extra"] = dict(config.extra)
    return (f"mode:{type(mode).__qualname__}|{getattr(mode, 'linker', None)}|{getattr(mode, 'rewrites', None)}"
            f"|{include}|{list(getattr(mode, 'exclude', ()))}|config:{_text(cfg)}")


def _toolchain_text() -> str:
    from kiln.linkers.c.compiler import build_flags, compiler
    from kiln.linkers.cache.key import compiler_identity, cpu_features

    cc = compiler()
    return "\n".join((compiler_identity(cc), _text(build_flags(cc)), cpu_features(), sys.version,
                      np.__version__, sys.platform, platform.machine(), _source_hash()))


def warm_signature(fgraph, mode: Any) -> str | None:
    """The signature of the user's (not yet rewritten) graph under `mode`, or None when some
    value in it has no stable text (the graph is then rewritten every time).

    >>> import kiln, kiln.tensor as kt
    >>> from kiln.graph.fg import FunctionGraph
    >>> x = kt.vector("x")
    >>> a = warm_signature(FunctionGraph([x], [kt.exp(x) + 1]), kiln.Mode())
    >>> b = warm_signature(FunctionGraph([x], [kt.exp(x) + 1]), kiln.Mode())
    >>> a == b, a == warm_signature(FunctionGraph([x], [kt.exp(x) + 2]), kiln.Mode())
    (True, False)
    """
    try:
        parts = _graph_text(fgraph)
        parts += [_mode_text(mode), _tables_text(), _toolchain_text(), _FORMAT]
    except _Uncacheable:
        return None
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:40]


def _enabled() -> bool:
    """KILN_FLAGS=warm_index=0 turns warm starts off (every function is rewritten)."""
    from kiln.configuration import config

    return str(config.extra.get("warm_index", "1")).lower() not in ("0", "false", "no", "off")


def _uses_c_linker(mode: Any) -> bool:
    """True when `mode` resolves to the C linker with a usable cache (what warm starts serve)."""
    from kiln.compile.mode import Mode
    from kiln.configuration import config

    if not isinstance(mode, Mode) or type(mode).make_linker is not Mode.make_linker \
            or type(mode).rewrite is not Mode.rewrite:
        return False   # a mode class with its own linker or pipeline: its results are its own
    name = mode.linker
    if name == "auto":
        name = config.linker if config.linker != "auto" else "c"
    if name != "c":
        return False
    from kiln.linkers.c.compiler import have_compiler

    if not have_compiler():
        return False
    try:
        from kiln.linkers.cache import get_cache

        get_cache()
    except Exception:
        return False
    return True


class WarmStart:
    """What `warm_lookup` found for one `function()` call.

    `graph` is the stored rewritten graph (None: rewrite as usual), `report` its rewrite
    report, `module_keys` the keys of its compiled modules; `store(fgraph, runner, report)`
    records a freshly compiled function for the next process.  (A plain class, not a
    dataclass: generating a dataclass's methods costs a warm start ~0.3 ms of import.)"""

    __slots__ = ("signature", "graph", "report", "module_keys")

    def __init__(self, signature: str | None = None, graph: Any = None, report: Any = None,
                 module_keys: list | None = None):
        self.signature = signature
        self.graph = graph
        self.report = report
        self.module_keys = [] if module_keys is None else module_keys

    def __repr__(self) -> str:
        return f"WarmStart(signature={self.signature!r}, hit={self.hit}, modules={len(self.module_keys)})"

    @property
    def hit(self) -> bool:
        return self.graph is not None

    def store(self, fgraph, runner, report) -> bool:
        """Store `fgraph` (rewritten) with the module keys `runner` loaded; True if stored."""
        if self.signature is None or self.hit:
            return False
        keys = getattr(runner, "module_keys", None)
        if keys is None:
            return False
        try:
            from kiln.graph.flat import freeze_graph
            from kiln.linkers.cache import get_cache

            variables, nodes, inputs, outputs, update_mapping = freeze_graph(fgraph)
            variables = list(variables)
            for i in inputs:   # bare variables: a shared variable's value is not stored
                v = variables[i]
                variables[i] = v.type.make_variable(v.name)
            blob = pickle.dumps({"format": _FORMAT,
                                 "graph": (variables, nodes, inputs, outputs, update_mapping),
                                 "modules": list(keys), "layout": getattr(runner, "layout", None),
                                 "report": report}, protocol=pickle.HIGHEST_PROTOCOL)
            get_cache().publish(f"fn-{self.signature}", {_ARTIFACT: blob})
        except Exception:   # an op that does not pickle, a full disk: the next start rewrites again
            return False
        _COUNTS["stored"] += 1
        return True


def warm_lookup(fgraph, mode: Any) -> WarmStart:
    """The stored rewritten graph for the user's `fgraph` under `mode`, if any.

    Only modes that use the C linker are served (the python linker has no cache), and not
    with KILN_FLAGS=warm_index=0.  The
    cache's statistics count a served warm start as `warm_starts` and a miss as
    `rewrites_run`; this process's counts are in `warm_counts()`.
    """
    if not _uses_c_linker(mode) or not _enabled():
        return WarmStart()
    from kiln.linkers.cache import get_cache

    cache = get_cache()
    sig = warm_signature(fgraph, mode)
    if sig is None:
        _COUNTS["uncacheable"] += 1
        _COUNTS["rewrites_run"] += 1
        cache._record("u")
        return WarmStart()
    found = WarmStart(sig)
    blob = cache.read_verified(f"fn-{sig}", _ARTIFACT)
    if blob is not None:
        graph = _load(blob, fgraph)
        if graph is not None:
            found.graph, found.report, found.module_keys, layout = graph
            found.graph._warm_module_keys = list(found.module_keys)
            found.graph._warm_layout = layout   # replayed by the C linker (kiln.linkers.c.layout)
            _COUNTS["warm_starts"] += 1
            cache._record("w")
            return found
        _COUNTS["bad_entries"] += 1
    _COUNTS["rewrites_run"] += 1
    cache._record("u")
    return found


def _load(blob: bytes, user_fgraph) -> tuple | None:
    """(rewritten graph, report, module keys, C layout) from an entry, or None if it does not fit."""
    from kiln.graph.flat import thaw_graph

    try:
        data = pickle.loads(blob)
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            return None
        fg = thaw_graph(data["graph"])
        # rewrites keep the inputs and may only refine output types (a known static shape)
        if ([v.type for v in fg.inputs] != [v.type for v in user_fgraph.inputs]
                or len(fg.outputs) != len(user_fgraph.outputs)
                or not all(u.type == v.type or u.type.is_super(v.type)
                           for u, v in zip(user_fgraph.outputs, fg.outputs))
                or dict(fg.update_mapping) != dict(user_fgraph.update_mapping)):
            return None
        return fg, data.get("report"), list(data["modules"]), data.get("layout")
    except Exception:
        return None
