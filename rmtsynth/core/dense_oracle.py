"""Dense p x p evaluation of the deterministic equivalents, one point at a time.

The slow, direct path: plain fixed-point iteration on dense traces, the full resolvent Q_bar
with its rank-2 part, and every quadratic form as a matrix product. O(p^3) per iteration. It is
the oracle the fast eigenbasis code is tested against and the baseline of the benchmarks.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from rmtsynth.core.verifier import keep_rate, label_signal


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
    """Theory at one point from dense matrices (THEORY.md sections 2-4 and 11.2, matrix traces)."""
    p = mu.shape[0]
    eye = np.eye(p)
    sigma = eye if noise_cov is None else np.asarray(noise_cov, dtype=float)
    N = n + m
    pi = n / N
    alpha = keep_rate(label_noise, rho, phi)
    lam = label_signal(label_noise, rho, phi)
    c = alpha * (1.0 - pi)
    delta, delta_s = 0.0, 0.0
    for _ in range(max_iter):
        u, us = 1.0 / (1.0 + delta), 1.0 / (1.0 + delta_s)
        bulk = np.linalg.inv(gamma * eye + pi * u * sigma + c * us * cov)
        new = (np.trace(sigma @ bulk) / N, np.trace(cov @ bulk) / N)
        if abs(new[0] - delta) <= tol * max(new[0], 1e-300) and abs(new[1] - delta_s) <= tol * max(new[1], 1e-300):
            delta, delta_s = new
            break
        delta, delta_s = new
    u, us = 1.0 / (1.0 + delta), 1.0 / (1.0 + delta_s)
    bulk = np.linalg.inv(gamma * eye + pi * u * sigma + c * us * cov)
    t_ss = np.trace(sigma @ bulk @ sigma @ bulk) / N
    t_sl = np.trace(sigma @ bulk @ cov @ bulk) / N
    t_ll = np.trace(cov @ bulk @ cov @ bulk) / N
    a1, a2 = pi * u**2 * t_ss, pi * u**2 * t_sl
    b1, b2 = c * us**2 * t_sl, c * us**2 * t_ll
    h = (1 - a1) * (1 - b2) - a2 * b1
    X, Y = (1 - b2) / h, b1 / h
    Y_lam = lam * (1 - pi) * us**2 * t_sl / h
    sigma_r = np.outer(mu, mu) + sigma
    sigma_s = np.outer(mu_beta, mu_beta) + cov
    q_bar = np.linalg.inv(pi * u * sigma_r + c * us * sigma_s + gamma * eye)
    v = pi * u * mu + (1 - pi) * lam * us * mu_beta
    qv = q_bar @ v
    P_mu = mu @ qv
    P_beta = mu_beta @ qv
    q_sigma = qv @ sigma @ qv
    q_c = qv @ cov @ qv
    variance = (X - 1) * (1 - P_mu) ** 2 + X * q_sigma + Y * (1 + P_beta**2 + q_c) - 2 * Y_lam * P_beta
    mean = P_mu
    acc = float(ndtr(mean / np.sqrt(variance))) if variance > 0 else 0.5
    return {
        "accuracy": acc,
        "mean": float(mean),
        "variance": float(variance),
        "second_moment": float(mean**2 + variance),
        "risk": float(mean**2 + variance + 1 - 2 * mean),
        "delta_real": float(delta),
        "delta_synth": float(delta_s),
    }
