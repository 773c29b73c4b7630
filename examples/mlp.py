"""A small multilayer perceptron (2 tanh hidden layers, softmax output) trained on a
synthetic 3-class problem with kiln.grad and shared-variable updates.

    python examples/mlp.py

Prints the loss every 50 steps (it goes down) and the final training accuracy.
"""
from __future__ import annotations

import numpy as np

import kiln
import kiln.tensor as kt


def make_data(n: int = 300, seed: int = 0):
    """Three classes on concentric rings in 2-d (not linearly separable)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n)
    angle = rng.uniform(0, 2 * np.pi, size=n)
    radius = labels + 0.5 + 0.15 * rng.normal(size=n)
    X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return X, labels.astype("int64")


def train(steps: int = 300, lr: float = 0.3, hidden: int = 32, verbose: bool = True):
    """Train; returns (losses, accuracy)."""
    X, labels = make_data()
    rng = np.random.default_rng(1)
    sizes = [2, hidden, hidden, 3]
    x, y = kt.matrix("x"), kt.lvector("y")
    params, h = [], x
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = kiln.shared(rng.normal(size=(a, b)) / np.sqrt(a), name=f"W{k}")
        c = kiln.shared(np.zeros(b), name=f"b{k}")
        params += [W, c]
        h = h @ W + c
        if k < len(sizes) - 2:
            h = kt.tanh(h)
    onehot = kt.eq(y.dimshuffle(0, "x"), kt.arange(3).dimshuffle("x", 0))
    cost = -(kt.log_softmax(h, axis=1) * onehot).sum(axis=1).mean()
    grads = kiln.grad(cost, params)
    step = kiln.function([x, y], cost, updates=[(p, p - lr * g) for p, g in zip(params, grads)])
    predict = kiln.function([x], kt.argmax(h, axis=1))
    losses = []
    for i in range(steps):
        losses.append(float(step(X, labels)))
        if verbose and i % 50 == 0:
            print(f"step {i:3d}  loss {losses[-1]:.4f}")
    accuracy = float(np.mean(predict(X) == labels))
    if verbose:
        print(f"final loss {losses[-1]:.4f}  accuracy {accuracy:.3f}")
    return losses, accuracy


if __name__ == "__main__":
    train()
