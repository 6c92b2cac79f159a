"""The learners the advisor compares, and the held-out correctness of their pipeline on one kept set.

A learner is named (``"ridge"``, ``"logistic"``, any registered learner with a scikit-learn
estimator) or given as a scikit-learn classifier. The registered learner that adopts the estimator
gives its own leave-out (exact for ridge, approximate for logistic regression and the squared
hinge); any other estimator is cross-fitted with K folds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rmtsynth.core.learners import LEARNERS, Learner, get_learner, learner_of_estimator
from rmtsynth.core.leave_out import cross_fit_decisions, duplicate_groups
from rmtsynth.errors import ParameterError, ParameterTypeError

#: Folds of the cross-fitting used for estimators without a leave-out of their own.
CROSS_FIT_FOLDS = 10


@dataclass(frozen=True)
class AdviceLearner:
    """One learner: a label for tables, the estimator, the plug-in that adopts it (or None) and how it is left out."""

    label: str
    estimator: Any
    plugin: Learner | None

    @property
    def method(self) -> str:
        if self.plugin is None:
            return f"{CROSS_FIT_FOLDS}-fold cross-fit"
        return {"exact": "exact leave-one-out", "approximate": "approximate leave-one-out"}.get(
            self.plugin.leave_out_method, f"{CROSS_FIT_FOLDS}-fold cross-fit")


def _estimator_label(estimator: Any) -> str:
    text = repr(estimator)
    return " ".join(text.split()) if len(text) <= 80 else type(estimator).__name__


def resolve_learners(learner: Any) -> list[AdviceLearner]:
    """``learner`` as a list of :class:`AdviceLearner` (a name, an estimator, or a list of them)."""
    specs = list(learner) if isinstance(learner, (list, tuple)) else [learner]
    if not specs:
        raise ParameterError("learner is an empty list; name at least one learner.")
    out = []
    for spec in specs:
        if isinstance(spec, str):
            plugin = get_learner(spec)
            out.append(AdviceLearner(plugin.name, plugin.estimator(), plugin))
        elif hasattr(spec, "fit") and hasattr(spec, "get_params"):
            out.append(AdviceLearner(_estimator_label(spec), spec, learner_of_estimator(spec)))
        else:
            raise ParameterTypeError(
                f"learner must be a name ({', '.join(LEARNERS)}) or a scikit-learn classifier, "
                f"not {type(spec).__name__}."
            )
    labels = [a.label for a in out]
    if len(set(labels)) != len(labels):
        raise ParameterError(f"learner lists {labels[0]!r} twice; give each learner once.")
    return out


def pipeline(estimator: Any):
    """``make_pipeline(StandardScaler(), clone(estimator))``: what the user runs."""
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), clone(estimator))


def _decisions(model: Any, X: np.ndarray) -> np.ndarray:
    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(X), dtype=float).reshape(-1)
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(X), dtype=float)[:, 1] - 0.5
    return np.where(np.asarray(model.predict(X), dtype=float) > 0, 1.0, -1.0)


def held_out_decisions(learner: AdviceLearner, real_X: np.ndarray, real_y: np.ndarray, kept_X: np.ndarray,
                       kept_y: np.ndarray, seed: int) -> np.ndarray:
    """Each real row's decision value (> 0: the second class) by the pipeline fitted on the other real rows and the kept rows.

    Rows identical to a real row (real or kept) leave training with it.
    """
    X = np.vstack([real_X, kept_X]) if kept_X.shape[0] else real_X
    y = np.concatenate([real_y, kept_y]) if kept_y.size else real_y
    groups = duplicate_groups(X)
    scored = np.arange(y.size) < real_y.size
    decisions = None
    if learner.plugin is not None:
        decisions = learner.plugin.leave_out(learner.estimator, X, y, groups, scored)
    if decisions is None:
        def fit_predict(train_X, train_y, test_X):
            return _decisions(pipeline(learner.estimator).fit(train_X, train_y), test_X)

        rng = np.random.default_rng(np.random.SeedSequence(seed))
        decisions = cross_fit_decisions(X, y, fit_predict, groups, scored, CROSS_FIT_FOLDS, rng)
    return decisions[: real_y.size]
