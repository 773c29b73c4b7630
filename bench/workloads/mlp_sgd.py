"""One SGD step of a 784-512-512-10 MLP (issue 6): tanh hidden layers, softmax cross-entropy,
batch 256, in float64 (``mlp_sgd``) and float32 (``mlp_sgd_f32``).

The weights are framework state (kiln/PyTensor: shared variables with updates; JAX: arrays the
jitted step returns; PyTorch: tensors updated in place; NumPy: arrays updated in place), all
starting from the same seed. Each call returns the loss before the step and the gradient of the
first layer's bias (which backpropagates through every layer), so the first call of every peer
can be checked against NumPy's hand-written backward pass.
"""
import numpy as np

from bench.workloads import Workload, register

SIZES = (784, 512, 512, 10)
BATCH = 256
LR = 0.1
RTOL = {"float64": 1e-9, "float32": 1e-4}


def _init(dtype):
    """[W1, b1, W2, b2, W3, b3] from a fixed seed (the same for every framework)."""
    rng = np.random.default_rng(1234)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        params.append((rng.normal(size=(fan_in, fan_out)) / np.sqrt(fan_in)).astype(dtype))
        params.append(np.zeros(fan_out, dtype=dtype))
    return params


def _inputs(dtype):
    def make(rng):
        x = rng.normal(size=(BATCH, SIZES[0])).astype(dtype)
        Y = np.eye(SIZES[-1], dtype=dtype)[rng.integers(0, SIZES[-1], size=BATCH)]
        return x, Y
    return make


def _numpy(dtype):
    def build():
        W1, b1, W2, b2, W3, b3 = params = _init(dtype)
        lr = np.dtype(dtype).type(LR)

        def step(x, Y):
            h1 = np.tanh(x @ W1 + b1)
            h2 = np.tanh(h1 @ W2 + b2)
            z = h2 @ W3 + b3
            z = z - z.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            loss = -np.mean(np.sum(Y * logp, axis=1))
            dz = (np.exp(logp) - Y) / x.shape[0]
            da2 = (dz @ W3.T) * (1 - h2 ** 2)
            da1 = (da2 @ W2.T) * (1 - h1 ** 2)
            grads = [x.T @ da1, da1.sum(0), h1.T @ da2, da2.sum(0), h2.T @ dz, dz.sum(0)]
            for p, g in zip(params, grads):
                p -= lr * g
            return [loss, grads[1]]
        return step
    return build


def _kiln(dtype):
    def build():
        import kiln
        import kiln.tensor as kt

        params = [kiln.shared(p) for p in _init(dtype)]
        W1, b1, W2, b2, W3, b3 = params
        x, Y = kt.matrix("x", dtype=dtype), kt.matrix("Y", dtype=dtype)
        h1 = kt.tanh(kt.dot(x, W1) + b1)
        h2 = kt.tanh(kt.dot(h1, W2) + b2)
        loss = -kt.mean(kt.sum(Y * kt.log_softmax(kt.dot(h2, W3) + b3, axis=1), axis=1))
        grads = kiln.grad(loss, params)
        lr = np.dtype(dtype).type(LR)
        return kiln.function([x, Y], [loss, grads[1]],
                             updates=[(p, p - lr * g) for p, g in zip(params, grads)])
    return build


def _pytensor(dtype):
    def build():
        import pytensor
        import pytensor.tensor as pt
        from pytensor.tensor.special import log_softmax

        params = [pytensor.shared(p) for p in _init(dtype)]
        W1, b1, W2, b2, W3, b3 = params
        x, Y = pt.matrix("x", dtype=dtype), pt.matrix("Y", dtype=dtype)
        h1 = pt.tanh(pt.dot(x, W1) + b1)
        h2 = pt.tanh(pt.dot(h1, W2) + b2)
        loss = -pt.mean(pt.sum(Y * log_softmax(pt.dot(h2, W3) + b3, axis=1), axis=1))
        grads = pytensor.grad(loss, params)
        lr = np.dtype(dtype).type(LR)
        return pytensor.function([x, Y], [loss, grads[1]],
                                 updates=[(p, p - lr * g) for p, g in zip(params, grads)])
    return build


def _jax(dtype):
    def build():
        import jax
        import jax.numpy as jnp

        def loss_fn(params, x, Y):
            W1, b1, W2, b2, W3, b3 = params
            h1 = jnp.tanh(x @ W1 + b1)
            h2 = jnp.tanh(h1 @ W2 + b2)
            return -jnp.mean(jnp.sum(Y * jax.nn.log_softmax(h2 @ W3 + b3, axis=1), axis=1))

        @jax.jit
        def step(params, x, Y):
            loss, grads = jax.value_and_grad(loss_fn)(params, x, Y)
            return [p - LR * g for p, g in zip(params, grads)], loss, grads[1]

        state = [[jax.device_put(p) for p in _init(dtype)]]

        def f(x, Y):
            state[0], loss, db1 = step(state[0], x, Y)
            return [loss, db1]
        return f
    return build


def _torch(dtype):
    def build():
        import torch

        params = [torch.from_numpy(p).requires_grad_(True) for p in _init(dtype)]
        W1, b1, W2, b2, W3, b3 = params

        def f(x, Y):
            h1 = torch.tanh(x @ W1 + b1)
            h2 = torch.tanh(h1 @ W2 + b2)
            loss = -torch.mean(torch.sum(Y * torch.log_softmax(h2 @ W3 + b3, dim=1), dim=1))
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                for p, g in zip(params, grads):
                    p.sub_(LR * g)
            return [loss.detach(), grads[1]]
        return f
    return build


for _suffix, _dtype in (("", "float64"), ("_f32", "float32")):
    register(Workload(
        name="mlp_sgd" + _suffix,
        description=f"one SGD step of a 784-512-512-10 tanh MLP, softmax cross-entropy, "
                    f"batch {BATCH}, {_dtype}",
        make_inputs=_inputs(_dtype),
        builders={"kiln": _kiln(_dtype), "numpy": _numpy(_dtype), "pytensor": _pytensor(_dtype),
                  "jax": _jax(_dtype), "torch": _torch(_dtype)},
        metrics=("call", "compile"),
        rtol=RTOL[_dtype],
    ))
