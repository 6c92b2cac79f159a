"""Closed forms: synthetic-only training, the phase transition and the Marchenko-Pastur law.

THEORY.md sections 8 and 12. Pure functions on arrays.
"""

from __future__ import annotations

import numpy as np

from rmtsynth.core.theory import Convention, Spectrum, signed_accuracy
from rmtsynth.core.verifiers.rates import eps_star, keep_rate, label_signal

__all__ = [
    "eps_star",
    "synthetic_only",
    "infinite_sample_accuracy",
    "slope_at_eps_star",
    "marchenko_pastur_density",
    "marchenko_pastur_support",
]


def synthetic_only(
    p: int, m, mu_norm, label_noise, rho, phi, gamma, *, convention: Convention = "exact"
) -> dict[str, np.ndarray]:
    """Synthetic-only training with C = I and mu_beta = mu (section 8).

    Returns a dict with ``delta_synth``, ``mean``, ``second_moment``, ``variance`` and the signed
    ``accuracy``, broadcast over the inputs.
    """
    m, mu_norm, eps, rho, phi, gamma = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (m, mu_norm, label_noise, rho, phi, gamma))
    )
    alpha = keep_rate(eps, rho, phi)
    lam = label_signal(eps, rho, phi)
    eta = p / m
    if convention == "reference":
        eta_fp = alpha * eta
    else:
        eta_fp = eta
    B = gamma + alpha - eta_fp
    D = B * B + 4.0 * gamma * eta_fp
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(B > 0, 2.0 * eta_fp / (np.sqrt(D) + B), (np.sqrt(D) - B) / (2.0 * gamma))
    u = 1.0 / (1.0 + d)
    mu2 = mu_norm**2
    D0 = gamma + alpha * u
    E = D0 + alpha * u * mu2
    b2 = alpha * u * u * eta / D0**2
    mean = lam * u * mu2 / E
    m2 = (
        b2 / (1.0 - b2)
        + (lam * u) ** 2 * mu2 * (mu2 + 1.0) / (E * E * (1.0 - b2))
        - 2.0 * lam**2 * u**3 * eta * mu2 / (D0**2 * E * (1.0 - b2))
    )
    variance = np.maximum(m2 - mean**2, 0.0)
    return {
        "delta_synth": d,
        "mean": mean,
        "second_moment": m2,
        "variance": variance,
        "accuracy": signed_accuracy(mean, variance),
    }


def infinite_sample_accuracy(spectrum: Spectrum, label_noise, rho, phi, gamma) -> np.ndarray:
    """Accuracy of the m -> infinity limit w = lambda (alpha (mu_beta mu_beta^T + C) + gamma I)^{-1} mu_beta.

    By Sherman-Morrison w is a positive multiple of lambda D^{-1} mu_beta with D = alpha C + gamma I,
    so the accuracy is Phi(sign(lambda) a^T D^{-1} b / sqrt(b^T D^{-1} Sigma D^{-1} b)): a step at eps*.
    """
    eps, rho, phi, gamma = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (label_noise, rho, phi, gamma)))
    alpha = keep_rate(eps, rho, phi)
    lam = label_signal(eps, rho, phi)
    sp = spectrum
    d = alpha[..., None] * sp.ell + gamma[..., None]
    num = (sp.ab / d).sum(axis=-1)
    den = (sp.sigma * sp.bb / d**2).sum(axis=-1)
    return signed_accuracy(np.sign(lam) * num, den)


def slope_at_eps_star(p_over_m, mu_norm, rho, phi, gamma):
    """Asymptotic d(accuracy)/d(eps) at eps* for synthetic-only training (section 8).

    The transition's width is of order 1 / |slope|, which grows like sqrt(p / m).
    """
    eta = np.asarray(p_over_m, dtype=float)
    mu2 = np.asarray(mu_norm, dtype=float) ** 2
    rho = np.asarray(rho, dtype=float)
    phi = np.asarray(phi, dtype=float)
    gamma = np.asarray(gamma, dtype=float)
    alpha_star = 2.0 * phi * rho / (phi + rho)
    return -(phi + rho) * mu2 * (gamma + alpha_star) / (
        (gamma + alpha_star * (1.0 + mu2)) * np.sqrt(2.0 * np.pi * alpha_star * eta)
    )


def marchenko_pastur_support(ratio) -> tuple[np.ndarray, np.ndarray]:
    """Edges (1 -+ sqrt(ratio))^2 of the continuous part of the MP law with unit variance."""
    r = np.asarray(ratio, dtype=float)
    return (1.0 - np.sqrt(r)) ** 2, (1.0 + np.sqrt(r)) ** 2


def marchenko_pastur_density(x, ratio) -> np.ndarray:
    """Density of the continuous part of the MP law (ratio = p / n, unit variance).

    For ratio > 1 the law also has an atom of mass 1 - 1/ratio at 0 (see :func:`marchenko_pastur_atom`);
    the continuous part then integrates to 1/ratio.
    """
    x = np.asarray(x, dtype=float)
    r = float(ratio)
    lo, hi = marchenko_pastur_support(r)
    inside = (x > lo) & (x < hi)
    with np.errstate(invalid="ignore", divide="ignore"):
        dens = np.sqrt(np.clip((x - lo) * (hi - x), 0.0, None)) / (2.0 * np.pi * r * x)
    return np.where(inside, dens, 0.0)


def marchenko_pastur_atom(ratio) -> float:
    """Mass of the MP law at 0: 1 - 1/ratio when ratio > 1, else 0."""
    r = float(ratio)
    return max(0.0, 1.0 - 1.0 / r)
