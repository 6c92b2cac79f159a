"""Ridge: the square loss with an L2 penalty, the paper's learner (THEORY.md sections 1-6).

``w = (S/N + gamma I)^{-1} r/N`` with ``S = A A'`` and ``r = A c``; a quadratic loss, so the
sufficient statistics determine the fit and the exact sampler of THEORY.md 9.5 applies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.linalg

from rmtsynth.core.learners.base import (CALIBRATED_HELDOUT, FEATURE_VERIFIER_THEORY, HELDOUT_PREDICTION, INFINITE_SAMPLE_LIMIT,
                                         POOL_EXTRAPOLATION,
                                         SELF_CONSUMING_LOOP, SPECTRUM_THEORY, Learner)
from rmtsynth.core.leave_out import ridge_leave_out
from rmtsynth.errors import ParameterError

if TYPE_CHECKING:
    from rmtsynth.core.model import DataModel, Mix
    from rmtsynth.core.theory import Convention, Spectrum, TheoryResult


class Ridge(Learner):
    """The ridge classifier ``sign(w'x)``, ``w = (S/N + gamma I)^{-1} r/N``."""

    name = "ridge"
    quadratic = True

    def fit(self, rows, labels, n_total, gamma):
        return ridge_weights_from_data(rows, labels, n_total, gamma)

    def fit_statistics(self, scatter, signal, n_total, gamma):
        return ridge_weights(scatter, signal, n_total, gamma)

    def theory(self, model: "DataModel", mix: "Mix", *, convention: "Convention" = "exact") -> "TheoryResult":
        return model.theory(mix, convention=convention)

    def theory_on_spectrum(self, spectrum: "Spectrum", mix: "Mix", *,
                           convention: "Convention" = "exact") -> "TheoryResult":
        from rmtsynth.core.theory import evaluate

        return evaluate(spectrum, *mix.values(), convention=convention)

    leave_out_method = "exact"
    supported_uses = frozenset({HELDOUT_PREDICTION, FEATURE_VERIFIER_THEORY, SELF_CONSUMING_LOOP, SPECTRUM_THEORY,
                                POOL_EXTRAPOLATION, INFINITE_SAMPLE_LIMIT, CALIBRATED_HELDOUT})

    def estimator(self):
        from sklearn.linear_model import RidgeClassifier

        return RidgeClassifier(alpha=1.0)

    def adopts(self, estimator) -> bool:
        if type(estimator).__name__ != "RidgeClassifier" or not hasattr(estimator, "get_params"):
            return False
        params = estimator.get_params()
        return params.get("class_weight") is None and not params.get("positive", False)

    def theory_penalty(self, estimator, rows: int) -> float:
        # RidgeClassifier minimises ||y - Xw||^2 + alpha ||w||^2, i.e. w = (S/N + (alpha/N) I)^{-1} r/N.
        return float(estimator.get_params()["alpha"]) / rows

    def leave_out(self, estimator, X, y, groups, scored):
        params = estimator.get_params()
        return ridge_leave_out(X, y, float(params["alpha"]), groups, scored,
                               fit_intercept=bool(params.get("fit_intercept", True)))

def ridge_weights(s: np.ndarray, r: np.ndarray, n_total: float, gamma: float | np.ndarray) -> np.ndarray:
    """Ridge weights ``w = (S/N + gamma I)^{-1} r/N``.

    Parameters
    ----------
    s : (p, p) array
    r : (p,) array
    n_total : float
        The normaliser N (> 0), ``n + m`` by the theory's convention.
    gamma : float or (G,) array
        Ridge penalty; an array gives one weight vector per value from a single ``eigh`` of S.

    Returns
    -------
    w : (p,) array for scalar gamma, (G, p) array for an array of gammas.
    """
    if not n_total > 0:
        raise ParameterError(f"the normaliser N must be > 0, got {n_total}")
    s = np.asarray(s, dtype=float)
    r = np.asarray(r, dtype=float)
    gam = np.asarray(gamma, dtype=float)
    if np.any(gam < 0):
        raise ParameterError("gamma must be >= 0")
    p = r.shape[0]
    if gam.ndim == 0:
        a = s / n_total
        a[np.diag_indices(p)] += float(gam)
        return scipy.linalg.cho_solve(scipy.linalg.cho_factor(a, lower=True, check_finite=False),
                                      r / n_total, check_finite=False)
    if gam.ndim != 1:
        raise ValueError("gamma must be a scalar or a 1-D array")
    evals, evecs = np.linalg.eigh(s / n_total)
    coef = (evecs.T @ (r / n_total))[None, :] / (evals[None, :] + gam[:, None])
    return coef @ evecs.T


def ridge_weights_from_data(a: np.ndarray, c: np.ndarray, n_total: float, gamma: float | np.ndarray) -> np.ndarray:
    """Ridge weights from the data matrix ``a`` (p x k) and labels ``c``; same result as
    ``ridge_weights(a a^T, a c, n_total, gamma)``.

    With fewer samples than dimensions (k < p) it solves the k x k dual system,
    ``w = a (a^T a / N + gamma I)^{-1} c / N``, instead of the p x p primal one.
    """
    if not n_total > 0:
        raise ParameterError(f"the normaliser N must be > 0, got {n_total}")
    p, k = a.shape
    if k >= p:
        return ridge_weights(a @ a.T, a @ c, n_total, gamma)
    gam = np.asarray(gamma, dtype=float)
    if np.any(gam < 0):
        raise ParameterError("gamma must be >= 0")
    if k == 0:
        return np.zeros(p) if gam.ndim == 0 else np.zeros((gam.size, p))
    gram = a.T @ a / n_total
    if gam.ndim == 0:
        gram[np.diag_indices(k)] += float(gam)
        dual = scipy.linalg.cho_solve(scipy.linalg.cho_factor(gram, lower=True, check_finite=False),
                                      c / n_total, check_finite=False)
        return a @ dual
    if gam.ndim != 1:
        raise ValueError("gamma must be a scalar or a 1-D array")
    evals, evecs = np.linalg.eigh(gram)
    coef = (evecs.T @ (c / n_total))[None, :] / (evals[None, :] + gam[:, None])
    return (coef @ evecs.T) @ a.T
