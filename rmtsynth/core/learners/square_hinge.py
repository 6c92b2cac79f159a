"""The square-hinge SVM, L(h) = max(0, 1 - h)^2 / 2, with an L2 penalty (THEORY.md 16).

The fit is scikit-learn's ``LinearSVC(loss="squared_hinge")`` solved in the primal (Newton). Its
loss has no factor 1/2, so our (N gamma / 2) ||w||^2 + sum L is its objective with
C = 1 / (2 N gamma) (THEORY.md 16.7). The theory is in closed form.
"""

from __future__ import annotations

import numpy as np

from rmtsynth.core.convex_channels import SquareHingeChannel
from rmtsynth.core.learners.base import CALIBRATED_HELDOUT, POOL_EXTRAPOLATION
from rmtsynth.core.learners.convex import ConvexLearner
from rmtsynth.core.leave_out import LOSSES, convex_leave_out


class SquareHinge(ConvexLearner):
    """``sign(w'x)``, w minimising sum max(0, 1 - y w'x)^2 / 2 + (N gamma / 2) ||w||^2."""

    name = "square_hinge"
    channel = SquareHingeChannel()

    leave_out_method = "approximate"
    supported_uses = ConvexLearner.supported_uses | {CALIBRATED_HELDOUT, POOL_EXTRAPOLATION}

    def theory_penalty(self, estimator, rows: int) -> float:
        # LinearSVC's loss has no factor 1/2: gamma = 1 / (2 C N) (module docstring).
        return 1.0 / (2.0 * float(estimator.get_params()["C"]) * rows)

    def margin_derivatives(self, t):
        # max(0, 1 - t)^2 / 2: the loss's own convention (scikit-learn's has no 1/2).
        slack = np.maximum(1.0 - np.asarray(t, dtype=float), 0.0)
        return -slack, (slack > 0).astype(float)

    def estimator(self):
        from sklearn.svm import LinearSVC

        return LinearSVC(C=1.0)

    def adopts(self, estimator) -> bool:
        if type(estimator).__name__ != "LinearSVC" or not hasattr(estimator, "get_params"):
            return False
        params = estimator.get_params()
        return (params.get("loss") == "squared_hinge" and params.get("penalty") == "l2"
                and params.get("class_weight") is None)

    def leave_out(self, estimator, X, y, groups, scored):
        from sklearn.base import clone

        params = estimator.get_params()
        scaling = float(params.get("intercept_scaling", 1.0))
        precise = clone(estimator).set_params(tol=1e-8, dual=False, max_iter=100_000)

        def fit(Z, labels):
            model = precise.fit(Z, labels)
            return np.asarray(model.coef_, dtype=float).ravel(), float(np.ravel(model.intercept_)[0])

        intercept = "penalised" if params.get("fit_intercept", True) else "none"
        return convex_leave_out(X, y, LOSSES["squared_hinge"], float(params["C"]), fit, groups, scored,
                                intercept=intercept, intercept_scaling=scaling)

    def _fit_one(self, features, targets, weights, penalty):
        from sklearn.svm import LinearSVC

        model = LinearSVC(C=0.5 / penalty, loss="squared_hinge", dual=False, fit_intercept=False,
                          tol=1e-12, max_iter=100_000)
        model.fit(features, targets, sample_weight=weights)
        return np.asarray(model.coef_, dtype=float).ravel()
