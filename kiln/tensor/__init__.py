"""kiln.tensor (import as kt): tensor types, constructors and the math namespace.

>>> import numpy as np, kiln, kiln.tensor as kt
>>> x = kt.vector("x")
>>> kiln.function([x], kt.exp(x).sum())(np.zeros(3))
array(3.)
"""
from kiln.tensor.type import ShapeMismatchError, TensorType
from kiln.tensor.variable import TensorConstant, TensorVariable
from kiln.tensor.basic import *  # noqa: F401,F403  constructors: scalar, vector, fmatrix, ...
from kiln.tensor.basic import as_tensor, as_tensor_variable, constant, tensor
from kiln.tensor.elemwise import DimShuffle, Elemwise
from kiln.tensor.reduction import Argmax, Argmin, Max, Min, Prod, Reduce, Sum
from kiln.tensor.math import *  # noqa: F401,F403
from kiln.tensor.math import (abs, add, all, any, argmax, argmin, cast, clip, dot, exp, log, matmul,
                              max, mean, min, mul, outer, prod, round, std, sum, tensordot, var,
                              where)
from kiln.tensor.reduction import All, Any
from kiln.tensor.shape import (BroadcastTo, MakeVector, Reshape, Shape, Shape_i, SpecifyShape,
                               broadcast_arrays, broadcast_to, dimshuffle, expand_dims, flatten,
                               make_vector, reshape, shape, shape_i, specify_shape, squeeze, stack,
                               swapaxes, transpose)
from kiln.tensor.subtensor import Subtensor
from kiln.tensor.join import Join
from kiln.tensor.elemwise import scalar_from_tensor, tensor_from_scalar
from kiln.tensor.join import concatenate, join
from kiln.tensor.subtensor import subtensor
from kiln.tensor.inc_subtensor import IncSubtensor, inc_subtensor, set_subtensor
from kiln.tensor.creation import (ARange, Alloc, Eye, alloc, arange, eye, full, full_like,
                                  identity_like, ones, ones_like, zeros, zeros_like)

from kiln.tensor.special import LogSoftmax, Softmax, log_softmax, softmax

newaxis = None

# -- issue 5: joins/splits, cumulative and sorting ops, special functions, NN helpers --
from kiln.tensor.nnet import (beta, betaln, binary_crossentropy, categorical_crossentropy, elu, erfcx,
                              gammainc, gammainc_da, gammaincc, gelu, i0, i1, log1mexp, polygamma, selu, softsign,
                              xlog1py, xlogy)
from kiln.tensor.joining import (Repeat, RepeatSum, Split, atleast_1d, atleast_2d, flip, hstack, pad,  # noqa: E402
                                 repeat, roll, split, tile, vstack)
from kiln.tensor.diag_ops import Diagonal, DiagonalEmbed, diag, diagonal, trace, tril, triu  # noqa: E402
from kiln.tensor.extra_ops import (ArgSort, BinCount, CumOp, SearchSorted, Sort, Unique, argsort,  # noqa: E402
                                   bincount, cumprod, cumsum, diff, searchsorted, sort, unique)

# -- advanced indexing (issue 5, indexing part) --
from kiln.tensor.advanced import AdvancedIncSubtensor, AdvancedSubtensor  # noqa: E402
from kiln.tensor.advanced_nonzero import Nonzero, argwhere, flatnonzero, nonzero, nonzero_values  # noqa: E402
from kiln.tensor.advanced_take import put_along_axis, take, take_along_axis  # noqa: E402

# -- linear algebra (issue 5) --
from kiln.tensor import linalg  # noqa: E402
from kiln.tensor import nlinalg, slinalg  # noqa: E402,F401  (PyTensor module names)
from kiln.tensor.einsum import einsum  # noqa: E402

# -- random streams (issue 5, random part) --
from kiln.tensor import random  # noqa: E402

# -- PyTensor-compatible names (compat_*: math/special, shapes/creation, joins, indexing/products) --
from kiln.tensor.compat_math import *  # noqa: F401,F403,E402
from kiln.tensor.compat_shape import *  # noqa: F401,F403,E402
from kiln.tensor.compat_pack import *  # noqa: F401,F403,E402
from kiln.tensor.compat_extra import *  # noqa: F401,F403,E402

# -- PyTensor module paths (tests/tensor/test_module_paths.py): kiln.tensor.sort is a module of
# that name; loading it here, then re-binding, keeps `kt.sort` the function --
import importlib as _importlib  # noqa: E402

_sort_function = sort  # noqa: F405
_importlib.import_module("kiln.tensor.sort")
sort = _sort_function
from kiln.tensor import signal  # noqa: F401,E402  (convolve1d, convolve2d: PyTensor's pt.signal)
from kiln.tensor import optimize  # noqa: F401,E402  (minimize, root, ...: scipy.optimize with implicit gradients)
