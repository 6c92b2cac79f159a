"""The theory of points whose verifier looks at the features (THEORY.md 15), grouped by verifier.

Points that share a generator, a feature rule and a label-aware part (rho, phi) share one
verifier and are evaluated in one vectorised call of :func:`rmtsynth.core.feature_verifier.feature_theory`
(the O(p) version; Sigma = I, as everywhere in the configs' model).
"""

from __future__ import annotations

import numpy as np

from rmtsynth.config.resolve import ResolvedPoint
from rmtsynth.core.feature_verifier import feature_theory
from rmtsynth.core.learners import DEFAULT_LEARNER
from rmtsynth.core.model import Mix
from rmtsynth.errors import ParameterError
from rmtsynth.sim.geometry import placed_model


def check_feature_point(point: ResolvedPoint, convention: str = "exact") -> None:
    """ParameterError for what the feature verifier's theory does not cover."""
    if point.learner != DEFAULT_LEARNER:
        raise ParameterError(
            f"verifier_keep = {point.feature.keep} has a theory for ridge only, not learner = {point.learner!r}."
        )
    if convention != "exact":
        raise ParameterError(f"verifier_keep = {point.feature.keep} has a theory in the exact convention only, "
                             f"not convention = {convention!r}.")


def feature_theory_into(out: dict[str, np.ndarray], points: list[ResolvedPoint], idx: list[int], *, seed: int,
                        convention: str, fields: tuple[str, ...]) -> None:
    """Fill ``out[field][idx]`` with the theory of the feature-aware points ``idx``."""
    groups: dict[tuple, list[int]] = {}
    for i in idx:
        pt = points[i]
        check_feature_point(pt, convention)
        groups.setdefault((pt.generator, pt.feature, pt.rho, pt.phi), []).append(i)
    for (gen, feature, rho, phi), members in groups.items():
        model = placed_model(gen, seed)
        mix = Mix.of_points([points[i] for i in members])
        res = feature_theory(model, mix, verifier=feature.verifier(model, rho, phi)).result
        for f in fields:
            out[f][members] = getattr(res, f)


def feature_blind_twins(points: list[ResolvedPoint]) -> list[ResolvedPoint]:
    """Each point with its verifier replaced by the feature-blind one of the same precision and recall.

    That verifier keeps a correct label with probability R (the recall) and a wrong one with the
    feature rule's false-positive rate, whatever the row; feature-blind points are left as they are.
    """
    twins = []
    for pt in points:
        if pt.feature is None:
            twins.append(pt)
        else:
            twins.append(pt.replace(rho=pt.feature.false_positive_rate, phi=pt.feature.recall, feature=None))
    return twins
