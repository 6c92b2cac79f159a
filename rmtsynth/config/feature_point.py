"""A point's verifier that looks at the features (THEORY.md 15): its keys, checks and kept shares.

The keys ``verifier_keep`` (none, easy, hard, soft), ``verifier_threshold``,
``verifier_softness``, ``verifier_angle`` and ``verifier_toward_shift`` describe the feature rule
and the direction v in the placed model's geometry; the point's (rho, phi) stay the label-aware
part q_wrong, q_correct. :func:`resolve_feature` checks them, builds the verifier once to find
what it keeps, and returns a :class:`FeaturePoint`, which is hashable and small (it travels to
worker processes and keys the caches); :meth:`FeaturePoint.verifier` rebuilds the
:class:`~rmtsynth.core.verifiers.FeatureVerifier` in any process from the placed model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

from rmtsynth.core.feature_verifier import tilt_geometry
from rmtsynth.core.model import DataModel, ModelSpec
from rmtsynth.core.verifiers.rates import precision_recall
from rmtsynth.core.verifiers import FeatureVerifier
from rmtsynth.core.verifiers.feature import _times_covariance
from rmtsynth.errors import ConfigError, ParameterError
from rmtsynth.sim.geometry import placed_model

#: The keys of a feature-aware verifier, as they are written in configs and API calls.
FEATURE_KEYS = ("verifier_keep", "verifier_threshold", "verifier_softness", "verifier_angle", "verifier_toward_shift")
#: The columns a feature-aware point adds to the tables.
FEATURE_COLUMNS = [*FEATURE_KEYS, "kept_correct_share", "kept_wrong_share"]


@dataclass(frozen=True)
class FeaturePoint:
    """The feature rule of one point and what it keeps of each label group (shares of those rows)."""

    keep: str
    threshold: float
    softness: float | None
    angle: float
    toward_shift: float
    recall: float
    false_positive_rate: float

    def verifier(self, model: DataModel, rho: float, phi: float) -> FeatureVerifier:
        """The verifier in a placed model, with the label-aware part (q_wrong, q_correct) = (rho, phi)."""
        return FeatureVerifier.from_geometry(
            model, self.angle, self.toward_shift, threshold=self.threshold, keep=self.keep, softness=self.softness,
            q_correct=float(phi), q_wrong=float(rho),
        )

    def precision(self, label_noise: float) -> float:
        """The share of correct labels among the kept rows (1 - eps when nothing is kept)."""
        return float(precision_recall(label_noise, self.false_positive_rate, self.recall)[0])

    def record(self, label_noise: float) -> dict[str, Any]:
        """The feature columns; the kept shares are of all m synthetic rows."""
        return {
            "verifier_keep": self.keep, "verifier_threshold": self.threshold, "verifier_softness": self.softness,
            "verifier_angle": self.angle, "verifier_toward_shift": self.toward_shift,
            "kept_correct_share": (1.0 - label_noise) * self.recall, "kept_wrong_share": label_noise * self.false_positive_rate,
        }


def blind_record(label_noise: float, rho: float, phi: float) -> dict[str, Any]:
    """The feature columns of a feature-blind point, in a table that also holds feature-aware ones."""
    return {
        "verifier_keep": "none", "verifier_threshold": None, "verifier_softness": None, "verifier_angle": None,
        "verifier_toward_shift": None, "kept_correct_share": (1.0 - label_noise) * phi,
        "kept_wrong_share": label_noise * rho,
    }


def _check_keys(params: Mapping[str, Any], keep: str, where: str) -> None:
    """The sentences for keys that do not go with the rule."""
    if keep == "none":
        given = [k for k in FEATURE_KEYS[1:] if params.get(k) is not None]
        if given:
            raise ConfigError(
                f"{where}: {given[0]} applies only to a verifier that looks at the features, but verifier_keep = none "
                "(the default); set verifier_keep to easy, hard or soft, or remove it."
            )
        return
    softness = params.get("verifier_softness")
    if keep != "soft" and softness is not None:
        raise ConfigError(
            f"{where}: verifier_softness applies only to verifier_keep = soft, not {keep}; remove it."
        )
    if keep == "soft" and softness is None:
        raise ConfigError(f"{where}: verifier_keep = soft needs verifier_softness, a number > 0.")


def resolve_feature(
    params: Mapping[str, Any], model: ModelSpec, seed: int, label_noise: float, rho: float, phi: float, where: str
) -> FeaturePoint | None:
    """The point's feature rule (None for the feature-blind default), checked in the placed model.

    Raises ConfigError (one sentence naming the key) for a key that does not go with the rule,
    a generator covariance the theory cannot place v in, or a threshold that keeps nothing.
    """
    keep = params.get("verifier_keep") or "none"
    _check_keys(params, keep, where)
    if keep == "none":
        return None
    if model.covariance.kind == "estimated":
        raise ConfigError(
            f"{where}: verifier_keep = {keep} needs a fixed generator covariance (identity, scaled, diagonal or file), "
            "not estimated, which draws a new C per replicate."
        )
    point = FeaturePoint(
        keep=keep, threshold=float(params.get("verifier_threshold") or 0.0),
        softness=None if params.get("verifier_softness") is None else float(params["verifier_softness"]),
        angle=float(params.get("verifier_angle") or 0.0), toward_shift=float(params.get("verifier_toward_shift") or 0.0),
        recall=0.0, false_positive_rate=0.0,
    )
    placed = placed_model(model, seed)
    try:
        verifier = point.verifier(placed, rho, phi)
    except ParameterError as exc:
        text = str(exc)
        raise ConfigError(f"{where}: {'verifier_' if text.startswith('threshold') else ''}{text}") from None
    geometry = tilt_geometry(verifier, placed.mean, _times_covariance(placed, verifier.direction))
    return replace(point, recall=geometry.recall, false_positive_rate=geometry.false_positive_rate)
