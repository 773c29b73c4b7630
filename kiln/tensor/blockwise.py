"""Blockwise: a core op vectorized over leading batch axes (PyTensor's `pytensor.tensor.blockwise`).

`Blockwise(core_op, signature="(m,n),(n)->(m)")` applies `core_op` -- written for inputs with
only the core dimensions of the gufunc `signature` -- to inputs with extra batch axes on the
left.  Batch axes broadcast as in NumPy (a lower-rank input gets length-1 axes in front); the
outputs have the broadcast batch shape followed by the core op's output shape.

`perform` loops over the batch (np.ndindex) and calls the core op's own `perform` on each
entry's slices; derivatives are the core op's jvp, vectorized (kiln/gradient/rules/blockwise.py).
PyTensor's internal vectorize_graph hook (`vectorize_node_fallback`) and its
`...WithCoreShape` helper ops are not part of kiln.
"""
from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Apply, Constant, Variable
from kiln.graph.op import Op
from kiln.tensor.basic import as_tensor_variable
from kiln.tensor.elemwise import broadcast_static_shapes
from kiln.tensor.type import TensorType

__all__ = ["Blockwise"]

_DIMS = re.compile(r"\(([^()]*)\)")


def _parse_signature(signature: str) -> tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...]]:
    """'(m,n),(n)->(m)' -> ((('m','n'), ('n',)), (('m',),)); a clear ValueError when malformed."""
    sig = signature.replace(" ", "")
    if sig.count("->") != 1:
        raise ValueError(f"Blockwise: signature {signature!r} must have the form '(m,n),(n)->(m)'")

    def side(text: str) -> tuple[tuple[str, ...], ...]:
        groups = _DIMS.findall(text)
        if ",".join(f"({g})" for g in groups) != text:
            raise ValueError(f"Blockwise: cannot parse {text!r} in signature {signature!r}")
        out = []
        for g in groups:
            dims = tuple(d for d in g.split(",")) if g else ()
            if any(not re.fullmatch(r"\w+", d) for d in dims):
                raise ValueError(f"Blockwise: bad dimension name in {g!r} of signature {signature!r}")
            out.append(dims)
        return tuple(out)

    lhs, rhs = sig.split("->")
    return side(lhs), side(rhs)


