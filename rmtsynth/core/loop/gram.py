"""GR, the Gram reduction: the loop's accuracy with the identity generator and noisy labels (THEORY 14.4).

Every spike and generator mean is a coefficient column over base vectors (mu, g, h_11, h_12, ...)
that are orthogonal in the proportional limit and independent of the bulk; the bulk enters
through two Marchenko-Pastur traces. Vectorised over settings.
"""

from __future__ import annotations

import numpy as np

from rmtsynth.core.loop.common import as_arrays, block_sizes, check_regime, signed_phi
from rmtsynth.core.loop.spec import Regime
from rmtsynth.core.loop.recursion import generator_recursion

# What gram_reduction returns per generation.
_RECORDED = ("accuracy", "beta", "tau2", "w_mu", "w_norm2")


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


def _block_weights(kept, signal):
    """r-weights of a noisy block's two columns: the label signal over the kept rows, and the rest."""
    safe_kept = np.where(kept > 0, kept, 1.0)
    weight_1 = np.where(kept > 0, signal / np.sqrt(safe_kept), 0.0)
    weight_2 = np.sqrt(np.clip(kept - signal**2 / safe_kept, 0.0, None))
    return np.stack([weight_1, weight_2], axis=-1)


def _base_vectors(n, p, mu2, K: int, independent_blocks: bool):
    """Squared norms of the base vectors mu, g, (h_j1, h_j2) per block, (u_j) per block if independent,
    and the real rows' spike sqrt(n) mu + g over them."""
    n_base = 2 + 2 * K + (K if independent_blocks else 0)
    norms = np.empty(n.shape + (n_base,))
    norms[..., 0] = mu2
    norms[..., 1 : 2 + 2 * K] = p[..., None]
    if independent_blocks:
        norms[..., 2 + 2 * K :] = 1.0
    real_spike = np.zeros(n.shape + (n_base,))
    real_spike[..., 0] = np.sqrt(n)
    real_spike[..., 1] = 1.0
    return norms, real_spike


def _noisy_block(source, kept, k: int):
    """The two spike columns of block k over the base vectors: sqrt(mbar) mu_hat + h_k1, and h_k2."""
    first = np.sqrt(kept)[..., None] * source
    first[..., 2 + 2 * (k - 1)] += 1.0
    second = np.zeros(source.shape)
    second[..., 3 + 2 * (k - 1)] = 1.0
    return np.stack([first, second], axis=-1)


def _independent_source(beta, tau2, k: int, K: int, shape):
    """beta_{k-1} mu + tau_{k-1} u_k: the generator mean the one-generation theory assumes."""
    source = np.zeros(shape)
    source[..., 0] = beta[..., k - 1]
    source[..., 2 + 2 * K + (k - 1)] = np.sqrt(tau2[..., k - 1])
    return source


def _training_sizes(regime: str, k: int, n, m, kept):
    """(N_k, N'_k, bulk dof) of generation k: ridge normaliser, rows of the refit, Wishart dof."""
    if regime == "replace":
        return n + m, n + kept, n - 1.0 + (kept - 2.0)
    return n + k * m, n + k * kept, n - 1.0 + k * (kept - 2.0)


