"""The K-group deterministic equivalent, dense and for any covariances (THEORY.md 15.3).

Groups k have weights c_k (fractions of N), means m_k and covariances C_k; for a feature
verifier they are the real rows (pi, mu, Sigma) and the kept correct and wrong rows of 15.2.
Per grid point: Newton on delta in R^K (one p x p inverse a round), then one solve for
Q_bar v_bar. It generalises THEORY.md 13.4 (:func:`rmtsynth.core.two_covariance.evaluate_two_covariance`),
which it equals for a feature-blind verifier.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from rmtsynth.core.feature_verifier.groups import (
    FeatureTheory,
    collect_result,
    grid,
    group_covariances,
    group_means,
    keep_signal,
    kept_shares,
    require_fixed_covariance,
    score_direction,
    tilt_geometry,
)
from rmtsynth.core.fixed_point import default_tolerance
from rmtsynth.core.model import DataModel
from rmtsynth.core.verifiers import Verifier
from rmtsynth.errors import ConvergenceError

_MAX_NEWTON_ROUNDS = 100


def _bulk(covs: list[np.ndarray], cu: np.ndarray, gamma: float):
    """Traces tr(C_k B) and T_kl = tr(C_k B C_l B) for B = (gamma I + sum_k cu_k C_k)^{-1}."""
    system = sum(w * c for w, c in zip(cu, covs))
    system[np.diag_indices_from(system)] += gamma
    B = scipy.linalg.cho_solve(scipy.linalg.cho_factor(system, lower=True), np.eye(system.shape[0]))
    CB = [c @ B for c in covs]
    traces = np.array([np.trace(cb) for cb in CB])
    T = np.array([[np.sum(ck * cl.T) for cl in CB] for ck in CB])
    return traces, T


def solve_groups(covs: list[np.ndarray], weights: np.ndarray, gamma: float, N: float, tol: float):
    """The fixed point delta_k = tr(C_k B)/N by Newton from the upper solution tr C_k/(N gamma).

    Returns (delta, T / N at delta, Newton rounds, relative residual). A step that is not finite
    or leaves [0, delta] is replaced by the plain step, which keeps an upper solution.
    """
    x = np.array([np.trace(c) for c in covs]) / (N * gamma)
    eye = np.eye(len(covs))
    for rounds in range(_MAX_NEWTON_ROUNDS):
        u = 1.0 / (1.0 + x)
        traces, T = _bulk(covs, weights * u, gamma)
        F, T = traces / N, T / N
        scale = max(np.abs(x).max(), np.finfo(float).tiny)
        residual = np.abs(x - F).max() / scale
        if residual <= tol:
            return x, T, rounds, residual
        with np.errstate(all="ignore"):
            cand = x - np.linalg.solve(eye - T * (weights * u**2)[None, :], x - F)
        slack = 1e-15 * scale
        if not np.all(np.isfinite(cand)) or np.any(cand < -slack) or np.any(cand > x + slack):
            cand = F
        cand = np.maximum(cand, 0.0)
        if np.abs(cand - x).max() <= tol * scale:
            traces, T = _bulk(covs, weights / (1.0 + cand), gamma)
            return cand, T / N, rounds + 1, np.abs(cand - traces / N).max() / scale
        x = cand
    raise ConvergenceError(f"the {len(covs)}-group fixed point did not converge at N={N:g}, gamma={gamma:g}.")


def group_moments(covs, means, mu, weights, gamma, delta, T) -> tuple[float, float]:
    """(mean, E[w' Sigma w]) of the ridge score on the real test law, at one point (15.3, items 2-6).

    ``covs[0]`` is Sigma: the test law's noise covariance is the real group's.
    """
    p = mu.shape[0]
    cu = weights / (1.0 + delta)
    cu2 = weights / (1.0 + delta) ** 2
    system = sum(w * (c + np.outer(mk, mk)) for w, c, mk in zip(cu, covs, means))
    system[np.diag_indices(p)] += gamma
    q_v = scipy.linalg.cho_solve(scipy.linalg.cho_factor(system, lower=True), cu @ means)
    # T^Sigma_k = tr(C_k B Sigma B)/N is the column of T for the real group, whose C_0 is Sigma.
    Y = np.linalg.solve(np.eye(len(covs)) - cu2[:, None] * T, cu2 * T[:, 0])
    P = means @ q_v
    q = np.array([q_v @ c @ q_v for c in covs])
    return float(mu @ q_v), float(max(q[0] + Y @ (q + (1.0 - P) ** 2), 0.0))


def _solve_points(covs, means, mu, weights, gamma, N) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The fixed point and the moments at each grid point (rows of ``weights``)."""
    tol = default_tolerance(mu.shape[0])
    out = {key: np.empty(N.size) for key in ("mean", "variance", "delta_real", "delta_synth", "residual")}
    rounds = np.zeros(N.size, dtype=np.int64)
    for k in range(N.size):
        delta, T, rounds[k], out["residual"][k] = solve_groups(covs, weights[k], gamma[k], N[k], tol)
        out["mean"][k], out["variance"][k] = group_moments(covs, means, mu, weights[k], gamma[k], delta, T)
        out["delta_real"][k], out["delta_synth"][k] = delta[0], delta[1]
    return out, rounds


def evaluate_dense(
    mu: np.ndarray,
    mu_beta: np.ndarray,
    cov: np.ndarray,
    verifier: Verifier,
    n,
    m,
    label_noise,
    gamma,
    *,
    real_cov: np.ndarray | None = None,
) -> FeatureTheory:
    """The verifier's K = 3 group theory on a broadcast grid of (n, m, label_noise, gamma).

    Parameters
    ----------
    mu, mu_beta : (p,) arrays
        Real class mean and the generator's.
    cov : (p, p) array
        The generator's noise covariance C.
    verifier : Verifier
        A :class:`FeatureVerifier`, or a feature-blind verifier (F = 1, its (rho, phi)).
    n, m, label_noise, gamma : array_like
        As in :func:`rmtsynth.core.feature_verifier.commuting.evaluate_commuting`.
    real_cov : (p, p) array, optional
        Sigma, the real rows' and the test law's noise covariance (identity by default).

    Returns
    -------
    FeatureTheory
        ``delta_synth`` is the correct-label group's delta; ``alpha``, ``lam`` are f_+ + f_-
        and f_+ - f_-.
    """
    shape, (n, m, eps, gamma) = grid(n, m, label_noise, gamma)
    mu = np.asarray(mu, dtype=float)
    mu_beta = np.asarray(mu_beta, dtype=float)
    cov = np.asarray(cov, dtype=float)
    sigma = np.eye(mu.shape[0]) if real_cov is None else np.asarray(real_cov, dtype=float)
    direction = score_direction(verifier)
    cov_v = None if direction is None else cov @ direction
    geometry = tilt_geometry(verifier, mu_beta, cov_v)
    covs = [sigma] + group_covariances(geometry, cov)
    means = np.vstack([mu, group_means(geometry, mu_beta)])
    shares = kept_shares(geometry, eps)
    pi = n / (n + m)
    weights = np.stack([pi, (1.0 - pi) * shares.kept_correct, (1.0 - pi) * shares.kept_wrong], axis=1)
    out, rounds = _solve_points(covs, means, mu, weights, gamma, n + m)
    alpha, lam = keep_signal(geometry, eps)
    result = collect_result(
        shape, out.pop("mean"), out.pop("variance"), **out, delta_gen=np.full(n.size, np.nan), alpha=alpha, lam=lam,
        newton_rounds=rounds,
    )
    return FeatureTheory(result, kept_shares(geometry, eps.reshape(shape)))


def model_covariance(model: DataModel) -> np.ndarray:
    """The generator's C as a dense matrix (identity, scaled, diagonal or read from a file)."""
    cov = model.covariance
    require_fixed_covariance(cov.kind)
    if cov.kind == "file":
        return np.asarray(cov.matrix, dtype=float)
    if cov.kind == "diagonal":
        return np.diag(np.asarray(cov.eigenvalues, dtype=float))
    return (cov.scale if cov.kind == "scaled" else 1.0) * np.eye(model.p)
