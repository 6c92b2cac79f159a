"""The learner interface: what is trained on the mix, in simulation and in theory.

A learner fits a linear classifier ``x -> sign(w'x)`` with a per-row regularisation ``gamma``
(the sum-loss coefficient is ``N * gamma`` with ``N = n + m``, THEORY.md section 1):

* :meth:`Learner.fit` on rows (the columns of a p x k matrix and their labels);
* :meth:`Learner.fit_statistics` on the sufficient statistics ``S = A A'`` and ``r = A c``,
  which determine the fit only for a quadratic loss (``quadratic``): the exact sampler of
  THEORY.md 9.5 draws them and needs such a learner;
* :meth:`Learner.theory`: the deterministic equivalent for a data model and a mix.

On a user's own rows the learner is the scikit-learn estimator the user runs after a
``StandardScaler``: :meth:`Learner.estimator` builds the default one, :meth:`Learner.adopts` says
whether a given estimator is this learner's, and :meth:`Learner.leave_out` gives its pipeline's
held-out decision values on the real rows (exact, approximate, or ``None``: the caller then
cross-fits, which any estimator supports).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np

from rmtsynth.errors import ParameterError

if TYPE_CHECKING:
    from rmtsynth.core.model import DataModel, Mix
    from rmtsynth.core.theory import Convention, Spectrum, TheoryResult


#: Uses beyond a learner's theory and fits; each rests on ridge's sufficient statistics, so a plug-in
#: lists those its numbers are defined for (:attr:`Learner.supported_uses`).
HELDOUT_PREDICTION = "the theory's held-out prediction on a user's rows"
FEATURE_VERIFIER_THEORY = "the feature-aware verifier's theory"
SELF_CONSUMING_LOOP = "the self-consuming loop's theory and simulation"
#: The advisor's theory answers (m beyond the pool, other n, verifiers not yet built): the learner's
#: theory calibrated at its leave-one-out (CALIBRATED_HELDOUT) and its penalty (:meth:`Learner.theory_penalty`).
POOL_EXTRAPOLATION = "the advisor's extrapolations by the learner's calibrated theory"
#: The theory on given eigen-data (:meth:`Learner.theory_on_spectrum`), e.g. a Gaussian fitted to a user's rows.
SPECTRUM_THEORY = "the theory on a spectrum fitted to data"
#: Fits from the sufficient statistics (S, r) alone, which the exact sampler draws: a quadratic loss.
SUFFICIENT_STATISTICS = "fits on sufficient statistics"
#: A scikit-learn estimator for a user's rows (:meth:`Learner.estimator`), which the advisor trains.
SKLEARN_ESTIMATOR = "a scikit-learn estimator on a user's rows"
#: The closed-form accuracy with infinitely many synthetic rows (the planner's m -> infinity limit).
INFINITE_SAMPLE_LIMIT = "the closed-form limit of infinitely many synthetic rows"
#: The planner's held-out accuracy on a user's rows: the learner's leave-one-out under the theory's
#: protocol, moved to other mixes by its theory calibrated there (needs no sufficient statistics).
CALIBRATED_HELDOUT = "the planner's held-out accuracy on a user's rows, from the learner's leave-one-out"


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
        raise ParameterError(self.refusal(SUFFICIENT_STATISTICS) or f"learner = {self.name!r} has no fit on statistics.")

    @abstractmethod
    def theory(self, model: "DataModel", mix: "Mix", *, convention: "Convention" = "exact") -> "TheoryResult":
        """The deterministic equivalent of the test accuracy for this data model and mix."""

    #: The uses (HELDOUT_PREDICTION, ...) this learner's numbers are defined for.
    supported_uses: frozenset[str] = frozenset()

    def supports(self, use: str) -> bool:
        """Whether this learner can be used for ``use`` (one of the module's use constants)."""
        if use == SKLEARN_ESTIMATOR:
            return type(self).estimator is not Learner.estimator or use in self.supported_uses
        return use in self.supported_uses or (use == SUFFICIENT_STATISTICS and self.quadratic)

    def refusal(self, use: str) -> str | None:
        """None when :meth:`supports` ``use``; otherwise the sentence that refuses it."""
        if self.supports(use):
            return None
        if use == SUFFICIENT_STATISTICS:
            return (f"learner = {self.name!r} cannot be fitted on sufficient statistics (only a quadratic loss can); "
                    "use sampler: naive.")
        return f"learner = {self.name!r} does not support {use}; choose a learner that does, or leave learner out."

    def theory_on_spectrum(self, spectrum: "Spectrum", mix: "Mix", *,
                           convention: "Convention" = "exact") -> "TheoryResult":
        """The deterministic equivalent on given eigen-data (with SPECTRUM_THEORY in :attr:`supported_uses`)."""
        raise ParameterError(self.refusal(SPECTRUM_THEORY) or f"learner = {self.name!r} has no theory on a spectrum.")

    #: How :meth:`leave_out` answers: "exact", "approximate" or "cross-fit" (it returns None).
    leave_out_method: str = "cross-fit"

    def estimator(self) -> Any:
        """The scikit-learn classifier this learner is on a user's rows, with its default settings."""
        raise ParameterError(f"learner = {self.name!r} has no scikit-learn estimator; pass an estimator object.")

    def adopts(self, estimator: Any) -> bool:
        """Whether ``estimator`` (a scikit-learn classifier) is this learner with settings it can leave rows out of."""
        return False

    def theory_penalty(self, estimator: Any, rows: int) -> float:
        """The theory's gamma for ``estimator`` fitted on ``rows`` standardised rows (needs POOL_EXTRAPOLATION)."""
        raise ParameterError(f"learner = {self.name!r} has no theory of its scikit-learn estimator's penalty.")

    def leave_out(self, estimator: Any, X: np.ndarray, y: np.ndarray, groups: np.ndarray,
                  scored: np.ndarray) -> np.ndarray | None:
        """Decision values of ``StandardScaler`` + ``estimator`` on each scored row, fitted without its group.

        ``X`` raw rows, ``y`` labels -1/+1 (+1 is the estimator's second class), ``groups`` one id
        per row (a group leaves training whole), ``scored`` a mask; NaN where not scored. ``None``
        when this learner has no leave-out of its own (the caller cross-fits).
        """
        return None
