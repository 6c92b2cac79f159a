"""The verifier interface: what decides which synthetic rows are kept.

Every sampler and every figure kind keeps rows through :meth:`Verifier.keep`, the one keep
rule: row j is kept when a uniform number ``u_j`` in [0, 1) falls below the row's keep
probability. Drawing one uniform per row, whatever the verifier, means that verifiers run from
the same generator state share their draws (one with lower probabilities keeps a subset of the
rows another keeps), and that a verifier's internals never reach the samplers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np


class Verifier(ABC):
    """Decides, row by row, which synthetic rows enter training.

    Subclasses implement :meth:`keep_probability`; :meth:`keep` is the same for all.
    ``feature_aware`` says whether the probability depends on the row's features (then the
    samplers pass them), ``label_rates`` gives the (rho, phi) pair the feature-blind theory takes.
    """

    #: Whether :meth:`keep_probability` reads the rows' features.
    feature_aware: bool = False

    @abstractmethod
    def keep_probability(
        self,
        correct: np.ndarray,
        *,
        features: np.ndarray | None = None,
        labels: np.ndarray | None = None,
    ) -> np.ndarray:
        """P(keep) of each row.

        Parameters
        ----------
        correct : (k,) bool array
            Whether each row's label is the true one.
        features : (k, p) array, optional
            The rows, for a feature-aware verifier.
        labels : (k,) array, optional
            The observed labels (+-1), for a feature-aware verifier.
        """

    def keep(
        self,
        correct: np.ndarray,
        uniforms: np.ndarray,
        *,
        features: np.ndarray | None = None,
        labels: np.ndarray | None = None,
    ) -> np.ndarray:
        """The keep mask: row j is kept when ``uniforms[j] < keep_probability[j]``."""
        return uniforms < self.keep_probability(np.asarray(correct, dtype=bool), features=features, labels=labels)

    def label_rates(self) -> tuple[float, float]:
        """(rho, phi): the probabilities of keeping a wrong and a correct label, whatever the row.

        Raises ``NotImplementedError`` for a verifier whose keep probability depends on more
        than the label's correctness.
        """
        raise NotImplementedError(f"{type(self).__name__} has no feature-blind (rho, phi)")

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The verifier's parameters, for tables and manifests."""
