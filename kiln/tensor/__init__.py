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
from kiln.tensor.shape import (broadcast_to, dimshuffle, expand_dims, flatten, reshape, shape,
                               shape_i, specify_shape, squeeze, stack, swapaxes, transpose)
from kiln.tensor.join import concatenate, join
from kiln.tensor.subtensor import subtensor
from kiln.tensor.creation import (alloc, arange, eye, full, full_like, ones, ones_like, zeros,
                                  zeros_like)

newaxis = None
