"""CDE: the conditional deterministic equivalent of one generation given the sampled history (THEORY 14.6).

The estimated generator's covariance past generation 1 depends on the rows drawn so far, so the
loop has no theory from the parameters alone; given those rows, only the fresh block is random.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.optimize

from rmtsynth.core.loop.common import scalar_block_weights, signed_phi

# Rows of the quadratic forms: the true mean, the generator mean, the known rows' signal r / N.
_MU, _BETA, _KNOWN = 0, 1, 2


def _generator_basis(chol: np.ndarray, generator_cov: np.ndarray | None, p: int) -> tuple[np.ndarray, np.ndarray]:
    """(lam_c, basis) with R_bar = basis diag(1/(1 + s lam_c)) basis^T and basis^T C basis = diag(lam_c).

    ``chol`` is the Cholesky factor L of S/N + gamma I; basis = L^{-T} rot, rot the eigenvectors of
    L^{-1} C L^{-T}.
    """
    if generator_cov is None:
        inv_chol = scipy.linalg.solve_triangular(chol, np.eye(p), lower=True, check_finite=False)
        whitened = inv_chol @ inv_chol.T
    else:
        cov = np.asarray(generator_cov, dtype=float)
        half = scipy.linalg.solve_triangular(chol, cov, lower=True, check_finite=False)
        whitened = scipy.linalg.solve_triangular(chol, half.T, lower=True, check_finite=False)
        whitened = 0.5 * (whitened + whitened.T)
    lam_c, rot = np.linalg.eigh(whitened)
    lam_c = np.clip(lam_c, 0.0, None)
    basis = scipy.linalg.solve_triangular(chol, rot, lower=True, trans="T", check_finite=False)
    return lam_c, basis


def _self_energy(lam_c: np.ndarray, share: float, normaliser: float) -> float:
    """delta solving delta = (1/N) sum lam_c / (1 + share lam_c / (1 + delta))."""
    if not share > 0:
        return 0.0

    def gap(delta):
        return delta - np.sum(lam_c / (1.0 + share * lam_c / (1.0 + delta))) / normaliser

    return scipy.optimize.brentq(gap, 0.0, np.sum(lam_c) / normaliser + 1e-300, xtol=1e-15, rtol=1e-14)


def _block_fit(first: np.ndarray, second: np.ndarray, tau: float, tr_cr: float, normaliser: float, kept: float,
               label_signal_total: float) -> tuple[float, float]:
    """(w^T mu, ||w||^2) once the fresh block's two spike columns are solved for."""
    N = normaliser
    root_kept = np.sqrt(kept)
    weights = np.array(scalar_block_weights(kept, label_signal_total))
    vrv = np.diag([kept * first[_BETA, _BETA] + tr_cr, tr_cr])
    vra = np.array([root_kept * first[_BETA, _KNOWN], 0.0])
    psi = weights / N - np.linalg.solve(N * np.eye(2) + vrv, vra + vrv @ weights / N)
    w_mu = first[_MU, _KNOWN] + psi[0] * root_kept * first[_MU, _BETA]
    w_norm2 = (second[_KNOWN, _KNOWN] + 2.0 * psi[0] * root_kept * second[_BETA, _KNOWN]
               + psi[0] ** 2 * (kept * second[_BETA, _BETA] + N * tau) + psi[1] ** 2 * N * tau)
    return w_mu, w_norm2


def cde_prediction(
    *,
    known_scatter: np.ndarray,
    known_signal: np.ndarray,
    normaliser: float,
    mu: np.ndarray,
    generator_mean: np.ndarray,
    generator_cov: np.ndarray | None,
    kept: float,
    label_signal_total: float,
    gamma: float,
) -> dict:
    """CDE: accuracy of one noisy-label generation given everything drawn before it (THEORY 14.6).

    Only the fresh synthetic block is random: kept rows mbar, label signal t = lambda m, drawn from
    N(y mu_beta, C) with (mu_beta, C) = (mu_hat_{k-1}, C_{k-1}). Exact in the proportional limit for
    either generator covariance and either regime; a one-step-ahead predictor, not a prediction
    from the parameters alone. Cost O(p^3): one Cholesky and one symmetric eigen-decomposition.

    Parameters
    ----------
    known_scatter, known_signal : (p, p) and (p,) arrays
        S and r of the rows already in the training set (real rows, plus the earlier kept blocks
        under accumulate).
    normaliser : float
        N_k, the ridge normaliser of the generation (generated rows counted).
    mu : (p,) array
        True class mean.
    generator_mean : (p,) array
        mu_beta = mu_hat_{k-1}.
    generator_cov : (p, p) array or None
        C_{k-1}; None for the identity.
    kept, label_signal_total : float
        mbar = alpha m and t = lambda m of the fresh block.
    gamma : float

    Returns
    -------
    dict with ``accuracy``, ``w_mu`` and ``w_norm2``.
    """
    N = float(normaliser)
    p = known_signal.shape[0]
    system = np.asarray(known_scatter, dtype=float) / N + gamma * np.eye(p)
    chol = scipy.linalg.cholesky(system, lower=True, check_finite=False)
    lam_c, basis = _generator_basis(chol, generator_cov, p)
    gram_basis_diag = np.einsum("ij,ij->j", basis, basis)
    share = max(kept - 2.0, 0.0) / N
    u_s = 1.0 / (1.0 + _self_energy(lam_c, share, N))
    diag = 1.0 / (1.0 + share * u_s * lam_c)
    tr_cr = np.sum(lam_c * diag)
    tr_cr2 = np.sum(lam_c * diag**2 * gram_basis_diag)
    tr_crcr = np.sum((lam_c * diag) ** 2)
    tau = (tr_cr2 / N) / (1.0 - share * u_s**2 * tr_crcr / N)

    known = np.asarray(known_signal, dtype=float) / N
    coords = basis.T @ np.stack([np.asarray(mu, float), np.asarray(generator_mean, float), known], axis=1)
    scaled = diag[:, None] * coords
    first = coords.T @ scaled  # x^T R_bar y
    rr = scaled.T @ (basis.T @ basis) @ scaled  # x^T R_bar^2 y
    rcr = scaled.T @ (lam_c[:, None] * scaled)  # x^T R_bar C R_bar y
    second = rr + share * u_s**2 * tau * rcr  # x^T E[R^2] y
    w_mu, w_norm2 = _block_fit(first, second, tau, tr_cr, N, kept, label_signal_total)
    return {"accuracy": float(signed_phi(w_mu, w_norm2)), "w_mu": float(w_mu), "w_norm2": float(w_norm2)}
