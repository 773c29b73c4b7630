"""Printing graphs: `debugprint` (a tree, one line per node), `listing` (a straight-line
program, `out = op{params}(in1, in2)`), `pprint` (infix math) and `pydotprint` (graphviz DOT).

All three accept a Variable, a list of variables, an Apply, a FunctionGraph, or a compiled
`kiln.Function` (whose rewritten graph, `f.fgraph`, is printed).  Walks are iterative, so
graphs deeper than Python's recursion limit print too.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, TextIO

from kiln.graph.basic import Apply, Constant, Variable
from kiln.graph.fg import FunctionGraph
from kiln.graph.traversal import io_toposort

__all__ = ["debugprint", "pprint", "pp", "pydotprint", "listing", "register_infix", "register_prefix",
           "char_from_number"]


# -- what to print ---------------------------------------------------------------------------------
def _targets(obj: Any) -> tuple[list[Variable], FunctionGraph | None]:
    """The variables to print and, for a graph or a compiled function, its FunctionGraph."""
    if isinstance(obj, FunctionGraph):
        return list(obj.outputs), obj
    if isinstance(obj, Variable):
        return [obj], None
    if isinstance(obj, Apply):
        return list(obj.outputs), None
    fg = getattr(obj, "fgraph", None)
    if isinstance(fg, FunctionGraph):  # a compiled kiln.Function: print what actually runs
        return list(fg.outputs), fg
    if isinstance(obj, (list, tuple)):
        outs: list[Variable] = []
        for item in obj:
            outs.extend(_targets(item)[0])
        return outs, None
    raise TypeError(f"cannot print {type(obj).__name__}: expected a Variable, an Apply, a list of them, "
                    f"a FunctionGraph or a compiled Function")


def _type_str(t: Any) -> str:
    short = getattr(t, "short_str", None)
    return f"<{short() if callable(short) else t}>"


def _leaf_str(v: Variable) -> str:
    """How an ownerless variable is shown: its name, a constant's value, else its type."""
    if v.name is not None or isinstance(v, Constant):
        return str(v)
    return _type_str(v.type)


def _inner_graph(op: Any) -> tuple[list[Variable], list[Variable]] | None:
    """(inner inputs, inner outputs) of an op holding an inner graph (duck-typed so scan and
    OpFromGraph-like ops written elsewhere print too), else None."""
    for holder in (op, getattr(op, "scalar_op", None)):  # an Elemwise of a fused Composite too
        ins, outs = getattr(holder, "inner_inputs", None), getattr(holder, "inner_outputs", None)
        if isinstance(ins, (list, tuple)) and isinstance(outs, (list, tuple)):
            return list(ins), list(outs)
    return None


# -- ids -------------------------------------------------------------------------------------------
def char_from_number(n: int) -> str:
    """The n-th id in debugprint's CHAR style: A..Z, BA, BB, ... (base 26, A = 0).

    >>> [char_from_number(k) for k in (0, 1, 25, 26, 27)]
    ['A', 'B', 'Z', 'BA', 'BB']
    """
    digits = []
    while True:
        n, r = divmod(n, 26)
        digits.append(chr(ord("A") + r))
        if n == 0:
            return "".join(reversed(digits))


class _Ids:
    """Assigns each Apply (all its outputs share it) and each leaf variable one id."""

    def __init__(self, style: str, done: dict | None):
        if style not in ("CHAR", "id", "int", ""):
            raise ValueError(f"debugprint: ids must be 'CHAR', 'id', 'int' or '', got {style!r}")
        self.style = style
        self.done = {} if done is None else done

    def of(self, key: Any) -> str:
        """' [id X]' for key (an Apply or a leaf variable), assigning an id on first sight."""
        ident = self.done.get(key)
        if ident is None:
            n = len(self.done)
            ident = {"CHAR": char_from_number(n), "int": str(n), "id": str(id(key)), "": ""}[self.style]
            self.done[key] = ident
        return f" [id {ident}]" if self.style else ""


# -- debugprint ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Style:
    print_type: bool
    depth: int
    stop_on_name: bool
    print_destroy_map: bool
    print_view_map: bool


