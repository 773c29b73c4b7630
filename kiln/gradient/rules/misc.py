"""Rules for the gradient-control ops and the scalar<->tensor conversions."""
from __future__ import annotations

from kiln.gradient.ops import CotangentClip, DisconnectedGrad, GradClip, GradScale, ZeroGrad
from kiln.gradient.registry import register_jvp, register_transpose
from kiln.print_op import Print
from kiln.raise_op import CheckAndRaise
from kiln.gradient.rules.helpers import zero_derivative

zero_derivative(ZeroGrad, DisconnectedGrad)


@register_jvp(CheckAndRaise, Print)
def _check_jvp(node, ts):
    # the tangent of x passes unchanged; the check (or print) stays in the primal graph only
    return [ts[0]]


@register_transpose(CheckAndRaise, Print, linear=(0,))
def _check_t(node, cts, mask, ctx):
    # a check applied to a tangent (Rop's shape check on its eval points) is the identity on it
    return [cts[0]] + [None] * (len(node.inputs) - 1)


@register_jvp(GradScale)
def _scale_jvp(node, ts):
    return [ts[0] * node.op.multiplier]


@register_jvp(CotangentClip)
def _ctclip_jvp(node, ts):
    return [node.op(ts[0])]


@register_jvp(GradClip)
def _clip_jvp(node, ts):
    return [CotangentClip(node.op.lb, node.op.ub)(ts[0])]


@register_transpose(CotangentClip, linear=(0,))
def _ctclip_t(node, cts, mask, ctx):
    import kiln.tensor.math as km

    return [km.clip(cts[0], node.op.lb, node.op.ub)]


from kiln.gradient.rules.helpers import linear_jvp  # noqa: E402
from kiln.tensor.elemwise import ScalarFromTensor, TensorFromScalar, scalar_from_tensor, tensor_from_scalar  # noqa: E402

linear_jvp(ScalarFromTensor, TensorFromScalar)


@register_transpose(TensorFromScalar, linear=(0,))
def _tfs_t(node, cts, mask, ctx):
    return [scalar_from_tensor(cts[0])]


@register_transpose(ScalarFromTensor, linear=(0,))
def _sft_t(node, cts, mask, ctx):
    return [tensor_from_scalar(cts[0])]
