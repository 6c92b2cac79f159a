"""FGR, the functional Gram reduction: GR conditioned on the real rows' Wishart (THEORY 14.5, 14.6).

Needed for pseudo-labels (the previous classifier's labels depend on the real rows' bulk) and for
the estimated generator at generation 1 (its covariance is a function of that bulk). One setting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize
from scipy.special import ndtr

from rmtsynth.core.loop.common import NoTheoryError, block_sizes, check_regime, scalar_block_weights, signed_phi
from rmtsynth.core.loop.functional_space import QUADRATURE_NODES, Block, FunctionalSpace, marchenko_pastur_quadrature
from rmtsynth.core.loop.pseudo_labels import pseudo_block
from rmtsynth.core.loop.spec import LoopSpec
from rmtsynth.core.model import Mix, ModelSpec


def _fixed_spikes(space: FunctionalSpace, n: float, p: float, mu2: float, estimated: bool):
    """mu as a vector, and the spikes and r-weights of the real rows (plus their class offset when estimated)."""
    ones = np.ones_like(space.nodes)
    base_mu = space.new_base(mu2)
    base_g = space.new_base(p)
    mu_vec = space.zeros()
    mu_vec[base_mu] = ones
    real_spike = space.zeros()
    real_spike[base_mu] = np.sqrt(n) * ones
    real_spike[base_g] = ones
    spikes = [real_spike]
    weights = [np.sqrt(n)]
    if estimated:
        # The class-offset vector of the real rows is a spike of S with no weight in r.
        offset = space.zeros()
        offset[space.new_base(p)] = ones
        spikes.append(offset)
        weights.append(0.0)
    return mu_vec, spikes, weights


def _noisy_block(space: FunctionalSpace, generator_mean: np.ndarray, root_profile: np.ndarray, *,
                 m: float, p: float, label_noise: float, rho: float, phi: float) -> Block:
    """The block of a generation with noisy labels: two spike columns on fresh base vectors."""
    kept, signal = block_sizes(m, label_noise, rho, phi)
    first = np.sqrt(kept) * generator_mean
    first[space.new_base(p)] += root_profile
    second = space.zeros()
    second[space.new_base(p)] = root_profile
    return Block(spikes=[first, second], weights=scalar_block_weights(kept, signal), dof=max(kept - 2.0, 0.0),
                 direction=None, kept=kept)


@dataclass
class _Bulk:
    """The deterministic equivalent R_bar of one generation's bulk resolvent, and what its fluctuation adds."""

    normaliser: float
    share: float  # synthetic bulk dof / N
    u: float  # 1 / (1 + delta), delta the self-energy
    T: np.ndarray  # R_bar without deflations, at the quadrature nodes
    fluctuation_trace: float
    # (W, T W, core^{-1}) of the pseudo-labelled blocks' deflations; None without any.
    deflation: tuple[np.ndarray, np.ndarray, np.ndarray] | None

    def resolve(self, space: FunctionalSpace, x: np.ndarray) -> np.ndarray:
        """R_bar x for x of shape (S, B, Q): T x plus the deflations of the pseudo-labelled blocks."""
        out = self.T * x
        if self.deflation is None:
            return out
        W, TW, core_inv = self.deflation
        coeffs = space.inner(W, out)  # (J, S)
        return out + np.einsum("jk,ks,kbq->sbq", core_inv, coeffs, TW)


def _self_energy(space: FunctionalSpace, real_bulk, share: float, profile, eta: float, gamma: float) -> float:
    """delta solving delta = eta * integral of kappa / (real bulk + share kappa / (1 + delta) + gamma)."""
    if not share > 0:
        return 0.0

    def gap(delta):
        resolvent = 1.0 / (real_bulk + share * profile / (1.0 + delta) + gamma)
        return delta - eta * space.integral(profile * resolvent)

    upper = eta * space.integral(profile / (real_bulk + gamma))
    return scipy.optimize.brentq(gap, 0.0, upper * (1.0 + 1e-12) + 1e-300, xtol=1e-15, rtol=1e-14)


def _bulk(space: FunctionalSpace, blocks: list[Block], *, n: float, m: float, p: float, gamma: float,
          real_dof: float, profile: np.ndarray) -> _Bulk:
    """The bulk of a training set of the real rows and ``blocks`` (ridge normaliser n + m per block)."""
    normaliser = n + m * len(blocks)
    eta = p / normaliser
    real_bulk = (real_dof / normaliser) * space.nodes
    share = sum(b.dof for b in blocks) / normaliser
    u = 1.0 / (1.0 + _self_energy(space, real_bulk, share, profile, eta, gamma))
    T = 1.0 / (real_bulk + share * u * profile + gamma)
    deflated = [b for b in blocks if b.direction is not None and b.dof > 0]
    deflation = None
    if deflated:
        W = np.stack([b.direction for b in deflated])
        TW = T * W
        core = np.diag(normaliser / (np.array([b.dof for b in deflated]) * u)) - space.inner(W, TW)
        deflation = (W, TW, np.linalg.inv(core))
    if share > 0:
        fluctuation_trace = eta * space.integral(profile * T * T) / (
            1.0 - share * u * u * eta * space.integral(profile * profile * T * T))
    else:
        fluctuation_trace = 0.0
    return _Bulk(normaliser, share, u, T, fluctuation_trace, deflation)


