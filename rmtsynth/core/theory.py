"""Deterministic equivalents of the ridge classifier's test accuracy (THEORY.md sections 2-7, 11).

Everything here is a pure function on arrays. The data enter through a :class:`Spectrum`: the
eigenvalues of the synthetic covariance C (and of the real noise covariance Sigma, identity by
default) in a common eigenbasis, grouped so that equal eigenvalues are summed once, together with
the coordinates of mu and mu_beta in that basis. After that one-off eigendecomposition every
parameter point costs O(number of groups): O(1) for C = I, O(p) in general.

The parameters (n, m, label_noise, rho, phi, gamma) broadcast against each other, so a whole sweep
grid is evaluated in one call.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

import numpy as np
from scipy.special import ndtr

from rmtsynth.errors import ParameterError
from rmtsynth.core.domain import check_point
from rmtsynth.core.fixed_point import default_tolerance, monotone_newton
from rmtsynth.core.verifiers.rates import keep_rate, label_signal

Convention = Literal["exact", "reference"]

# Grid points are processed in chunks so that the (points x groups) work arrays stay small.
_CHUNK_ELEMENTS = 1 << 21


@dataclass(frozen=True)
class Spectrum:
    """Eigen-data of the model, grouped by eigenvalue.

    For each group g of eigen-directions: ``mult[g]`` directions share the eigenvalue ``ell[g]``
    of C and ``sigma[g]`` of the real noise covariance; ``aa[g]``, ``bb[g]`` and ``ab[g]`` are the
    sums over the group of a_i^2, b_i^2 and a_i b_i, where a = U^T mu and b = U^T mu_beta.
    """

    ell: np.ndarray
    sigma: np.ndarray
    mult: np.ndarray
    aa: np.ndarray
    bb: np.ndarray
    ab: np.ndarray

    @property
    def p(self) -> int:
        return int(round(float(self.mult.sum())))

    @staticmethod
    def isotropic(p: int, mu_norm: float, alignment: float = 1.0, shift: float = 0.0, scale: float = 1.0) -> "Spectrum":
        """C = scale * I and Sigma = I, with mu_beta = alignment * mu + shift * (unit vector orthogonal to mu)."""
        mu2 = float(mu_norm) ** 2
        one = np.ones(1)
        return Spectrum(
            ell=float(scale) * one,
            sigma=one,
            mult=float(p) * one,
            aa=mu2 * one,
            bb=(alignment**2 * mu2 + shift**2) * one,
            ab=alignment * mu2 * one,
        )

    @staticmethod
    def from_eigen(
        ell: np.ndarray, mu_coords: np.ndarray, mu_beta_coords: np.ndarray, sigma: np.ndarray | None = None
    ) -> "Spectrum":
        """One group per eigen-direction: C = U diag(ell) U^T, a = U^T mu, b = U^T mu_beta."""
        ell = np.clip(np.asarray(ell, dtype=float), 0.0, None)
        a = np.asarray(mu_coords, dtype=float)
        b = np.asarray(mu_beta_coords, dtype=float)
        sig = np.ones_like(ell) if sigma is None else np.clip(np.asarray(sigma, dtype=float), 0.0, None)
        return Spectrum(ell=ell, sigma=sig, mult=np.ones_like(ell), aa=a * a, bb=b * b, ab=a * b)

    @staticmethod
    def from_covariance(cov: np.ndarray, mu: np.ndarray, mu_beta: np.ndarray) -> "Spectrum":
        """Eigendecompose a symmetric C once (O(p^3)); Sigma = I."""
        ell, vecs = np.linalg.eigh(np.asarray(cov, dtype=float))
        return Spectrum.from_eigen(ell, vecs.T @ mu, vecs.T @ mu_beta)


@dataclass
class TheoryResult:
    """Deterministic equivalents at every grid point (all arrays share the grid's shape).

    ``accuracy`` is signed: it is below 1/2 when the classifier points the wrong way.
    ``delta_gen`` is the generator's Marchenko-Pastur self-energy (estimated covariance only).
    """

    accuracy: np.ndarray
    mean: np.ndarray
    second_moment: np.ndarray
    variance: np.ndarray
    risk: np.ndarray
    delta_real: np.ndarray
    delta_synth: np.ndarray
    delta_gen: np.ndarray
    alpha: np.ndarray
    lam: np.ndarray
    newton_rounds: np.ndarray
    residual: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class PointGrid:
    """A flattened, checked grid of points and the quantities every theory needs there (section 2).

    ``N = n + m``, ``pi = n / N``, ``alpha`` the keep rate, ``lam`` the label signal,
    ``c = alpha (1 - pi)`` and ``kappa`` the keep rate's weight in the synthetic self-energy
    (1, or alpha under the reference convention); ``shape`` is the broadcast shape.
    """

    shape: tuple[int, ...]
    n: np.ndarray
    m: np.ndarray
    eps: np.ndarray
    rho: np.ndarray
    phi: np.ndarray
    gamma: np.ndarray
    N: np.ndarray
    pi: np.ndarray
    alpha: np.ndarray
    lam: np.ndarray
    c: np.ndarray
    kappa: np.ndarray

    @property
    def size(self) -> int:
        return int(self.n.size)

    def describe(self, k: int, p: int) -> str:
        """Point k in words, for the solver's error messages."""
        return describe_point(k, p, self.n, self.m, self.eps, self.rho, self.phi, self.gamma)


def describe_point(k: int, p: int, n, m, label_noise, rho, phi, gamma) -> str:
    """Point k of flat parameter arrays in words, for the solvers' error messages."""
    return (
        f"n={n[k]:g}, m={m[k]:g}, p={p}, label_noise={label_noise[k]:g}, "
        f"rho={rho[k]:g}, phi={phi[k]:g}, gamma={gamma[k]:g}"
    )


def point_grid(n, m, label_noise, rho, phi, gamma, convention: Convention = "exact") -> PointGrid:
    """Broadcast and check the grid, then the sample fractions, keep rate and label signal."""
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (n, m, label_noise, rho, phi, gamma)))
    n, m, eps, rho, phi, gamma = (a.ravel() for a in arrays)
    check_point(n, m, eps, rho, phi, gamma)
    N = n + m
    pi = n / N
    alpha = keep_rate(eps, rho, phi)
    lam = label_signal(eps, rho, phi)
    c = alpha * (1.0 - pi)
    # The reference convention puts the keep rate into the synthetic self-energy.
    kappa = alpha if convention == "reference" else np.ones_like(alpha)
    return PointGrid(arrays[0].shape, n, m, eps, rho, phi, gamma, N, pi, alpha, lam, c, kappa)


