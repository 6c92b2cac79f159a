"""Verifiers: which synthetic rows are kept (THEORY.md sections 9, 12 and 15).

:class:`Verifier` is the interface and holds the one keep rule; :class:`LabelVerifier` is the
paper's feature-blind verifier (rho, phi); :class:`FeatureVerifier` scores rows along a direction
and :class:`FeatureRule` is the same rule with its direction given by angles (what a config
writes); :class:`RowDecisions` replays a user's recorded decisions on a pool; :func:`as_verifier`
reads every way a verifier can be written. A verifier answers for itself (its rates, what it
keeps, its theory, :meth:`Verifier.supports`); a new kind is one subclass and, to reach configs,
one entry in :data:`VERIFIER_RULES` (see ``docs/extending.md``).
"""

from __future__ import annotations

import difflib
from typing import Any, Callable, Mapping

from rmtsynth.core.verifiers.base import EXACT_SAMPLER, LABEL_PROTOCOLS, THEORY, Verifier
from rmtsynth.core.verifiers.decisions import RowDecisions
from rmtsynth.core.verifiers.feature import FeatureVerifier
from rmtsynth.core.verifiers.label import LabelVerifier
from rmtsynth.core.verifiers.parse import VERIFIER_NAMES, as_verifier, verifier_from_params
from rmtsynth.core.verifiers.rule import FEATURE_COLUMNS, FeatureRule

#: The rules a config selects with ``verifier_keep`` (beside ``none``, the feature-blind verifier):
#: each name maps to a factory ``(name, settings) -> Verifier`` that reads the point's keys
#: (``verifier_threshold``, ``verifier_angle``, ..., ``verifier_options``) and raises
#: ParameterError naming a key that does not fit.
VERIFIER_RULES: dict[str, Callable[[str, Mapping[str, Any]], Verifier]] = {
    "easy": FeatureRule.from_settings,
    "hard": FeatureRule.from_settings,
    "soft": FeatureRule.from_settings,
}


def verifier_rule(name: str, settings: Mapping[str, Any]) -> Verifier:
    """The verifier the rule registered as ``name`` builds from a point's settings."""
    from rmtsynth.errors import ParameterError

    if name not in VERIFIER_RULES:
        close = difflib.get_close_matches(str(name), VERIFIER_RULES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ParameterError(f"verifier_keep = {name!r} is unknown{hint}; use none or one of {', '.join(VERIFIER_RULES)}.")
    return VERIFIER_RULES[name](name, settings)


__all__ = ["Verifier", "LabelVerifier", "FeatureVerifier", "FeatureRule", "RowDecisions", "as_verifier",
           "verifier_from_params", "VERIFIER_NAMES", "VERIFIER_RULES", "verifier_rule", "FEATURE_COLUMNS",
           "THEORY", "EXACT_SAMPLER", "LABEL_PROTOCOLS"]
