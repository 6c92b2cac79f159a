"""Verifiers: which synthetic rows are kept (THEORY.md sections 9 and 12).

:class:`Verifier` is the interface and holds the one keep rule; :class:`LabelVerifier` is the
paper's feature-blind verifier (rho, phi); :class:`RowDecisions` replays a user's recorded
decisions on a pool; :func:`as_verifier` reads every way a verifier can be written. A new kind of
verifier is one new subclass of :class:`Verifier` (see ``docs/extending.md``).
"""

from rmtsynth.core.verifiers.base import Verifier
from rmtsynth.core.verifiers.decisions import RowDecisions
from rmtsynth.core.verifiers.feature import FeatureVerifier
from rmtsynth.core.verifiers.label import LabelVerifier
from rmtsynth.core.verifiers.parse import VERIFIER_NAMES, as_verifier, verifier_from_params

__all__ = ["Verifier", "LabelVerifier", "FeatureVerifier", "RowDecisions", "as_verifier", "verifier_from_params", "VERIFIER_NAMES"]
