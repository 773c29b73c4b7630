"""The IR's nouns: Type, Variable, Constant and Apply.

A graph is a DAG of `Apply` nodes (one op applied to input variables, producing
output variables).  Variables know their `owner` (the Apply that computes them,
or None for graph inputs and constants) and their `index` among its outputs.

Variables compare by identity (they are dict keys everywhere); constants also
offer `signature()`, a hashable value summary the merge rewrite uses to treat
equal constants as one.
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Hashable, Sequence

if TYPE_CHECKING:  # for annotations only: kiln.graph.op imports this module
    from kiln.graph.op import Op

__all__ = ["Type", "Variable", "Constant", "Apply", "NoParams", "copy_tag"]

_ids = itertools.count()


class Type:
    """What a variable may hold.  Immutable and hashable; subclasses define equality.

    `filter` validates (and, when allowed, converts) a run-time value; the compiled
    function calls it on every argument.
    """

    variable_type: type = None  # set below to Variable; subclasses override
    constant_type: type = None

    def filter(self, value: Any, strict: bool = False, allow_downcast: bool | None = None) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.filter")

    def is_valid_value(self, value: Any) -> bool:
        try:
            self.filter(value, strict=True)
            return True
        except (TypeError, ValueError):
            return False

    def value_signature(self, data: Any) -> Hashable:
        """A hashable summary of a constant's value: equal summaries mean equal values.

        The default is exact for arrays, NumPy scalars and hashable values, and falls back
        to object identity otherwise (two distinct unhashable objects never merge, even when
        their reprs agree); types whose values have a better notion of equality override it.
        """
        return _value_signature(data)

    def is_super(self, other: "Type") -> bool:
        """True when every value of `other` is a valid value of `self`."""
        return self == other

    def convert_variable(self, var: "Variable") -> "Variable | None":
        """Return `var` re-typed as `self` when that is sound, else None."""
        return var if self.is_super(var.type) else None

    def make_variable(self, name: str | None = None) -> "Variable":
        return self.variable_type(self, None, None, name)

    def __call__(self, name: str | None = None) -> "Variable":
        return self.make_variable(name)

    def make_constant(self, value: Any, name: str | None = None) -> "Constant":
        return self.constant_type(self, value, name)

    def values_eq(self, a: Any, b: Any) -> bool:
        return a == b


class Variable:
    """A value in a graph: an input, a constant, or the output of an Apply."""

    __slots__ = ("type", "owner", "index", "name", "tag", "auto_name", "__weakref__")

    def __init__(self, type: Type, owner: "Apply | None" = None, index: int | None = None,
                 name: str | None = None):
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name
        self.tag: dict = {}
        self.auto_name = f"v{next(_ids)}"

    def clone(self, name: str | None = None) -> "Variable":
        """A fresh, ownerless variable of the same type (and name, unless given)."""
        cp = type(self).__new__(type(self))
        Variable.__init__(cp, self.type, None, None, self.name if name is None else name)
        cp.tag = copy_tag(self.tag)
        return cp

    def __repr__(self) -> str:
        return self.name if self.name is not None else self._default_str()

    def _default_str(self) -> str:
        if self.owner is not None:
            op = self.owner.op
            base = str(op)
            if len(self.owner.outputs) > 1:
                return f"{base}.{self.index}"
            return f"{base}.out"
        return f"<{self.type}>"

    __str__ = __repr__

    def get_parents(self) -> list["Apply"]:
        return [self.owner] if self.owner is not None else []

    def eval(self, inputs_to_values: dict | None = None) -> Any:
        """Compile (and cache) a function of this variable and evaluate it.

        >>> import kiln.tensor as kt, numpy as np
        >>> x = kt.vector("x")
        >>> (x * 2).eval({x: np.array([1.0, 2.0])})
        array([2., 4.])
        """
        from kiln.compile.function import function

        inputs_to_values = inputs_to_values or {}
        keys = tuple(inputs_to_values)
        cache = self.tag.setdefault("_eval_cache", {})
        fn = cache.get(keys)
        if fn is None:
            fn = cache[keys] = function(list(keys), self, on_unused_input="ignore")
        return fn(*[inputs_to_values[k] for k in keys])


#: tag entries that belong to one variable object and must not follow it into clones
#: (a cached compiled `eval` function computes the *original* graph, not the clone's)
_PRIVATE_TAGS = ("_eval_cache",)


def copy_tag(tag: dict) -> dict:
    """A shallow copy of a variable's tag without per-object caches."""
    if "_eval_cache" not in tag:  # the common case, kept cheap: cloning copies every tag
        return dict(tag)
    return {k: v for k, v in tag.items() if k not in _PRIVATE_TAGS}


