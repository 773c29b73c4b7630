"""Declarative pattern rules: a rewrite written as data.

    pattern_rule((kt.log, (kt.add, 1, "x")), (kt.log1p, "x"))

A pattern is a nested tuple `(op, arg, ...)`:
- `op` is an op instance (`kt.log`, an Elemwise) or an op class (`Sum`), matched by equality
  or isinstance;
- an argument is a capture name (a str: the same name must match the same variable
  everywhere; equal constants count as the same), a number (matches a constant, or a
  broadcast of one, whose every element equals it: a 0-d 1 matches any shape of ones), or
  a nested pattern.
Ops that declare it are matched commutatively: an Elemwise whose scalar op has
`commutative = True` tries its arguments in every order, and the variadic associative ops
(add, mul) also match a node with more inputs than the pattern, the extra inputs being
combined (with the same op) into the one capture left unconstrained.

The replacement is a template of the same form (ops applied to captures and Python numbers,
which become weak constants as in NumPy), a capture name, a number (filled to the matched
output's shape and dtype), or a callable receiving the captures dict (or the captures and
the matched node, to read the op's parameters; it may return None to decline).
`guard(captures)` (or `guard(captures, node)`, to look at the matched node) may veto a match.
Results are cast and broadcast to the matched output's type.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable, Iterator

from kiln.graph.basic import Apply, Constant, Variable
from kiln.rewrites.engine import NodeRewriter
from kiln.rewrites.utils import is_constant

__all__ = ["pattern_rule", "match", "build"]

_MAX_VARIADIC = 6


def _op_matches(pat_op: Any, op: Any) -> bool:
    if isinstance(pat_op, type):
        return isinstance(op, pat_op)
    try:
        return pat_op == op
    except Exception:
        return False


def _same(a: Variable, b: Variable) -> bool:
    if a is b:
        return True
    return isinstance(a, Constant) and isinstance(b, Constant) and a.equals(b)


def _commutative(op: Any) -> tuple[bool, bool]:
    sop = getattr(op, "scalar_op", None)
    if sop is None or getattr(op, "inplace_pattern", ()):
        return False, False
    comm = bool(getattr(sop, "commutative", False))
    variadic = comm and getattr(sop, "associative", False) and getattr(sop, "nin", 0) < 0
    return comm, variadic


def match(pattern: Any, var: Variable, env: dict | None = None) -> Iterator[dict]:
    """Yield every capture dict under which `var` matches `pattern` (extending env)."""
    env = {} if env is None else env
    if isinstance(pattern, str):
        bound = env.get(pattern)
        if bound is None:
            yield {**env, pattern: var}
        elif _same(bound, var):
            yield env
        return
    if isinstance(pattern, (int, float, bool)) and not isinstance(pattern, tuple):
        if is_constant(var, pattern):
            yield env
        return
    if not isinstance(pattern, tuple) or not pattern:
        raise TypeError(f"bad pattern element {pattern!r}: use a capture name, a number or (op, ...)")
    node = var.owner
    if node is None or not _op_matches(pattern[0], node.op):
        return
    yield from _match_node(pattern, node, env)


def _match_args(pats: tuple, ins: list, env: dict) -> Iterator[dict]:
    if not pats:
        yield env
        return
    for e in match(pats[0], ins[0], env):
        yield from _match_args(pats[1:], ins[1:], e)


def _match_node(pattern: tuple, node: Apply, env: dict) -> Iterator[dict]:
    pats, ins = pattern[1:], list(node.inputs)
    comm, variadic = _commutative(node.op)
    if len(pats) == len(ins):
        if comm and len(ins) <= _MAX_VARIADIC:
            orders = itertools.permutations(range(len(ins)))
        else:
            orders = [tuple(range(len(ins)))]
        seen = set()
        for perm in orders:
            key = tuple(id(ins[k]) for k in perm)
            if key in seen:
                continue  # repeated inputs give the same permutation twice
            seen.add(key)
            yield from _match_args(pats, [ins[k] for k in perm], env)
        return
    if not (variadic and 2 <= len(pats) < len(ins) <= _MAX_VARIADIC):
        return
    # one unbound capture absorbs the inputs the other pattern arguments do not take
    for r, rest_name in enumerate(pats):
        if not isinstance(rest_name, str) or rest_name in env:
            continue
        others = pats[:r] + pats[r + 1:]
        for chosen in itertools.permutations(range(len(ins)), len(others)):
            for e in _match_args(others, [ins[k] for k in chosen], env):
                if rest_name in e:
                    continue
                rest = [ins[k] for k in range(len(ins)) if k not in chosen]
                yield {**e, rest_name: node.op(*rest) if len(rest) > 1 else rest[0]}


def build(template: Any, env: dict, like: Variable) -> Any:
    """Instantiate a replacement template with the captures in env."""
    if isinstance(template, str):
        return env[template]
    if isinstance(template, (int, float, bool)):
        return template
    if callable(template) and not isinstance(template, tuple) and not hasattr(template, "make_node"):
        return template(env)
    if isinstance(template, tuple) and template:
        op = template[0]
        args = [build(t, env, like) for t in template[1:]]
        return op(*args)
    raise TypeError(f"bad replacement template {template!r}")


def pattern_rule(pattern: tuple, replacement: Any, guard: Callable[[dict], bool] | None = None,
                 name: str | None = None) -> NodeRewriter:
    """A NodeRewriter from a pattern and a replacement template (see the module docstring).

    >>> import numpy as np, kiln, kiln.tensor as kt
    >>> rule = pattern_rule((kt.log, (kt.add, 1, "x")), (kt.log1p, "x"), name="my_log1p")
    >>> x = kt.vector("x")
    >>> from kiln.graph.fg import FunctionGraph
    >>> from kiln.rewrites.engine import rewrite_graph
    >>> fg = FunctionGraph([x], [kt.log(1 + x)])
    >>> rewrite_graph(fg, [rule])
    1
    >>> fg.outputs[0].owner.op == kt.log1p
    True
    """
    if not isinstance(pattern, tuple) or not pattern:
        raise TypeError("pattern_rule: the pattern must be a tuple (op, arg, ...)")

    two_args = guard is not None and _n_params(guard) >= 2
    # a callable replacement may take (captures, node) too, to read the matched op's parameters
    node_repl = callable(replacement) and not isinstance(replacement, tuple) and \
        not hasattr(replacement, "make_node") and _n_params(replacement) >= 2

    def fn(fgraph, node):
        out = node.outputs[0]
        for env in _match_node(pattern, node, {}):
            if guard is not None and not (guard(env, node) if two_args else guard(env)):
                continue
            res = replacement(env, node) if node_repl else build(replacement, env, out)
            if res is None:   # a callable replacement may still decline
                continue
            if isinstance(res, (int, float, bool)):
                from kiln.rewrites.utils import fill_like

                res = fill_like(res, node, fgraph=fgraph)
            elif not isinstance(res, Variable):
                from kiln.tensor.basic import as_tensor_variable

                res = as_tensor_variable(res)
            if res is out:
                return None
            return [res]
        return None

    rule_name = name or _auto_name(pattern, replacement)
    return NodeRewriter(fn, [pattern[0]], name=rule_name, strict_types=False)


def _n_params(fn: Callable) -> int:
    import inspect

    try:
        return sum(1 for p in inspect.signature(fn).parameters.values()
                   if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    except (TypeError, ValueError):
        return 1


def _auto_name(pattern: Any, replacement: Any) -> str:
    def show(p: Any) -> str:
        if isinstance(p, tuple) and p:
            head = p[0].__name__ if isinstance(p[0], type) else str(p[0])
            return f"{head}({', '.join(show(a) for a in p[1:])})"
        return str(p) if not callable(p) else getattr(p, "__name__", "fn")
    return f"{show(pattern)} -> {show(replacement)}"
