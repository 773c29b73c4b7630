"""function(), Function, shared variables, Mode, and ops from Python functions (as_op)."""
from kiln.compile.function import Function, In, Out, UnusedInputError, function
from kiln.compile.mode import FAST_COMPILE, FAST_RUN, Mode, get_mode
from kiln.compile.sharedvalue import SharedVariable, TensorSharedVariable, shared
from kiln.compile.ops import FromFunctionOp, as_op, wrap_py
