"""The LOO-calibrated theory: held-out accuracy at other sizes and mixes (THEORY.md 13.6).

The exact leave-one-out (:mod:`rmtsynth.data.loo`) answers "this n, these rows". To move to
another n, another gamma or a mix with synthetic rows, the theory of section 11 is evaluated on
the Ledoit-Wolf covariance of the training residuals with the debiased mean a2_j = (u_j^T mu)^2 -
k lambda_j scaled by one number s, fitted so that the theory's ratio at the training size equals
Phi^{-1} of the LOO's class-wise Gaussian accuracy. The theory's ratio R then becomes an accuracy
through the LOO's own score shape, smoothed (P(r + h e > -R), e standard normal), and the answer is
anchored at the exact LOO: accuracy(point) = LOO accuracy + shape(R(point)) - shape(R(training
size, real only)). So the prediction at the user's n, real rows only, is the exact LOO, and every
other point moves from it as the calibrated theory says.

Everything is held in the eigenbasis of the residuals' thin SVD: min(n, p) directions plus, when
p > n, one group of the p - n directions the residuals do not span (Ledoit-Wolf gives them one
eigenvalue), so no p x p matrix is formed for the real rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr, ndtri

from rmtsynth.core.theory import Spectrum, evaluate, within_unit_interval
from rmtsynth.core.two_covariance import TwoCovarianceModel, make_model
from rmtsynth.data.estimators import varying_features
from rmtsynth.errors import RmtsynthError
from rmtsynth.data.loo import LeaveOneOut, exact_loo, standardised_rows

S_RANGE = (1e-6, 1e3)


@dataclass(frozen=True)
class ResidualSpectrum:
    """Ledoit-Wolf covariance of the residuals in groups: eigenvalues, multiplicities, basis and
    the debiased squared mean per group (a2), with the mean's noise factor k."""

    values: np.ndarray
    mult: np.ndarray
    basis: np.ndarray  # p x q: the residuals' right singular vectors
    null_value: float  # the eigenvalue of the directions outside the basis
    a2: np.ndarray
    mu: np.ndarray
    k: float
    varying: np.ndarray  # which features vary; the others have no variance, shrunk or not

    def dense(self) -> np.ndarray:
        """The p x p covariance (for the two-covariance theory with a synthetic pool)."""
        V = self.basis
        q = V.shape[1]
        out = (V * self.values[:q]) @ V.T
        out += self.null_value * (np.diag(self.varying.astype(float)) - V @ V.T)
        return (out + out.T) / 2.0


def residual_spectrum(mu: np.ndarray, residuals: np.ndarray, n_pos: int, n_neg: int,
                      varying: np.ndarray | None = None) -> ResidualSpectrum:
    """Ledoit-Wolf (2004) shrinkage of the pooled residual covariance W/(N - 2), thin, in the features that vary."""
    N = residuals.shape[0]
    varying = np.ones(residuals.shape[1], dtype=bool) if varying is None else np.asarray(varying, dtype=bool)
    p = int(np.count_nonzero(varying))
    if p == 0:
        raise RmtsynthError("No feature of the training rows varies, so there is nothing to classify with.")
    full_mu = mu
    if not varying.all():
        # Everything below lives in the features that vary; a constant one has no variance to shrink.
        residuals, mu = residuals[:, varying], mu[varying]
    dof = N - 2
    _, sv, Vt = np.linalg.svd(residuals, full_matrices=False)
    omega = sv * sv / dof
    q = omega.size
    m = float(omega.sum()) / p
    d2 = (float(np.sum(omega**2)) - 2.0 * m * float(omega.sum()) + p * m * m) / p
    proj = residuals @ Vt.T  # row k in the basis
    norms2 = np.sum(residuals**2, axis=1)
    quad = (proj**2) @ omega  # r_k^T S r_k
    b2 = float(np.sum(norms2**2 - 2.0 * quad + np.sum(omega**2))) / (dof * dof) / p
    shrink = min(1.0, min(b2, d2) / d2) if d2 > 0 else 1.0
    values = (1.0 - shrink) * omega + shrink * m
    null_value = shrink * m
    k = (1.0 / n_pos + 1.0 / n_neg) / 4.0
    a = Vt @ mu
    a2 = a * a - k * values
    mult = np.ones(q)
    if p > q:
        rest = float(mu @ mu) - float(a @ a)
        values = np.concatenate([values, [null_value]])
        mult = np.concatenate([mult, [float(p - q)]])
        a2 = np.concatenate([a2, [rest - k * (p - q) * null_value]])
    basis = Vt.T
    if not varying.all():
        basis = np.zeros((varying.size, q))
        basis[varying] = Vt.T
    return ResidualSpectrum(values=values, mult=mult, basis=basis, null_value=null_value, a2=a2, mu=full_mu, k=k,
                            varying=varying)


