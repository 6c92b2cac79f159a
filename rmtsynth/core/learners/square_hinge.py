"""The square-hinge SVM, L(h) = max(0, 1 - h)^2 / 2, with an L2 penalty (THEORY.md 16).

The fit is scikit-learn's ``LinearSVC(loss="squared_hinge")`` solved in the primal (Newton). Its
loss has no factor 1/2, so our (N gamma / 2) ||w||^2 + sum L is its objective with
C = 1 / (2 N gamma) (THEORY.md 16.7). The theory is in closed form.
"""

from __future__ import annotations

import numpy as np

from rmtsynth.core.convex_channels import SquareHingeChannel
from rmtsynth.core.learners.convex import ConvexLearner


class SquareHinge(ConvexLearner):
    """``sign(w'x)``, w minimising sum max(0, 1 - y w'x)^2 / 2 + (N gamma / 2) ||w||^2."""

    name = "square_hinge"
    channel = SquareHingeChannel()

    def _fit_one(self, features, targets, weights, penalty):
        from sklearn.svm import LinearSVC

        model = LinearSVC(C=0.5 / penalty, loss="squared_hinge", dual=False, fit_intercept=False,
                          tol=1e-12, max_iter=100_000)
        model.fit(features, targets, sample_weight=weights)
        return np.asarray(model.coef_, dtype=float).ravel()
