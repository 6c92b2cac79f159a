"""A test bed for the advisor on a learned pipeline: a generator learned from images, classifier verifiers.

The generator of each class is a Gaussian mixture in the principal components of its own training
images (scikit-learn's ``PCA`` and ``GaussianMixture``), mapped back to pixels and clipped to the
pixels' range. A verifier is a logistic regression trained on a few real images per class; its
score for a pool row is the probability it gives to the row's given label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rmtsynth.data.advice.learners import pipeline


@dataclass(frozen=True)
class LearnedGenerator:
    """Per-class (PCA, Gaussian mixture) pairs and the pixel range."""

    classes: tuple[Any, Any]
    parts: tuple[Any, Any]
    low: float
    high: float

    def sample(self, rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``rows`` synthetic rows (half per class, the first class taking the odd one) and their true classes."""
        counts = (rows - rows // 2, rows // 2)
        X, y = [], []
        for label, (pca, mixture), count in zip(self.classes, self.parts, counts):
            mixture.random_state = int(rng.integers(2**31 - 1))
            codes, _ = mixture.sample(count)
            X.append(np.clip(pca.inverse_transform(codes), self.low, self.high))
            y.append(np.full(count, label))
        order = rng.permutation(rows)
        return np.vstack(X)[order], np.concatenate(y)[order]


def learn_generator(X: np.ndarray, y: np.ndarray, dimension: int, components: int, seed: int) -> LearnedGenerator:
    """Fit each class's principal components and a Gaussian mixture on them."""
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    classes = tuple(np.unique(y))
    parts = []
    for label in classes:
        rows = X[y == label]
        pca = PCA(n_components=dimension, random_state=seed).fit(rows)
        mixture = GaussianMixture(n_components=components, covariance_type="full", reg_covar=1e-3,
                                  random_state=seed).fit(pca.transform(rows))
        parts.append((pca, mixture))
    return LearnedGenerator(classes, tuple(parts), float(X.min()), float(X.max()))  # type: ignore[arg-type]


def classifier_scores(train_X: np.ndarray, train_y: np.ndarray, pool_X: np.ndarray, given: np.ndarray) -> np.ndarray:
    """The probability a logistic regression trained on (train_X, train_y) gives to each pool row's given label."""
    from sklearn.linear_model import LogisticRegression

    model = pipeline(LogisticRegression(C=0.1, max_iter=2000)).fit(train_X, train_y)
    probability = model.predict_proba(pool_X)
    column = np.searchsorted(model.classes_, given)
    return probability[np.arange(given.size), column]


def flip_labels(labels: np.ndarray, classes: tuple[Any, Any], rate: float, rng: np.random.Generator) -> np.ndarray:
    """Each label replaced by the other class with probability ``rate``."""
    flipped = np.where(labels == classes[0], classes[1], classes[0])
    return np.where(rng.random(labels.size) < rate, flipped, labels)


def measured_accuracy(estimator: Any, real_X: np.ndarray, real_y: np.ndarray, kept_X: np.ndarray,
                      kept_y: np.ndarray, test_X: np.ndarray, test_y: np.ndarray) -> float:
    """Accuracy on the test rows of the pipeline fitted on the real rows and the kept rows."""
    model = pipeline(estimator).fit(np.vstack([real_X, kept_X]), np.concatenate([real_y, kept_y]))
    return float(np.mean(model.predict(test_X) == test_y))