def debugprint(obj: Any, file: TextIO | str | None = None, print_type: bool = False, depth: int = -1,
               ids: str = "CHAR", stop_on_name: bool = False, done: dict | None = None,
               print_destroy_map: bool = False, print_view_map: bool = False,
               id_type: str | None = None) -> Any:
    """Print a graph as an indented tree, one line per node.

    Each line is `Op [id A] <type> 'name'`; an op's inputs follow, indented with ` ├─ ` and
    ` └─ `.  A node printed before is printed again with its id and ` └─ ···` instead of its
    inputs.  For a FunctionGraph or a compiled function each node line ends with the node's
    position in the topological order.  Ops holding an inner graph have it printed after the
    main tree, under "Inner graphs:".

    Parameters: `file` -- None (stdout), "str" (return the text) or a writable file;
    `print_type` -- add each variable's type; `depth` -- levels to print (-1: all);
    `ids` ("CHAR", "int", "id" or "" for none; `id_type` is PyTensor's name for it);
    `stop_on_name` -- do not print the inputs of a named variable; `done` -- a dict of ids
    already given (pass the same dict to several calls for consistent ids);
    `print_destroy_map`/`print_view_map` -- show `d={out: [in]}` / `v={out: [in]}`.

    >>> import kiln.tensor as kt
    >>> x = kt.vector("x")
    >>> e = kt.exp(x)
    >>> print(debugprint(e * e, file="str"), end="")
    mul [id A]
     ├─ exp [id B]
     │  └─ x [id C]
     └─ exp [id B]
        └─ ···
    """
    if id_type is not None:
        ids = id_type
    outputs, fgraph = _targets(obj)
    namer = _Ids(ids, done)
    style = _Style(print_type, depth, stop_on_name, print_destroy_map, print_view_map)
    order = {node: k for k, node in enumerate(fgraph.toposort())} if fgraph is not None else None
    lines: list[str] = []
    expanded: set[Apply] = {k for k in namer.done if isinstance(k, Apply)}
    inner_nodes: list[Apply] = []
    for v in outputs:
        _print_tree(v, "", "", lines, namer, style, order, expanded, inner_nodes, {})
    if inner_nodes:
        lines += ["", "Inner graphs:", ""]
        k = 0
        while k < len(inner_nodes):  # inner graphs may hold inner graphs: the list grows
            node = inner_nodes[k]
            if k:
                lines.append("")
            k += 1
            lines.append(f"{node.op}{namer.of(node)}")
            inner_ins, inner_outs = _inner_graph(node.op)
            labels = {v: f"*{i}-{v.name if v.name is not None else _type_str(v.type)}"
                      for i, v in enumerate(inner_ins)}
            for out in inner_outs:
                _print_tree(out, " ← ", "   ", lines, namer, style, None, expanded, inner_nodes, labels)
    return _emit("\n".join(lines) + "\n", file)


def _print_tree(root: Variable, prefix: str, child_prefix: str, lines: list[str], namer: _Ids,
                style: _Style, order: dict | None, expanded: set, inner_nodes: list,
                labels: dict) -> None:
    # (variable, line prefix, prefix for its children, level); an explicit stack, not recursion
    stack = [(root, prefix, child_prefix, 1)]
    while stack:
        v, pre, cpre, level = stack.pop()
        node = v.owner
        if node is None:
            label = labels.get(v) or _leaf_str(v)
            lines.append(f"{pre}{label}{namer.of(v)}{_type_part(v, style)}")
            continue
        lines.append(pre + _node_line(v, namer, style, order))
        if node in expanded:
            if node.inputs:
                lines.append(f"{cpre} └─ ···")
            continue
        if style.depth != -1 and level >= style.depth:
            continue
        if style.stop_on_name and v.name is not None:
            continue
        expanded.add(node)
        if _inner_graph(node.op) is not None and node not in inner_nodes:
            inner_nodes.append(node)
        n = len(node.inputs)
        for k in reversed(range(n)):
            last = k == n - 1
            stack.append((node.inputs[k], cpre + (" └─ " if last else " ├─ "),
                          cpre + ("   " if last else " │ "), level + 1))


def _type_part(v: Variable, style: _Style) -> str:
    return f" {_type_str(v.type)}" if style.print_type else ""


def _node_line(v: Variable, namer: _Ids, style: _Style, order: dict | None) -> str:
    node = v.owner
    op = node.op
    text = str(op) + (f".{v.index}" if len(node.outputs) > 1 else "")
    text += namer.of(node) + _type_part(v, style)
    if v.name is not None:
        text += f" '{v.name}'"
    if style.print_destroy_map and op.destroy_map:
        text += f" d={dict(op.destroy_map)}"
    if style.print_view_map and op.view_map:
        text += f" v={dict(op.view_map)}"
    if order is not None and node in order:
        text += f" {order[node]}"
    return text


def _emit(text: str, file: TextIO | str | None) -> Any:
    if file == "str":
        return text
    out = sys.stdout if file is None else file
    out.write(text)
    return out


