"""Estimating, from a user's own rows, what the theory needs to predict held-out accuracy.

THEORY.md section 13. Everything here sees only the real *training* rows (and the user's
synthetic pool), never the rows accuracy is measured on.

The protocol (13, preamble): features are standardised with the training rows' mean and
standard deviation (a feature with zero variance keeps scale 1); the real rows are centred at
the midpoint of the training class means, the synthetic pool at the midpoint of its own class
means; the ridge is ``w = (S/N + gamma I)^{-1} r/N`` on the centred rows.

Estimators, each with its assumptions in its docstring:

* :func:`g_estimator` (13.2): real rows only; consistent for Gaussian classes with a common
  covariance, without estimating that covariance.
* :func:`g_estimator_two_covariance`: the same idea with a synthetic source (13.4): the real
  rows' resolvent is kept as it is and only the synthetic rows are replaced by their
  deterministic equivalent, so the real covariance is never estimated either.
* :func:`nonlinear_shrinkage` (13.3): Ledoit and Wolf's (2020) analytical nonlinear shrinkage of
  a covariance; with the debiased quadratic forms of :mod:`rmtsynth.core.two_covariance` it is
  the "NLS + quadratic-form debias" estimate.
* :func:`score_shape_residuals` / :func:`shape_corrected_accuracy` (13.3): the cross-fitted
  empirical law of the standardised scores, which replaces Phi.
* :func:`estimate_synthetic`: class means, covariance, label noise and the verifier's
  (rho, phi) of a user's synthetic rows, from per-row flags or from a score and a threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack
from scipy.special import ndtr

from rmtsynth.core.two_covariance import Statistics, moments_from_statistics
from rmtsynth.core.verifiers.rates import keep_rate, label_signal
from rmtsynth.data.protocols import GaussianFit, copy_groups, fit_gaussian, group_folds
from rmtsynth.errors import RmtsynthError
from rmtsynth.core.learners import ridge_weights

# --------------------------------------------------------------------------------------------
# The protocol's building blocks
# --------------------------------------------------------------------------------------------


def fit_standardisation(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(loc, scale) of the rows: mean and standard deviation per feature; scale 1 where it is 0.

    Scale-free: each feature is first divided by the power of two just above its largest
    magnitude, so its squares neither overflow (features in units of 1e160) nor underflow, and a
    power of two changes no digit of the result. A feature is constant when its spread is below
    1e-12 of its own magnitude, whatever its units (features of size 1e-12 are not constant).
    """
    X = np.asarray(X, dtype=float)
    top, unit, U = _unit_scaled(X)
    loc = U.mean(axis=0) * unit
    spread = U.std(axis=0)
    constant = ~_varies(spread, top, unit)
    scale = spread * unit
    # A constant feature keeps scale 1 (the protocol's), and its exact value as loc so that it
    # standardises to exactly 0; beyond 2^40 a unit scale would let rounding residuals dominate.
    loc[constant] = X[0, constant] if X.shape[0] else 0.0
    scale[constant] = np.maximum(1.0, np.ldexp(unit[constant], -40))
    return loc, scale


