"""A two-layer network's forward pass: predictions, loss and accuracy on synthetic data.

The data come from a "teacher" network with known weights plus label noise. kiln evaluates
the teacher and a perturbed copy of it in minibatches; the weights live in shared variables and
the running totals (examples seen, correct predictions, summed loss) are accumulated with
`updates`, so the whole evaluation loop is one compiled function called once per batch. The
result is checked against the same computation written in NumPy.

Run: python examples/forward_model.py
"""
import numpy as np

import kiln
import kiln.tensor as kt

rng = np.random.default_rng(0)
n_samples, n_features, n_hidden, batch = 2000, 20, 16, 250

# synthetic data: labels from a teacher network, 5% of them flipped
teacher = {"W1": rng.normal(size=(n_features, n_hidden)) / np.sqrt(n_features),
           "b1": rng.normal(size=n_hidden) * 0.1,
           "w2": rng.normal(size=n_hidden),
           "b2": 0.0}
X = rng.normal(size=(n_samples, n_features))


def numpy_forward(params, x):
    h = np.tanh(x @ params["W1"] + params["b1"])
    return 1.0 / (1.0 + np.exp(-(h @ params["w2"] + params["b2"])))


Y = (numpy_forward(teacher, X) > 0.5).astype("float64")
flip = rng.random(n_samples) < 0.05
Y[flip] = 1.0 - Y[flip]

# the model: weights are shared variables, set to the teacher's or a noisy copy below
W1 = kiln.shared(np.zeros((n_features, n_hidden)), name="W1")
b1 = kiln.shared(np.zeros(n_hidden), name="b1")
w2 = kiln.shared(np.zeros(n_hidden), name="w2")
b2 = kiln.shared(np.asarray(0.0), name="b2")

# running totals, accumulated by the evaluation function's updates
seen = kiln.shared(np.asarray(0, dtype="int64"), name="seen")
correct = kiln.shared(np.asarray(0, dtype="int64"), name="correct")
loss_sum = kiln.shared(np.asarray(0.0), name="loss_sum")

x = kt.matrix("x")
y = kt.vector("y")
hidden = kt.tanh(x @ W1 + b1)
p = kt.sigmoid(hidden @ w2 + b2)
prediction = kt.cast(p > 0.5, "float64")
n_correct = kt.cast(kt.eq(prediction, y).sum(), "int64")
eps = 1e-12  # keeps log finite when a probability rounds to exactly 0 or 1
losses = -(y * kt.log(p + eps) + (1 - y) * kt.log(1 - p + eps))

evaluate_batch = kiln.function(
    [x, y], n_correct,
    updates=[(seen, seen + x.shape[0]), (correct, correct + n_correct), (loss_sum, loss_sum + losses.sum())],
    name="evaluate_batch")
predict = kiln.function([x], p, name="predict")


def evaluate(params):
    """Set the weights, reset the totals, run every minibatch; return (accuracy, mean loss)."""
    for var, name in ((W1, "W1"), (b1, "b1"), (w2, "w2"), (b2, "b2")):
        var.set_value(np.asarray(params[name], dtype="float64"))
    for total in (seen, correct, loss_sum):
        total.set_value(np.zeros_like(total.get_value()))
    for start in range(0, n_samples, batch):
        evaluate_batch(X[start:start + batch], Y[start:start + batch])
    n = int(seen.get_value())
    return int(correct.get_value()) / n, float(loss_sum.get_value()) / n


student = {k: np.asarray(v) + rng.normal(scale=0.3, size=np.shape(v)) for k, v in teacher.items()}
results = {}
for label, params in (("teacher", teacher), ("noisy student", student)):
    accuracy, mean_loss = evaluate(params)
    # the same numbers computed directly in NumPy
    p_np = numpy_forward(params, X)
    acc_np = float(np.mean((p_np > 0.5) == Y))
    loss_np = float(np.mean(-(Y * np.log(p_np + eps) + (1 - Y) * np.log(1 - p_np + eps))))
    assert abs(accuracy - acc_np) < 1e-12 and abs(mean_loss - loss_np) < 1e-9, (label, accuracy, acc_np)
    assert np.allclose(predict(X[:5]), p_np[:5])
    results[label] = accuracy
    print(f"{label:>14}: accuracy {accuracy:.3f}  mean cross-entropy {mean_loss:.4f}  "
          f"({int(seen.get_value())} examples in {n_samples // batch} batches; matches NumPy)")

print(f"label noise flipped {flip.mean():.1%} of the labels; the teacher should score about "
      f"{1 - flip.mean():.1%}")
