"""Derivative rules, one file per op family; importing this package fills the tables.

Adding a family means adding a file here and its import below (core families first:
later files may refine their entries).  Imports are plain on purpose: a rules file that
fails to import is a bug to see at once, not a warning.
"""
from kiln.gradient.rules import elemwise, scalar_derivatives, reduction, shape, blas, subtensor, misc  # noqa: F401
from kiln.gradient.rules import composite, special, stable  # noqa: F401
from kiln.gradient.rules import advanced, extra, linalg, random, ifelse  # noqa: F401
from kiln.gradient.rules import special_more  # noqa: F401,E402  (compat special functions)
from kiln.gradient.rules import linalg_more  # noqa: F401,E402  (PyTensor-compat linalg: lu, expm, solvers, ...)
from kiln.gradient.rules import signal  # noqa: F401,E402  (convolutions)
from kiln.gradient.rules import optimize  # noqa: F401,E402  (scipy.optimize ops: implicit function theorem)
from kiln.gradient.rules import sparse  # noqa: F401,E402  (kiln.sparse: structured gradients)
from kiln.gradient.rules import map  # noqa: F401,E402  (kiln.gradient.jacobian's Map: tangent maps and their transpose)
from kiln.gradient.rules import fft  # noqa: F401,E402  (kiln.tensor.fft: rfft/irfft, linear)
from kiln.gradient.rules import blockwise  # noqa: F401,E402  (kiln.tensor.blockwise: the vectorized core jvp)
