"""Logistic regression on synthetic data, trained by gradient descent with kiln.grad.

    python examples/logistic_regression.py

Prints the loss every 20 steps (it goes down) and the final training accuracy.
"""
from __future__ import annotations

import numpy as np

import kiln
import kiln.tensor as kt


def make_data(n: int = 400, d: int = 5, seed: int = 0):
    """Two Gaussian blobs, labels 0/1, separable up to noise."""
    rng = np.random.default_rng(seed)
    true_w = rng.normal(size=d)
    X = rng.normal(size=(n, d))
    Y = (X @ true_w + 0.3 * rng.normal(size=n) > 0).astype("float64")
    return X, Y


def train(steps: int = 100, lr: float = 0.5, verbose: bool = True):
    """Train; returns (losses, accuracy)."""
    X, Y = make_data()
    x, y = kt.matrix("x"), kt.vector("y")
    w = kiln.shared(np.zeros(X.shape[1]), name="w")
    b = kiln.shared(0.0, name="b")
    p = kt.sigmoid(x @ w + b)                                 # P(y = 1 | x)
    cost = -(y * kt.log(p) + (1 - y) * kt.log(1 - p)).mean()  # cross-entropy
    gw, gb = kiln.grad(cost, [w, b])
    step = kiln.function([x, y], cost, updates=[(w, w - lr * gw), (b, b - lr * gb)])
    predict = kiln.function([x], p > 0.5)
    losses = []
    for i in range(steps):
        losses.append(float(step(X, Y)))
        if verbose and i % 20 == 0:
            print(f"step {i:3d}  loss {losses[-1]:.4f}")
    accuracy = float(np.mean(predict(X) == Y))
    if verbose:
        print(f"final loss {losses[-1]:.4f}  accuracy {accuracy:.3f}")
    return losses, accuracy


if __name__ == "__main__":
    train()
