"""Logistic regression, L(h) = log(1 + e^{-h}), with an L2 penalty (THEORY.md 16).

The fit is scikit-learn's ``LogisticRegression`` (lbfgs, C = 1 / (N gamma), no intercept, a tight
tolerance); the theory uses Gauss-Hermite quadrature with ``nodes`` nodes.
"""

from __future__ import annotations

import numpy as np

from rmtsynth.core.convex_channels import LogisticChannel
from rmtsynth.core.learners.convex import ConvexLearner


class Logistic(ConvexLearner):
    """``sign(w'x)``, w minimising the logistic loss plus (N gamma / 2) ||w||^2."""

    name = "logistic"

    def __init__(self, nodes: int = 200) -> None:
        self.channel = LogisticChannel(nodes=int(nodes))

    def _fit_one(self, features, targets, weights, penalty):
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=1.0 / penalty, fit_intercept=False, solver="lbfgs", tol=1e-12, max_iter=100_000)
        model.fit(features, targets, sample_weight=weights)
        return np.asarray(model.coef_, dtype=float).ravel()