def _moments(pi, c, u, us, lam, t_ss, t_sl, t_ll, G, H_sigma, H_C):
    """Mean, E[w^T Sigma w] and the rest from the traces and 2x2 forms (sections 3, 4, 6, 11.2)."""
    a1 = pi * u**2 * t_ss
    a2 = pi * u**2 * t_sl
    b1 = c * us**2 * t_sl
    b2 = c * us**2 * t_ll
    h = (1.0 - a1) * (1.0 - b2) - a2 * b1
    X = (1.0 - b2) / h
    # X - 1 written without the subtraction: both a's and b's are O(1/gamma^2), so (1 - b2)/h - 1
    # would cancel to rounding noise at large gamma, where the accuracy still has a limit.
    X_minus_1 = (a1 * (1.0 - b2) + a2 * b1) / h
    Y = b1 / h
    # Written with lambda instead of (lambda / alpha) * Y so that it stays finite at alpha = 0.
    Y_lam = lam * (1.0 - pi) * us**2 * t_sl / h
    s1 = pi * u
    s2 = c * us
    # M = (I + S G)^{-1} with S = diag(s1, s2); no S^{-1}, so pi = 0 or c = 0 is fine.
    m11 = 1.0 + s1 * G[..., 0, 0]
    m12 = s1 * G[..., 0, 1]
    m21 = s2 * G[..., 1, 0]
    m22 = 1.0 + s2 * G[..., 1, 1]
    det = m11 * m22 - m12 * m21
    xi1 = pi * u
    xi2 = (1.0 - pi) * lam * us
    # z = M xi
    z1 = (m22 * xi1 - m12 * xi2) / det
    z2 = (-m21 * xi1 + m11 * xi2) / det
    P_mu = G[..., 0, 0] * z1 + G[..., 0, 1] * z2
    P_beta = G[..., 1, 0] * z1 + G[..., 1, 1] * z2

    def quad(H):
        return H[..., 0, 0] * z1 * z1 + 2.0 * H[..., 0, 1] * z1 * z2 + H[..., 1, 1] * z2 * z2

    q_sigma = quad(H_sigma)
    q_C = quad(H_C)
    variance = X_minus_1 * (1.0 - P_mu) ** 2 + X * q_sigma + Y * (1.0 + P_beta**2 + q_C) - 2.0 * Y_lam * P_beta
    variance = np.maximum(variance, 0.0)
    mean = P_mu
    second_moment = mean**2 + variance
    risk = second_moment + 1.0 - 2.0 * mean
    return mean, variance, second_moment, risk


