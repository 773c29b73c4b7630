"""kiln.gradient: derivatives by linearize-then-transpose.

Every differentiable op has one jvp rule (tables in kiln/gradient/rules/); only linear
ops have a transpose rule.  Forward mode is the jvp pass; reverse mode linearizes the
jvp graph and transposes its linear part; higher orders compose the two.

>>> import numpy as np, kiln, kiln.tensor as kt
>>> x = kt.scalar("x")
>>> d2 = kiln.grad(kiln.grad(x ** 3, x), x)
>>> float(d2.eval({x: 2.0}))
12.0
"""
from kiln.gradient.values import (ZERO, DisconnectedInputError, DisconnectedType, GradientError, Null,
                                  NullTypeGradError, Zero, disconnected_type, is_zero)
from kiln.gradient.transpose import LinearityError
from kiln.gradient.api import Linearized, Lop, Rop, grad, jvp, linearize, pullback, pushforward, vjp
from kiln.gradient.ops import (consider_constant, disconnected_grad, grad_clip, grad_scale, stop_gradient,
                               zero_grad)
from kiln.gradient.jacobian import hessian, hessian_vector_product, jacobian
from kiln.gradient.verify import numeric_grad, verify_grad
from kiln.gradient.methods import grad_not_implemented, grad_undefined

__all__ = ["grad", "Lop", "Rop", "pullback", "pushforward", "jvp", "vjp", "linearize", "Linearized",
           "jacobian", "hessian", "hessian_vector_product", "verify_grad", "numeric_grad",
           "zero_grad", "stop_gradient", "disconnected_grad", "consider_constant", "grad_clip",
           "grad_scale", "Zero", "ZERO", "Null", "is_zero", "GradientError", "DisconnectedInputError",
           "NullTypeGradError", "DisconnectedType", "disconnected_type", "LinearityError",
           "grad_undefined", "grad_not_implemented"]
