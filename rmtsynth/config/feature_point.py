"""A point's verifier that looks at the features (THEORY.md 15): its keys and their checks.

``verifier_keep`` names a rule of :data:`rmtsynth.core.verifiers.VERIFIER_RULES` (easy, hard and
soft are the linear score of THEORY.md 15; a plug-in adds its own), and ``verifier_threshold``,
``verifier_softness``, ``verifier_angle``, ``verifier_toward_shift`` and ``verifier_options``
are its settings; the point's (rho, phi) stay the label-aware part. :func:`resolve_feature`
builds the rule, measures it once in the placed model and returns it; it then travels in the
point's :class:`~rmtsynth.core.model.Mix`.
"""

from __future__ import annotations

from typing import Any, Mapping

from rmtsynth.core.model import ModelSpec
from rmtsynth.core.verifiers import FEATURE_COLUMNS, Verifier, verifier_rule
from rmtsynth.errors import ConfigError, ParameterError
from rmtsynth.sim.geometry import placed_model

#: The keys of a feature-aware verifier, as they are written in configs and API calls.
FEATURE_KEYS = ("verifier_keep", "verifier_threshold", "verifier_softness", "verifier_angle", "verifier_toward_shift",
                "verifier_options")

__all__ = ["FEATURE_COLUMNS", "FEATURE_KEYS", "resolve_feature"]


def resolve_feature(
    params: Mapping[str, Any], model: ModelSpec, seed: int, label_noise: float, rho: float, phi: float, where: str
) -> Verifier | None:
    """The point's verifier rule (None for the feature-blind default), measured in the placed model.

    Raises ConfigError (one sentence naming the key) for a key that does not go with the rule,
    a generator covariance the rule cannot be placed in, or a threshold that keeps nothing.
    """
    keep = params.get("verifier_keep") or "none"
    if keep == "none":
        given = [k for k in FEATURE_KEYS[1:] if params.get(k) is not None]
        if given:
            raise ConfigError(
                f"{where}: {given[0]} applies only to a verifier that looks at the features, but verifier_keep = none "
                "(the default); set verifier_keep to easy, hard or soft, or remove it."
            )
        return None
    try:
        rule = verifier_rule(keep, params).with_label_part(rho, phi)
        return rule.measured(placed_model(model, seed))
    except ParameterError as exc:
        raise ConfigError(f"{where}: {exc}") from None