class Blockwise(Op):
    """Vectorize a core op over leading batch axes, following a gufunc signature.

    `signature` defaults to `core_op.gufunc_signature`.  Inputs must have at least their core
    dimensions; their batch axes broadcast together (NumPy rules).

    >>> import numpy as np, kiln, kiln.tensor as kt
    >>> from kiln.tensor.blas import Dot
    >>> mv = Blockwise(Dot(), signature="(m,n),(n)->(m)")
    >>> A, x = kt.dtensor3("A"), kt.dmatrix("x")
    >>> f = kiln.function([A, x], mv(A, x))
    >>> f(np.ones((2, 3, 4)), np.arange(8.0).reshape(2, 4)).tolist()
    [[6.0, 6.0, 6.0], [22.0, 22.0, 22.0]]
    """

    __props__ = ("core_op", "signature")

    def __init__(self, core_op: Op, signature: str | None = None, name: str | None = None):
        if isinstance(core_op, Blockwise):
            raise TypeError(f"Blockwise: core op {core_op} is already a Blockwise")
        if not isinstance(core_op, Op):
            raise TypeError(f"Blockwise: core_op must be an Op, got {core_op!r}")
        if signature is None:
            signature = getattr(core_op, "gufunc_signature", None)
            if signature is None:
                raise ValueError(f"Blockwise: no signature given and core op {core_op} has no gufunc_signature")
        self.core_op = core_op
        self.signature = signature
        self.name = name
        self.inputs_sig, self.outputs_sig = _parse_signature(signature)

    def __str__(self) -> str:
        if self.name is not None:
            return self.name
        return f"{type(self).__name__}{{{self.core_op}, {self.signature}}}"

    __repr__ = __str__

    # -- building -------------------------------------------------------------
    def _core_node(self, dtypes: Sequence[str], core_shapes: Sequence[tuple]) -> Apply:
        """The core op applied to fresh dummy inputs with these dtypes and static core shapes."""
        dummies = [TensorType(dt, tuple(s))() for dt, s in zip(dtypes, core_shapes)]
        core = self.core_op.make_node(*dummies)
        if len(core.outputs) != len(self.outputs_sig):
            raise ValueError(f"{self}: core op {self.core_op} has {len(core.outputs)} outputs, the signature "
                             f"{self.signature!r} says {len(self.outputs_sig)}")
        for k, (o, sig) in enumerate(zip(core.outputs, self.outputs_sig)):
            if getattr(o.type, "ndim", None) != len(sig):
                raise ValueError(f"{self}: output {k} of core op {self.core_op} is {o.type}, but the signature "
                                 f"{self.signature!r} gives it {len(sig)} core dimensions")
        return core

    def batch_ndim(self, node: Apply) -> int:
        """Number of batch axes of `node` (the same for every input and output)."""
        return node.outputs[0].type.ndim - len(self.outputs_sig[0])

    def make_node(self, *inputs: Any) -> Apply:
        if len(inputs) != len(self.inputs_sig):
            raise TypeError(f"{self}: the signature {self.signature!r} takes {len(self.inputs_sig)} inputs, "
                            f"got {len(inputs)}")
        xs = [as_tensor_variable(x) for x in inputs]
        for i, (x, sig) in enumerate(zip(xs, self.inputs_sig)):
            if x.ndim < len(sig):
                raise ValueError(f"{self}: input {i} ({x}, type {x.type}) has {x.ndim} dimensions, fewer than its "
                                 f"{len(sig)} core dimensions {sig}")
        # one static length per named core dimension
        seen: dict[str, int] = {}
        for i, (x, sig) in enumerate(zip(xs, self.inputs_sig)):
            for name, n in zip(sig, x.type.shape[x.ndim - len(sig):]):
                if name.isdigit() and n is not None and n != int(name):
                    raise ValueError(f"{self}: input {i} ({x}, shape {x.type.shape}) has length {n} where the "
                                     f"signature fixes {name}")
                if n is not None and seen.setdefault(name, n) != n:
                    raise ValueError(f"{self}: core dimension {name!r} has lengths {seen[name]} and {n} "
                                     f"(input {i}: {x}, shape {x.type.shape})")
        core_shapes = [x.type.shape[x.ndim - len(sig):] for x, sig in zip(xs, self.inputs_sig)]
        core = self._core_node([x.dtype for x in xs], core_shapes)
        # a core op that converts its inputs (e.g. casts) is given outer inputs of those types,
        # so that its perform later sees the values it was built for
        for i, (ci, x) in enumerate(zip(core.inputs, xs)):
            if ci.owner is not None or not isinstance(ci.type, TensorType):
                if getattr(ci.type, "dtype", x.dtype) != x.dtype:
                    from kiln.tensor.math import cast

                    xs[i] = cast(x, ci.type.dtype)
                else:
                    raise TypeError(f"{self}: core op {self.core_op} rewrote its input {i}; Blockwise needs a "
                                    f"core op whose make_node uses its inputs as given")
        if any(ci.owner is not None for ci in core.inputs):
            core = self._core_node([x.dtype for x in xs], core_shapes)
            if any(ci.owner is not None for ci in core.inputs):
                raise TypeError(f"{self}: core op {self.core_op} rewrites its inputs; Blockwise cannot batch it")

        nb = max(x.ndim - len(sig) for x, sig in zip(xs, self.inputs_sig))
        padded, batch_shapes = [], []
        for x, sig in zip(xs, self.inputs_sig):
            missing = nb - (x.ndim - len(sig))
            if missing:
                x = x.dimshuffle(["x"] * missing + list(range(x.ndim)))
            padded.append(x)
            batch_shapes.append(tuple(x.type.shape[:nb]))
        try:
            batch = broadcast_static_shapes(batch_shapes, who=str(self)) if nb else ()
        except ValueError as e:
            raise ValueError(f"{self}: incompatible batch shapes {batch_shapes} of inputs "
                             f"{[str(x) for x in xs]}") from e
        outs = [TensorType(o.type.dtype, batch + tuple(o.type.shape))() for o in core.outputs]
        return Apply(self, padded, outs)

    # -- running --------------------------------------------------------------
    def _node_core(self, node: Apply) -> Apply:
        core = node.tag.get("blockwise_core")
        if core is None:
            nb = self.batch_ndim(node)
            core = self._core_node([x.dtype for x in node.inputs], [x.type.shape[nb:] for x in node.inputs])
            node.tag["blockwise_core"] = core
        return core

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list]) -> None:
        nb = self.batch_ndim(node)
        core = self._node_core(node)
        arrays = [np.asarray(a) for a in inputs]
        shapes = [a.shape[:nb] for a in arrays]
        try:
            batch = np.broadcast_shapes(*shapes)
        except ValueError as e:
            raise ValueError(f"{self}: batch shapes {shapes} of the inputs do not broadcast") from e
        copy = bool(getattr(self.core_op, "destroy_map", None))   # a destroying core op gets its own copies
        outs: list[np.ndarray | None] = [None] * len(node.outputs)
        core_shapes: list[tuple | None] = [None] * len(node.outputs)
        for idx in np.ndindex(*batch):
            args = []
            for a, s in zip(arrays, shapes):
                part = a[tuple(0 if n == 1 else j for n, j in zip(s, idx))]
                args.append(np.array(part) if copy else part)
            cells: list[list] = [[None] for _ in node.outputs]
            self.core_op.perform(core, args, cells)
            for k, (cell, o) in enumerate(zip(cells, node.outputs)):
                r = np.asarray(cell[0])
                if outs[k] is None:
                    core_shapes[k] = r.shape
                    outs[k] = np.empty(batch + r.shape, dtype=o.type.dtype)
                elif r.shape != core_shapes[k]:
                    raise ValueError(f"{self}: core op {self.core_op} gave output {k} shape {r.shape} at batch "
                                     f"index {idx} but {core_shapes[k]} before (ragged results cannot be stacked)")
                outs[k][idx] = r
        if outs[0] is None:     # empty batch: the core output shapes must be known without running it
            shp = self._empty_core_shapes(node, core, arrays, nb)
            outs = [np.empty(batch + s, dtype=o.type.dtype) for s, o in zip(shp, node.outputs)]
        for cell, r in zip(output_storage, outs):
            cell[0] = r

    def _output_core_shapes(self, node: Apply, nb: int, dims: dict, core_shapes) -> list[tuple]:
        """Each output's core shape: a dimension's static length, else the signature's (a named
        dimension's length in `dims`, or a number), else `core_shapes(name)[k][d]` (the core op's
        shapes, asked for once, only when needed; `name`: the first dimension that needs them)."""
        asked: list = []
        res = []
        for k, (o, sig) in enumerate(zip(node.outputs, self.outputs_sig)):
            shp = []
            for d, name in enumerate(sig):
                static = o.type.shape[nb + d]
                if static is not None:
                    shp.append(static)
                elif name in dims:
                    shp.append(dims[name])
                elif name.isdigit():
                    shp.append(int(name))
                else:
                    if not asked:
                        asked.append(core_shapes(name))
                    shp.append(asked[0][k][d])
            res.append(tuple(shp))
        return res

    def _empty_core_shapes(self, node: Apply, core: Apply, arrays: list, nb: int) -> list[tuple]:
        dims: dict[str, int] = {}
        for a, sig in zip(arrays, self.inputs_sig):
            dims.update(zip(sig, a.shape[nb:]))

        def core_shapes(name: str):
            try:
                return self.core_op.infer_shape(None, core, [a.shape[nb:] for a in arrays])
            except NotImplementedError as e:
                raise ValueError(f"{self}: the batch is empty and the length of core dimension {name!r} of the "
                                 f"outputs is unknown (core op {self.core_op} has no infer_shape)") from e

        return [tuple(_as_int(n, self, name) for n, name in zip(s, sig))
                for s, sig in zip(self._output_core_shapes(node, nb, dims, core_shapes), self.outputs_sig)]

    # -- shapes ---------------------------------------------------------------
    def infer_shape(self, fgraph, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        from kiln.tensor.shape import broadcast_shape_symbolic

        nb = self.batch_ndim(node)
        batch = (tuple(broadcast_shape_symbolic([s[:nb] for s in input_shapes],
                                                [x.type.shape[:nb] for x in node.inputs])) if nb else ())
        dims: dict[str, Any] = {}
        for s, x, sig in zip(input_shapes, node.inputs, self.inputs_sig):
            for name, n, static in zip(sig, s[nb:], x.type.shape[nb:]):
                if name not in dims or (static is not None and not isinstance(dims[name], int)):
                    dims[name] = static if static is not None else n    # prefer a known length
        core_in = [s[nb:] for s in input_shapes]
        core = self._output_core_shapes(node, nb, dims, lambda name: self._core_infer_shape(node, core_in))
        return [batch + s for s in core]

    def _core_infer_shape(self, node: Apply, core_in_shapes: list[tuple]) -> list[tuple]:
        """The core op's infer_shape on a dummy core node; NotImplementedError when it has none,
        or when its answer needs the dummy core inputs themselves (not just their shapes)."""
        from kiln.graph.traversal import ancestors

        if type(self.core_op).infer_shape is Op.infer_shape:
            raise NotImplementedError(f"{self}: core op {self.core_op} has no infer_shape")
        nb = self.batch_ndim(node)
        core = self._core_node([x.dtype for x in node.inputs], [x.type.shape[nb:] for x in node.inputs])
        shapes = self.core_op.infer_shape(None, core, list(core_in_shapes))
        dummies = set(core.inputs)
        for shp in shapes:
            for n in shp:
                if isinstance(n, Variable) and any(v in dummies for v in ancestors([n])):
                    raise NotImplementedError(f"{self}: the output shape of core op {self.core_op} depends on "
                                              f"its input values")
        return [tuple(s) for s in shapes]


def _as_int(n: Any, op: Blockwise, name: str) -> int:
    """A concrete length from a core infer_shape entry (an int, or a variable of constants only)."""
    if isinstance(n, (int, np.integer)):
        return int(n)
    if isinstance(n, Constant):
        return int(n.data)
    if isinstance(n, Variable):
        from kiln.graph.traversal import graph_inputs

        if all(isinstance(v, Constant) for v in graph_inputs([n])):
            return int(n.eval())
    raise ValueError(f"{op}: the batch is empty and the length of core dimension {name!r} cannot be computed "
                     f"from the core op's infer_shape ({n})")
