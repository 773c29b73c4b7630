"""function(), Function, shared variables and Mode."""
from kiln.compile.function import Function, In, Out, UnusedInputError, function
from kiln.compile.mode import FAST_COMPILE, FAST_RUN, Mode, get_mode
from kiln.compile.sharedvalue import SharedVariable, TensorSharedVariable, shared
