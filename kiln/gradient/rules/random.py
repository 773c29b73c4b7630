"""Random draws: derivatives w.r.t. the distribution's parameters, for a fixed generator state.

Normal and uniform draws are reparameterizable, ``draw = loc + scale * z`` and
``draw = low + (high - low) * u`` with z, u fixed by the generator state, so their jvp is
exact and uses the draw itself to recover z and u (no second draw):

    d draw = d loc + d scale * (draw - loc) / scale
    d draw = d low + (d high - d low) * (draw - low) / (high - low)

(undefined, NaN, where scale == 0 or high == low).  The other distributions' draws are not
differentiable functions of their parameters (discrete values, or rejection samplers), so
their derivative is `Null` with that reason; integer draws carry no tangent at all.
The generator state and size never carry tangents.
"""
from __future__ import annotations

from kiln.gradient.registry import register_jvp
from kiln.gradient.values import ZERO, Null, is_zero
from kiln.tensor.random.basic import (BernoulliRV, BetaRV, BinomialRV, ChoiceRV, DirichletRV, GammaRV,
                                      IntegersRV, MvNormalRV, NormalRV, PermutationRV, PoissonRV, UniformRV)
from kiln.tensor.unbroadcast import BroadcastLike


def _like_draw(t, draw):
    """Tangent `t` broadcast to the draw's shape when broadcasting could leave it smaller
    (a parameter with fewer or length-1 dims than `size`); BroadcastLike is linear."""
    if t.ndim == draw.ndim and t.type.shape == draw.type.shape and None not in t.type.shape:
        return t
    return BroadcastLike()(t, draw)


@register_jvp(NormalRV)
def _normal_jvp(node, tangents):
    draw = node.outputs[1]
    loc, scale = node.inputs[2:]
    t_loc, t_scale = tangents[2:]
    terms = []
    if not is_zero(t_loc):
        terms.append(t_loc)
    if not is_zero(t_scale):
        z = (draw - loc) / scale        # the standard normal the state produced
        terms.append(t_scale * z)
    if not terms:
        return [ZERO, ZERO]
    t = terms[0] if len(terms) == 1 else terms[0] + terms[1]
    return [ZERO, _like_draw(t, draw)]


@register_jvp(UniformRV)
def _uniform_jvp(node, tangents):
    draw = node.outputs[1]
    low, high = node.inputs[2:]
    t_low, t_high = tangents[2:]
    if is_zero(t_low) and is_zero(t_high):
        return [ZERO, ZERO]
    u = (draw - low) / (high - low)     # the standard uniform the state produced
    if is_zero(t_high):
        t = t_low * (1 - u)
    elif is_zero(t_low):
        t = t_high * u
    else:
        t = t_low + (t_high - t_low) * u
    return [ZERO, _like_draw(t, draw)]


def _undefined(node, tangents):
    reason = (f"{node.op.name} draws are not differentiable w.r.t. their parameters (only normal and "
              f"uniform draws are reparameterized); the derivative through {node.op} is undefined")
    return [ZERO, Null(reason)]


for _cls in (GammaRV, BetaRV, DirichletRV, MvNormalRV, BernoulliRV, BinomialRV, PoissonRV, IntegersRV,
             ChoiceRV, PermutationRV):
    register_jvp(_cls)(_undefined)