def smoothed_shape(residuals: np.ndarray, ratio) -> np.ndarray:
    """P(r + h e > -ratio) under the residuals' law smoothed by a normal kernel of width h
    (Silverman's rule), vectorised over ratio."""
    r = np.asarray(residuals, dtype=float)
    h = 0.9 * min(1.0, float(np.subtract(*np.percentile(r, [75, 25]))) / 1.34 or 1.0) * r.size ** (-0.2)
    ratio = np.asarray(ratio, dtype=float)
    flat = np.where(np.isfinite(ratio), ratio, np.sign(ratio) * 1e6).reshape(-1)
    out = np.empty(flat.size)
    step = max(1, 2_000_000 // r.size)
    for lo in range(0, flat.size, step):
        out[lo:lo + step] = ndtr((flat[lo:lo + step, None] + r[None, :]) / h).mean(axis=1)
    return out.reshape(ratio.shape)


def _ratio(result) -> np.ndarray:
    sd = np.sqrt(np.maximum(np.asarray(result.variance, dtype=float), 0.0))
    mean = np.asarray(result.mean, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, mean / np.where(sd > 0, sd, 1.0), np.sign(mean) * np.inf)


@dataclass(frozen=True)
class CalibratedTheory:
    """The real rows' calibrated law and the LOO it was calibrated on (see the module docstring)."""

    spectrum: ResidualSpectrum
    scale: float
    loo: LeaveOneOut
    n: int
    gamma: float

    def real_spectrum(self, ell=None, bb=None, ab=None) -> Spectrum:
        """The theory's eigen-data: real covariance and scaled mean; a generator's if given."""
        sp = self.spectrum
        zero = np.zeros_like(sp.values)
        return Spectrum(ell=sp.values if ell is None else ell, sigma=sp.values, mult=sp.mult,
                        aa=self.scale * sp.a2, bb=zero if bb is None else bb, ab=zero if ab is None else ab)

    def base_ratio(self) -> float:
        """The theory's ratio at the training size, real rows only, at the calibration's gamma."""
        return float(_ratio(evaluate(self.real_spectrum(), self.n, 0.0, 0.0, 1.0, 1.0, self.gamma))[()])

    @cached_property
    def _base_shape(self) -> float:
        # The planner's searches anchor thousands of points on the same base.
        return float(smoothed_shape(self.loo.residuals, self.base_ratio()))

    def anchored(self, ratio) -> np.ndarray:
        """LOO accuracy + shape(ratio) - shape(base ratio): the accuracy of points of the given ratios."""
        base = self._base_shape
        return within_unit_interval(self.loo.accuracy + smoothed_shape(self.loo.residuals, ratio) - base)

    def real_only(self, n, gamma=None) -> np.ndarray:
        """Predicted held-out accuracy of the real rows alone at size n (and gamma)."""
        g = self.gamma if gamma is None else gamma
        return self.anchored(_ratio(evaluate(self.real_spectrum(), n, 0.0, 0.0, 1.0, 1.0, g)))

    def ratio(self, spectrum: Spectrum, n, m, label_noise, rho, phi, gamma) -> np.ndarray:
        """The theory's ratio mean/sd of the score at the points, on a spectrum of this theory."""
        return theory_ratio(spectrum, n, m, label_noise, rho, phi, gamma)


def calibrate(X_raw: np.ndarray, y: np.ndarray, gamma: float, *, loo: LeaveOneOut | None = None,
              theory: Callable[..., CalibratedTheory] = CalibratedTheory,
              s_range: tuple[float, float] = S_RANGE) -> CalibratedTheory:
    """Fit the mean's scale s so that the theory's ratio at n matches the LOO's Gaussian accuracy.

    ``theory`` builds the calibrated theory from (spectrum, s, loo, n, gamma): ridge's by default;
    s is searched in ``s_range`` (an end of it when the match lies beyond).
    """
    y = np.asarray(y, dtype=float).reshape(-1)
    loo = exact_loo(X_raw, y, gamma) if loo is None else loo
    _, mu, _, R = standardised_rows(X_raw, y)
    spectrum = residual_spectrum(mu, R, int(np.count_nonzero(y > 0)), int(np.count_nonzero(y < 0)),
                                 varying_features(X_raw))
    n = int(y.size)
    target = float(ndtri(min(max(loo.gaussian_accuracy, 1e-9), 1.0 - 1e-9)))

    def gap(log_s: float) -> float:
        return theory(spectrum, math.exp(log_s), loo, n, float(gamma)).base_ratio() - target

    lo, hi = (math.log(v) for v in s_range)
    g_lo, g_hi = gap(lo), gap(hi)
    if g_lo >= 0:
        log_s = lo
    elif g_hi <= 0 or not math.isfinite(g_hi):
        log_s = hi
    else:
        log_s = brentq(gap, lo, hi, xtol=1e-10)
    return theory(spectrum, math.exp(log_s), loo, n, float(gamma))


__all__ = ["CalibratedTheory", "ResidualSpectrum", "calibrate", "pool_two_covariance_model", "residual_spectrum",
           "smoothed_shape", "theory_ratio"]


def theory_ratio(spectrum: Spectrum, n, m, label_noise, rho, phi, gamma) -> np.ndarray:
    """The theory's ratio mean/sd of the score on a spectrum, vectorised over the points."""
    return _ratio(evaluate(spectrum, n, m, label_noise, rho, phi, gamma))


def pool_two_covariance_model(theory: CalibratedTheory, source) -> TwoCovarianceModel:
    """The two-covariance model of the calibrated real rows against a synthetic source (13.6):
    real covariance the Ledoit-Wolf one, real mean scaled by sqrt(s) (its noise by s), the
    source's mean, covariance and mean noise as estimated from the pool."""
    s = theory.scale
    return make_model(theory.spectrum.dense(), source.covariance, math.sqrt(s) * theory.spectrum.mu, source.mu,
                      real_mean_noise=s * theory.spectrum.k, synth_mean_noise=source.mean_noise)
