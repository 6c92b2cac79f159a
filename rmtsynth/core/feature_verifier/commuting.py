"""The O(p) theory of a feature verifier when Sigma and C share an eigenbasis (THEORY.md 15.4).

Dropping the rank-one variance losses from the bulk traces (an O(1/N) change) leaves the fixed
point and the traces of THEORY.md 11.2 with the kept share alpha = f_+ + f_-, so
:func:`rmtsynth.core.theory.evaluate` solves it (with the feature-blind rates of the same kept
shares). What the tilt adds is a rank-3 part Q_bar^{-1} = D + W S_3 W' with W = [a, b, g~]; its
3 x 3 forms cost one O(p) sum each, vectorised over the grid.

:func:`tilted_spectrum` places a verifier in a :class:`~rmtsynth.core.model.DataModel` once
(one eigendecomposition for a covariance read from a file); :func:`evaluate_commuting` then
evaluates any grid of (n, m, label_noise, gamma) on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rmtsynth.core.feature_verifier.groups import (
    SIGNS,
    FeatureTheory,
    TiltGeometry,
    collect_result,
    effective_rates,
    grid,
    keep_signal,
    kept_shares,
    require_fixed_covariance,
    score_direction,
    tilt_geometry,
)
from rmtsynth.core.model import DataModel
from rmtsynth.core.theory import Spectrum, evaluate
from rmtsynth.core.verifiers import Verifier

# Grid points are processed in chunks so that the (points x groups) work arrays stay small.
_CHUNK_ELEMENTS = 1 << 21

# Entries (i, j) of a symmetric 3 x 3 form, in the order of the Gram columns below.
_PAIRS = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))


@dataclass(frozen=True)
class TiltedSpectrum:
    """The model's grouped eigen-data and the verifier's tilt in the same basis.

    ``spectrum`` is that of the feature-blind theory; ``ag``, ``bg`` and ``gg`` are the sums
    over each group of a_i g~_i, b_i g~_i and g~_i^2 with g~ = U' g.
    """

    spectrum: Spectrum
    ag: np.ndarray
    bg: np.ndarray
    gg: np.ndarray
    geometry: TiltGeometry

    def gram(self) -> np.ndarray:
        """(groups, 6): the Gram sums of W = [a, b, g~] in the order of ``_PAIRS``."""
        sp = self.spectrum
        return np.stack([sp.aa, sp.ab, self.ag, sp.bb, self.bg, self.gg], axis=1)


def tilted_spectrum_from_eigen(
    ell: np.ndarray,
    basis: np.ndarray | None,
    mu: np.ndarray,
    mu_beta: np.ndarray,
    verifier: Verifier,
    *,
    sigma: np.ndarray | None = None,
) -> TiltedSpectrum:
    """C = U diag(ell) U' and Sigma = U diag(sigma) U' (identity by default), one group per direction.

    ``basis`` is U (p x p, orthogonal), or None for the coordinate axes (a diagonal C).
    """
    def coords(x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=float) if basis is None else basis.T @ x

    a, b = coords(mu), coords(mu_beta)
    spectrum = Spectrum.from_eigen(ell, a, b, sigma)
    cov_v = None
    direction = score_direction(verifier)
    if direction is not None:
        scaled = spectrum.ell * coords(direction)
        cov_v = scaled if basis is None else basis @ scaled
    geometry = tilt_geometry(verifier, np.asarray(mu_beta, dtype=float), cov_v)
    g = coords(geometry.direction)
    return TiltedSpectrum(spectrum, a * g, b * g, g * g, geometry)


def tilted_spectrum(model: DataModel, verifier: Verifier) -> TiltedSpectrum:
    """The verifier's tilt in the model's eigen-data (real noise covariance Sigma = I)."""
    cov = model.covariance
    require_fixed_covariance(cov.kind)
    mu = np.asarray(model.mu, dtype=float)
    mean = np.asarray(model.mean, dtype=float)
    if cov.kind == "diagonal":
        return tilted_spectrum_from_eigen(cov.eigenvalues, None, mu, mean, verifier)
    if cov.kind == "file":
        ell, basis = np.linalg.eigh(np.asarray(cov.matrix, dtype=float))
        return tilted_spectrum_from_eigen(ell, basis, mu, mean, verifier)
    # C = scale * I: one group, whose Gram sums are plain inner products in any coordinates.
    scale = cov.scale if cov.kind == "scaled" else 1.0
    direction = score_direction(verifier)
    cov_v = None if direction is None else scale * direction
    geometry = tilt_geometry(verifier, mean, cov_v)
    g = geometry.direction
    one = np.ones(1)
    return TiltedSpectrum(model.spectrum, (mu @ g) * one, (mean @ g) * one, (g @ g) * one, geometry)


def _forms(ts: TiltedSpectrum, pi_u, c_us, gamma, N):
    """Bulk traces (t_ss, t_sl, t_ll) and the 3 x 3 forms G, H_Sigma, H_C at a chunk of points."""
    sp = ts.spectrum
    d = gamma[:, None] + pi_u[:, None] * sp.sigma + c_us[:, None] * sp.ell
    inv = 1.0 / d
    inv2 = inv * inv
    w_s = sp.mult * sp.sigma
    traces = [(inv2 @ (w_s * sp.sigma)) / N, (inv2 @ (w_s * sp.ell)) / N, (inv2 @ (sp.mult * sp.ell * sp.ell)) / N]
    gram = ts.gram()
    forms = []
    for weights in (inv, inv2 * sp.sigma, inv2 * sp.ell):
        sums = weights @ gram
        form = np.empty((d.shape[0], 3, 3))
        for column, (i, j) in enumerate(_PAIRS):
            form[:, i, j] = form[:, j, i] = sums[:, column]
        forms.append(form)
    return traces, forms


def _rank3_moments(geometry: TiltGeometry, pi_u, group_cu, forms):
    """mean, P_s (K, 2), q_Sigma and q_s (K, 2) from the 3 x 3 forms (Woodbury on D + W S_3 W')."""
    G, H_sigma, H_C = forms
    beta = geometry.variance_loss
    M = np.stack([np.zeros(2), SIGNS, geometry.mean_shift], axis=1)  # row s is M_s = (0, s, e_s)
    e3 = np.zeros((3, 3))
    e3[2, 2] = 1.0
    S3 = np.zeros_like(G)
    S3[:, 0, 0] = pi_u
    for s in range(2):
        S3 += group_cu[:, s, None, None] * (np.outer(M[s], M[s]) - beta[s] * e3)
    xi = group_cu @ M
    xi[:, 0] += pi_u
    z = np.linalg.solve(np.eye(3) + S3 @ G, xi[:, :, None])[:, :, 0]
    Gz = np.einsum("kij,kj->ki", G, z)
    q_sigma = np.einsum("ki,kij,kj->k", z, H_sigma, z)
    q_groups = np.einsum("ki,kij,kj->k", z, H_C, z)[:, None] - beta[None, :] * Gz[:, 2:3] ** 2
    return Gz[:, 0], Gz @ M.T, q_sigma, q_groups


def _variance_chunk(ts: TiltedSpectrum, n, m, gamma, delta, delta_s, alpha, group_c):
    """E[w' Sigma w] and the mean at a chunk of points (15.4's last item)."""
    N = n + m
    pi = n / N
    u = 1.0 / (1.0 + delta)
    us = 1.0 / (1.0 + delta_s)
    c = alpha * (1.0 - pi)
    (t_ss, t_sl, t_ll), forms = _forms(ts, pi * u, c * us, gamma, N)
    a1, a2 = pi * u**2 * t_ss, pi * u**2 * t_sl
    b1, b2 = c * us**2 * t_sl, c * us**2 * t_ll
    h = (1.0 - a1) * (1.0 - b2) - a2 * b1
    # (1 - b2)/h - 1 without the cancelling subtraction (exact at large gamma).
    real_part = (a1 * (1.0 - b2) + a2 * b1) / h
    groups_part = group_c * (us**2 * t_sl / h)[:, None]
    mean, P, q_sigma, q_groups = _rank3_moments(ts.geometry, pi * u, group_c * us[:, None], forms)
    synthetic = np.sum(groups_part * (q_groups + (1.0 - P) ** 2), axis=1)
    variance = q_sigma + real_part * (q_sigma + (1.0 - mean) ** 2) + synthetic
    return mean, np.maximum(variance, 0.0)


def evaluate_commuting(tilted: TiltedSpectrum, n, m, label_noise, gamma) -> FeatureTheory:
    """The feature verifier's deterministic equivalents on a broadcast grid (15.4, O(p) a point).

    Parameters
    ----------
    tilted : TiltedSpectrum
        From :func:`tilted_spectrum` or :func:`tilted_spectrum_from_eigen`.
    n, m, label_noise, gamma : array_like
        Real rows, synthetic rows before the verifier (N = n + m), label-flip rate, ridge gamma.

    Returns
    -------
    FeatureTheory
        ``result``: a TheoryResult of the grid's shape (``delta_synth`` shared by both kept
        groups; ``alpha`` and ``lam`` are f_+ + f_- and f_+ - f_-); ``shares``: the kept shares.
    """
    shape, (n, m, eps, gamma) = grid(n, m, label_noise, gamma)
    geometry = tilted.geometry
    rho, phi = effective_rates(geometry)
    base = evaluate(tilted.spectrum, n, m, eps, rho, phi, gamma)
    alpha, _ = keep_signal(geometry, eps)
    shares = kept_shares(geometry, eps.reshape(shape))
    kept = np.stack([np.ravel(shares.kept_correct), np.ravel(shares.kept_wrong)], axis=1)
    group_c = (1.0 - n / (n + m))[:, None] * kept
    mean, variance = np.empty(n.size), np.empty(n.size)
    step = max(1, _CHUNK_ELEMENTS // max(1, tilted.spectrum.ell.size))
    for lo in range(0, n.size, step):
        sl = slice(lo, lo + step)
        mean[sl], variance[sl] = _variance_chunk(
            tilted, n[sl], m[sl], gamma[sl], base.delta_real[sl], base.delta_synth[sl], alpha[sl], group_c[sl]
        )
    fields = {k: v for k, v in base.as_dict().items() if k not in ("accuracy", "second_moment", "risk")}
    fields.update(mean=mean, variance=variance)
    return FeatureTheory(collect_result(shape, **fields), shares)
