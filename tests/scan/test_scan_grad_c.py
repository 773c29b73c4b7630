"""Gradients through kiln.scan on the default (C) linker: the inner step functions, the
tangent scan and the reversed (BPTT) scan all compiled with kiln's default mode."""
import numpy as np

import kiln
import kiln.tensor as kt
from kiln.scan import scan

RNG = np.random.default_rng(7)


def rnn_loss(x, h0, W, U, b):
    def step(xt, h, W, U, b):
        return kt.tanh(kt.dot(xt, W) + kt.dot(h, U) + b)

    h, _ = scan(step, sequences=x, outputs_info=h0, non_sequences=[W, U, b])
    return (h ** 2).sum() + h[-1].sum()


def test_rnn_grad_matches_manual_bptt():
    x, h0, W, U, b = (kt.dmatrix("x"), kt.dvector("h0"), kt.dmatrix("W"), kt.dmatrix("U"), kt.dvector("b"))
    cost = rnn_loss(x, h0, W, U, b)
    grads = kiln.grad(cost, [x, h0, W, U, b])
    vals = [RNG.normal(size=(6, 3)), RNG.normal(size=4), RNG.normal(size=(3, 4)) * 0.5,
            RNG.normal(size=(4, 4)) * 0.5, RNG.normal(size=4)]
    got = kiln.function([x, h0, W, U, b], grads)(*vals)
    xv, h0v, Wv, Uv, bv = vals
    hs, h = [h0v], h0v
    for r in xv:
        h = np.tanh(r @ Wv + h @ Uv + bv)
        hs.append(h)
    gx, gW, gU, gb = np.zeros_like(xv), np.zeros_like(Wv), np.zeros_like(Uv), np.zeros_like(bv)
    gh = np.zeros(4)
    for t in reversed(range(len(xv))):
        gh = gh + 2 * hs[t + 1] + (1.0 if t == len(xv) - 1 else 0.0)
        ga = gh * (1 - hs[t + 1] ** 2)
        gx[t] = Wv @ ga
        gW += np.outer(xv[t], ga)
        gU += np.outer(hs[t], ga)
        gb += ga
        gh = Uv @ ga
    for g, r in zip(got, [gx, gh, gW, gU, gb]):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12)


def test_grad_with_python_linker_agrees():
    x = kt.dvector("x")
    s, _ = scan(lambda xt, acc: kt.sin(acc) + xt, sequences=x, outputs_info=kt.constant(0.2))
    g = kiln.grad(s.sum(), x)
    v = RNG.normal(size=6)
    np.testing.assert_allclose(kiln.function([x], g, mode=kiln.Mode(linker="py"))(v),
                               kiln.function([x], g)(v))
