"""A small fully connected network in NumPy: Linear, ReLU, Linear, softmax cross-entropy, plain SGD.

The defaults are the seed paper's MNIST network: 784-128-10, SGD without momentum, weight decay
1e-4 on every parameter (as a PyTorch optimiser applies it), batch 64, 3000 steps, the learning
rate warmed up linearly over 300 steps to 5e-3 and then decayed along a cosine to 5e-4.
Initialisation follows PyTorch's ``nn.Linear`` (uniform on +-1/sqrt(fan_in) for weights and
biases), and batches are drawn as a shuffling loader does: a fresh permutation every epoch, the
last batch of an epoch possibly shorter. The cost is fixed by the number of steps, not by the
number of training rows. Every draw comes from the ``numpy.random.Generator`` passed in, so a
run is reproducible bit for bit. Training holds BLAS to one thread (through threadpoolctl, which
scikit-learn and mlxtend install): a multi-threaded matrix product may round differently, and
thousands of SGD steps turn a last-bit difference into a different network.

scikit-learn's ``MLPClassifier`` could follow this schedule only by rewriting its private
``_optimizer.learning_rate`` before each one-batch ``partial_fit`` call, whose per-call input
validation makes a run about ten times slower (16 s against 1.2 s here), and it would still
initialise differently and leave the biases undecayed, so the network is written here.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np


@dataclass(frozen=True)
class TrainingSchedule:
    """Optimiser and schedule of :func:`train_mlp` (defaults: the seed paper's)."""

    steps: int = 3000
    batch_size: int = 64
    learning_rate: float = 5e-3
    final_learning_rate: float = 5e-4
    warmup_steps: int = 300
    weight_decay: float = 1e-4

    def learning_rates(self) -> np.ndarray:
        """The learning rate of each step: linear warm-up to the peak, then a cosine to the final rate."""
        step = np.arange(self.steps, dtype=np.float64)
        warm = self.learning_rate * (step + 1.0) / max(1, self.warmup_steps)
        decay_length = max(1, self.steps - self.warmup_steps)
        progress = np.clip((step - self.warmup_steps) / decay_length, 0.0, 1.0)
        cosine = self.final_learning_rate + 0.5 * (self.learning_rate - self.final_learning_rate) * (
            1.0 + np.cos(math.pi * progress)
        )
        return np.where(step < self.warmup_steps, warm, cosine)


@dataclass
class MLP:
    """Weights of a one-hidden-layer ReLU network (``hidden = relu(X W1 + b1)``, ``logits = hidden W2 + b2``)."""

    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray

    @property
    def dtype(self) -> np.dtype:
        return self.W1.dtype

    def parameters(self) -> list[np.ndarray]:
        return [self.W1, self.b1, self.W2, self.b2]

    def logits(self, X: np.ndarray) -> np.ndarray:
        hidden = np.maximum(np.asarray(X, dtype=self.dtype) @ self.W1 + self.b1, 0.0)
        return hidden @ self.W2 + self.b2

    def predict(self, X: np.ndarray, *, chunk: int = 4096) -> np.ndarray:
        """The predicted class (argmax of the logits) of each row."""
        out = np.empty(X.shape[0], dtype=np.int64)
        for start in range(0, X.shape[0], chunk):
            out[start:start + chunk] = np.argmax(self.logits(X[start:start + chunk]), axis=1)
        return out

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        """Fraction of rows whose predicted class is ``y``."""
        return float(np.mean(self.predict(X) == np.asarray(y)))


def init_mlp(inputs: int, hidden: int, classes: int, rng: np.random.Generator, dtype: type = np.float32) -> MLP:
    """PyTorch's default ``nn.Linear`` initialisation: weights and biases uniform on +-1/sqrt(fan_in)."""
    bound1 = 1.0 / math.sqrt(inputs)
    bound2 = 1.0 / math.sqrt(hidden)
    return MLP(
        W1=rng.uniform(-bound1, bound1, size=(inputs, hidden)).astype(dtype),
        b1=rng.uniform(-bound1, bound1, size=hidden).astype(dtype),
        W2=rng.uniform(-bound2, bound2, size=(hidden, classes)).astype(dtype),
        b2=rng.uniform(-bound2, bound2, size=classes).astype(dtype),
    )


def loss_and_gradients(net: MLP, X: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
    """Mean softmax cross-entropy of the batch and its gradient for each parameter (no weight decay).

    Parameters
    ----------
    net : the network (its dtype sets the compute precision)
    X : (batch, inputs) array
    y : (batch,) integer class labels
    """
    X = np.asarray(X, dtype=net.dtype)
    loss, grads = _backward(net, X, np.asarray(y, dtype=np.int64), 1.0 / X.shape[0], with_loss=True)
    return float(loss), grads


def _backward(net: MLP, X: np.ndarray, y: np.ndarray, scale: float, *, with_loss: bool) -> tuple[float, list[np.ndarray]]:
    """Gradients of ``scale`` times the summed cross-entropy (the loss itself only when asked)."""
    rows = np.arange(X.shape[0])
    pre = X @ net.W1
    pre += net.b1
    hidden = np.maximum(pre, 0.0)
    logits = hidden @ net.W2
    logits += net.b2
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    total = exp.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(total[:, 0]) - logits[rows, y])) if with_loss else 0.0
    exp *= net.dtype.type(scale) / total
    exp[rows, y] -= net.dtype.type(scale)
    d_logits = exp
    d_hidden = d_logits @ net.W2.T
    d_hidden *= pre > 0
    return loss, [X.T @ d_hidden, d_hidden.sum(axis=0), hidden.T @ d_logits, d_logits.sum(axis=0)]


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Hold BLAS to one thread within the block (threads change the network's sums, so its results)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def train_mlp(
    X: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    *,
    hidden: int = 128,
    classes: int | None = None,
    schedule: TrainingSchedule = TrainingSchedule(),
    dtype: type = np.float32,
) -> MLP:
    """Train the network on ``(X, y)`` with minibatch SGD; returns the trained weights.

    Parameters
    ----------
    X : (rows, inputs) array, used as given (no scaling)
    y : (rows,) integer labels in 0..classes-1
    rng : the source of the initial weights and of the batch order
    hidden : width of the hidden layer
    classes : number of classes (default: ``max(y) + 1``)
    schedule : optimiser settings and learning-rate schedule
    dtype : compute precision (float32 is about twice as fast as float64)
    """
    y = np.asarray(y, dtype=np.int64)
    rows = X.shape[0]
    if rows == 0:
        raise ValueError("train_mlp needs at least one training row.")
    if classes is None:
        classes = int(y.max()) + 1
    if y.min() < 0 or y.max() >= classes:
        raise ValueError(f"train_mlp: labels must lie in 0..{classes - 1}.")
    X = np.ascontiguousarray(X, dtype=dtype)
    with single_threaded_blas():
        return _train(X, y, rng, hidden, classes, schedule, dtype)


def _train(X: np.ndarray, y: np.ndarray, rng: np.random.Generator, hidden: int, classes: int,
           schedule: TrainingSchedule, dtype: type) -> MLP:
    rows = X.shape[0]
    net = init_mlp(X.shape[1], hidden, classes, rng, dtype)
    params = net.parameters()
    rates = schedule.learning_rates()
    decay = schedule.weight_decay
    batch = min(schedule.batch_size, rows)
    order = rng.permutation(rows)
    position = 0
    for step in range(schedule.steps):
        if position >= rows:
            order = rng.permutation(rows)
            position = 0
        index = order[position:position + batch]
        position += batch
        rate = float(rates[step])
        # The gradients come out already multiplied by the learning rate (one pass less per step);
        # decoupling the decay as p (1 - lr wd) - lr g is PyTorch's coupled update rearranged.
        _, steps = _backward(net, X[index], y[index], rate / index.shape[0], with_loss=False)
        shrink = 1.0 - rate * decay
        for param, delta in zip(params, steps):
            if decay:
                param *= shrink
            param -= delta
    return net
