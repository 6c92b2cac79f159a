"""Theory of self-consuming loops: training over generations with verified synthetic data (THEORY.md 14).

Pure functions on arrays (numpy/scipy only, no randomness, no I/O):

* :func:`generator_recursion` and :func:`replace_fixed_point`: the generator's alignment and
  spurious size (beta_k, tau_k^2) over generations, noisy labels (14.3);
* :func:`gram_reduction` (GR): the accuracy of every generation with the identity generator and
  noisy labels, vectorised over settings (14.4);
* :func:`functional_gram_reduction` (FGR): the same conditioned on the real rows' Wishart, needed for
  pseudo-labels (14.5) and for the estimated generator at generation 1 (14.6);
* :func:`cde_prediction`: the conditional deterministic equivalent of one generation given the
  sampled history (14.6), for the estimated generator past generation 1;
* :func:`one_generation_loop`: the one-generation formula fed the exact (beta_{k-1}, tau_{k-1}),
  which 14.8 shows is wrong from generation 1 on; kept only for comparison;
* :func:`predict_loop`: the entry point that picks the right variant and says how far it is exact;
* :func:`min_precision_for_loop` and :func:`first_drop_generation`.

Notation follows THEORY.md: M = ||mu||^2; per block, kept rows mbar = alpha m and label signal
t = lambda m; N_k the ridge normaliser (generated rows counted whether kept or not), N'_k the rows
of the refit.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import scipy.linalg
import scipy.optimize
from scipy.special import ndtr

from rmtsynth.core.theory import Spectrum, evaluate
from rmtsynth.core.verifier import keep_rate, label_signal

Regime = Literal["replace", "accumulate"]
Labels = Literal["noisy", "pseudo"]
GeneratorCovariance = Literal["identity", "estimated"]

#: Quadrature nodes for the Marchenko-Pastur law of the real rows' Wishart (FGR).
QUADRATURE_NODES = 300


class NoTheoryError(ArithmeticError):
    """The requested variant has no deterministic theory (it needs the sampled history or simulation)."""


# --------------------------------------------------------------------------------------------------
# Generator recursion (14.3)
# --------------------------------------------------------------------------------------------------


def _as_arrays(*values) -> list[np.ndarray]:
    """Float arrays broadcast to a common shape (copies, so they can be written)."""
    return [np.array(v) for v in np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in values))]


def _block_sizes(m, label_noise, rho, phi):
    """Kept rows mbar = alpha m and label signal t = lambda m of one noisy-label block."""
    alpha = keep_rate(label_noise, rho, phi)
    lam = label_signal(label_noise, rho, phi)
    return alpha * m, lam * m


def generator_recursion(n, m, p, label_noise, rho, phi, *, generations: int, regime: Regime = "replace") -> dict:
    """(beta_k, E_k, tau_k^2) for k = 0..K with noisy labels and constant parameters (THEORY 14.3).

    The generator mean is mu_hat_k = b_k (mu + zeta) + e_k, with zeta = Zy/n the real rows'
    label-noise vector and e_k the accumulated block noise (squared norm E_k). It holds for either
    generator covariance (tr C_{k-1} is replaced by p).

    Parameters
    ----------
    n, m, p, label_noise, rho, phi : array_like
        Broadcast against each other; the outputs have their broadcast shape plus a last axis k.
    generations : int
        K.
    regime : {"replace", "accumulate"}

    Returns
    -------
    dict with ``beta`` (= b_k), ``spurious_energy`` (E_k) and ``tau2`` (= b_k^2 p / n + E_k), each of
    shape (..., K + 1). The measured tau^2 excludes the mu-component and is smaller by (p - 1)/p.
    """
    n, m, p, eps, rho, phi = _as_arrays(n, m, p, label_noise, rho, phi)
    kept, signal = _block_sizes(m, eps, rho, phi)
    K = int(generations)
    b = np.empty(n.shape + (K + 1,))
    energy = np.empty_like(b)
    b[..., 0] = 1.0
    energy[..., 0] = 0.0
    refit_rows = n.copy()
    for k in range(1, K + 1):
        if regime == "replace":
            refit_rows = n + kept
            b[..., k] = (n + signal * b[..., k - 1]) / refit_rows
            energy[..., k] = (signal**2 * energy[..., k - 1] + kept * p) / refit_rows**2
        elif regime == "accumulate":
            previous = refit_rows
            refit_rows = previous + kept
            shrink = (previous + signal) / refit_rows
            b[..., k] = shrink * b[..., k - 1]
            energy[..., k] = shrink**2 * energy[..., k - 1] + kept * p / refit_rows**2
        else:
            raise ValueError(f"regime must be 'replace' or 'accumulate', got {regime!r}")
    tau2 = b**2 * (p / n)[..., None] + energy
    return {"beta": b, "spurious_energy": energy, "tau2": tau2}


def replace_fixed_point(n, m, p, label_noise, rho, phi) -> dict:
    """Closed-form fixed point of the replace recursion with constant parameters (THEORY 14.3).

    Returns
    -------
    dict with ``beta`` = n / (n + 2(1-P) mbar), ``spurious_energy`` E* = mbar p / ((n + 2(1-P) mbar)
    (n + 2P mbar)), ``tau2`` = beta^2 p/n + E* and ``rate`` kappa = (2P - 1) mbar / (n + mbar), the
    geometric rate of convergence (b_k - b* = kappa^k (1 - b*), E_k = E* (1 - kappa^(2k))).
    """
    n, m, p, eps, rho, phi = _as_arrays(n, m, p, label_noise, rho, phi)
    kept, signal = _block_sizes(m, eps, rho, phi)
    # 2(1 - P) mbar = mbar - t and 2 P mbar = mbar + t, so alpha = 0 needs no precision.
    wrong = n + kept - signal
    right = n + kept + signal
    beta = n / wrong
    energy = kept * p / (wrong * right)
    return {"beta": beta, "spurious_energy": energy, "tau2": beta**2 * p / n + energy, "rate": signal / (n + kept)}


# --------------------------------------------------------------------------------------------------
# Gram reduction (14.4)
# --------------------------------------------------------------------------------------------------


def _mp_resolvent_traces(dof_ratio, eta, gamma):
    """(1/p) tr R and (1/p) tr R^2 for R = (B/N + gamma)^{-1}, B ~ Wishart(I_p, d), a = d/N, eta = p/N."""
    B = gamma + dof_ratio - eta
    disc = np.sqrt(B * B + 4.0 * gamma * eta)
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = np.where(B > 0, 2.0 / (B + disc), (disc - B) / (2.0 * gamma * eta))
    u = 1.0 / (1.0 + eta * r1)
    r2 = r1**2 / (1.0 - dof_ratio * eta * u**2 * r1**2)
    return r1, r2


def _gr_fit(spikes, weights, norms, normaliser, dof, p, gamma, mu2):
    """Accuracy-relevant scalars of w = (B/N + V V^T/N + gamma)^{-1} V c / N, given base coefficients.

    spikes: (..., B, S) coefficients of the spike columns over the base vectors; weights: (..., S)
    r-weights c; norms: (..., B) squared norms of the base vectors (mu first).
    Returns (w^T mu, ||w||^2).
    """
    r1, r2 = _mp_resolvent_traces(np.maximum(dof, 0.0) / normaliser, p / normaliser, gamma)
    gram = np.swapaxes(spikes * norms[..., None], -1, -2) @ spikes
    size = gram.shape[-1]
    system = np.eye(size) + (r1 / normaliser)[..., None, None] * gram
    z = np.linalg.solve(system, weights[..., None])[..., 0]
    vz_mu = np.einsum("...i,...i->...", spikes[..., 0, :], z)
    w_mu = r1 * mu2 * vz_mu / normaliser
    w_norm2 = r2 * np.einsum("...i,...ij,...j->...", z, gram, z) / normaliser**2
    return w_mu, w_norm2


def _signed_phi(w_mu, w_norm2):
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(w_norm2 > 0, w_mu / np.sqrt(np.where(w_norm2 > 0, w_norm2, 1.0)), 0.0)
    return ndtr(ratio)


def gram_reduction(
    n, m, p, mu_norm, label_noise, rho, phi, gamma, *, generations: int, regime: Regime = "replace",
    independent_blocks: bool = False,
) -> dict:
    """GR: accuracy of w_k for k = 0..K, identity generator, noisy labels (THEORY 14.4).

    Exact in the proportional limit. Every spike and generator mean is a coefficient column over the
    base vectors (mu, g, h_11, h_12, ..., h_K1, h_K2), which are orthogonal in the limit and
    independent of the bulk; the bulk enters through two Marchenko-Pastur traces.

    Parameters
    ----------
    n, m, p, mu_norm, label_noise, rho, phi, gamma : array_like
        Broadcast against each other (vectorised over settings); outputs get a last axis k.
    generations : int
    regime : {"replace", "accumulate"}
    independent_blocks : bool
        Replace each generator mean b(mu + zeta) + e by beta mu + tau u with u a fresh unit vector,
        independent of the real rows and of the other blocks: the assumption of the one-generation
        theory, which 14.8 shows to be wrong. Only for comparison.

    Returns
    -------
    dict with ``accuracy``, ``beta``, ``tau2``, ``w_mu`` and ``w_norm2``, each (..., K + 1).
    """
    n, m, p, mu_norm, eps, rho, phi, gamma = _as_arrays(n, m, p, mu_norm, label_noise, rho, phi, gamma)
    if regime not in ("replace", "accumulate"):
        raise ValueError(f"regime must be 'replace' or 'accumulate', got {regime!r}")
    shape = n.shape
    K = int(generations)
    mu2 = mu_norm**2
    kept, signal = _block_sizes(m, eps, rho, phi)
    safe_kept = np.where(kept > 0, kept, 1.0)
    weight_1 = np.where(kept > 0, signal / np.sqrt(safe_kept), 0.0)
    weight_2 = np.sqrt(np.clip(kept - signal**2 / safe_kept, 0.0, None))

    # Base vectors: mu, g, then (h_j1, h_j2) per block, then (independent variant) u_j per block.
    n_base = 2 + 2 * K + (K if independent_blocks else 0)
    norms = np.empty(shape + (n_base,))
    norms[..., 0] = mu2
    norms[..., 1 : 2 + 2 * K] = p[..., None]
    if independent_blocks:
        norms[..., 2 + 2 * K :] = 1.0

    real_spike = np.zeros(shape + (n_base,))
    real_spike[..., 0] = np.sqrt(n)
    real_spike[..., 1] = 1.0
    generator_mean = real_spike / np.sqrt(n)[..., None]  # mu_hat_0 = mu + g / sqrt(n)

    accuracy = np.empty(shape + (K + 1,))
    beta = np.empty_like(accuracy)
    tau2 = np.empty_like(accuracy)
    w_mu_all = np.empty_like(accuracy)
    w_norm2_all = np.empty_like(accuracy)

    def record(k, mean_coef, w_mu, w_norm2):
        accuracy[..., k] = _signed_phi(w_mu, w_norm2)
        w_mu_all[..., k] = w_mu
        w_norm2_all[..., k] = w_norm2
        beta[..., k] = mean_coef[..., 0]
        tau2[..., k] = np.einsum("...b,...b->...", norms[..., 1:], mean_coef[..., 1:] ** 2)

    w_mu, w_norm2 = _gr_fit(real_spike[..., None], np.sqrt(n)[..., None], norms, n, n - 1.0, p, gamma, mu2)
    record(0, generator_mean, w_mu, w_norm2)

    block_spikes: list[np.ndarray] = []
    block_weights: list[np.ndarray] = []
    for k in range(1, K + 1):
        if independent_blocks:
            source = np.zeros(shape + (n_base,))
            source[..., 0] = beta[..., k - 1]
            source[..., 2 + 2 * K + (k - 1)] = np.sqrt(tau2[..., k - 1])
        else:
            source = generator_mean
        first = np.sqrt(kept)[..., None] * source
        first[..., 2 + 2 * (k - 1)] += 1.0
        second = np.zeros(shape + (n_base,))
        second[..., 3 + 2 * (k - 1)] = 1.0
        block = np.stack([first, second], axis=-1)
        weights = np.stack([weight_1, weight_2], axis=-1)
        if regime == "replace":
            block_spikes, block_weights = [block], [weights]
            normaliser, refit_rows, dof = n + m, n + kept, n - 1.0 + (kept - 2.0)
        else:
            block_spikes.append(block)
            block_weights.append(weights)
            normaliser, refit_rows, dof = n + k * m, n + k * kept, n - 1.0 + k * (kept - 2.0)
        spikes = np.concatenate([real_spike[..., None]] + block_spikes, axis=-1)
        weights_all = np.concatenate([np.sqrt(n)[..., None]] + block_weights, axis=-1)
        w_mu, w_norm2 = _gr_fit(spikes, weights_all, norms, normaliser, dof, p, gamma, mu2)
        refit = np.einsum("...bi,...i->...b", spikes, weights_all) / refit_rows[..., None]
        if not independent_blocks:
            generator_mean = refit
            record(k, generator_mean, w_mu, w_norm2)
        else:
            # The generator itself follows the true recursion; only the classifier's view of it is wrong.
            truth = generator_recursion(n, m, p, eps, rho, phi, generations=k, regime=regime)
            accuracy[..., k] = _signed_phi(w_mu, w_norm2)
            w_mu_all[..., k] = w_mu
            w_norm2_all[..., k] = w_norm2
            beta[..., k] = truth["beta"][..., k]
            tau2[..., k] = truth["tau2"][..., k]
    return {"accuracy": accuracy, "beta": beta, "tau2": tau2, "w_mu": w_mu_all, "w_norm2": w_norm2_all}


def replace_step_accuracy(n, m, p, mu_norm, label_noise, rho, phi, gamma, beta, spurious_energy) -> np.ndarray:
    """GR accuracy of one replace generation whose generator mean is b (mu + zeta) + e, ||e||^2 = E.

    With (b, E) = (b*, E*) of :func:`replace_fixed_point` it is the accuracy the replace loop
    converges to (THEORY 14.4, "replace in closed form"). Vectorised over all arguments.
    """
    n, m, p, mu_norm, eps, rho, phi, gamma, b, energy = _as_arrays(
        n, m, p, mu_norm, label_noise, rho, phi, gamma, beta, spurious_energy)
    shape = n.shape
    kept, signal = _block_sizes(m, eps, rho, phi)
    safe_kept = np.where(kept > 0, kept, 1.0)
    # Base vectors: mu, g, e (squared norm E), h_1, h_2.
    norms = np.stack([mu_norm**2, p, energy, p, p], axis=-1)
    spikes = np.zeros(shape + (5, 3))
    spikes[..., 0, 0] = np.sqrt(n)
    spikes[..., 1, 0] = 1.0
    root_kept = np.sqrt(kept)
    spikes[..., 0, 1] = root_kept * b
    spikes[..., 1, 1] = root_kept * b / np.sqrt(n)
    spikes[..., 2, 1] = root_kept
    spikes[..., 3, 1] = 1.0
    spikes[..., 4, 2] = 1.0
    weights = np.stack([np.sqrt(n), np.where(kept > 0, signal / np.sqrt(safe_kept), 0.0),
                        np.sqrt(np.clip(kept - signal**2 / safe_kept, 0.0, None))], axis=-1)
    w_mu, w_norm2 = _gr_fit(spikes, weights, norms, n + m, n - 1.0 + kept - 2.0, p, gamma, mu_norm**2)
    return _signed_phi(w_mu, w_norm2)


def real_only_accuracy(n, p, mu_norm, gamma) -> np.ndarray:
    """Accuracy of ridge on the n real rows alone (generation 0), by GR."""
    n, p, mu_norm, gamma = _as_arrays(n, p, mu_norm, gamma)
    spikes = np.zeros(n.shape + (2, 1))
    spikes[..., 0, 0] = np.sqrt(n)
    spikes[..., 1, 0] = 1.0
    norms = np.stack([mu_norm**2, p], axis=-1)
    w_mu, w_norm2 = _gr_fit(spikes, np.sqrt(n)[..., None], norms, n, n - 1.0, p, gamma, mu_norm**2)
    return _signed_phi(w_mu, w_norm2)


# --------------------------------------------------------------------------------------------------
# Functional Gram reduction (14.5, 14.6 generation 1)
# --------------------------------------------------------------------------------------------------


def marchenko_pastur_quadrature(ratio: float, nodes: int = QUADRATURE_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Gauss quadrature (nodes, weights) for the Marchenko-Pastur law of W/d, W ~ Wishart(I_p, d), p/d = ratio.

    The law is the free Poisson law with rate 1/ratio and jump ratio; its orthogonal polynomials
    have constant Jacobi coefficients (diagonal 1, 1 + c, 1 + c, ...; off-diagonal sqrt(c)), so
    the Gauss rule is the eigen-decomposition of a tridiagonal matrix. It integrates polynomials of
    degree < 2 * nodes exactly and includes the atom at 0 when ratio > 1.
    """
    c = float(ratio)
    diagonal = np.full(nodes, 1.0 + c)
    diagonal[0] = 1.0
    off = np.full(nodes - 1, np.sqrt(c))
    evals, evecs = scipy.linalg.eigh_tridiagonal(diagonal, off)
    return np.clip(evals, 0.0, None), evecs[0] ** 2


