"""Real and synthetic noise covariances that do not commute (THEORY.md sections 11.2 and 13.4).

The real rows are x = y mu_r + Sigma_r^{1/2} z, the synthetic rows x~ = y* mu_s + Sigma_s^{1/2} z~
with observed label s y*, kept by a verifier (rho, phi) that ignores the features. Nothing here
assumes that Sigma_r and Sigma_s share an eigenbasis, so every parameter point costs dense p x p
work: one Cholesky inverse and two products per Newton round. A curve of points shares the model:
the eigen-data of a commuting surrogate (Sigma_s replaced by its diagonal in the eigenbasis of
Sigma_r) are computed once, and the O(p) theory on that surrogate gives every point a starting
value from which a few dense Newton rounds converge.

On commuting inputs the result equals :func:`rmtsynth.core.theory.evaluate` (same
parametrisation: N = n + m, m counted before the verifier).

The class means may be estimates with sampling noise: ``real_mean = mu_r + e_r`` with
e_r ~ N(0, real_mean_noise * Sigma_r), independent of everything else (likewise for the synthetic
mean). The quadratic forms x^T A x that the theory needs are then debiased by subtracting
``noise * tr(A Sigma)`` (THEORY.md 13.3, "quadratic-form debias"); with zero noise they are the
plain forms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import lapack

from rmtsynth.core.fixed_point import default_tolerance
from rmtsynth.core.theory import PointGrid, Spectrum, TheoryResult, evaluate, point_grid, signed_accuracy
from rmtsynth.errors import ConvergenceError, ParameterError

_MAX_NEWTON_ROUNDS = 100


@dataclass(frozen=True)
class TwoCovarianceModel:
    """Real and synthetic class means and noise covariances (any two symmetric PSD matrices).

    Attributes
    ----------
    real_cov, synth_cov : (p, p) arrays
        Sigma_r and Sigma_s.
    real_mean, synth_mean : (p,) arrays
        mu_r and mu_s (half the difference of the class means, in coordinates centred at the
        midpoint of each source's class means).
    real_mean_noise, synth_mean_noise : float
        k such that the given mean is the true one plus N(0, k Sigma) noise; 0 for exact means.
        For a half-difference of class means estimated from n+ and n- rows,
        k = (1/n+ + 1/n-)/4.
    """

    real_cov: np.ndarray
    synth_cov: np.ndarray
    real_mean: np.ndarray
    synth_mean: np.ndarray
    real_mean_noise: float = 0.0
    synth_mean_noise: float = 0.0
    _surrogate: list = field(default_factory=list, init=False, repr=False, compare=False)

    @property
    def p(self) -> int:
        return int(self.real_mean.shape[0])

    def surrogate_spectrum(self) -> Spectrum:
        """The commuting surrogate: Sigma_s replaced by its diagonal in Sigma_r's eigenbasis (O(p^3), cached)."""
        if not self._surrogate:
            sigma, basis = np.linalg.eigh(self.real_cov)
            ell = np.einsum("ij,ij->j", basis, self.synth_cov @ basis)
            self._surrogate.append(
                Spectrum.from_eigen(ell, basis.T @ self.real_mean, basis.T @ self.synth_mean, sigma=sigma)
            )
        return self._surrogate[0]


def make_model(
    real_cov: np.ndarray,
    synth_cov: np.ndarray,
    real_mean: np.ndarray,
    synth_mean: np.ndarray,
    *,
    real_mean_noise: float = 0.0,
    synth_mean_noise: float = 0.0,
) -> TwoCovarianceModel:
    """Validate and symmetrise the inputs of :class:`TwoCovarianceModel`."""
    real_cov = np.asarray(real_cov, dtype=float)
    synth_cov = np.asarray(synth_cov, dtype=float)
    real_mean = np.asarray(real_mean, dtype=float).reshape(-1)
    synth_mean = np.asarray(synth_mean, dtype=float).reshape(-1)
    p = real_mean.shape[0]
    for name, cov in (("real_cov", real_cov), ("synth_cov", synth_cov)):
        if cov.shape != (p, p):
            raise ParameterError(f"{name} has shape {cov.shape}; ({p}, {p}) is needed to match the means.")
        if not np.all(np.isfinite(cov)):
            raise ParameterError(f"{name} has non-finite entries.")
    if synth_mean.shape != (p,):
        raise ParameterError(f"synth_mean has shape {synth_mean.shape}; ({p},) is needed.")
    for name, k in (("real_mean_noise", real_mean_noise), ("synth_mean_noise", synth_mean_noise)):
        if not (np.isfinite(k) and k >= 0):
            raise ParameterError(f"{name} = {k} must be a finite number >= 0.")
    return TwoCovarianceModel(
        real_cov=(real_cov + real_cov.T) / 2.0,
        synth_cov=(synth_cov + synth_cov.T) / 2.0,
        real_mean=real_mean,
        synth_mean=synth_mean,
        real_mean_noise=float(real_mean_noise),
        synth_mean_noise=float(synth_mean_noise),
    )


def kept_rows_parameters(kept, label_correlation) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(m, label_noise, rho, phi) describing K kept rows whose labels have correlation l = E[y~ y*].

    THEORY.md 13.4 speaks of K kept synthetic rows and N = n + K. That is the section-1 model with
    m = K rows all kept (rho = phi = 1) and label noise (1 - l)/2.
    """
    kept = np.asarray(kept, dtype=float)
    ell = np.asarray(label_correlation, dtype=float)
    label_noise = (1.0 - ell) / 2.0
    ones = np.ones(np.broadcast(kept, ell).shape)
    return kept * ones, label_noise * ones, ones, ones


@dataclass(frozen=True)
class Statistics:
    """The scalars and 2x2 forms the accuracy formula of THEORY.md 13.4 needs, at one point.

    ``t_rr, t_rs, t_ss`` are tr(Sigma_r B Sigma_r B)/N, tr(Sigma_r B Sigma_s B)/N and
    tr(Sigma_s B Sigma_s B)/N; ``G = V^T B V``, ``H_real = V^T B Sigma_r B V`` and
    ``H_synth = V^T B Sigma_s B V`` with V = [mu_r, mu_s] (debiased when the means are noisy).
    ``label_weight`` is (1 - pi) lambda = c l, the weight of mu_s in v.
    """

    pi: float
    c: float
    u: float
    u_s: float
    label_weight: float
    t_rr: float
    t_rs: float
    t_ss: float
    G: np.ndarray
    H_real: np.ndarray
    H_synth: np.ndarray


def moments_from_statistics(st: Statistics) -> tuple[float, float]:
    """Mean and variance of the score y w^T x on a real test point (THEORY.md 13.4).

    Returns
    -------
    mean : P = mu_r^T Q_bar v
    variance : E[w^T Sigma_r w] - (its mean part), clipped at 0
    """
    pi, c, u, us = st.pi, st.c, st.u, st.u_s
    a1 = pi * u**2 * st.t_rr
    a2 = pi * u**2 * st.t_rs
    b1 = c * us**2 * st.t_rs
    b2 = c * us**2 * st.t_ss
    h = (1.0 - a1) * (1.0 - b2) - a2 * b1
    X = (1.0 - b2) / h
    # X - 1 without the cancelling subtraction (exact at large gamma, where a's and b's vanish).
    X_minus_1 = (a1 * (1.0 - b2) + a2 * b1) / h
    Y = b1 / h
    # (lambda / alpha) Y written without alpha, so that nothing kept (alpha = 0) stays finite.
    Y_label = st.label_weight * us**2 * st.t_rs / h
    S = np.diag([pi * u, c * us])
    M = np.linalg.inv(np.eye(2) + S @ st.G)
    xi = np.array([pi * u, st.label_weight * us])
    z = M @ xi
    P_real, P_synth = st.G @ z
    q_real = z @ st.H_real @ z
    q_synth = z @ st.H_synth @ z
    variance = X_minus_1 * (1.0 - P_real) ** 2 + X * q_real + Y * (1.0 + P_synth**2 + q_synth) - 2.0 * Y_label * P_synth
    return float(P_real), float(max(variance, 0.0))


class _DensePoint:
    """Dense traces of B = (gamma I + a Sigma_r + b Sigma_s)^{-1} at one (a, b).

    One Cholesky factorisation and two triangular solves (B Sigma_r, B Sigma_s); B itself is
    never formed, and products with the means reuse the factor.
    """

    def __init__(self, model: TwoCovarianceModel, gamma: float, a: float, b: float):
        p = model.p
        system = a * model.real_cov + b * model.synth_cov
        system[np.diag_indices(p)] += gamma
        chol, info = lapack.dpotrf(system, lower=1)
        if info != 0:
            raise ConvergenceError(
                f"The matrix gamma I + a Sigma_r + b Sigma_s is not positive definite (gamma={gamma:g})."
            )
        self._chol = chol
        BR, _ = lapack.dpotrs(chol, model.real_cov, lower=1)
        BS, _ = lapack.dpotrs(chol, model.synth_cov, lower=1)
        self.trace_real = float(np.trace(BR))
        self.trace_synth = float(np.trace(BS))
        self.T_rr = float(np.sum(BR * BR.T))
        self.T_rs = float(np.sum(BR * BS.T))
        self.T_ss = float(np.sum(BS * BS.T))

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """B @ rhs."""
        out, _ = lapack.dpotrs(self._chol, rhs, lower=1)
        return out


def evaluate_two_covariance(
    model: TwoCovarianceModel,
    n,
    m,
    label_noise,
    rho,
    phi,
    gamma,
    *,
    start: np.ndarray | None = None,
) -> TheoryResult:
    """Theory with non-commuting Sigma_r and Sigma_s at every point of a broadcastable grid.

    Parameters
    ----------
    model : TwoCovarianceModel
    n, m, label_noise, rho, phi, gamma : array_like
        As in :func:`rmtsynth.core.theory.evaluate`: N = n + m, m synthetic rows before the
        verifier. For K kept rows with label correlation l, see :func:`kept_rows_parameters`.
    start : (points, 2) array, optional
        Starting values of (delta_r, delta_s); by default the commuting surrogate's fixed point.

    Returns
    -------
    TheoryResult
        Arrays of the grid's shape; ``accuracy`` is Phi(mean / sd) on the real test law, signed.

    Notes
    -----
    Newton on (delta_r, delta_s) from the starting value; a step that leaves the positive
    orthant restarts the point from the upper solution (tr Sigma_r/(N gamma),
    tr Sigma_s/(N gamma)), from which the iterates decrease monotonically (THEORY.md 5).
    """
    grid = point_grid(n, m, label_noise, rho, phi, gamma)
    K = grid.size
    follow_surrogate = start is None
    if follow_surrogate:
        surrogate = evaluate(model.surrogate_spectrum(), grid.n, grid.m, grid.eps, grid.rho, grid.phi, grid.gamma)
        start = np.stack([surrogate.delta_real.ravel(), surrogate.delta_synth.ravel()], axis=1)
    start = np.asarray(start, dtype=float).reshape(K, 2)
    # The ratio of the exact fixed point to the surrogate's varies slowly along a curve, so the
    # previous point's ratio corrects the next point's start.
    correction = np.ones(2)
    out = {key: np.empty(K) for key in ("mean", "variance", "delta_real", "delta_synth", "residual")}
    rounds = np.zeros(K, dtype=np.int64)
    for k in range(K):
        x, point, res, rounds[k] = _dense_fixed_point(model, grid, k, start[k] * correction)
        if follow_surrogate:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = x / start[k]
            correction = np.where(np.isfinite(ratio) & (ratio > 0), ratio, 1.0)
        st = _point_statistics(model, grid, k, x, point)
        out["mean"][k], out["variance"][k] = moments_from_statistics(st)
        out["delta_real"][k], out["delta_synth"][k] = x
        out["residual"][k] = res
    return _two_covariance_result(grid, out, rounds)


def _dense_fixed_point(
    model: TwoCovarianceModel, grid: PointGrid, k: int, guess: np.ndarray
) -> tuple[np.ndarray, _DensePoint, float, int]:
    """(delta_r, delta_s) at point k by Newton from ``guess``: the root, its dense traces, residual and rounds."""
    n, m, gamma, N, pi, c = grid.n, grid.m, grid.gamma, grid.N, grid.pi, grid.c
    tol = default_tolerance(model.p)
    tr_real = float(np.trace(model.real_cov))
    tr_synth = float(np.trace(model.synth_cov))
    upper = np.array([tr_real / (N[k] * gamma[k]), tr_synth / (N[k] * gamma[k])])
    x = np.minimum(np.maximum(guess, 0.0), upper)
    restarted = False
    for it in range(_MAX_NEWTON_ROUNDS):
        u, us = 1.0 / (1.0 + x[0]), 1.0 / (1.0 + x[1])
        point = _DensePoint(model, gamma[k], pi[k] * u, c[k] * us)
        F = np.array([point.trace_real, point.trace_synth]) / N[k]
        g = x - F
        scale = max(np.abs(x).max(), np.finfo(float).tiny)
        res = np.abs(g).max() / scale
        if res <= tol:
            return x, point, res, it
        du, dus = pi[k] * u**2, c[k] * us**2
        J = np.array([[du * point.T_rr, dus * point.T_rs], [du * point.T_rs, dus * point.T_ss]]) / N[k]
        with np.errstate(all="ignore"):
            cand = x - np.linalg.solve(np.eye(2) - J, g)
        if not np.all(np.isfinite(cand)) or np.any(cand < -1e-15 * scale):
            if restarted:
                cand = F  # a plain step from an upper solution stays an upper solution
            else:
                cand, restarted = upper.copy(), True
        cand = np.maximum(cand, 0.0)
        if np.abs(cand - x).max() <= tol * scale:
            x = cand
            u, us = 1.0 / (1.0 + x[0]), 1.0 / (1.0 + x[1])
            point = _DensePoint(model, gamma[k], pi[k] * u, c[k] * us)
            res = np.abs(x - np.array([point.trace_real, point.trace_synth]) / N[k]).max() / scale
            return x, point, res, it
        x = cand
    raise ConvergenceError(
        f"The two-covariance fixed point did not converge at n={n[k]:g}, m={m[k]:g}, gamma={gamma[k]:g}."
    )


def _point_statistics(
    model: TwoCovarianceModel, grid: PointGrid, k: int, x: np.ndarray, point: _DensePoint
) -> Statistics:
    """The traces and the (debiased) 2x2 forms in V = [mu_r, mu_s] at point k's fixed point x."""
    pi, c, N = grid.pi[k], grid.c[k], grid.N[k]
    u, us = 1.0 / (1.0 + x[0]), 1.0 / (1.0 + x[1])
    V = np.stack([model.real_mean, model.synth_mean], axis=1)
    BV = point.solve(V)
    G = V.T @ BV
    H_real = BV.T @ model.real_cov @ BV
    H_synth = BV.T @ model.synth_cov @ BV
    kr, ks = model.real_mean_noise, model.synth_mean_noise
    if kr or ks:
        G = G - np.diag([kr * point.trace_real, ks * point.trace_synth])
        H_real = H_real - np.diag([kr * point.T_rr, ks * point.T_rs])
        H_synth = H_synth - np.diag([kr * point.T_rs, ks * point.T_ss])
    return Statistics(
        pi=pi, c=c, u=u, u_s=us, label_weight=(1.0 - pi) * grid.lam[k],
        t_rr=point.T_rr / N, t_rs=point.T_rs / N, t_ss=point.T_ss / N,
        G=G, H_real=H_real, H_synth=H_synth,
    )


def _two_covariance_result(grid: PointGrid, out: dict[str, np.ndarray], rounds: np.ndarray) -> TheoryResult:
    """The per-point moments and fixed points as a TheoryResult of the grid's shape."""
    mean, variance = out["mean"], out["variance"]
    second = mean**2 + variance
    fields_ = {
        "accuracy": signed_accuracy(mean, variance),
        "mean": mean,
        "second_moment": second,
        "variance": variance,
        "risk": second + 1.0 - 2.0 * mean,
        "delta_real": out["delta_real"],
        "delta_synth": out["delta_synth"],
        "delta_gen": np.full(grid.size, np.nan),
        "alpha": grid.alpha,
        "lam": grid.lam,
        "newton_rounds": rounds,
        "residual": out["residual"],
    }
    return TheoryResult(**{key: np.asarray(v).reshape(grid.shape) for key, v in fields_.items()})
