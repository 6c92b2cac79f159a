"""Dense p x p evaluation of the deterministic equivalents, one point at a time.

The slow, direct path: plain fixed-point iteration on dense traces, the full resolvent Q_bar
with its rank-2 part, and every quadratic form as a matrix product. O(p^3) per iteration. It is
the oracle the fast eigenbasis code is tested against and the baseline of the benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rmtsynth.core.theory import signed_accuracy
from rmtsynth.core.verifiers.rates import keep_rate, label_signal
from rmtsynth.errors import ConvergenceError


def evaluate_dense(
    cov: np.ndarray,
    mu: np.ndarray,
    mu_beta: np.ndarray,
    n: float,
    m: float,
    label_noise: float,
    rho: float,
    phi: float,
    gamma: float,
    *,
    noise_cov: np.ndarray | None = None,
    tol: float = 1e-15,
    max_iter: int = 1_000_000,
) -> dict[str, float]:
    """Theory at one point from dense matrices (THEORY.md sections 2-4 and 11.2, matrix traces).

    Parameters
    ----------
    cov : (p, p) array
        The generator's noise covariance C (symmetric).
    mu, mu_beta : (p,) arrays
        The real and the generator's class means.
    n, m : float
        Real and synthetic sample counts (before pruning); n + m > 0.
    label_noise, rho, phi : float
        Synthetic label-flip rate and the verifier's keep probabilities for wrong / correct labels.
    gamma : float
        Ridge parameter (> 0).
    noise_cov : (p, p) array, optional
        The real noise covariance Sigma (symmetric; the identity by default).
    tol : float
        Relative change of both deltas below which the plain iteration has converged.
    max_iter : int
        Iterations allowed before :class:`~rmtsynth.errors.ConvergenceError` is raised.

    Returns
    -------
    dict
        ``accuracy`` (Phi(mean / sd) with the sign kept, 1/2 for the null classifier), ``mean``,
        ``variance``, ``second_moment``, ``risk``, ``delta_real``, ``delta_synth`` and
        ``iterations`` (fixed-point steps taken).

    Raises
    ------
    ConvergenceError
        When the iteration gives a non-finite value or has not converged after ``max_iter`` steps.
    """
    sigma = None if noise_cov is None else np.asarray(noise_cov, dtype=float)
    N = n + m
    pi = n / N
    alpha = keep_rate(label_noise, rho, phi)
    point = _DensePoint(cov, sigma, mu, mu_beta, gamma, N, pi, alpha * (1.0 - pi), label_signal(label_noise, rho, phi))
    delta, delta_s, iterations = point.fixed_point(tol, max_iter)
    mean, variance = point.moments(delta, delta_s)
    return {
        "accuracy": float(signed_accuracy(mean, variance)),
        "mean": float(mean),
        "variance": float(variance),
        "second_moment": float(mean**2 + variance),
        "risk": float(mean**2 + variance + 1 - 2 * mean),
        "delta_real": float(delta),
        "delta_synth": float(delta_s),
        "iterations": iterations,
    }


@dataclass(frozen=True)
class _DensePoint:
    """One parameter point with dense matrices: C, Sigma (None for the identity), the means, gamma,
    N = n + m, pi = n / N, c = alpha (1 - pi) and the label signal lam."""

    cov: np.ndarray
    sigma: np.ndarray | None
    mu: np.ndarray
    mu_beta: np.ndarray
    gamma: float
    N: float
    pi: float
    c: float
    lam: float

    @property
    def sigma_dense(self) -> np.ndarray:
        return np.eye(self.mu.shape[0]) if self.sigma is None else self.sigma

    def bulk_resolvent(self, delta: float, delta_s: float) -> np.ndarray:
        eye = np.eye(self.mu.shape[0])
        return np.linalg.inv(
            self.gamma * eye + self.pi / (1.0 + delta) * self.sigma_dense + self.c / (1.0 + delta_s) * self.cov
        )

    def fixed_point(self, tol: float, max_iter: int) -> tuple[float, float, int]:
        """(delta_real, delta_synth, steps) by the plain iteration delta <- tr(Sigma Q) / N, tr(C Q) / N from 0."""
        # tr(A B) = sum(A * B^T), and = sum(A * B) for symmetric A, B: O(p^2) beside the inverse.
        sigma_dense, cov, N = self.sigma_dense, self.cov, self.N
        delta, delta_s = 0.0, 0.0
        iterations = 0
        while iterations < max_iter:
            iterations += 1
            bulk = self.bulk_resolvent(delta, delta_s)
            new = (float(np.sum(sigma_dense * bulk)) / N, float(np.sum(cov * bulk)) / N)
            if not (np.isfinite(new[0]) and np.isfinite(new[1])):
                raise ConvergenceError(
                    f"the dense fixed-point iteration gave a non-finite value at step {iterations} "
                    f"(delta_real = {new[0]}, delta_synth = {new[1]})."
                )
            converged = abs(new[0] - delta) <= tol * max(new[0], 1e-300) and abs(new[1] - delta_s) <= tol * max(new[1], 1e-300)
            delta, delta_s = new
            if converged:
                return delta, delta_s, iterations
        raise ConvergenceError(
            f"the dense fixed-point iteration did not converge in {max_iter} steps to a relative "
            f"tolerance of {tol:g} (delta_real = {delta:.6g}, delta_synth = {delta_s:.6g})."
        )

    def moments(self, delta: float, delta_s: float) -> tuple[float, float]:
        """Mean and variance of the score at the fixed point, through the full Q_bar."""
        sigma, cov, mu, mu_beta = self.sigma, self.cov, self.mu, self.mu_beta
        pi, c, lam, N = self.pi, self.c, self.lam, self.N
        sigma_dense = self.sigma_dense
        u, us = 1.0 / (1.0 + delta), 1.0 / (1.0 + delta_s)
        bulk = self.bulk_resolvent(delta, delta_s)
        sb = bulk if sigma is None else sigma @ bulk
        cb = cov @ bulk
        t_ss = float(np.sum(sb * sb.T)) / N
        t_sl = float(np.sum(sb * cb.T)) / N
        t_ll = float(np.sum(cb * cb.T)) / N
        a1, a2 = pi * u**2 * t_ss, pi * u**2 * t_sl
        b1, b2 = c * us**2 * t_sl, c * us**2 * t_ll
        h = (1 - a1) * (1 - b2) - a2 * b1
        X, Y = (1 - b2) / h, b1 / h
        Y_lam = lam * (1 - pi) * us**2 * t_sl / h
        sigma_r = np.outer(mu, mu) + sigma_dense
        sigma_s = np.outer(mu_beta, mu_beta) + cov
        q_bar = np.linalg.inv(pi * u * sigma_r + c * us * sigma_s + self.gamma * np.eye(mu.shape[0]))
        v = pi * u * mu + (1 - pi) * lam * us * mu_beta
        qv = q_bar @ v
        P_mu = float(mu @ qv)
        P_beta = float(mu_beta @ qv)
        q_sigma = float(qv @ qv) if sigma is None else float(qv @ sigma @ qv)
        q_c = float(qv @ cov @ qv)
        variance = (X - 1) * (1 - P_mu) ** 2 + X * q_sigma + Y * (1 + P_beta**2 + q_c) - 2 * Y_lam * P_beta
        return P_mu, variance