def _fit(space: FunctionalSpace, bulk: _Bulk, spikes: np.ndarray, weights: np.ndarray, mu_vec: np.ndarray,
         blocks: list[Block], profile: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    """(w_bar, w^T mu, ||w||^2, extra): the deterministic classifier and the squared size of its fluctuation."""
    normaliser = bulk.normaliser
    resolved_spikes = bulk.resolve(space, spikes)
    gram = space.inner(spikes, resolved_spikes) / normaliser
    z = np.linalg.solve(np.eye(len(weights)) + gram, weights)
    w_bar = np.tensordot(z, resolved_spikes, axes=(0, 0)) / normaliser
    w_mu = float(space.inner(mu_vec, w_bar))
    w_bar_norm2 = float(space.inner(w_bar, w_bar))
    extra = bulk.share * float(space.inner(w_bar, profile * w_bar))
    for b in blocks:
        if b.direction is not None:
            extra -= (b.dof / normaliser) * float(space.inner(b.direction, w_bar)) ** 2
    extra = max(bulk.fluctuation_trace * bulk.u * bulk.u * extra, 0.0)
    return w_bar, w_mu, w_bar_norm2 + extra, extra


def _classifier_vector(space: FunctionalSpace, bulk: _Bulk, w_bar: np.ndarray, extra: float, profile: np.ndarray,
                       root_profile: np.ndarray) -> np.ndarray:
    """The classifier as a vector: w_bar plus its bulk fluctuation on a fresh base vector."""
    w_vec = w_bar.copy()
    if extra > 0:
        fresh = space.new_base(1.0)
        scale = np.sqrt(extra / space.integral(bulk.T * bulk.T * profile))
        w_vec[fresh] = scale * bulk.T * root_profile
    return w_vec


def functional_gram_reduction(mix: Mix, model: ModelSpec, loop: LoopSpec, *, nodes: int = QUADRATURE_NODES) -> dict:
    """FGR: GR conditioned on the real rows' Wishart W_r (THEORY 14.5, 14.6), one setting.

    Every vector is sum_b phi_b(Lambda) x_b with x_b a base vector independent of W_r and phi_b a
    function on W_r's spectrum, represented at the nodes of a Gauss rule for its Marchenko-Pastur
    law. Exact in the proportional limit for noisy labels (where it equals GR), for pseudo-labels
    under replace, and for the estimated generator at generation 1; pseudo-labels under accumulate
    treat each classifier fluctuation as fresh (one uncontrolled approximation).

    With ``loop.generator_covariance="estimated"`` only generations 0 and 1 are computed
    (``loop.generations`` must be <= 1; noisy labels only). The setting must lie in the loop's
    domain (:func:`rmtsynth.core.loop.check_loop`).

    Returns
    -------
    dict with arrays over k = 0..K: ``accuracy``, ``beta``, ``tau2``, ``flip_rate`` (predicted
    fraction of pseudo-labels that differ from the generator's label, Phi(-a_k); nan at k = 0 and
    for noisy labels), ``margin`` (a_k).
    """
    n, m, p, mu_norm, gamma = mix.n, mix.m, model.p, model.mu_norm, mix.gamma
    K, regime, labels = int(loop.generations), loop.regime, loop.labels
    estimated = loop.generator_covariance == "estimated"
    if estimated and (K > 1 or labels != "noisy"):
        raise NoTheoryError(
            "The estimated generator has a parameter-only theory at generation 1 with noisy labels only; "
            "use cde_prediction with the sampled history, or the simulation."
        )
    check_regime(regime)
    real_dof = n - 2.0 if estimated else n - 1.0
    ell, omega = marchenko_pastur_quadrature(p / real_dof, nodes)
    profile = ell if estimated else np.ones_like(ell)  # kappa: synthetic covariance as a function of Lambda
    root_profile = np.sqrt(profile)
    space = FunctionalSpace(ell, omega, capacity=3 + 4 * (K + 1))
    mu2 = mu_norm**2
    mu_vec, spikes_fixed, weights_fixed = _fixed_spikes(space, n, p, mu2, estimated)
    generator_mean = spikes_fixed[0] / np.sqrt(n)
    out = {key: np.full(K + 1, np.nan) for key in ("accuracy", "beta", "tau2", "flip_rate", "margin")}
    blocks: list[Block] = []
    unit_w = w_vec = w_norm = None
    for k in range(K + 1):
        if k >= 1:
            if labels == "noisy":
                block = _noisy_block(space, generator_mean, root_profile, m=m, p=p, label_noise=mix.label_noise,
                                     rho=mix.rho, phi=mix.phi)
            else:
                margin = space.inner(w_vec, generator_mean) / w_norm
                out["margin"][k] = margin
                out["flip_rate"][k] = ndtr(-margin)
                block = pseudo_block(space, generator_mean, unit_w, margin, m=m, p=p, rho=mix.rho, phi=mix.phi)
            blocks = [block] if regime == "replace" else blocks + [block]
        bulk = _bulk(space, blocks, n=n, m=m, p=p, gamma=gamma, real_dof=real_dof, profile=profile)
        spikes = np.stack(spikes_fixed + [s for b in blocks for s in b.spikes])
        weights = np.array(weights_fixed + [c for b in blocks for c in b.weights], dtype=float)
        w_bar, w_mu, w_norm2, extra = _fit(space, bulk, spikes, weights, mu_vec, blocks, profile)
        out["accuracy"][k] = signed_phi(w_mu, w_norm2)
        # Carry forward: the classifier and the refitted generator.
        w_vec = _classifier_vector(space, bulk, w_bar, extra, profile, root_profile)
        w_norm = np.sqrt(w_norm2)
        unit_w = w_vec / w_norm
        generator_mean = np.tensordot(weights, spikes, axes=(0, 0)) / (n + sum(b.kept for b in blocks))
        out["beta"][k] = float(space.inner(mu_vec, generator_mean)) / mu2
        out["tau2"][k] = float(space.inner(generator_mean, generator_mean)) - out["beta"][k] ** 2 * mu2
    return out