# -- listing --------------------------------------------------------------------------------------------
def listing(obj: Any, print_type: bool = False) -> str:
    """The graph as a straight-line program: one `outs = op{params}(ins)` line per node.

    Nodes come in topological order; unnamed intermediate variables are called t0, t1, ...
    (named ones keep their names, repeated names get a suffix), constants appear by value,
    and a last `return` line lists the outputs.  With `print_type`, each assigned variable's
    type follows as a comment.

    >>> import kiln.tensor as kt
    >>> x, y = kt.vector("x"), kt.vector("y")
    >>> e = kt.exp(x)
    >>> print(listing(e * y + e), end="")
    t0 = exp(x)
    t1 = mul(t0, y)
    t2 = add(t1, t0)
    return t2
    """
    outputs, fgraph = _targets(obj)
    inputs = list(fgraph.inputs) if fgraph is not None else []
    names: dict[Variable, str] = {}
    taken: set[str] = set()

    def fresh(base: str) -> str:
        name, k = base, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        return name

    counter = iter(range(1 << 62))

    def name_of(v: Variable) -> str:
        if v not in names:
            if isinstance(v, Constant) and v.name is None:
                return str(v)
            if v.name is not None:
                names[v] = fresh(v.name)
            elif v.owner is None:
                names[v] = fresh(_type_str(v.type))
            else:
                while True:
                    cand = f"t{next(counter)}"
                    if cand not in taken:
                        break
                names[v] = fresh(cand)
        return names[v]

    for v in inputs:
        name_of(v)
    lines = []
    for node in io_toposort(inputs, outputs):
        ins = ", ".join(name_of(i) for i in node.inputs)
        outs = ", ".join(name_of(o) for o in node.outputs)
        line = f"{outs} = {node.op}({ins})"
        if print_type:
            line += "  # " + ", ".join(_type_str(o.type) for o in node.outputs)
        lines.append(line)
    lines.append("return " + ", ".join(name_of(o) for o in outputs))
    return "\n".join(lines) + "\n"


# -- pprint -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Infix:
    symbol: str
    precedence: int
    assoc: str  # "left", "right" or "none" (comparisons: both sides need parentheses)


@dataclass(frozen=True)
class _Prefix:
    symbol: str
    precedence: int


# Precedences follow Python's, so a printed expression reads (and evaluates) as Python would.
_UNARY_PRECEDENCE = 30
_ATOM = 100
_INFIX: dict[type, _Infix] = {}
_PREFIX: dict[type, _Prefix] = {}
_TABLES_LOADED = False
_PPRINT_MAX_CHARS = 1_000_000


def register_infix(scalar_op_class: type, symbol: str, precedence: int, assoc: str = "left") -> None:
    """Print Elemwise nodes of `scalar_op_class` (or the scalar op itself) as `a symbol b`.

    Precedences: comparisons 3, `|` 4, `^` 5, `&` 6, `+ -` 10, `* / // %` 20, unary 30, `**` 40.
    """
    if assoc not in ("left", "right", "none"):
        raise ValueError(f"register_infix: assoc must be 'left', 'right' or 'none', got {assoc!r}")
    _INFIX[scalar_op_class] = _Infix(symbol, precedence, assoc)


def register_prefix(scalar_op_class: type, symbol: str, precedence: int = _UNARY_PRECEDENCE) -> None:
    """Print Elemwise nodes of `scalar_op_class` (or the scalar op itself) as `symbol a`."""
    _PREFIX[scalar_op_class] = _Prefix(symbol, precedence)


def _load_tables() -> None:
    # kiln.graph sits below kiln.scalar, so the default table is filled on first use.
    global _TABLES_LOADED
    if _TABLES_LOADED:
        return
    _TABLES_LOADED = True
    from kiln.scalar import math as sm

    for cls, sym, prec, assoc in [
        (sm.Add, "+", 10, "left"), (sm.Sub, "-", 10, "left"),
        (sm.Mul, "*", 20, "left"), (sm.TrueDiv, "/", 20, "left"), (sm.IntDiv, "//", 20, "left"),
        (sm.Mod, "%", 20, "left"), (sm.Pow, "**", 40, "right"),
        (sm.LT, "<", 3, "none"), (sm.GT, ">", 3, "none"), (sm.LE, "<=", 3, "none"),
        (sm.GE, ">=", 3, "none"), (sm.EQ, "==", 3, "none"), (sm.NEQ, "!=", 3, "none"),
        (sm.BitwiseOr, "|", 4, "left"), (sm.BitwiseXor, "^", 5, "left"), (sm.BitwiseAnd, "&", 6, "left"),
    ]:
        _INFIX.setdefault(cls, _Infix(sym, prec, assoc))
    _PREFIX.setdefault(sm.Neg, _Prefix("-", _UNARY_PRECEDENCE))
    _PREFIX.setdefault(sm.Invert, _Prefix("~", _UNARY_PRECEDENCE))