def _unit_scaled(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each feature's largest magnitude, the power of two just above it, and the features divided by it."""
    top = np.max(np.abs(X), axis=0) if X.shape[0] else np.zeros(X.shape[1:])
    unit = np.ldexp(1.0, np.frexp(top)[1])
    unit[top == 0] = 1.0
    return top, unit, X / unit


def _varies(spread: np.ndarray, top: np.ndarray, unit: np.ndarray) -> np.ndarray:
    return spread > 1e-12 * (top / unit)


def varying_features(X: np.ndarray) -> np.ndarray:
    """Which features vary over the rows, by the standardisation's own rule (a boolean mask).

    The dimension p of every theory on the user's rows counts these only: a constant feature
    standardises to 0, carries no signal and no noise, and must not move any answer.
    """
    X = np.asarray(X, dtype=float)
    top, unit, U = _unit_scaled(X)
    return _varies(U.std(axis=0), top, unit)


@dataclass(frozen=True)
class Pipeline:
    """A fitted real-only ridge pipeline: standardise, centre, project."""

    loc: np.ndarray
    scale: np.ndarray
    centre: np.ndarray
    weights: np.ndarray

    def scores(self, X_raw: np.ndarray) -> np.ndarray:
        """w^T x for raw rows put through the same standardisation and centring."""
        return ((np.asarray(X_raw, dtype=float) - self.loc) / self.scale - self.centre) @ self.weights


def fit_pipeline(X_raw: np.ndarray, y: np.ndarray, gamma: float) -> Pipeline:
    """The protocol of THEORY.md 13 on real rows only: standardise, centre, ridge."""
    loc, scale = fit_standardisation(X_raw)
    Z = (np.asarray(X_raw, dtype=float) - loc) / scale
    stats = fit_gaussian(Z, y)
    Zc = Z - stats.centre
    w = ridge_weights(Zc.T @ Zc, Zc.T @ y, Zc.shape[0], gamma)
    return Pipeline(loc=loc, scale=scale, centre=stats.centre, weights=w)


# --------------------------------------------------------------------------------------------
# Real rows only: the G-estimator (13.2)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GEstimate:
    """The G-estimator's pieces (THEORY.md 13.2) and its Gaussian accuracy Phi(ratio)."""

    ratio: float
    accuracy: float
    A: float
    M: float
    T: float
    X: float
    delta: float


def g_estimator(stats: GaussianFit, gamma: float, *, degrees_of_freedom: bool = False) -> GEstimate:
    """Predicted held-out accuracy of the real-only ridge, from the training rows (THEORY.md 13.2).

    Parameters
    ----------
    stats
        :func:`fit_gaussian` of the standardised training rows (ML pooled covariance).
    gamma
        The ridge parameter.
    degrees_of_freedom
        Apply THEORY.md 13.6 item 1: the pooled covariance has N - 2 degrees of freedom, so the
        estimator runs on S' = W/(N - 2) with N' = N - 2 and gamma' = gamma N/(N - 2) (the same
        ridge direction). Without it (the published form) theta is too small by (N - 2)/N, which
        matters where p approaches or exceeds n.

    Assumptions
    -----------
    The two classes are Gaussian with a common covariance Sigma, the rows independent; then A,
    M and T are consistent for mu^T H mu, mu^T H Sigma H mu and tr(Sigma H Sigma H)/N (H the
    deterministic equivalent of (Sigma_hat + gamma I)^{-1}) as p, n grow proportionally,
    without Sigma ever being estimated. The class-mean estimate is independent of the
    within-class covariance (true for Gaussian rows). The offset of the estimated midpoint is
    neglected (it is second order for the class-averaged accuracy). On real rows that do not
    concentrate (heavy-tailed norms) it is biased low; :func:`shape_corrected_accuracy` fixes
    most of that.
    """
    N = stats.rows
    k = stats.mean_noise
    values, vectors = np.linalg.eigh(stats.covariance)
    values = np.clip(values, 0.0, None)
    if degrees_of_freedom:
        values = values * N / (N - 2)
        gamma = gamma * N / (N - 2)
        N = N - 2
    h = 1.0 / (values + gamma)
    a2 = (vectors.T @ stats.mu) ** 2
    # theta = (p - gamma tr h)/N and the combinations x + gamma x' below are written with
    # 1 - gamma h = values h, so that no difference of nearly equal terms is taken as gamma grows.
    vh = values * h
    theta = vh.sum() / N
    theta_d = -(vh @ h) / N
    delta = theta / (1.0 - theta)
    u = 1.0 - theta
    u_d = -theta_d
    A = float(a2 @ h - k * N * delta)
    # delta + gamma delta' = (theta + gamma theta' - theta^2)/(1 - theta)^2, theta + gamma theta' = tr(vh^2)/N.
    delta_combo = ((vh @ vh) / N - theta * theta) / (1.0 - theta) ** 2
    A_combo = float(a2 @ (vh * h) - k * N * delta_combo)
    M = A_combo / (u - gamma * u_d)
    T = delta_combo / (u - gamma * u_d)
    X = 1.0 / (1.0 - u * u * T)
    variance = X * (M + k * N * T)
    ratio = _ratio(A, variance)
    return GEstimate(ratio=ratio, accuracy=float(ndtr(ratio)), A=A, M=float(M), T=float(T), X=float(X), delta=float(delta))


def _ratio(mean: float, variance: float) -> float:
    if variance > 0:
        return float(mean / np.sqrt(variance))
    return 0.0 if mean == 0 else float(np.sign(mean) * np.inf)


# --------------------------------------------------------------------------------------------
# Real plus synthetic rows: the G-estimator with a synthetic source (13.4)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticSource:
    """The synthetic rows' law as the theory sees it: x = y* mu + N(0, covariance), centred.

    ``mean_noise`` is k_s of the mean estimate (0 when the mean is exact).
    """

    mu: np.ndarray
    covariance: np.ndarray
    mean_noise: float = 0.0


def g_estimator_two_covariance(
    real: GaussianFit,
    synthetic: SyntheticSource,
    m,
    label_noise,
    rho,
    phi,
    gamma: float,
    *,
    tol: float = 1e-10,
    start: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Mean, variance and ratio of the mixed ridge's score, real covariance never estimated.

    The model is that of THEORY.md 13.4 with N = n + m (m synthetic rows drawn, kept by
    (rho, phi) independently of their features; for K kept rows with label correlation l use
    m = K, label_noise = (1 - l)/2, rho = phi = 1). The population quantities involving
    Sigma_r (traces and quadratic forms of B = (gamma I + pi u Sigma_r + c u_s Sigma_s)^{-1}) are
    estimated from the sample resolvent R = (pi Sigma_hat_r + b Sigma_s + gamma I)^{-1}: with
    real rows of covariance Sigma_r, R has deterministic equivalent B with
    u = 1 - pi tr(Sigma_hat_r R)/n, and the synthetic fixed point becomes one equation
    b = c / (1 + tr(Sigma_s R)/N). Second-order traces and forms are derivatives of the first-
    order ones in (pi, b), taken analytically and mapped to the population parameters by the
    chain rule. At m = 0 this is the G-estimator of 13.2.

    Parameters
    ----------
    real
        :func:`fit_gaussian` of the standardised, training rows (n = real.rows).
    synthetic
        The synthetic law (in the same standardised coordinates, centred at its own midpoint).
    m, label_noise, rho, phi
        Broadcastable arrays of the points.
    gamma
        The ridge parameter.

    tol
        Relative tolerance of the synthetic fixed point.
    start
        Starting values of b = c u_s per point (e.g. the ``b`` of a nearby sample); by default
        the upper solution b = c.

    Returns
    -------
    dict with arrays ``mean``, ``variance``, ``ratio``, ``accuracy`` (Phi(ratio)), ``u``,
    ``u_synth`` and ``b``.

    Assumptions
    -----------
    Real rows Gaussian with a common within-class covariance and means independent of it
    (as for :func:`g_estimator`); the synthetic law known (its covariance is plugged in as
    given; its mean's quadratic forms are debiased by ``mean_noise``); the verifier's decision
    and the label flips independent of the features; the real and synthetic mean estimates
    independent.
    """
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (m, label_noise, rho, phi)))
    shape = arrays[0].shape
    m, eps, rho, phi = (a.ravel() for a in arrays)
    resolvent = sample_resolvent(real, synthetic, gamma)
    n = resolvent.n
    out = {key: np.empty(m.size) for key in ("mean", "variance", "ratio", "u", "u_synth", "b")}
    starts = None if start is None else np.broadcast_to(np.asarray(start, dtype=float), shape).ravel()
    alpha = keep_rate(eps, rho, phi)
    lam = label_signal(eps, rho, phi)
    for j in range(m.size):
        N = n + m[j]
        t = n / N
        c = alpha[j] * m[j] / N
        b = _starting_b(c, None if starts is None else starts[j], out["u_synth"][j - 1] if j > 0 else None)
        b, here = resolvent.synthetic_fixed_point(t, c, N, b, tol, m[j])
        st = resolvent.statistics(t, b, c, N, lam[j] * m[j] / N, here)
        mean, variance = moments_from_statistics(st)
        out["mean"][j], out["variance"][j] = mean, variance
        out["ratio"][j] = _ratio(mean, variance)
        out["u"][j], out["u_synth"][j], out["b"][j] = st.u, st.u_s, b
    result = {key: value.reshape(shape) for key, value in out.items()}
    result["accuracy"] = ndtr(result["ratio"])
    return result


def _starting_b(c: float, given: float | None, previous_u_synth: float | None) -> float:
    """Where the synthetic fixed point starts: a given b inside (0, c), else c times the previous
    point's u_s (along a curve u_s changes slowly), else the upper solution b = c."""
    if given is not None:
        return float(given) if 0.0 < given < c else c
    if previous_u_synth is not None and 0.0 < previous_u_synth < 1.0:
        return c * float(previous_u_synth)
    return c


def _population_derivatives(f_t, f_b, a_t: float, a_b: float):
    """(F_a, F_b) of F(a(t, b), b) known through (t, b): F_a = F_t / a_t, F_b = F_b|_t - F_a a_b."""
    f_a = f_t / a_t
    return f_a, f_b - f_a * a_b


# The low-rank form of the resolvent pays off once the real rows are at most this fraction of p.
LOW_RANK_FRACTION = 0.5


def sample_resolvent(real: GaussianFit, synthetic: SyntheticSource, gamma: float) -> "_SampleResolvent":
    """The resolvent R of :func:`g_estimator_two_covariance` for a real fit and a synthetic law.

    With at most LOW_RANK_FRACTION p real rows (and the fit's rows kept), R is handled in the
    eigenbasis of Sigma_s with the real rows' covariance as a rank-n update (Woodbury): one p x p
    eigendecomposition, then O(p n^2) per (t, b) instead of p x p factorisations and solves.
    """
    rows = real.residuals
    if rows is not None and rows.shape[0] <= LOW_RANK_FRACTION * real.p:
        return _LowRankResolvent(real, synthetic, gamma)
    return _SampleResolvent(real, synthetic, gamma)


class _DenseAt:
    """R at one (t, b) through the Cholesky factor of R^{-1}."""

    def __init__(self, resolvent: "_SampleResolvent", t: float, b: float) -> None:
        self.resolvent = resolvent
        self.chol = resolvent.factor(t, b)
        self.RS, _ = lapack.dpotrs(self.chol, resolvent.synthetic.covariance, lower=1)

    def synthetic_traces(self) -> tuple[float, float]:
        """tr(Sigma_s R) and tr(Sigma_s R Sigma_s R)."""
        return float(np.trace(self.RS)), float(np.sum(self.RS * self.RS.T))

    def real_traces(self) -> tuple[float, float, float]:
        """tr(Sigma_hat R), tr(Sigma_hat R Sigma_hat R) and tr(Sigma_hat R Sigma_s R)."""
        RR, _ = lapack.dpotrs(self.chol, self.resolvent.real.covariance, lower=1)
        return float(np.trace(RR)), float(np.sum(RR * RR.T)), float(np.sum(RR * self.RS.T))

    def forms(self, V: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """V'RV, V'R Sigma_hat RV and V'R Sigma_s RV."""
        RV, _ = lapack.dpotrs(self.chol, V, lower=1)
        return V.T @ RV, RV.T @ self.resolvent.real.covariance @ RV, RV.T @ self.resolvent.synthetic.covariance @ RV


@dataclass
class _SampleResolvent:
    """R = (t Sigma_hat_r + b Sigma_s + gamma I)^{-1} for the real rows' fit and a synthetic law."""

    real: GaussianFit
    synthetic: SyntheticSource
    gamma: float

    @property
    def n(self) -> float:
        return float(self.real.rows)

    def factor(self, t: float, b: float) -> np.ndarray:
        """The Cholesky factor of R^{-1}."""
        system = t * self.real.covariance + b * self.synthetic.covariance
        system[np.diag_indices(system.shape[0])] += self.gamma
        chol, info = lapack.dpotrf(system, lower=1)
        if info != 0:
            raise RmtsynthError("The sample resolvent is not positive definite; gamma must be > 0.")
        return chol

    def at(self, t: float, b: float):
        """R at (t, b), with its traces and forms."""
        return _DenseAt(self, t, b)

    def synthetic_fixed_point(self, t: float, c: float, N: float, b: float, tol: float, m: float):
        """b = c / (1 + tr(Sigma_s R)/N) by Newton from ``b``: (b, R there, as :meth:`at`)."""
        here = None
        if c > 0:
            # f(b) = c/(1 + tr(Sigma_s R)/N) is increasing and concave in b, so from the upper
            # solution b = c the iterates decrease monotonically; from any other start one Newton
            # step lands on an upper solution.
            from_upper = b == c
            for _ in range(100):
                here = self.at(t, b)
                s, s2 = here.synthetic_traces()
                f = c / (1.0 + s / N)
                g = b - f
                if abs(g) <= tol * b:
                    break
                slope = 1.0 - c * (s2 / N) / (1.0 + s / N) ** 2
                candidate = b - g / slope if slope > 0 else f
                here = None  # b moves on: R no longer matches
                if from_upper:
                    b = candidate if 0.0 < candidate <= b else f
                elif slope > 0 and 0.0 < candidate <= c:
                    b, from_upper = candidate, True
                else:
                    b, from_upper = c, True
            else:
                raise RmtsynthError(f"The synthetic fixed point did not converge at m = {m:g}.")
        return b, self.at(t, b) if here is None else here

    def statistics(self, t: float, b: float, c: float, N: float, label_weight: float, here) -> Statistics:
        """The population traces and forms of THEORY.md 13.4, estimated from R at (t, b) (``here``)."""
        n = self.n
        kr, ks = self.real.mean_noise, self.synthetic.mean_noise
        s1, s_rr, s_rS = here.real_traces()   # tr(Sigma_hat R), tr((Sigma_hat R)^2), tr(Sigma_hat R Sigma_s R)
        s_S, s_SS = here.synthetic_traces()   # tr(Sigma_s R), tr((Sigma_s R)^2)
        u = 1.0 - t * s1 / n
        if not u > 0:
            raise RmtsynthError("The real rows' resolvent gives u <= 0; gamma is too small for these rows.")
        # Derivatives in (t, b): dR/dt = -R Sigma_hat R, dR/db = -R Sigma_s R.
        u_t = -s1 / n + t * s_rr / n
        u_b = t * s_rS / n
        a_t = u + t * u_t
        a_b = t * u_b
        # tr(Sigma_r B) = n (1/u - 1)/t and tr(Sigma_s B) = tr(Sigma_s R), as functions of (t, b).
        # With 1 - u = t s1/n these are written without the differences of nearly equal terms
        # that 1/u - 1 and its derivatives would take when u is close to 1 (large gamma).
        D_r = s1 / u
        D_r_t = (s1 * s1 / n - s_rr) / (u * u)
        D_r_b = -s_rS / (u * u)
        D_s = s_S
        D_s_t = -s_rS
        D_s_b = -s_SS
        Dr_a, Dr_b = _population_derivatives(D_r_t, D_r_b, a_t, a_b)
        Ds_a, Ds_b = _population_derivatives(D_s_t, D_s_b, a_t, a_b)
        T_rr = -Dr_a
        # tr(Sigma_r B Sigma_s B) has two estimates, -dD_r/db and -dD_s/da; their mean is used.
        T_rs = -0.5 * (Dr_b + Ds_a)
        T_ss = -Ds_b
        VRV, VRSrRV, VRSsRV = here.forms(np.stack([self.real.mu, self.synthetic.mu], axis=1))
        G = VRV - np.diag([kr * D_r, ks * D_s])
        G_t = -VRSrRV - np.diag([kr * D_r_t, ks * D_s_t])
        G_b = -VRSsRV - np.diag([kr * D_r_b, ks * D_s_b])
        G_a, G_bb = _population_derivatives(G_t, G_b, a_t, a_b)
        return Statistics(
            pi=t, c=c, u=u, u_s=1.0 / (1.0 + D_s / N), label_weight=label_weight,
            t_rr=T_rr / N, t_rs=T_rs / N, t_ss=T_ss / N,
            G=(G + G.T) / 2.0, H_real=-(G_a + G_a.T) / 2.0, H_synth=-(G_bb + G_bb.T) / 2.0,
        )


class _LowRankAt:
    """R at one (t, b) in Sigma_s's eigenbasis: R = D - W U' with D = (b Lambda + gamma)^{-1},
    U = D F and W = U K^{-1}, K = I/t + F'DF (r x r), Sigma_hat = F F'."""

    def __init__(self, resolvent: "_LowRankResolvent", t: float, b: float) -> None:
        lam, F = resolvent.values, resolvent.factor_rows
        shifted = b * lam + resolvent.gamma
        if not np.all(shifted > 0):
            raise RmtsynthError("The sample resolvent is not positive definite; gamma must be > 0.")
        self.t, self.d = t, 1.0 / shifted
        self.U = self.d[:, None] * F
        K = F.T @ self.U
        K[np.diag_indices(K.shape[0])] += 1.0 / t
        chol, info = lapack.dpotrf(K, lower=1)
        if info != 0:
            raise RmtsynthError("The sample resolvent is not positive definite; gamma must be > 0.")
        W, _ = lapack.dpotrs(chol, self.U.T, lower=1)
        self.W = W.T
        self.lam, self.F, self.vectors = lam, F, resolvent.vectors
        self.diag_WU = np.einsum("ik,ik->i", self.W, self.U)  # diagonal of W U'

    def synthetic_traces(self) -> tuple[float, float]:
        lam, d = self.lam, self.d
        A = self.W.T @ (lam[:, None] * self.U)
        s = float(np.sum(lam * d) - np.sum(lam * self.diag_WU))
        s2 = float(np.sum((lam * d) ** 2) - 2.0 * np.sum(lam * lam * d * self.diag_WU) + np.sum(A * A.T))
        return s, s2

    def real_traces(self) -> tuple[float, float, float]:
        # R F = W / t, so F'RF = F'W / t and F'R Lambda R F = W' Lambda W / t^2.
        M = (self.F.T @ self.W) / self.t
        s_rS = float(np.sum(self.lam[:, None] * self.W * self.W)) / (self.t * self.t)
        return float(np.trace(M)), float(np.sum(M * M.T)), s_rS

    def forms(self, V: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        V = self.vectors.T @ V
        RV = self.d[:, None] * V - self.W @ (self.U.T @ V)
        FRV = (self.W.T @ V) / self.t
        return V.T @ RV, FRV.T @ FRV, RV.T @ (self.lam[:, None] * RV)


@dataclass
class _LowRankResolvent(_SampleResolvent):
    """:class:`_SampleResolvent` with Sigma_hat = F F' of rank r <= rows, in Sigma_s's eigenbasis."""

    def __post_init__(self) -> None:
        self.values, self.vectors = np.linalg.eigh(self.synthetic.covariance)
        rows = self.real.residuals
        self.factor_rows = (self.vectors.T @ rows.T) / np.sqrt(rows.shape[0])

    def at(self, t: float, b: float) -> _LowRankAt:
        return _LowRankAt(self, t, b)


# --------------------------------------------------------------------------------------------
# Covariance: analytical nonlinear shrinkage (Ledoit and Wolf 2020)
# --------------------------------------------------------------------------------------------


def nonlinear_shrinkage(sample_covariance: np.ndarray, samples: int) -> np.ndarray:
    """Ledoit and Wolf's (2020) analytical nonlinear shrinkage of a sample covariance.

    Parameters
    ----------
    sample_covariance
        (p, p) sample covariance normalised by the effective sample size (rows minus the number
        of means removed: n - 2 for a pooled within-class covariance).
    samples
        That effective sample size n (at least 12).

    Returns
    -------
    (p, p) array: the sample eigenvectors with the shrunk eigenvalues d_i, which estimate the
    oracle u_i^T Sigma u_i.

    Assumptions
    -----------
    Rows i.i.d. with covariance Sigma, p/n bounded away from 1 in the limit, the population
    spectrum converging to a law with compact support away from 0. The kernel estimator uses
    the Epanechnikov kernel with bandwidth n^{-1/3} times each eigenvalue (the paper's choice).
    For p > n the p - n null eigenvalues get one common value from the Hilbert transform at 0.
    """
    S = np.asarray(sample_covariance, dtype=float)
    p = S.shape[0]
    n = int(samples)
    if n < 12:
        raise RmtsynthError(f"Nonlinear shrinkage needs at least 12 effective samples, not {n}.")
    values, vectors = np.linalg.eigh((S + S.T) / 2.0)
    lam = values[max(0, p - n):]
    # Sample eigenvalues that are zero beyond the p - n forced by p > n (collinear or constant
    # features) would make the kernel's bandwidth zero; they are shrunk like the smallest
    # positive one instead.
    floor = 1e-10 * max(float(values[-1]), np.finfo(float).tiny)
    degenerate = lam <= floor
    lam = np.where(degenerate, np.min(lam[~degenerate]) if np.any(~degenerate) else 1.0, lam)
    q = min(p, n)
    h = n ** (-1.0 / 3.0)
    H = h * lam[None, :]                      # H[i, j] = h lam_j
    x = (lam[:, None] - lam[None, :]) / H     # x[i, j] = (lam_i - lam_j) / (h lam_j)
    sqrt5 = np.sqrt(5.0)
    f_tilde = (3.0 / 4.0 / sqrt5) * np.mean(np.maximum(1.0 - x**2 / 5.0, 0.0) / H, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        hilbert = (-3.0 / 10.0 / np.pi) * x + (3.0 / 4.0 / sqrt5 / np.pi) * (1.0 - x**2 / 5.0) * np.log(
            np.abs((sqrt5 - x) / (sqrt5 + x))
        )
    edge = np.isclose(np.abs(x), sqrt5, rtol=0.0, atol=1e-12)
    hilbert[edge] = (-3.0 / 10.0 / np.pi) * x[edge]
    Hf_tilde = np.mean(hilbert / H, axis=1)
    ratio = p / n
    if p <= n:
        d = lam / ((np.pi * ratio * lam * f_tilde) ** 2 + (1.0 - ratio - np.pi * ratio * lam * Hf_tilde) ** 2)
    else:
        Hf0 = (1.0 / np.pi) * (
            3.0 / 10.0 / h**2
            + 3.0 / 4.0 / sqrt5 / h * (1.0 - 1.0 / 5.0 / h**2) * np.log((1.0 + sqrt5 * h) / (1.0 - sqrt5 * h))
        ) * np.mean(1.0 / lam)
        d0 = 1.0 / (np.pi * (p - n) / n * Hf0)
        d1 = lam / (np.pi**2 * lam**2 * (f_tilde**2 + Hf_tilde**2))
        d = np.concatenate([np.full(p - n, d0), d1])
    assert d.size == p and q == lam.size
    return (vectors * d) @ vectors.T


def shrunk_within_class_covariance(stats: GaussianFit) -> np.ndarray:
    """Nonlinear shrinkage of the pooled within-class covariance (two means removed).

    Features with no within-class variance at all (constant within each class of these rows)
    stay at zero variance: the kernel estimator needs positive eigenvalues, and such a feature
    carries no estimable spread.
    """
    dof = stats.rows - 2
    cov = stats.covariance
    diag = np.diag(cov)
    live = diag > 1e-12 * max(float(diag.max(initial=0.0)), np.finfo(float).tiny)
    out = np.zeros_like(cov)
    if np.any(live):
        sub = cov[np.ix_(live, live)] * stats.rows / dof
        out[np.ix_(live, live)] = nonlinear_shrinkage(sub, dof)
    return out


# --------------------------------------------------------------------------------------------
# The score-shape correction (13.3)
# --------------------------------------------------------------------------------------------


def score_shape_residuals(
    X_raw: np.ndarray, y: np.ndarray, gamma: float, rng: np.random.Generator, *, folds: int = 5
) -> np.ndarray:
    """Cross-fitted, class-wise standardised scores r = (s - mean_class)/sd_class, s = y w^T x.

    Each fold's ridge is fitted on the other folds with the full protocol (its own
    standardisation and centring) and scores the held-back fold. Each fold's w is scaled to
    unit norm (the sign rule does not see the scale); the scores of all folds are then pooled
    per class and standardised with that class's mean and standard deviation.

    Assumptions
    -----------
    The shape of the score law on held-out rows (not its location or scale, which the theory
    gives) is that of a ridge fitted on (folds-1)/folds of the rows; rows i.i.d.
    """
    X_raw = np.asarray(X_raw, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    fold_of = group_folds(copy_groups(X_raw, y), y, folds, rng)
    signed = np.empty(y.size)
    for f in range(folds):
        test = fold_of == f
        if not np.any(test):
            continue
        pipe = fit_pipeline(X_raw[~test], y[~test], gamma)
        norm = np.linalg.norm(pipe.weights)
        signed[test] = y[test] * pipe.scores(X_raw[test]) / (norm if norm > 0 else 1.0)
    residuals = np.empty(y.size)
    for cls in (-1.0, 1.0):
        sel = y == cls
        values = signed[sel]
        sd = values.std()
        residuals[sel] = (values - values.mean()) / (sd if sd > 0 else 1.0)
    return residuals


def shape_corrected_accuracy(residuals: np.ndarray, ratio) -> np.ndarray:
    """P_hat(r > -ratio) under the empirical law of the standardised residuals (13.3)."""
    r = np.sort(np.asarray(residuals, dtype=float))
    ratio = np.asarray(ratio, dtype=float)
    # Number of residuals <= -ratio, by binary search.
    below = np.searchsorted(r, -ratio, side="right")
    return 1.0 - below / r.size


# --------------------------------------------------------------------------------------------
# A user's synthetic rows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticEstimate:
    """What the theory needs from a user's synthetic pool (in the coordinates it was given).

    Attributes
    ----------
    mu, centre, covariance
        Half-difference and midpoint of the class means (true classes when known), pooled
        within-class covariance (ML normalisation).
    mean_noise
        k_s = (1/n+ + 1/n-)/4 of the pool.
    label_noise
        The fraction of wrong labels (estimated from flags, given, or 0).
    rho, phi
        The verifier's keep rates for wrong and correct labels, when kept flags are known
        (else NaN).
    rows
        Pool size.
    """

    mu: np.ndarray
    centre: np.ndarray
    covariance: np.ndarray
    mean_noise: float
    label_noise: float
    rho: float
    phi: float
    rows: int

    def source(self) -> SyntheticSource:
        return SyntheticSource(mu=self.mu, covariance=self.covariance, mean_noise=self.mean_noise)


def _positive_semidefinite(cov: np.ndarray) -> np.ndarray:
    """The nearest positive semi-definite matrix (negative eigenvalues set to 0), ``cov`` itself when it is one.

    Subtracting the flipped labels' share of the mean overshoots wherever the estimated mean is
    longer than the true one (its noise, or wrong labels that depend on the features), leaving a
    direction of negative variance that no law has.
    """
    cov = (cov + cov.T) / 2.0
    values, vectors = np.linalg.eigh(cov)
    if values.size == 0 or values[0] >= 0.0:
        return cov
    return (vectors * np.maximum(values, 0.0)) @ vectors.T


def estimate_synthetic(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    label_correct: np.ndarray | None = None,
    kept: np.ndarray | None = None,
    score: np.ndarray | None = None,
    threshold: float | None = None,
    label_noise: float | None = None,
) -> SyntheticEstimate:
    """Class means, covariance, label noise and verifier rates of a synthetic pool.

    Parameters
    ----------
    features, labels
        The pool's rows (already in the classifier's coordinates, e.g. standardised with the
        real training statistics) and their observed labels (-1/+1).
    label_correct
        Per-row flags: is the observed label the true class? With them the class moments use
        the true classes and the label noise is their complement's mean.
    kept
        Per-row flags of the verifier's decision. With ``label_correct`` too, rho and phi are
        the kept fractions among wrong and correct rows.
    score, threshold
        Instead of ``kept``: a row is kept when score >= threshold.
    label_noise
        The label-flip rate when no flags are given. The observed-label moments are then
        corrected: mu = mu_obs/(1 - 2 eps), Sigma = Sigma_obs - 4 eps (1 - eps) mu mu^T.
        Without flags or this, the labels are taken as correct (eps = 0).

    Assumptions
    -----------
    Labels flip independently of the features (so the corrections above are unbiased) and the
    verifier's decision depends on the features only through the label's correctness; a
    verifier that looks at the features selects a non-Gaussian subset that the theory does not
    describe (THEORY.md 13.5).
    """
    X = np.asarray(features, dtype=float)
    y_obs = np.asarray(labels, dtype=float).reshape(-1)
    if X.ndim != 2 or X.shape[0] != y_obs.size:
        raise RmtsynthError(f"The synthetic features ({X.shape}) and labels ({y_obs.size}) do not match.")
    if kept is None and score is not None:
        if threshold is None:
            raise RmtsynthError("A synthetic score needs a threshold to decide which rows are kept.")
        kept = np.asarray(score, dtype=float).reshape(-1) >= float(threshold)
    rho = phi = float("nan")
    if label_correct is not None:
        correct = np.asarray(label_correct, dtype=bool).reshape(-1)
        y_true = np.where(correct, y_obs, -y_obs)
        stats = fit_gaussian(X, y_true)
        eps = float(np.mean(~correct))
        mu, cov = stats.mu, stats.covariance
        if kept is not None:
            kept_flags = np.asarray(kept, dtype=bool).reshape(-1)
            phi = float(np.mean(kept_flags[correct])) if np.any(correct) else float("nan")
            rho = float(np.mean(kept_flags[~correct])) if np.any(~correct) else 0.0
    else:
        stats = fit_gaussian(X, y_obs)
        eps = 0.0 if label_noise is None else float(label_noise)
        if not 0.0 <= eps < 0.5:
            raise RmtsynthError(f"The synthetic label noise {eps} must be in [0, 1/2) to correct the class means.")
        mu = stats.mu / (1.0 - 2.0 * eps)
        cov = _positive_semidefinite(stats.covariance - 4.0 * eps * (1.0 - eps) * np.outer(mu, mu))
        if kept is not None:
            # Without correctness flags only the keep rate is known; rho and phi stay unknown.
            rho = phi = float("nan")
    return SyntheticEstimate(
        mu=mu,
        centre=stats.centre,
        covariance=(cov + cov.T) / 2.0,
        mean_noise=stats.mean_noise / (1.0 - 2.0 * eps) ** 2 if label_correct is None else stats.mean_noise,
        label_noise=eps,
        rho=rho,
        phi=phi,
        rows=int(y_obs.size),
    )
