"""The paper's verifier: a coin whose bias depends only on whether the label is correct."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rmtsynth.core.verifiers.rates import (
    NAMED_VERIFIERS,
    eps_star,
    keep_rate,
    label_signal,
    precision_recall,
    rho_phi_from_precision_recall,
)
from rmtsynth.core.verifiers.base import Verifier
from rmtsynth.errors import ParameterError


@dataclass(frozen=True)
class LabelVerifier(Verifier):
    """Keeps a correct label with probability ``phi`` and a wrong one with probability ``rho``.

    ``rho`` and ``phi`` may be arrays of one shape (a grid of verifiers for the theory); the keep
    rule needs scalars.
    """

    rho: Any
    phi: Any
    name = "label"

    @classmethod
    def named(cls, name: str) -> "LabelVerifier":
        """``none`` (keep everything: rho = phi = 1) or ``oracle`` (rho = 0, phi = 1)."""
        if name not in NAMED_VERIFIERS:
            raise ParameterError(f"verifier = {name!r} is unknown; use one of {', '.join(NAMED_VERIFIERS)}.")
        return cls(*NAMED_VERIFIERS[name])

    @classmethod
    def from_precision_recall(cls, label_noise: float, precision: float, recall: float) -> "LabelVerifier":
        """The verifier with this precision and recall at this label noise (THEORY.md 12)."""
        return cls(*rho_phi_from_precision_recall(label_noise, precision, recall))

    @classmethod
    def from_roc(cls, roc: np.ndarray, index: int) -> "LabelVerifier":
        """The verifier at one threshold of a ROC curve given as rows [false-positive rate, recall]."""
        roc = np.asarray(roc, dtype=float)
        return cls(float(roc[index, 0]), float(roc[index, 1]))

    def keep_probability(self, correct, *, features=None, labels=None) -> np.ndarray:
        return np.where(correct, self.phi, self.rho)

    def label_rates(self) -> tuple[float, float]:
        return float(self.rho), float(self.phi)

    def with_label_part(self, rho: Any, phi: Any) -> "LabelVerifier":
        return LabelVerifier(rho, phi)

    def transition(self) -> float:
        """eps* = phi / (phi + rho), where the kept labels' signal vanishes."""
        return float(eps_star(self.rho, self.phi))

    def keep_rate(self, label_noise):
        """alpha = P(kept) at label noise eps."""
        return keep_rate(label_noise, self.rho, self.phi)

    def label_signal(self, label_noise):
        """lambda = E[q s], the signed label signal of the kept rows."""
        return label_signal(label_noise, self.rho, self.phi)

    def precision_recall(self, label_noise) -> tuple[np.ndarray, np.ndarray]:
        """(precision, recall) at label noise eps."""
        return precision_recall(label_noise, self.rho, self.phi)

    def to_dict(self) -> dict[str, Any]:
        return {"verifier": "label", "rho": float(self.rho), "phi": float(self.phi)}