class _FunctionalSpace:
    """Vectors sum_b phi_b(Lambda) x_b as coefficient arrays (B, Q) at the quadrature nodes."""

    def __init__(self, nodes: np.ndarray, weights: np.ndarray, capacity: int):
        self.nodes = nodes
        self.weights = weights
        self.norms = np.zeros(capacity)
        self.size = 0

    def new_base(self, squared_norm: float) -> int:
        index = self.size
        self.norms[index] = squared_norm
        self.size += 1
        return index

    def zeros(self, count: int | None = None) -> np.ndarray:
        shape = (self.norms.size, self.nodes.size) if count is None else (count, self.norms.size, self.nodes.size)
        return np.zeros(shape)

    def inner(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """<x, y> for x (..., B, Q), y (..., B, Q); leading axes form an outer product."""
        used = self.size
        metric = (self.norms[:used, None] * self.weights[None, :]).ravel()
        xs = x[..., :used, :].reshape(-1, used * self.nodes.size)
        ys = y[..., :used, :].reshape(-1, used * self.nodes.size)
        out = (xs * metric) @ ys.T
        return out.reshape(x.shape[:-2] + y.shape[:-2])

    def integral(self, values: np.ndarray) -> float:
        return float(values @ self.weights)


def _pseudo_block_factor(margin: float, rho: float, phi: float, m: float) -> tuple[np.ndarray, float, float]:
    """A with A^T A = m * (moment matrix of (y*, zeta, y~) over kept rows), and (alpha, lambda) (14.5)."""
    up = ndtr(margin)
    down = ndtr(-margin)
    density = np.exp(-0.5 * margin * margin) / np.sqrt(2.0 * np.pi)
    alpha = phi * up + rho * down
    lam = phi * up - rho * down
    cross_true = (phi - rho) * density
    cross_obs = (phi + rho) * density
    second = phi * (up - margin * density) + rho * (down + margin * density)
    moments = m * np.array([[alpha, cross_true, lam], [cross_true, second, cross_obs], [lam, cross_obs, alpha]])
    # The moment matrix is singular for the oracle (observed label = true label on kept rows), so a
    # symmetric root rather than a Cholesky factor.
    evals, evecs = np.linalg.eigh(moments)
    factor = np.sqrt(np.clip(evals, 0.0, None))[:, None] * evecs.T
    return factor, alpha, lam


def functional_gram_reduction(
    *,
    n: float,
    m: float,
    p: float,
    mu_norm: float,
    label_noise: float,
    rho: float,
    phi: float,
    gamma: float,
    generations: int,
    regime: Regime = "replace",
    labels: Labels = "noisy",
    generator_covariance: GeneratorCovariance = "identity",
    nodes: int = QUADRATURE_NODES,
) -> dict:
    """FGR: GR conditioned on the real rows' Wishart W_r (THEORY 14.5, 14.6), one setting.

    Every vector is sum_b phi_b(Lambda) x_b with x_b a base vector independent of W_r and phi_b a
    function on W_r's spectrum, represented at the nodes of a Gauss rule for its Marchenko-Pastur
    law. Exact in the proportional limit for noisy labels (where it equals GR), for pseudo-labels
    under replace, and for the estimated generator at generation 1; pseudo-labels under accumulate
    treat each classifier fluctuation as fresh (one uncontrolled approximation).

    With ``generator_covariance="estimated"`` only generations 0 and 1 are computed (``generations``
    must be <= 1; noisy labels only).

    Returns
    -------
    dict with arrays over k = 0..K: ``accuracy``, ``beta``, ``tau2``, ``flip_rate`` (predicted
    fraction of pseudo-labels that differ from the generator's label, Phi(-a_k); nan at k = 0 and
    for noisy labels), ``margin`` (a_k).
    """
    K = int(generations)
    estimated = generator_covariance == "estimated"
    if estimated and (K > 1 or labels != "noisy"):
        raise NoTheoryError(
            "the estimated generator has a parameter-only theory at generation 1 with noisy labels only; "
            "use cde_prediction with the sampled history, or the simulation"
        )
    if regime not in ("replace", "accumulate"):
        raise ValueError(f"regime must be 'replace' or 'accumulate', got {regime!r}")
    real_dof = n - 2.0 if estimated else n - 1.0
    ell, omega = marchenko_pastur_quadrature(p / real_dof, nodes)
    profile = ell if estimated else np.ones_like(ell)  # kappa: synthetic covariance as a function of Lambda
    root_profile = np.sqrt(profile)
    space = _FunctionalSpace(ell, omega, capacity=3 + 4 * (K + 1))
    mu2 = mu_norm**2
    ones = np.ones_like(ell)

    base_mu = space.new_base(mu2)
    base_g = space.new_base(p)
    mu_vec = space.zeros()
    mu_vec[base_mu] = ones
    real_spike = space.zeros()
    real_spike[base_mu] = np.sqrt(n) * ones
    real_spike[base_g] = ones
    spikes_fixed = [real_spike]
    weights_fixed = [np.sqrt(n)]
    if estimated:
        # The class-offset vector of the real rows is a spike of S with no weight in r.
        offset = space.zeros()
        offset[space.new_base(p)] = ones
        spikes_fixed.append(offset)
        weights_fixed.append(0.0)
    generator_mean = real_spike / np.sqrt(n)

    accuracy = np.full(K + 1, np.nan)
    beta = np.full(K + 1, np.nan)
    tau2 = np.full(K + 1, np.nan)
    flip_rate = np.full(K + 1, np.nan)
    margins = np.full(K + 1, np.nan)

    # Per synthetic block in the training set: spikes, weights, bulk dof, deflation direction (pseudo).
    blocks: list[dict] = []
    unit_w = None
    w_vec = None
    w_norm = None
    for k in range(K + 1):
        if k >= 1:
            if labels == "noisy":
                kept, signal = _block_sizes(m, label_noise, rho, phi)
                first = np.sqrt(kept) * generator_mean
                first[space.new_base(p)] += root_profile
                second = space.zeros()
                second[space.new_base(p)] = root_profile
                safe = kept if kept > 0 else 1.0
                block = {
                    "spikes": [first, second],
                    "weights": [signal / np.sqrt(safe) if kept > 0 else 0.0,
                                np.sqrt(max(kept - signal**2 / safe, 0.0))],
                    "dof": max(kept - 2.0, 0.0),
                    "direction": None,
                    "kept": kept,
                }
            else:
                margin = space.inner(w_vec, generator_mean) / w_norm
                margins[k] = margin
                flip_rate[k] = ndtr(-margin)
                factor, alpha, _ = _pseudo_block_factor(margin, rho, phi, m)
                columns = []
                for i in range(3):
                    column = factor[i, 0] * generator_mean + factor[i, 1] * unit_w
                    column[space.new_base(p)] += ones
                    columns.append(column)
                block = {
                    "spikes": columns,
                    "weights": list(factor[:, 2]),
                    "dof": max(alpha * m - 3.0, 0.0),
                    "direction": unit_w,
                    "kept": alpha * m,
                }
            blocks = [block] if regime == "replace" else blocks + [block]
        normaliser = n + m * len(blocks)
        refit_rows = n + sum(b["kept"] for b in blocks)
        eta = p / normaliser
        real_bulk = (real_dof / normaliser) * ell
        synthetic_dof = sum(b["dof"] for b in blocks)
        share = synthetic_dof / normaliser

        def self_energy_gap(delta):
            resolvent = 1.0 / (real_bulk + share * profile / (1.0 + delta) + gamma)
            return delta - eta * space.integral(profile * resolvent)

        if share > 0:
            upper = eta * space.integral(profile / (real_bulk + gamma))
            delta = scipy.optimize.brentq(self_energy_gap, 0.0, upper * (1.0 + 1e-12) + 1e-300, xtol=1e-15, rtol=1e-14)
        else:
            delta = 0.0
        u = 1.0 / (1.0 + delta)
        T = 1.0 / (real_bulk + share * u * profile + gamma)
        directions = [b["direction"] for b in blocks if b["direction"] is not None and b["dof"] > 0]
        direction_dofs = np.array([b["dof"] for b in blocks if b["direction"] is not None and b["dof"] > 0])
        if directions:
            W = np.stack(directions)
            TW = T * W
            core = np.diag(normaliser / (direction_dofs * u)) - space.inner(W, TW)
            core_inv = np.linalg.inv(core)
        else:
            W = None

        def resolve(x):
            """R_bar x for x of shape (S, B, Q): T x plus the deflations of the pseudo-labelled blocks."""
            out = T * x
            if W is None:
                return out
            coeffs = space.inner(W, out)  # (J, S)
            return out + np.einsum("jk,ks,kbq->sbq", core_inv, coeffs, TW)

        if share > 0:
            fluctuation_trace = eta * space.integral(profile * T * T) / (
                1.0 - share * u * u * eta * space.integral(profile * profile * T * T))
        else:
            fluctuation_trace = 0.0

        spikes = np.stack(spikes_fixed + [s for b in blocks for s in b["spikes"]])
        weights = np.array(weights_fixed + [c for b in blocks for c in b["weights"]], dtype=float)
        resolved_spikes = resolve(spikes)
        gram = space.inner(spikes, resolved_spikes) / normaliser
        z = np.linalg.solve(np.eye(len(weights)) + gram, weights)
        w_bar = np.tensordot(z, resolved_spikes, axes=(0, 0)) / normaliser
        w_mu = float(space.inner(mu_vec, w_bar))
        w_bar_norm2 = float(space.inner(w_bar, w_bar))
        extra = share * float(space.inner(w_bar, profile * w_bar))
        for b in blocks:
            if b["direction"] is not None:
                extra -= (b["dof"] / normaliser) * float(space.inner(b["direction"], w_bar)) ** 2
        extra = max(fluctuation_trace * u * u * extra, 0.0)
        w_norm2 = w_bar_norm2 + extra
        accuracy[k] = _signed_phi(w_mu, w_norm2)

        # Carry forward: the classifier (with its bulk fluctuation on a fresh base vector) and the refit.
        w_vec = w_bar.copy()
        if extra > 0:
            fresh = space.new_base(1.0)
            scale = np.sqrt(extra / space.integral(T * T * profile))
            w_vec[fresh] = scale * T * root_profile
        w_norm = np.sqrt(w_norm2)
        unit_w = w_vec / w_norm
        generator_mean = np.tensordot(weights, spikes, axes=(0, 0)) / refit_rows
        beta[k] = float(space.inner(mu_vec, generator_mean)) / mu2
        tau2[k] = float(space.inner(generator_mean, generator_mean)) - beta[k] ** 2 * mu2
    return {"accuracy": accuracy, "beta": beta, "tau2": tau2, "flip_rate": flip_rate, "margin": margins}


# --------------------------------------------------------------------------------------------------
# Conditional deterministic equivalent given the sampled history (14.6)
# --------------------------------------------------------------------------------------------------


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
    # R_bar = basis diag(1/(1 + s lam_c)) basis^T with basis = L^{-T} rot, and basis^T C basis = diag(lam_c).
    basis = scipy.linalg.solve_triangular(chol, rot, lower=True, trans="T", check_finite=False)
    gram_basis_diag = np.einsum("ij,ij->j", basis, basis)
    dof = max(kept - 2.0, 0.0)
    share = dof / N

    def gap(delta):
        return delta - np.sum(lam_c / (1.0 + share * lam_c / (1.0 + delta))) / N

    if share > 0:
        delta = scipy.optimize.brentq(gap, 0.0, np.sum(lam_c) / N + 1e-300, xtol=1e-15, rtol=1e-14)
    else:
        delta = 0.0
    u_s = 1.0 / (1.0 + delta)
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
    MU, BETA, KNOWN = 0, 1, 2

    root_kept = np.sqrt(kept)
    safe = kept if kept > 0 else 1.0
    weights = np.array([label_signal_total / np.sqrt(safe) if kept > 0 else 0.0,
                        np.sqrt(max(kept - label_signal_total**2 / safe, 0.0))])
    vrv = np.diag([kept * first[BETA, BETA] + tr_cr, tr_cr])
    vra = np.array([root_kept * first[BETA, KNOWN], 0.0])
    psi = weights / N - np.linalg.solve(N * np.eye(2) + vrv, vra + vrv @ weights / N)
    w_mu = first[MU, KNOWN] + psi[0] * root_kept * first[MU, BETA]
    w_norm2 = (second[KNOWN, KNOWN] + 2.0 * psi[0] * root_kept * second[BETA, KNOWN]
               + psi[0] ** 2 * (kept * second[BETA, BETA] + N * tau) + psi[1] ** 2 * N * tau)
    return {"accuracy": float(_signed_phi(w_mu, w_norm2)), "w_mu": float(w_mu), "w_norm2": float(w_norm2)}


# --------------------------------------------------------------------------------------------------
# The one-generation formula fed the exact generator (for comparison only; wrong from k = 1 on)
# --------------------------------------------------------------------------------------------------


def one_generation_loop(*, n, m, p, mu_norm, label_noise, rho, phi, gamma, generations: int,
                        regime: Regime = "replace") -> dict:
    """The one-generation theory at each generation, fed the exact (beta_{k-1}, tau_{k-1}) (noisy labels).

    Under replace this is rmtsynth's one-generation formula (:func:`rmtsynth.core.theory.evaluate`)
    with mu_beta = beta_{k-1} mu + tau_{k-1} u, u independent of the real rows. Under accumulate every
    block's spurious part is taken independent of the real rows and of the other blocks (GR with
    independent blocks). THEORY 14.8 shows it is off by O(1) from generation 1 on.
    """
    K = int(generations)
    recursion = generator_recursion(n, m, p, label_noise, rho, phi, generations=K, regime=regime)
    if regime == "accumulate":
        out = gram_reduction(n, m, p, mu_norm, label_noise, rho, phi, gamma, generations=K, regime=regime,
                             independent_blocks=True)
        return {"accuracy": out["accuracy"], "beta": recursion["beta"], "tau2": recursion["tau2"]}
    accuracy = np.empty(K + 1)
    accuracy[0] = evaluate(Spectrum.isotropic(int(p), mu_norm), n, 0.0, label_noise, rho, phi, gamma).accuracy
    for k in range(1, K + 1):
        spectrum = Spectrum.isotropic(int(p), mu_norm, alignment=float(recursion["beta"][k - 1]),
                                      shift=float(np.sqrt(recursion["tau2"][k - 1])))
        accuracy[k] = evaluate(spectrum, n, m, label_noise, rho, phi, gamma).accuracy
    return {"accuracy": accuracy, "beta": recursion["beta"], "tau2": recursion["tau2"]}


# --------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------

#: Status of a prediction at one generation.
EXACT = "exact"  # exact in the proportional limit
APPROXIMATE = "approximate"  # one uncontrolled approximation (pseudo-labels under accumulate)
CONDITIONAL = "conditional"  # needs the sampled history: cde_prediction
SIMULATION_ONLY = "simulation-only"  # no theory: simulate
WRONG = "wrong"  # the one-generation formula, kept for comparison


def predict_loop(
    *,
    n: float,
    m: float,
    p: float,
    mu_norm: float,
    label_noise: float,
    rho: float,
    phi: float,
    gamma: float,
    generations: int,
    regime: Regime = "replace",
    labels: Labels = "noisy",
    generator_covariance: GeneratorCovariance = "identity",
    method: str | None = None,
) -> dict:
    """Theory of the loop at generations k = 0..K for one setting (THEORY 14).

    Parameters
    ----------
    n, m, p, mu_norm, label_noise, rho, phi, gamma : float
        As in :func:`rmtsynth.sim.loop.simulate_loop` (label_noise is unused for pseudo-labels).
    generations : int
    regime : {"replace", "accumulate"}
    labels : {"noisy", "pseudo"}
    generator_covariance : {"identity", "estimated"}
    method : {None, "GR", "FGR", "one-generation"}
        None picks the best variant: GR (identity, noisy), FGR (identity, pseudo; estimated,
        noisy, generation <= 1). "one-generation" is the formula 14.8 shows to be wrong.

    Returns
    -------
    dict with arrays over k = 0..K: ``accuracy`` (nan where there is no theory), ``beta``, ``tau2``
    (the generator's alignment and spurious size; the measured tau^2 is (p-1)/p of this),
    ``flip_rate`` and ``margin`` (pseudo-labels: predicted fraction of flipped labels Phi(-a_k) and
    the previous classifier's margin a_k on the generator; nan otherwise),
    ``status`` (per generation: "exact", "approximate", "conditional", "simulation-only" or
    "wrong"), ``generation``; and ``method`` (str), the variant used.

    Raises
    ------
    NoTheoryError
        If the requested ``method`` does not exist for this combination.
    ValueError
        For an unknown regime, label kind, generator covariance or method.
    """
    for name, value, allowed in (
        ("regime", regime, ("replace", "accumulate")),
        ("labels", labels, ("noisy", "pseudo")),
        ("generator_covariance", generator_covariance, ("identity", "estimated")),
        ("method", method, (None, "GR", "FGR", "one-generation")),
    ):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    if not (n >= 3 and m >= 0 and p >= 1 and gamma > 0 and mu_norm >= 0 and generations >= 0):
        raise ValueError(f"need n >= 3, m >= 0, p >= 1, gamma > 0, mu_norm >= 0 and generations >= 0 "
                         f"(got n={n}, m={m}, p={p}, gamma={gamma}, mu_norm={mu_norm}, generations={generations})")
    for name, value in (("label_noise", label_noise), ("rho", rho), ("phi", phi)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {value}")
    K = int(generations)
    common = dict(n=n, m=m, p=p, mu_norm=mu_norm, label_noise=label_noise, rho=rho, phi=phi, gamma=gamma)
    status = np.full(K + 1, EXACT, dtype=object)
    flip_rate = np.full(K + 1, np.nan)
    nan = np.full(K + 1, np.nan)

    if generator_covariance == "estimated":
        if method not in (None, "FGR"):
            raise NoTheoryError(
                f"method {method!r} has no version for the estimated generator; use FGR (generation <= 1)")
        real_only = float(real_only_accuracy(n, p, mu_norm, gamma))
        accuracy = nan.copy()
        accuracy[0] = real_only
        if labels == "pseudo":
            status[1:] = SIMULATION_ONLY
            return {"accuracy": accuracy, "beta": nan.copy(), "tau2": nan.copy(), "flip_rate": flip_rate,
                    "margin": nan.copy(), "status": status, "generation": np.arange(K + 1), "method": SIMULATION_ONLY}
        recursion = generator_recursion(n, m, p, label_noise, rho, phi, generations=K, regime=regime)
        if K >= 1:
            first = functional_gram_reduction(**common, generations=1, regime=regime, labels="noisy",
                                              generator_covariance="estimated")
            accuracy[1] = first["accuracy"][1]
        status[2:] = CONDITIONAL
        return {"accuracy": accuracy, "beta": recursion["beta"], "tau2": recursion["tau2"], "flip_rate": flip_rate,
                "margin": nan.copy(), "status": status, "generation": np.arange(K + 1), "method": "FGR"}

    if labels == "pseudo":
        if method not in (None, "FGR"):
            raise NoTheoryError(f"method {method!r} does not handle pseudo-labels; use FGR")
        out = functional_gram_reduction(**common, generations=K, regime=regime, labels="pseudo")
        if regime == "accumulate":
            status[2:] = APPROXIMATE
        return {"accuracy": out["accuracy"], "beta": out["beta"], "tau2": out["tau2"], "flip_rate": out["flip_rate"],
                "margin": out["margin"], "status": status, "generation": np.arange(K + 1), "method": "FGR"}

    if method == "one-generation":
        out = one_generation_loop(**common, generations=K, regime=regime)
        status[1:] = WRONG
        used = "one-generation"
    elif method == "FGR":
        out = functional_gram_reduction(**common, generations=K, regime=regime, labels="noisy")
        used = "FGR"
    else:
        out = gram_reduction(n, m, p, mu_norm, label_noise, rho, phi, gamma, generations=K, regime=regime)
        used = "GR"
    return {"accuracy": np.asarray(out["accuracy"]), "beta": np.asarray(out["beta"]), "tau2": np.asarray(out["tau2"]),
            "flip_rate": flip_rate, "margin": nan.copy(), "status": status, "generation": np.arange(K + 1),
            "method": used}


# --------------------------------------------------------------------------------------------------
# Break-even precision and first drop
# --------------------------------------------------------------------------------------------------


def _verifier_from_precision(label_noise, precision, recall):
    """(rho, phi) of the verifier with this precision and recall (THEORY 12); vectorised."""
    eps = np.asarray(label_noise, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        safe_eps = np.where(eps > 0, eps, 1.0)
        rho = np.where(eps > 0, recall * (1.0 - eps) * (1.0 - precision) / (precision * safe_eps), 0.0)
    return rho, recall + 0.0 * rho


def loop_accuracy_at_precision(n, m, p, mu_norm, label_noise, gamma, precision, *, recall=1.0,
                               generations: int | None = None, regime: Regime = "replace") -> np.ndarray:
    """GR accuracy of the loop with a verifier of this precision and recall (identity generator, noisy labels).

    ``generations=None`` (replace only) gives the fixed point of the replace loop; otherwise the
    accuracy at generation K. Vectorised over all array arguments.
    """
    precision = np.asarray(precision, dtype=float)
    rho, phi = _verifier_from_precision(label_noise, precision, np.asarray(recall, dtype=float))
    if generations is None:
        if regime != "replace":
            raise ValueError("the accumulate loop has no fixed point at finite generations; give generations")
        fixed = replace_fixed_point(n, m, p, label_noise, rho, phi)
        return replace_step_accuracy(n, m, p, mu_norm, label_noise, rho, phi, gamma,
                                     fixed["beta"], fixed["spurious_energy"])
    out = gram_reduction(n, m, p, mu_norm, label_noise, rho, phi, gamma, generations=int(generations), regime=regime)
    return out["accuracy"][..., -1]


def min_precision_for_loop(*, n, m, p, mu_norm, label_noise, gamma, recall=1.0, generations: int | None = None,
                           regime: Regime = "replace", iterations: int = 60) -> np.ndarray:
    """Smallest verifier precision for which the loop does not end below real data alone (THEORY 14.9).

    "End" is the replace loop's fixed point (``generations=None``) or generation K. Identity
    generator, noisy labels, GR. Vectorised (bisection on all settings at once); assumes the end
    accuracy increases with the precision, as it does in the settings of 14.9.

    Returns
    -------
    Array of the broadcast shape: the break-even precision; the lowest valid precision
    R(1-eps)/(R(1-eps)+eps) when even that does not fall below real-only; nan when even P = 1 does.
    """
    n, m, p, mu_norm, eps, gamma, recall = _as_arrays(n, m, p, mu_norm, label_noise, gamma, recall)
    baseline = real_only_accuracy(n, p, mu_norm, gamma)

    def margin(precision):
        return loop_accuracy_at_precision(n, m, p, mu_norm, eps, gamma, precision, recall=recall,
                                          generations=generations, regime=regime) - baseline

    lowest = np.where(recall * (1.0 - eps) + eps > 0, recall * (1.0 - eps) / (recall * (1.0 - eps) + eps), 1.0)
    lowest = np.clip(lowest, 1e-12, 1.0)
    low = lowest.copy()
    high = np.ones_like(low)
    ok_low = margin(low) >= 0
    ok_high = margin(high) >= 0
    for _ in range(int(iterations)):
        mid = 0.5 * (low + high)
        ok = margin(mid) >= 0
        high = np.where(ok, mid, high)
        low = np.where(ok, low, mid)
    return np.where(ok_low, lowest, np.where(ok_high, high, np.nan))


def first_drop_generation(accuracy, *, baseline=None, tolerance: float = 0.0) -> np.ndarray:
    """First generation k >= 1 whose accuracy is below the baseline by more than ``tolerance``.

    Parameters
    ----------
    accuracy : array_like, (..., K + 1)
        Accuracy over generations, e.g. ``predict_loop(...)["accuracy"]``.
    baseline : array_like, optional
        Defaults to generation 0 (real data alone).
    tolerance : float

    Returns
    -------
    Integer array of the leading shape: the generation, or -1 if no generation up to K drops.
    """
    acc = np.asarray(accuracy, dtype=float)
    base = acc[..., 0] if baseline is None else np.asarray(baseline, dtype=float)
    below = acc[..., 1:] < (base[..., None] - tolerance)
    first = np.argmax(below, axis=-1) + 1
    return np.where(below.any(axis=-1), first, -1)


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
    accuracy = np.full(K + 1, np.nan)
    beta = np.full(K + 1, np.nan)
    tau2 = np.full(K + 1, np.nan)
    flip_rate = np.full(K + 1, np.nan)

    def fit(spikes: np.ndarray, weights: np.ndarray, normaliser: float, dof: float):
        """w = R V z / N: (w^T mu, ||w||^2, V z), with R's traces from Marchenko-Pastur (14.4)."""
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

    def record(k: int, w_mu: float, w_norm2: float) -> None:
        accuracy[k] = ndtr(w_mu / math.sqrt(w_norm2)) if w_norm2 > 0 else 0.5
        beta[k] = generator_mean[0]
        tau2[k] = float(np.sum(norms[1:] * generator_mean[1:] ** 2))

    w_mu, w_norm2, w_coef = fit(real_spike[:, None], np.array([math.sqrt(n)]), float(n), n - 1.0)
    record(0, w_mu, w_norm2)
    blocks: list[np.ndarray] = []
    block_weights: list[np.ndarray] = []
    refit_rows = float(n)
    normaliser = float(n)
    dof = n - 1.0
    for k in range(1, K + 1):
        margin = float(np.sum(norms * w_coef * generator_mean)) / math.sqrt(w_norm2)
        eps = float(ndtr(-margin))
        flip_rate[k] = eps
        kept = phi * (1.0 - eps) + rho * eps
        signal = (phi * (1.0 - eps) - rho * eps) * m
        kept *= m
        first = math.sqrt(kept) * generator_mean
        first[2 + 2 * (k - 1)] += 1.0
        second = np.zeros(n_base)
        second[3 + 2 * (k - 1)] = 1.0
        block = np.stack([first, second], axis=-1)
        weights = np.array([signal / math.sqrt(kept) if kept > 0 else 0.0,
                            math.sqrt(max(kept - signal**2 / kept, 0.0)) if kept > 0 else 0.0])
        if regime == "replace":
            blocks, block_weights = [block], [weights]
            normaliser, refit_rows, dof = n + m, n + kept, n - 1.0 + kept - 2.0
        else:
            blocks.append(block)
            block_weights.append(weights)
            normaliser, refit_rows, dof = normaliser + m, refit_rows + kept, dof + kept - 2.0
        spikes = np.concatenate([real_spike[:, None]] + blocks, axis=-1)
        all_weights = np.concatenate([[math.sqrt(n)]] + block_weights)
        w_mu, w_norm2, w_coef = fit(spikes, all_weights, normaliser, dof)
        generator_mean = spikes @ all_weights / refit_rows
        record(k, w_mu, w_norm2)
    return {"accuracy": accuracy, "beta": beta, "tau2": tau2, "flip_rate": flip_rate}