def _scalar_op(op: Any) -> Any:
    """The scalar op an Elemwise applies (or op itself when it is a scalar op)."""
    return getattr(op, "scalar_op", op)


def _is_implicit_broadcast(node: Apply, consumer: Apply | None) -> bool:
    """A DimShuffle that only pads axes on the left of an Elemwise input (added by Elemwise)."""
    op = node.op
    order = getattr(op, "new_order", None)
    if order is None or consumer is None or getattr(consumer.op, "scalar_op", None) is None:
        return False
    k = len(order) - op.input_ndim
    return k > 0 and all(o == "x" for o in order[:k]) and tuple(order[k:]) == tuple(range(op.input_ndim))


def pprint(obj: Any) -> str:
    """An infix string for a graph: `((x + y) * exp(z))`.

    Arithmetic, comparison and bitwise elementwise ops print as Python operators (see
    `register_infix`), with parentheses only where Python's precedence needs them, plus one
    pair around a top-level operator expression; other ops print as function calls;
    constants by value; a 2-d transpose as `x.T`; the broadcasting DimShuffles that Elemwise
    inserts are not shown.  Several outputs give one line each.

    >>> import kiln.tensor as kt
    >>> x, y, z = kt.vector("x"), kt.vector("y"), kt.vector("z")
    >>> pprint((x + y) * kt.exp(z))
    '((x + y) * exp(z))'
    >>> pprint(x - (y - z) * 2)
    '(x - (y - z) * 2.0)'
    """
    _load_tables()
    outputs, _ = _targets(obj)
    memo: dict[Variable, tuple[str, int]] = {}
    for node in io_toposort([], outputs):
        for out in node.outputs:
            memo[out] = _render(out, memo)
            if len(memo[out][0]) > _PPRINT_MAX_CHARS:
                # shared subexpressions are spelled out each time, so a DAG can print
                # exponentially long; stop before that eats the memory
                raise ValueError(f"pprint: the expression exceeds {_PPRINT_MAX_CHARS} characters "
                                 f"(shared subexpressions are repeated); use debugprint or listing")
    texts = []
    for out in outputs:
        text, prec = memo[out] if out in memo else _operand(out, memo, None)
        # one pair around a top-level operator expression, as PyTensor prints it
        texts.append(f"({text})" if prec < _ATOM else text)
    return "\n".join(texts)


pp = pprint


def _operand(v: Variable, memo: dict, consumer: Apply | None) -> tuple[str, int]:
    """(text, precedence) of an operand; implicit broadcasts are looked through."""
    while v.owner is not None and _is_implicit_broadcast(v.owner, consumer):
        v = v.owner.inputs[0]
    if v in memo:
        return memo[v]
    if v.owner is not None:  # only reached through a looked-through broadcast
        memo[v] = _render(v, memo)
        return memo[v]
    text = _leaf_str(v)
    # a negative literal binds like unary minus: (-1.0) ** 2 is not -1.0 ** 2
    return text, (_UNARY_PRECEDENCE if isinstance(v, Constant) and text.startswith("-") else _ATOM)


def _wrap(operand: tuple[str, int], need: int) -> str:
    text, prec = operand
    return f"({text})" if prec < need else text


def _render(v: Variable, memo: dict) -> tuple[str, int]:
    node = v.owner
    op = node.op
    sop_cls = type(_scalar_op(op))
    args = [_operand(i, memo, node) for i in node.inputs]
    suffix = f".{v.index}" if len(node.outputs) > 1 else ""
    infix = _INFIX.get(sop_cls)
    if infix is not None and len(args) >= 2 and not suffix:
        p = infix.precedence
        left_need = p + 1 if infix.assoc in ("right", "none") else p
        right_need = p if infix.assoc == "right" else p + 1
        parts = [_wrap(args[0], left_need)] + [_wrap(a, right_need) for a in args[1:]]
        return f" {infix.symbol} ".join(parts), p
    prefix = _PREFIX.get(sop_cls)
    if prefix is not None and len(args) == 1 and not suffix:
        # explicit about what is negated: -(x ** 2), -(-x), -(x + y); only atoms go bare
        return f"{prefix.symbol}{_wrap(args[0], _ATOM)}", prefix.precedence
    if getattr(op, "new_order", None) is not None:  # DimShuffle
        if getattr(op, "input_ndim", None) == 2 and tuple(op.new_order) == (1, 0):
            return f"{_wrap(args[0], _ATOM)}.T", _ATOM
    name = str(op)
    return f"{name}({', '.join(a[0] for a in args)}){suffix}", _ATOM


