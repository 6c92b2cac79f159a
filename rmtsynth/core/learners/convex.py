"""The shared part of the convex-loss learners (logistic, square hinge, hinge; THEORY.md 16).

A :class:`ConvexLearner` fits ``w = argmin sum_rows L(y w'x) + (N gamma / 2) ||w||^2`` with
N = ``n_total`` and no intercept, and its theory is :func:`rmtsynth.core.convex_theory.evaluate_convex`
with the learner's channel. A subclass gives the ``name``, the ``channel`` and ``_fit_one``, the fit at
one gamma on a problem that has rows of both labels (scikit-learn needs two classes).

``theory(model, mix)`` returns the package's :class:`~rmtsynth.core.theory.TheoryResult` of the
mix's shape: ``accuracy = Phi(M / sqrt(q_r))``, ``mean = M = mu'w``, ``variance = q_r = ||w||^2``,
``second_moment``, ``risk`` (the score's test squared error), ``alpha``, ``lam``, ``newton_rounds`` and
``residual``; ridge's self-energies ``delta_*`` are NaN. Every order parameter (V_r, V_s, M_beta,
q_s) is in :func:`rmtsynth.core.convex_theory.solve_convex`'s solution.

scikit-learn is imported inside the fits only, so that the theory needs no scikit-learn.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING

import numpy as np

from rmtsynth.core.convex_channels import Channel
from rmtsynth.core.convex_theory import evaluate_convex
from rmtsynth.core.learners.base import SPECTRUM_THEORY, Learner
from rmtsynth.errors import ParameterError

if TYPE_CHECKING:
    from rmtsynth.core.model import DataModel, Mix
    from rmtsynth.core.theory import Convention, Spectrum, TheoryResult


class ConvexLearner(Learner):
    """A linear classifier with a convex margin loss L and an L2 penalty."""

    quadratic = False
    #: The loss's channel equations (THEORY.md 16.3).
    channel: Channel

    def fit(self, rows: np.ndarray, labels: np.ndarray, n_total: float, gamma: float | np.ndarray) -> np.ndarray:
        """Weights w (p,), or (G, p) for G values of gamma, from rows (p x k) and labels (k,) in {-1, +1}."""
        if not n_total > 0:
            raise ParameterError(f"the normaliser N must be > 0, got {n_total}")
        gam = np.asarray(gamma, dtype=float)
        if np.any(~(gam > 0)):
            raise ParameterError(f"learner = {self.name!r} needs gamma > 0 to fit (the minimiser may not exist at 0).")
        rows = np.asarray(rows, dtype=float)
        if gam.ndim > 1:
            raise ValueError("gamma must be a scalar or a 1-D array")
        features, targets, weights = two_class_problem(rows, np.asarray(labels, dtype=float))
        if features.shape[0] == 0:
            return np.zeros(rows.shape[0]) if gam.ndim == 0 else np.zeros((gam.size, rows.shape[0]))
        from threadpoolctl import threadpool_limits

        # One small fit a replicate: more threads only contend (scipy's and scikit-learn's own
        # thread pools load after any limit set at start-up, so the limit is set here).
        with threadpool_limits(limits=1):
            fits = [self._fit_one(features, targets, weights, float(n_total) * float(g)) for g in gam.ravel()]
        return fits[0] if gam.ndim == 0 else np.stack(fits)

    def margin_derivatives(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """L'(t) and L''(t) of the loss at the margins t (for the leave-one-out's Newton step)."""
        raise ParameterError(f"learner = {self.name!r} has no second derivative, so no Newton-step leave-one-out.")

    @abstractmethod
    def _fit_one(self, features: np.ndarray, targets: np.ndarray, weights: np.ndarray | None,
                 penalty: float) -> np.ndarray:
        """argmin sum_i weights_i L(targets_i w'features_i) + (penalty / 2) ||w||^2 (features k x p)."""

    def theory(self, model: "DataModel", mix: "Mix", *, convention: "Convention" = "exact") -> "TheoryResult":
        """THEORY.md 16 at every point of the mix (its fields may be arrays); gamma = 0 is refused
        with a ParameterError where the rows are separable."""
        if convention != "exact":
            raise ParameterError(
                f"convention = {convention!r} belongs to ridge only; learner = {self.name!r} uses 'exact'."
            )
        if model.covariance.kind == "estimated":
            raise ParameterError(f"learner = {self.name!r} has no theory for an estimated covariance; use ridge.")
        return self.theory_on_spectrum(model.spectrum, mix, convention=convention)

    supported_uses = frozenset({SPECTRUM_THEORY})

    def theory_on_spectrum(self, spectrum: "Spectrum", mix: "Mix", *,
                           convention: "Convention" = "exact") -> "TheoryResult":
        if convention != "exact":
            raise ParameterError(
                f"convention = {convention!r} belongs to ridge only; learner = {self.name!r} uses 'exact'."
            )
        return evaluate_convex(spectrum, self.channel, *mix.values())


def two_class_problem(rows: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The same objective with targets alternating +1, -1: (features k x p, targets, sample weights).

    The loss sees only y x, so row i enters as ``t_i y_i x_i`` with target t_i. One row is given
    twice with weight 1/2 each (once per class); no row gives an empty problem.
    """
    signed = (rows * labels).T
    k = signed.shape[0]
    if k == 1:
        return np.vstack([signed, -signed]), np.array([1.0, -1.0]), np.array([0.5, 0.5])
    targets = np.where(np.arange(k) % 2 == 0, 1.0, -1.0)
    return signed * targets[:, None], targets, None
