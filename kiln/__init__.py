"""kiln: a symbolic computation-graph compiler for Python (PyTensor-compatible API).

>>> import numpy as np, kiln, kiln.tensor as kt
>>> x = kt.vector("x")
>>> f = kiln.function([x], (x ** 2).sum())
>>> float(f(np.arange(3.0)))
5.0
"""
from kiln.configuration import config
from kiln.graph.fg import MissingInputError
# kiln.tensor before kiln.compile: kiln.tensor.random needs kiln.compile.sharedvalue, which
# needs kiln.tensor's submodules, so the tensor package must start loading first
from kiln import tensor
from kiln.compile import Function, In, Mode, Out, function, shared, wrap_py
from kiln import printing
from kiln import gradient
from kiln.gradient import Lop, Rop, grad, pullback, pushforward
from kiln.compile.mode import get_mode
from kiln.printing import debugprint as dprint
from kiln.compile.builders import OpFromGraph
from kiln import rewrites  # the rewrite engine and rule sets (kiln.rewrites.explain, register)
from kiln.ifelse import ifelse
from kiln.scan import scan
from kiln.scan.views import map  # noqa: A004  (pytensor.map)
from kiln import raise_op
from kiln import sparse  # PyTensor's pytensor.sparse (SciPy imported on first use)

__version__ = "0.1.0"
__all__ = ["config", "function", "shared", "Function", "Mode", "In", "Out", "MissingInputError",
           "printing", "tensor", "gradient", "grad", "Lop", "Rop", "pullback", "pushforward", "get_mode",
           "dprint", "ifelse", "OpFromGraph", "scan", "map", "raise_op", "wrap_py", "sparse"]