def _spurious_size(norms, mean_coef):
    """||mu_hat - beta mu||^2 of a generator mean given by its coefficients."""
    return np.einsum("...b,...b->...", norms[..., 1:], mean_coef[..., 1:] ** 2)


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
    n, m, p, mu_norm, eps, rho, phi, gamma = as_arrays(n, m, p, mu_norm, label_noise, rho, phi, gamma)
    check_regime(regime)
    K = int(generations)
    mu2 = mu_norm**2
    kept, signal = block_sizes(m, eps, rho, phi)
    weights = _block_weights(kept, signal)
    norms, real_spike = _base_vectors(n, p, mu2, K, independent_blocks)
    generator_mean = real_spike / np.sqrt(n)[..., None]  # mu_hat_0 = mu + g / sqrt(n)
    out = {key: np.empty(n.shape + (K + 1,)) for key in _RECORDED}
    # The generator itself follows the true recursion; only the classifier's view of it is wrong.
    truth = generator_recursion(n, m, p, eps, rho, phi, generations=K, regime=regime) if independent_blocks else None

    def record(k, w_mu, w_norm2, beta, tau2):
        out["accuracy"][..., k] = signed_phi(w_mu, w_norm2)
        out["w_mu"][..., k] = w_mu
        out["w_norm2"][..., k] = w_norm2
        out["beta"][..., k] = beta
        out["tau2"][..., k] = tau2

    w_mu, w_norm2 = _gr_fit(real_spike[..., None], np.sqrt(n)[..., None], norms, n, n - 1.0, p, gamma, mu2)
    record(0, w_mu, w_norm2, generator_mean[..., 0], _spurious_size(norms, generator_mean))
    block_spikes: list[np.ndarray] = []
    block_weights: list[np.ndarray] = []
    for k in range(1, K + 1):
        if independent_blocks:
            source = _independent_source(out["beta"], out["tau2"], k, K, generator_mean.shape)
        else:
            source = generator_mean
        if regime == "replace":
            block_spikes, block_weights = [], []
        block_spikes.append(_noisy_block(source, kept, k))
        block_weights.append(weights)
        normaliser, refit_rows, dof = _training_sizes(regime, k, n, m, kept)
        spikes = np.concatenate([real_spike[..., None]] + block_spikes, axis=-1)
        weights_all = np.concatenate([np.sqrt(n)[..., None]] + block_weights, axis=-1)
        w_mu, w_norm2 = _gr_fit(spikes, weights_all, norms, normaliser, dof, p, gamma, mu2)
        if independent_blocks:
            record(k, w_mu, w_norm2, truth["beta"][..., k], truth["tau2"][..., k])
        else:
            generator_mean = np.einsum("...bi,...i->...b", spikes, weights_all) / refit_rows[..., None]
            record(k, w_mu, w_norm2, generator_mean[..., 0], _spurious_size(norms, generator_mean))
    return out


def replace_step_accuracy(n, m, p, mu_norm, label_noise, rho, phi, gamma, beta, spurious_energy) -> np.ndarray:
    """GR accuracy of one replace generation whose generator mean is b (mu + zeta) + e, ||e||^2 = E.

    With (b, E) = (b*, E*) of :func:`replace_fixed_point` it is the accuracy the replace loop
    converges to (THEORY 14.4, "replace in closed form"). Vectorised over all arguments.
    """
    n, m, p, mu_norm, eps, rho, phi, gamma, b, energy = as_arrays(
        n, m, p, mu_norm, label_noise, rho, phi, gamma, beta, spurious_energy)
    kept, signal = block_sizes(m, eps, rho, phi)
    # Base vectors: mu, g, e (squared norm E), h_1, h_2.
    norms = np.stack([mu_norm**2, p, energy, p, p], axis=-1)
    spikes = np.zeros(n.shape + (5, 3))
    spikes[..., 0, 0] = np.sqrt(n)
    spikes[..., 1, 0] = 1.0
    root_kept = np.sqrt(kept)
    spikes[..., 0, 1] = root_kept * b
    spikes[..., 1, 1] = root_kept * b / np.sqrt(n)
    spikes[..., 2, 1] = root_kept
    spikes[..., 3, 1] = 1.0
    spikes[..., 4, 2] = 1.0
    weights = np.concatenate([np.sqrt(n)[..., None], _block_weights(kept, signal)], axis=-1)
    w_mu, w_norm2 = _gr_fit(spikes, weights, norms, n + m, n - 1.0 + kept - 2.0, p, gamma, mu_norm**2)
    return signed_phi(w_mu, w_norm2)


def real_only_accuracy(n, p, mu_norm, gamma) -> np.ndarray:
    """Accuracy of ridge on the n real rows alone (generation 0), by GR."""
    n, p, mu_norm, gamma = as_arrays(n, p, mu_norm, gamma)
    spikes = np.zeros(n.shape + (2, 1))
    spikes[..., 0, 0] = np.sqrt(n)
    spikes[..., 1, 0] = 1.0
    norms = np.stack([mu_norm**2, p], axis=-1)
    w_mu, w_norm2 = _gr_fit(spikes, np.sqrt(n)[..., None], norms, n, n - 1.0, p, gamma, mu_norm**2)
    return signed_phi(w_mu, w_norm2)