# -- graphviz ------------------------------------------------------------------------------------------
def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def pydotprint(obj: Any, outfile: str | None = None, format: str = "dot", print_type: bool = True) -> str:
    """A graphviz picture of a graph, as DOT text (no pydot needed).

    Apply nodes are boxes (labelled by their op); graph inputs are green ellipses, constants
    grey boxes, outputs blue ellipses; edges carry the input position when an op has several
    inputs, and the variable's type (with `print_type`).  With `outfile` and format "dot" the
    text is written there; with "png", "svg" or "pdf" the `dot` program renders it (a
    RuntimeError says so when graphviz is not installed).  Returns the DOT text.

    >>> import kiln.tensor as kt
    >>> x = kt.vector("x")
    >>> print(pydotprint(kt.exp(x), print_type=False), end="")
    digraph kiln {
      rankdir=TB;
      n0 [label="x", shape=ellipse, style=filled, fillcolor=palegreen];
      n1 [label="exp", shape=box];
      n2 [label="output 0", shape=ellipse, style=filled, fillcolor=lightblue];
      n0 -> n1;
      n1 -> n2;
    }
    """
    outputs, fgraph = _targets(obj)
    inputs = list(fgraph.inputs) if fgraph is not None else []
    nodes = io_toposort(inputs, outputs)
    ids: dict[Any, str] = {}
    lines = ["digraph kiln {", "  rankdir=TB;"]

    def node_id(key: Any) -> str:
        if key not in ids:
            ids[key] = f"n{len(ids)}"
        return ids[key]

    def declare_leaf(v: Variable) -> None:
        if v in ids:
            return
        if isinstance(v, Constant):
            lines.append(f"  {node_id(v)} [label={_dot_quote(_leaf_str(v))}, shape=box, style=filled, "
                         f"fillcolor=lightgrey];")
        else:
            lines.append(f"  {node_id(v)} [label={_dot_quote(_leaf_str(v))}, shape=ellipse, style=filled, "
                         f"fillcolor=palegreen];")

    edges: list[str] = []

    def edge(a: str, b: str, label: str) -> None:
        edges.append(f"  {a} -> {b}" + (f" [label={_dot_quote(label)}]" if label else "") + ";")

    for v in inputs:
        declare_leaf(v)
    for node in nodes:
        for v in node.inputs:
            if v.owner is None:
                declare_leaf(v)
        lines.append(f"  {node_id(node)} [label={_dot_quote(str(node.op))}, shape=box];")
        for k, v in enumerate(node.inputs):
            parts = []
            if len(node.inputs) > 1:
                parts.append(str(k))
            if print_type:
                parts.append(_type_str(v.type)[1:-1])
            src = node_id(v.owner) if v.owner is not None else node_id(v)
            if v.owner is not None and len(v.owner.outputs) > 1:
                parts.insert(0, f"out {v.index}")
            edge(src, node_id(node), " ".join(parts))
    for k, v in enumerate(outputs):
        key = ("output", k)
        label = v.name if v.name is not None else f"output {k}"
        lines.append(f"  {node_id(key)} [label={_dot_quote(label)}, shape=ellipse, style=filled, "
                     f"fillcolor=lightblue];")
        if v.owner is None:
            declare_leaf(v)
        src = node_id(v.owner) if v.owner is not None else node_id(v)
        edge(src, node_id(key), _type_str(v.type)[1:-1] if print_type else "")
    text = "\n".join(lines + edges + ["}"]) + "\n"
    if outfile is not None:
        _write_picture(text, outfile, format)
    return text


def _write_picture(text: str, outfile: str, format: str) -> None:
    if format == "dot":
        with open(outfile, "w") as fh:
            fh.write(text)
        return
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError(f"pydotprint: format {format!r} needs graphviz's `dot` program, which is not "
                           f"installed; use format='dot' to write the DOT text instead")
    proc = subprocess.run([exe, f"-T{format}", "-o", str(outfile)], input=text.encode(),
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"pydotprint: dot -T{format} failed: {proc.stderr.decode(errors='replace')}")