class Constant(Variable):
    """A variable with a fixed value; never an input of a compiled function."""

    __slots__ = ("data", "_signature")

    def __init__(self, type: Type, data: Any, name: str | None = None):
        super().__init__(type, None, None, name)
        self.data = type.filter(data)
        self._signature = None

    def signature(self) -> Hashable:
        """A hashable summary such that equal signatures mean equal constants."""
        if self._signature is None:
            self._signature = (self.type, self.type.value_signature(self.data))
        return self._signature

    def equals(self, other: Any) -> bool:
        return isinstance(other, Constant) and self.signature() == other.signature()

    def clone(self, name: str | None = None) -> "Constant":
        return type(self)(self.type, self.data, self.name if name is None else name)

    def _default_str(self) -> str:
        data = self.data
        if getattr(data, "size", 1) > 8:
            return f"<{self.type} constant>"
        # Python's own reprs ("2.0", "-0.0", "nan", "[1, 2]") read better than NumPy's ("2.")
        tolist = getattr(data, "tolist", None)
        return repr(tolist() if tolist is not None else data)


def _value_signature(data: Any) -> Hashable:
    import numpy as np

    if isinstance(data, np.ndarray):
        # dtype, shape and the raw bytes: exact, including NaN payloads and -0.0
        return (str(data.dtype), data.shape, np.ascontiguousarray(data).tobytes())
    if isinstance(data, np.generic):
        return (str(data.dtype), (), data.tobytes())
    try:
        hash(data)
        return data
    except TypeError:
        # repr is not an identity (different objects may print alike), so fall back to the
        # object itself, compared by identity; holding it keeps its id from being reused
        return _ByIdentity(data)


class _ByIdentity:
    """Wraps an unhashable value so it hashes and compares by identity."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any):
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, _ByIdentity) and other.obj is self.obj

    def __repr__(self) -> str:
        return f"<identity of {type(self.obj).__name__} at {id(self.obj):#x}>"


class Apply:
    """One op applied to input variables, with its output variables."""

    __slots__ = ("op", "inputs", "outputs", "tag", "__weakref__")

    def __init__(self, op: "Op", inputs: Sequence[Variable], outputs: Sequence[Variable]):
        self.op = op
        self.inputs = list(inputs)
        for i, inp in enumerate(self.inputs):
            if not isinstance(inp, Variable):
                raise TypeError(f"{op}: input {i} is {inp!r}, not a Variable")
        self.outputs = []
        for i, out in enumerate(outputs):
            if not isinstance(out, Variable):
                raise TypeError(f"{op}: output {i} is {out!r}, not a Variable")
            if out.owner is None:
                out.owner, out.index = self, i
            elif out.owner is not self or out.index != i:
                raise ValueError(f"{op}: output {i} already belongs to another Apply")
            self.outputs.append(out)
        self.tag: dict = {}

    @property
    def out(self) -> Variable:
        if len(self.outputs) != 1:
            raise AttributeError(f"{self.op} has {len(self.outputs)} outputs; use .outputs")
        return self.outputs[0]

    @property
    def nin(self) -> int:
        return len(self.inputs)

    @property
    def nout(self) -> int:
        return len(self.outputs)

    def clone(self) -> "Apply":
        """Same op and inputs, fresh outputs."""
        return Apply(self.op, self.inputs, [o.clone() for o in self.outputs])

    def clone_with_new_inputs(self, inputs: Sequence[Variable], strict: bool = True) -> "Apply":
        """Rebuild this node on new inputs.

        With `strict`, the new inputs must have the old types and the outputs keep
        theirs; otherwise the op's `make_node` decides (types may be refined).
        """
        if len(inputs) != len(self.inputs):
            raise ValueError(f"{self.op}: expected {len(self.inputs)} inputs, got {len(inputs)}")
        if strict and all(n.type == o.type for n, o in zip(inputs, self.inputs)):
            return Apply(self.op, inputs, [o.clone() for o in self.outputs])
        return self.op.make_node(*inputs)

    def __repr__(self) -> str:
        ins = ", ".join(map(str, self.inputs))
        return f"{self.op}({ins})"

    __str__ = __repr__

    def default_output(self) -> Variable:
        idx = getattr(self.op, "default_output", None)
        if idx is None:
            return self.out
        return self.outputs[idx]


class NoParams:
    """Marker for ops without parameters."""


Type.variable_type = Variable
Type.constant_type = Constant


def __getattr__(name: str):
    # PyTensor still exports its graph walks (ancestors, graph_inputs, equal_computations, ...)
    # from pytensor.graph.basic; here they live in traversal.py and walk.py, which import this
    if name.startswith("__"):   # import machinery probes (__path__, ...): not graph walks
        raise AttributeError(name)
    from kiln.graph import traversal, walk

    for mod in (traversal, walk):
        if name in mod.__all__:
            return getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
