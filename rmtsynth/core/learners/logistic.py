"""Logistic regression, L(h) = log(1 + e^{-h}), with an L2 penalty (THEORY.md 16).

The fit is scikit-learn's ``LogisticRegression`` (lbfgs, C = 1 / (N gamma), no intercept, a tight
tolerance); the theory uses Gauss-Hermite quadrature with ``nodes`` nodes.
"""

from __future__ import annotations

import numpy as np

from rmtsynth.core.convex_channels import LogisticChannel
from rmtsynth.core.learners.base import CALIBRATED_HELDOUT, POOL_EXTRAPOLATION
from rmtsynth.core.learners.convex import ConvexLearner
from rmtsynth.core.leave_out import LOSSES, convex_leave_out


class Logistic(ConvexLearner):
    """``sign(w'x)``, w minimising the logistic loss plus (N gamma / 2) ||w||^2."""

    name = "logistic"

    def __init__(self, nodes: int = 200) -> None:
        self.channel = LogisticChannel(nodes=int(nodes))

    leave_out_method = "approximate"
    supported_uses = ConvexLearner.supported_uses | {CALIBRATED_HELDOUT, POOL_EXTRAPOLATION}

    def theory_penalty(self, estimator, rows: int) -> float:
        # LogisticRegression minimises sum L + ||w||^2 / (2 C): gamma = 1 / (C N).
        return 1.0 / (float(estimator.get_params()["C"]) * rows)

    def margin_derivatives(self, t):
        return LOSSES["logistic"].derivatives(np.asarray(t, dtype=float))

    def estimator(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=1.0, max_iter=1000)

    def adopts(self, estimator) -> bool:
        if type(estimator).__name__ != "LogisticRegression" or not hasattr(estimator, "get_params"):
            return False
        params = estimator.get_params()
        l2 = params.get("penalty", "l2") in ("l2", "deprecated") and params.get("l1_ratio") in (None, 0, 0.0)
        return l2 and params.get("class_weight") is None and np.isfinite(float(params.get("C", 1.0)))

    def leave_out(self, estimator, X, y, groups, scored):
        from sklearn.base import clone

        params = estimator.get_params()
        intercept = "free" if params.get("fit_intercept", True) else "none"
        # A tight fit: the Newton step starts from it (its gradient is kept, so this is not critical).
        precise = clone(estimator).set_params(tol=1e-8, max_iter=max(int(params.get("max_iter", 100)), 10_000))

        def fit(Z, labels):
            model = precise.fit(Z, labels)
            return np.asarray(model.coef_, dtype=float).ravel(), float(np.ravel(model.intercept_)[0])

        return convex_leave_out(X, y, LOSSES["logistic"], float(params["C"]), fit, groups, scored, intercept=intercept)

    def _fit_one(self, features, targets, weights, penalty):
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=1.0 / penalty, fit_intercept=False, solver="lbfgs", tol=1e-12, max_iter=100_000)
        model.fit(features, targets, sample_weight=weights)
        return np.asarray(model.coef_, dtype=float).ravel()
