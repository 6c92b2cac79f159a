"""The hinge SVM, L(h) = max(0, 1 - h), with an L2 penalty (THEORY.md 16).

The fit is scikit-learn's ``LinearSVC(loss="hinge")`` (liblinear's dual coordinate descent, the
only solver it has for the hinge), with C = 1 / (N gamma). The theory is in closed form.
"""

from __future__ import annotations

import numpy as np

from rmtsynth.core.convex_channels import HingeChannel
from rmtsynth.core.learners.convex import ConvexLearner


class Hinge(ConvexLearner):
    """``sign(w'x)``, w minimising sum max(0, 1 - y w'x) + (N gamma / 2) ||w||^2."""

    name = "hinge"
    channel = HingeChannel()

    def estimator(self):
        from sklearn.svm import LinearSVC

        return LinearSVC(C=1.0, loss="hinge", max_iter=100_000)

    def adopts(self, estimator) -> bool:
        if type(estimator).__name__ != "LinearSVC" or not hasattr(estimator, "get_params"):
            return False
        return estimator.get_params().get("loss") == "hinge"

    def _fit_one(self, features, targets, weights, penalty):
        from sklearn.svm import LinearSVC

        model = LinearSVC(C=1.0 / penalty, loss="hinge", dual=True, fit_intercept=False,
                          tol=1e-8, max_iter=1_000_000, random_state=0)
        model.fit(features, targets, sample_weight=weights)
        return np.asarray(model.coef_, dtype=float).ravel()
