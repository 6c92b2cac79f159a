"""The learner interface: what is trained on the mix, in simulation and in theory.

A learner fits a linear classifier ``x -> sign(w'x)`` with a per-row regularisation ``gamma``
(the sum-loss coefficient is ``N * gamma`` with ``N = n + m``, THEORY.md section 1):

* :meth:`Learner.fit` on rows (the columns of a p x k matrix and their labels);
* :meth:`Learner.fit_statistics` on the sufficient statistics ``S = A A'`` and ``r = A c``,
  which determine the fit only for a quadratic loss (``quadratic``): the exact sampler of
  THEORY.md 9.5 draws them and needs such a learner;
* :meth:`Learner.theory`: the deterministic equivalent for a data model and a mix.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import numpy as np

from rmtsynth.errors import ParameterError

if TYPE_CHECKING:
    from rmtsynth.core.model import DataModel, Mix
    from rmtsynth.core.theory import Convention, TheoryResult


class Learner(ABC):
    """A linear classifier trained with a per-row regularisation gamma."""

    #: The name a config or an API call selects the learner by.
    name: str = ""
    #: Whether the loss is quadratic, so that (S, r) determine the fit.
    quadratic: bool = False

    @abstractmethod
    def fit(self, rows: np.ndarray, labels: np.ndarray, n_total: float, gamma: float | np.ndarray) -> np.ndarray:
        """Weights w from the rows (p x k) and their labels (k,), normalised by ``n_total``."""

    def fit_statistics(self, scatter: np.ndarray, signal: np.ndarray, n_total: float,
                       gamma: float | np.ndarray) -> np.ndarray:
        """Weights from ``S = A A'`` and ``r = A c``; only a quadratic loss can be fitted so."""
        raise ParameterError(
            f"learner = {self.name!r} cannot be fitted on sufficient statistics (only a quadratic loss can); "
            "use sampler: naive."
        )

    @abstractmethod
    def theory(self, model: "DataModel", mix: "Mix", *, convention: "Convention" = "exact") -> "TheoryResult":
        """The deterministic equivalent of the test accuracy for this data model and mix."""