def signed_accuracy(mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """Phi(mean / sd) with the sign kept; 1/2 for the null classifier (mean = variance = 0)."""
    mean = np.asarray(mean, dtype=float)
    variance = np.asarray(variance, dtype=float)
    sd = np.sqrt(np.maximum(variance, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(sd > 0, mean / np.where(sd > 0, sd, 1.0), np.sign(mean) * np.inf)
    ratio = np.where((sd == 0) & (mean == 0), 0.0, ratio)
    return ndtr(ratio)


def within_unit_interval(accuracy) -> np.ndarray:
    """An accuracy assembled from differences (a measured value moved by the theory's change) kept in [0, 1].

    Anchoring a measured accuracy and adding the theory's change can step past 0 or 1 where the
    measured value already sits at the bound; no accuracy lies outside it.
    """
    return np.clip(np.asarray(accuracy, dtype=float), 0.0, 1.0)


def evaluate(
    spectrum: Spectrum,
    n,
    m,
    label_noise,
    rho,
    phi,
    gamma,
    *,
    convention: Convention = "exact",
) -> TheoryResult:
    """Theory at every point of a broadcastable grid, for the given spectrum (sections 2-6, 11.2).

    Parameters
    ----------
    spectrum : Spectrum
        Eigen-data of C, Sigma, mu and mu_beta.
    n, m : array_like
        Real and synthetic sample counts (before pruning); N = n + m must be positive.
    label_noise, rho, phi : array_like
        Synthetic label-flip rate and the verifier's keep probabilities for wrong / correct labels.
    gamma : array_like
        Ridge parameter (> 0).
    convention : {"exact", "reference"}
        ``reference`` puts the keep rate alpha into the synthetic self-energy, as the seed paper's
        code does; only for comparison with its published curves.

    Returns
    -------
    TheoryResult
        Arrays of the grid's broadcast shape.
    """
    grid = point_grid(n, m, label_noise, rho, phi, gamma, convention)
    sp = spectrum
    upper = np.stack(
        [(sp.mult * sp.sigma).sum() / (grid.N * grid.gamma), grid.kappa * (sp.mult * sp.ell).sum() / (grid.N * grid.gamma)],
        axis=1,
    )
    sol = monotone_newton(
        _spectral_map(sp, grid),
        upper,
        default_tolerance(sp.p),
        lambda k: grid.describe(k, sp.p),
    )
    u = 1.0 / (1.0 + sol.x[:, 0])
    us = 1.0 / (1.0 + sol.x[:, 1])
    t_ss, t_sl, t_ll, G, H_sigma, H_C = _spectral_traces_and_forms(sp, grid, u, us)
    moments = _moments(grid.pi, grid.c, u, us, grid.lam, t_ss, t_sl, t_ll, G, H_sigma, H_C)
    return _result(grid.shape, moments, sol, delta_gen=np.full(grid.size, np.nan), alpha=grid.alpha, lam=grid.lam)


def _chunk_rows(spectrum: Spectrum) -> int:
    """Grid points per chunk, so that a (points x groups) work array stays below _CHUNK_ELEMENTS."""
    return max(1, _CHUNK_ELEMENTS // max(1, spectrum.ell.size))


def _spectral_map(sp: Spectrum, grid: PointGrid):
    """The fixed-point map (delta, delta_s) -> F and its Jacobian on the spectrum (section 5)."""
    w_s = sp.mult * sp.sigma
    w_l = sp.mult * sp.ell
    gamma, pi, c, kappa, N = grid.gamma, grid.pi, grid.c, grid.kappa, grid.N

    def f_and_j(x, idx):
        u = 1.0 / (1.0 + x[:, 0])
        us = 1.0 / (1.0 + x[:, 1])
        out_f = np.empty_like(x)
        out_j = np.empty((x.shape[0], 2, 2))
        step = _chunk_rows(sp)
        for lo in range(0, x.shape[0], step):
            sl = slice(lo, lo + step)
            ii = idx[sl]
            d = gamma[ii, None] + (pi[ii] * u[sl])[:, None] * sp.sigma + (c[ii] * us[sl])[:, None] * sp.ell
            inv = 1.0 / d
            inv2 = inv * inv
            out_f[sl, 0] = (inv @ w_s) / N[ii]
            out_f[sl, 1] = kappa[ii] * (inv @ w_l) / N[ii]
            t_ss = (inv2 @ (w_s * sp.sigma)) / N[ii]
            t_sl = (inv2 @ (w_s * sp.ell)) / N[ii]
            t_ll = (inv2 @ (w_l * sp.ell)) / N[ii]
            du = pi[ii] * u[sl] ** 2
            dus = c[ii] * us[sl] ** 2
            out_j[sl, 0, 0] = du * t_ss
            out_j[sl, 0, 1] = dus * t_sl
            out_j[sl, 1, 0] = kappa[ii] * du * t_sl
            out_j[sl, 1, 1] = kappa[ii] * dus * t_ll
        return out_f, out_j

    return f_and_j


def _spectral_traces_and_forms(sp: Spectrum, grid: PointGrid, u: np.ndarray, us: np.ndarray):
    """At the fixed point: the second-order traces t_ss, t_sl, t_ll and the 2x2 forms G, H_sigma, H_C."""
    w_s = sp.mult * sp.sigma
    w_l = sp.mult * sp.ell
    gamma, pi, c, N = grid.gamma, grid.pi, grid.c, grid.N
    K = grid.size
    t_ss = np.empty(K)
    t_sl = np.empty(K)
    t_ll = np.empty(K)
    G = np.empty((K, 2, 2))
    H_sigma = np.empty((K, 2, 2))
    H_C = np.empty((K, 2, 2))
    step = _chunk_rows(sp)
    for lo in range(0, K, step):
        sl = slice(lo, lo + step)
        d = gamma[sl, None] + (pi[sl] * u[sl])[:, None] * sp.sigma + (c[sl] * us[sl])[:, None] * sp.ell
        inv = 1.0 / d
        inv2 = inv * inv
        t_ss[sl] = (inv2 @ (w_s * sp.sigma)) / N[sl]
        t_sl[sl] = (inv2 @ (w_s * sp.ell)) / N[sl]
        t_ll[sl] = (inv2 @ (w_l * sp.ell)) / N[sl]
        for target, weights in ((G, inv), (H_sigma, inv2 * sp.sigma), (H_C, inv2 * sp.ell)):
            target[sl, 0, 0] = weights @ sp.aa
            target[sl, 0, 1] = weights @ sp.ab
            target[sl, 1, 0] = target[sl, 0, 1]
            target[sl, 1, 1] = weights @ sp.bb
    return t_ss, t_sl, t_ll, G, H_sigma, H_C


def _result(shape: tuple[int, ...], moments, sol, *, delta_gen, alpha, lam) -> TheoryResult:
    """Collect the moments and the fixed point into a TheoryResult of the grid's shape."""
    mean, variance, m2, risk = moments
    fields_ = {
        "accuracy": signed_accuracy(mean, variance),
        "mean": mean,
        "second_moment": m2,
        "variance": variance,
        "risk": risk,
        "delta_real": sol.x[:, 0],
        "delta_synth": sol.x[:, 1],
        "delta_gen": delta_gen,
        "alpha": alpha,
        "lam": lam,
        "newton_rounds": sol.newton_rounds,
        "residual": sol.residual,
    }
    return TheoryResult(**{k: np.asarray(v).reshape(shape) for k, v in fields_.items()})


def _mp_b(s, k, c_hat):
    """Solve b = s + k / (1 + k c_hat / b) (the Marchenko-Pastur equation) without cancellation."""
    B = s + k - k * c_hat
    disc = np.sqrt(B * B + 4.0 * s * k * c_hat)
    with np.errstate(divide="ignore", invalid="ignore"):
        b_neg = 2.0 * s * k * c_hat / (disc - B)
    return np.where(B >= 0, 0.5 * (B + disc), b_neg)


def _mp_traces(s, k, c_hat):
    """b, delta_bar, h_bar and the normalised traces (1/p) tr R, tr R^2, tr C R^2, tr C^2 R^2 (section 7)."""
    b = _mp_b(s, k, c_hat)
    delta_bar = k * c_hat / b
    h_bar = 1.0 - c_hat * k * k / ((1.0 + delta_bar) ** 2 * b * b)
    one_db2 = (1.0 + delta_bar) ** 2
    tr_r = 1.0 / b
    tr_r2 = 1.0 / (b * b * h_bar)
    tr_cr2 = tr_r2 / one_db2
    tr_c2r2 = (1.0 + s * s * c_hat / (b * b * h_bar)) / (b * b * one_db2)
    return b, delta_bar, h_bar, tr_r, tr_r2, tr_cr2, tr_c2r2


def evaluate_estimated(
    p: int,
    n_hat,
    mu_norm: float,
    n,
    m,
    label_noise,
    rho,
    phi,
    gamma,
    *,
    alignment: float = 1.0,
    shift: float = 0.0,
    convention: Convention = "exact",
) -> TheoryResult:
    """Theory for C = Z Z^T / n_hat with a fresh Gaussian Z (section 7), in O(1) per point.

    The spectral functionals of C are replaced by their Marchenko-Pastur limits with ratio
    p / n_hat. The generator's mean is mu_beta = alignment * mu + shift * (a unit vector orthogonal
    to mu), independent of Z; a mean estimated from the same n_hat samples is not covered (use the
    plug-in of the sampled C instead).
    """
    grid = point_grid(n, m, label_noise, rho, phi, gamma, convention)
    n_hat = np.broadcast_to(np.asarray(n_hat, dtype=float), grid.shape).ravel()
    if np.any(~(n_hat > 0)):
        raise ParameterError(f"n_hat has an invalid value ({n_hat[~(n_hat > 0)][0]:g}); it must be > 0.")
    eta = p / grid.N
    c_hat = p / n_hat
    upper = np.stack([eta / grid.gamma, grid.kappa * eta / grid.gamma], axis=1)
    sol = monotone_newton(
        _marchenko_pastur_map(grid, eta, c_hat),
        upper,
        default_tolerance(p),
        lambda k: grid.describe(k, p) + f", n_hat={n_hat[k]:g}",
    )
    u = 1.0 / (1.0 + sol.x[:, 0])
    us = 1.0 / (1.0 + sol.x[:, 1])
    b, delta_bar, h_bar, tr_r, tr_r2, tr_cr2, tr_c2r2 = _mp_traces(grid.gamma + grid.pi * u, grid.c * us, c_hat)
    # Quadratic forms in mu, mu_beta concentrate on (Gram entry) x (1/p) tr f(C), since both are
    # independent of Z.
    mu2 = float(mu_norm) ** 2
    gram = np.array([[mu2, alignment * mu2], [alignment * mu2, alignment**2 * mu2 + shift**2]])
    G = tr_r[:, None, None] * gram
    H_sigma = tr_r2[:, None, None] * gram
    H_C = tr_cr2[:, None, None] * gram
    moments = _moments(grid.pi, grid.c, u, us, grid.lam, eta * tr_r2, eta * tr_cr2, eta * tr_c2r2, G, H_sigma, H_C)
    return _result(grid.shape, moments, sol, delta_gen=delta_bar, alpha=grid.alpha, lam=grid.lam)


def _marchenko_pastur_map(grid: PointGrid, eta: np.ndarray, c_hat: np.ndarray):
    """The fixed-point map and its Jacobian with C's traces replaced by their MP limits (section 7)."""
    gamma, pi, c, kappa = grid.gamma, grid.pi, grid.c, grid.kappa

    def f_and_j(x, idx):
        u = 1.0 / (1.0 + x[:, 0])
        us = 1.0 / (1.0 + x[:, 1])
        s = gamma[idx] + pi[idx] * u
        k = c[idx] * us
        b, delta_bar, h_bar, tr_r, tr_r2, tr_cr2, tr_c2r2 = _mp_traces(s, k, c_hat[idx])
        e = eta[idx]
        f = np.stack([e * tr_r, kappa[idx] * e * tr_r / (1.0 + delta_bar)], axis=1)
        du = pi[idx] * u**2
        dus = c[idx] * us**2
        j = np.empty((x.shape[0], 2, 2))
        j[:, 0, 0] = du * e * tr_r2
        j[:, 0, 1] = dus * e * tr_cr2
        j[:, 1, 0] = kappa[idx] * du * e * tr_cr2
        j[:, 1, 1] = kappa[idx] * dus * e * tr_c2r2
        return f, j

    return f_and_j
