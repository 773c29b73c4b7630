"""A small recurrent network, written with `kiln.scan`, learns to continue a sine wave.

At each step the network reads the current value of a noisy sine wave and predicts the next
one.  The recurrence h_t = tanh(x_t W + h_{t-1} U + b) is one `scan`; the loss is the mean
squared error of the predictions y_t = h_t v + c.  `kiln.grad` differentiates through the
loop (backpropagation through time, as a reversed scan), and one compiled function applies a
gradient step to the shared weights on each call.  The printed loss decreases; at the end the
gradient is checked against finite differences.

Run: python examples/rnn.py
"""
import numpy as np

import kiln
import kiln.tensor as kt

rng = np.random.default_rng(0)
n_hidden, n_steps, n_iters, lr = 12, 60, 60, 0.1

t = np.linspace(0, 6 * np.pi, n_steps + 1)
wave = np.sin(t) + 0.02 * rng.normal(size=t.shape)
inputs, targets = wave[:-1, None], wave[1:]          # (steps, 1) inputs, (steps,) next values

W = kiln.shared(rng.normal(size=(1, n_hidden)) * 0.5, name="W")
U = kiln.shared(rng.normal(size=(n_hidden, n_hidden)) * 0.3 / np.sqrt(n_hidden), name="U")
b = kiln.shared(np.zeros(n_hidden), name="b")
v = kiln.shared(rng.normal(size=n_hidden) * 0.1, name="v")
c = kiln.shared(0.0, name="c")
params = [W, U, b, v, c]

x = kt.dmatrix("x")
y = kt.dvector("y")


def step(x_t, h_prev):
    return kt.tanh(kt.dot(x_t, W) + kt.dot(h_prev, U) + b)


h, _ = kiln.scan(step, sequences=x, outputs_info=kt.zeros(n_hidden, dtype="float64"))
pred = kt.dot(h, v) + c
loss = ((pred - y) ** 2).mean()
grads = kiln.grad(loss, params)
train = kiln.function([x, y], loss, updates=[(p, p - lr * g) for p, g in zip(params, grads)])

losses = []
for it in range(n_iters):
    losses.append(float(train(inputs, targets)))
    if it % 10 == 0 or it == n_iters - 1:
        print(f"iteration {it:3d}: loss {losses[-1]:.5f}")
print(f"loss went from {losses[0]:.4f} to {losses[-1]:.4f}")
assert losses[-1] < 0.5 * losses[0], "training did not reduce the loss"

# the BPTT gradient agrees with central finite differences along a random direction
loss_of = kiln.function([x, y], loss)
grad_of = kiln.function([x, y], grads)
direction = [rng.normal(size=np.shape(p.get_value())) for p in params]
analytic = sum(float((g * d).sum()) for g, d in zip(grad_of(inputs, targets), direction))
eps, base = 1e-6, [p.get_value() for p in params]
for sign in (1, -1):
    for p, p0, d in zip(params, base, direction):
        p.set_value(p0 + sign * eps * d)
    if sign == 1:
        up = float(loss_of(inputs, targets))
    else:
        down = float(loss_of(inputs, targets))
for p, p0 in zip(params, base):
    p.set_value(p0)
numeric = (up - down) / (2 * eps)
print(f"directional derivative: BPTT {analytic:.6f}, finite differences {numeric:.6f}")
assert abs(analytic - numeric) <= 1e-5 * max(1.0, abs(numeric))
