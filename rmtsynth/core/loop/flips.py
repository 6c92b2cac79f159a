"""Pseudo-labels taken for independent flips at the previous classifier's error rate (THEORY 14.8; wrong).

The analogue of ``label_noise: auto`` for a loop, kept only to draw it against the truth.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from rmtsynth.core.loop.common import scalar_block_weights


def _fit(spikes: np.ndarray, weights: np.ndarray, norms: np.ndarray, normaliser: float, dof: float, p: float,
         gamma: float, mu2: float) -> tuple[float, float, np.ndarray]:
    """w = R V z / N: (w^T mu, ||w||^2, V z), with R's traces from Marchenko-Pastur (14.4); one setting."""
    ratio, eta = max(dof, 0.0) / normaliser, p / normaliser
    B = gamma + ratio - eta
    disc = math.sqrt(B * B + 4.0 * gamma * eta)
    r1 = 2.0 / (B + disc) if B > 0 else (disc - B) / (2.0 * gamma * eta)
    u = 1.0 / (1.0 + eta * r1)
    r2 = r1**2 / (1.0 - ratio * eta * u**2 * r1**2)
    gram = (spikes * norms[:, None]).T @ spikes
    z = np.linalg.solve(np.eye(gram.shape[0]) + (r1 / normaliser) * gram, weights)
    vz = spikes @ z
    return r1 * mu2 * vz[0] / normaliser, r2 * float(z @ gram @ z) / normaliser**2, r1 * vz / normaliser


def _flip_block(generator_mean: np.ndarray, eps: float, k: int, *, m: float, rho: float, phi: float):
    """(spike columns, r-weights, kept rows) of block k with labels flipped at rate eps."""
    kept = phi * (1.0 - eps) + rho * eps
    signal = (phi * (1.0 - eps) - rho * eps) * m
    kept *= m
    first = math.sqrt(kept) * generator_mean
    first[2 + 2 * (k - 1)] += 1.0
    second = np.zeros(generator_mean.size)
    second[3 + 2 * (k - 1)] = 1.0
    return np.stack([first, second], axis=-1), np.array(scalar_block_weights(kept, signal)), kept


def independent_flip_loop(*, n: float, m: float, p: float, mu_norm: float, rho: float, phi: float, gamma: float,
                          generations: int, regime: str = "replace") -> dict[str, np.ndarray]:
    """Pseudo-labels treated as independent flips at rate eps_k = Phi(-a_k) (THEORY.md 14.8; wrong).

    a_k = w_{k-1}^T mu_hat_{k-1} / ||w_{k-1}|| is the previous classifier's margin on the previous
    generator, both followed by the Gram reduction (14.4) with noisy labels at the rate eps_k.
    This is the analogue of ``label_noise: auto`` for a loop; it misses the drift of the refitted
    mean along the previous classifier and that the flipped rows are easy ones, and predicts a
    decline that does not happen. Kept only to draw it against the truth.

    Returns
    -------
    dict with arrays over k = 0..K: ``accuracy``, ``beta``, ``tau2``, ``flip_rate`` (eps_k; nan at
    k = 0).
    """
    K = int(generations)
    mu2 = float(mu_norm) ** 2
    n_base = 2 + 2 * K
    norms = np.full(n_base, float(p))
    norms[0] = mu2
    real_spike = np.zeros(n_base)
    real_spike[0] = math.sqrt(n)
    real_spike[1] = 1.0
    generator_mean = real_spike / math.sqrt(n)
    out = {key: np.full(K + 1, np.nan) for key in ("accuracy", "beta", "tau2", "flip_rate")}

    def record(k: int, w_mu: float, w_norm2: float) -> None:
        out["accuracy"][k] = ndtr(w_mu / math.sqrt(w_norm2)) if w_norm2 > 0 else 0.5
        out["beta"][k] = generator_mean[0]
        out["tau2"][k] = float(np.sum(norms[1:] * generator_mean[1:] ** 2))

    w_mu, w_norm2, w_coef = _fit(real_spike[:, None], np.array([math.sqrt(n)]), norms, float(n), n - 1.0, p, gamma,
                                 mu2)
    record(0, w_mu, w_norm2)
    blocks: list[np.ndarray] = []
    block_weights: list[np.ndarray] = []
    refit_rows = float(n)
    normaliser = float(n)
    dof = n - 1.0
    for k in range(1, K + 1):
        margin = float(np.sum(norms * w_coef * generator_mean)) / math.sqrt(w_norm2)
        eps = float(ndtr(-margin))
        out["flip_rate"][k] = eps
        block, weights, kept = _flip_block(generator_mean, eps, k, m=m, rho=rho, phi=phi)
        if regime == "replace":
            blocks, block_weights = [block], [weights]
            normaliser, refit_rows, dof = n + m, n + kept, n - 1.0 + kept - 2.0
        else:
            blocks.append(block)
            block_weights.append(weights)
            normaliser, refit_rows, dof = normaliser + m, refit_rows + kept, dof + kept - 2.0
        spikes = np.concatenate([real_spike[:, None]] + blocks, axis=-1)
        all_weights = np.concatenate([[math.sqrt(n)]] + block_weights)
        w_mu, w_norm2, w_coef = _fit(spikes, all_weights, norms, normaliser, dof, p, gamma, mu2)
        generator_mean = spikes @ all_weights / refit_rows
        record(k, w_mu, w_norm2)
    return {"accuracy": out["accuracy"], "beta": out["beta"], "tau2": out["tau2"], "flip_rate": out["flip_rate"]}
