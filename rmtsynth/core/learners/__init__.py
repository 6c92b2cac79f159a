"""Learners: the classifier trained on the mix (:class:`Learner`), and their registry.

Ridge (:class:`~rmtsynth.core.learners.ridge.Ridge`) is the paper's learner and the default. A new
learner is one module with a :class:`Learner` subclass plus one line in :data:`LEARNERS` (see
``docs/extending.md``).
"""

from __future__ import annotations

import difflib

from rmtsynth.core.learners.base import (CALIBRATED_HELDOUT, FEATURE_VERIFIER_THEORY, HELDOUT_PREDICTION, INFINITE_SAMPLE_LIMIT,
                                         POOL_EXTRAPOLATION,
                                         SELF_CONSUMING_LOOP, SKLEARN_ESTIMATOR, SPECTRUM_THEORY,
                                         SUFFICIENT_STATISTICS, Learner)
from rmtsynth.core.learners.hinge import Hinge
from rmtsynth.core.learners.logistic import Logistic
from rmtsynth.core.learners.ridge import Ridge, ridge_weights, ridge_weights_from_data
from rmtsynth.core.learners.square_hinge import SquareHinge
from rmtsynth.errors import ParameterError, ParameterTypeError

#: Every learner, by the name configs and API calls use.
LEARNERS: dict[str, Learner] = {learner.name: learner for learner in (Ridge(), Logistic(), SquareHinge(), Hinge())}

#: The default learner.
DEFAULT_LEARNER = "ridge"


def get_learner(name: "str | Learner" = DEFAULT_LEARNER) -> Learner:
    """The learner registered as ``name`` (a :class:`Learner` is returned as it is)."""
    if isinstance(name, Learner):
        return name
    if not isinstance(name, str):
        raise ParameterTypeError(f"learner = {name!r} is not allowed; it must be one name: {', '.join(LEARNERS)}.")
    if name in LEARNERS:
        return LEARNERS[name]
    close = difflib.get_close_matches(str(name), LEARNERS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ParameterError(f"learner = {name!r} is unknown{hint}; use one of {', '.join(LEARNERS)}.")


def learner_of_estimator(estimator: object) -> Learner | None:
    """The registered learner that adopts a scikit-learn ``estimator``, or None (it is then cross-fitted)."""
    for learner in LEARNERS.values():
        if learner.adopts(estimator):
            return learner
    return None


__all__ = ["CALIBRATED_HELDOUT", "FEATURE_VERIFIER_THEORY", "INFINITE_SAMPLE_LIMIT", "SPECTRUM_THEORY", "SUFFICIENT_STATISTICS", "SKLEARN_ESTIMATOR", "HELDOUT_PREDICTION", "POOL_EXTRAPOLATION", "SELF_CONSUMING_LOOP", "learner_of_estimator", "Learner", "Ridge", "Logistic", "SquareHinge", "Hinge", "LEARNERS", "DEFAULT_LEARNER", "get_learner",
           "ridge_weights", "ridge_weights_from_data"]
