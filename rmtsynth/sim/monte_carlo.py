"""Monte-Carlo at one parameter point: replicate draws of the trained classifier and its accuracy.

Each replicate draws the generator (a fresh C for ``estimated``), the sufficient statistics
(S, r), fits ridge with the normaliser N = n + m (the theory's convention, even though pruned
samples are dropped), and records the exact accuracy given the weights,
``Phi(w^T mu / sqrt(w^T Sigma w))`` with the sign kept (THEORY.md sections 1 and 11.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.special import ndtr

from rmtsynth.core.learners import Learner, get_learner
from rmtsynth.core.model import DataModel, Mix
from rmtsynth.core.verifiers import EXACT_SAMPLER, Verifier
from rmtsynth.errors import ParameterError
from rmtsynth.sim.samplers import (
    Factor,
    apply_factor,
    draw_generator,
    draw_naive_data,
    factor_dim,
    sample_exact,
)
from rmtsynth.sim.feature_sampler import sample_feature_exact
from rmtsynth.sim.seeding import replicate_rng

__all__ = ["SimulationResult", "conditional_accuracy", "simulate_point"]

SamplerName = Literal["exact", "naive"]


@dataclass
class SimulationResult:
    """Per-replicate results at one point.

    Every array has shape (R,), or (R, G) when gamma was an array of G values.

    Attributes
    ----------
    accuracy : array
        Exact accuracy given the weights, ``Phi(w^T mu / sqrt(w^T Sigma w))``.
    w_dot_mu : array
        ``w^T mu``.
    w_norm2 : array
        ``||w||^2``.
    test_accuracy : array or None
        Accuracy on a fresh real test set (only with ``test_size``).
    w_sigma_w : array or None
        ``w^T Sigma w``, the score variance (only with a real noise covariance factor; it
        equals ``w_norm2`` otherwise).
    """

    accuracy: np.ndarray
    w_dot_mu: np.ndarray
    w_norm2: np.ndarray
    test_accuracy: np.ndarray | None = None
    w_sigma_w: np.ndarray | None = None

    @property
    def n_replicates(self) -> int:
        return int(self.accuracy.shape[0])

    @property
    def mean(self) -> np.ndarray | float:
        """Mean accuracy over replicates (per gamma when gamma was an array)."""
        return _mean(self.accuracy)

    @property
    def se(self) -> np.ndarray | float:
        """Standard error of the mean accuracy, ``std(ddof=1)/sqrt(R)``; 0 when R = 1."""
        return _se(self.accuracy)

    def mean_of(self, name: str) -> np.ndarray | float:
        """Mean over replicates of the named per-replicate field."""
        return _mean(self._field(name))

    def _field(self, name: str) -> np.ndarray:
        value = getattr(self, name, None)
        if not isinstance(value, np.ndarray):
            raise KeyError(f"no per-replicate field {name!r} in this result")
        return value


def _mean(values: np.ndarray) -> np.ndarray | float:
    out = values.mean(axis=0)
    return float(out) if np.ndim(out) == 0 else out


def _se(values: np.ndarray) -> np.ndarray | float:
    count = values.shape[0]
    if count <= 1:
        out = np.zeros(values.shape[1:])
    else:
        out = values.std(axis=0, ddof=1) / np.sqrt(count)
    return float(out) if np.ndim(out) == 0 else out


def _score_variance(w: np.ndarray, noise_cov_factor: Factor) -> np.ndarray:
    """``w^T Sigma w = ||F^T w||^2`` for w of shape (p,) or (G, p)."""
    if noise_cov_factor is None:
        return np.sum(w * w, axis=-1)
    if np.ndim(noise_cov_factor) == 0:
        return float(noise_cov_factor) ** 2 * np.sum(w * w, axis=-1)
    f = np.asarray(noise_cov_factor, dtype=float)
    proj = w * f if f.ndim == 1 else w @ f
    return np.sum(proj * proj, axis=-1)


def conditional_accuracy(w: np.ndarray, mu: np.ndarray, noise_cov_factor: Factor = None) -> np.ndarray | float:
    """Exact accuracy of the linear rule ``sign(w^T x)`` on real data, given w.

    Parameters
    ----------
    w : (p,) or (G, p) array
    mu : (p,) array
        Real class mean.
    noise_cov_factor : Factor, optional
        Factor of the real noise covariance Sigma (identity by default).

    Returns
    -------
    ``Phi(w^T mu / sqrt(w^T Sigma w))``, sign kept. Where ``w^T Sigma w = 0`` it is 1, 0 or 1/2
    by the sign of ``w^T mu`` (exactly 0.5 for w = 0).
    """
    w = np.asarray(w, dtype=float)
    mean = w @ np.asarray(mu, dtype=float)
    var = _score_variance(w, noise_cov_factor)
    sd = np.sqrt(var)
    safe = np.where(sd > 0, sd, 1.0)
    # With no score noise the rule is deterministic: always right, always wrong, or a tie (1/2).
    acc = np.where(sd > 0, ndtr(mean / safe), 0.5 + 0.5 * np.sign(mean))
    return float(acc) if acc.ndim == 0 else acc


_TEST_CHUNK_ENTRIES = 1 << 22


def _test_accuracy(w: np.ndarray, mu: np.ndarray, noise_cov_factor: Factor, size: int,
                   rng: np.random.Generator) -> np.ndarray | float:
    p = mu.shape[0]
    q = factor_dim(noise_cov_factor, p)
    # Chunks bound the memory of large test sets; the chunk size is fixed, so draws are reproducible.
    chunk = max(1, _TEST_CHUNK_ENTRIES // max(p, q))
    hits = np.zeros(w.shape[:-1])
    for start in range(0, size, chunk):
        count = min(chunk, size - start)
        y = 2.0 * rng.integers(0, 2, size=count) - 1.0
        x = np.outer(mu, y) + apply_factor(noise_cov_factor, rng.standard_normal((q, count)))
        margin = (w @ x) * y
        hits += (margin > 0).sum(axis=-1) + 0.5 * (margin == 0).sum(axis=-1)
    return hits / size


def _check_simulation(n: int, m: int, replicates: int, first_replicate: int, test_size: int, sampler: str,
                      learner: Learner, verifier: Verifier) -> None:
    if n < 0 or m < 0 or n + m == 0:
        raise ParameterError(f"the sample sizes need n, m >= 0 and n + m > 0; got n = {n}, m = {m}.")
    if replicates < 1:
        raise ParameterError(f"the replicates must be >= 1; got {replicates}.")
    if first_replicate < 0:
        raise ParameterError(f"the first replicate must be >= 0; got {first_replicate}.")
    if test_size < 0:
        raise ParameterError(f"the test size must be >= 0; got {test_size}.")
    if sampler not in ("exact", "naive"):
        raise ParameterError(f"the sampler {sampler!r} is unknown; it must be exact or naive.")
    if sampler == "exact" and not learner.quadratic:
        raise ParameterError(
            f"sampler = 'exact' draws sufficient statistics, which determine only a quadratic-loss fit; "
            f"learner = {learner.name!r} needs sampler = 'naive'."
        )
    refusal = verifier.supports(EXACT_SAMPLER) if sampler == "exact" else None
    if refusal is not None:
        raise ParameterError(refusal)


def _fit_replicate(model: DataModel, mix: Mix, learner: Learner, sampler: str,
                   rng: np.random.Generator, gen_rng: np.random.Generator, gamma, noise_cov_factor: Factor) -> np.ndarray:
    """One replicate's weights: draw the generator, the training data (or its statistics), fit."""
    n_total = int(mix.n) + int(mix.m)
    generator = draw_generator(model, gen_rng)
    if sampler == "naive":
        a, c = draw_naive_data(model, mix, rng, generator=generator, real_factor=noise_cov_factor)
        return learner.fit(a, c, n_total, gamma)
    # The exact sampler of a feature-aware verifier hands a feature-blind one on to sample_exact.
    exact = sample_feature_exact if mix.verifier.feature_aware else sample_exact
    s, r = exact(model, mix, rng, generator=generator, real_factor=noise_cov_factor)
    return learner.fit_statistics(s, r, n_total, gamma)


def simulate_point(
    model: DataModel,
    mix: Mix,
    seed: np.random.SeedSequence,
    replicates: int,
    *,
    first_replicate: int = 0,
    sampler: SamplerName = "exact",
    test_size: int | None = None,
    noise_cov_factor: Factor = None,
    generator_seed: np.random.SeedSequence | None = None,
    verifier: Verifier | None = None,
    learner: Learner | str = "ridge",
) -> SimulationResult:
    """Monte-Carlo of a learner (ridge by default) at one parameter point.

    Parameters
    ----------
    model : DataModel
        Real mean mu and the synthetic generator.
    mix : Mix
        Real and synthetic sample sizes (n + m > 0), the synthetic label-flip probability, the
        verifier's keep probabilities for flipped and correct labels (numbers), and the
        regularisation gamma (a number, or a (G,) array: each draw of (S, r) then serves every value).
    seed : numpy.random.SeedSequence
        The point's seed; replicate r draws only from ``replicate_rng(seed, r)``, so its result
        does not depend on how many replicates are run, nor in which batches.
    replicates : int
        Number of replicates R (>= 1).
    first_replicate : int
        Index of the first replicate: the result holds replicates ``first_replicate`` to
        ``first_replicate + R - 1`` (so a run can be extended in batches).
    sampler : {"exact", "naive"}
        Which sampler of (S, r) to use; both have the same law (the exact one needs a quadratic
        loss, and of the feature-aware verifiers it draws those of THEORY.md 15).
    test_size : int, optional
        Also report the accuracy on that many fresh real test samples (ties count 1/2);
        ``None`` or 0 for none.
    noise_cov_factor : Factor, optional
        Factor of the real noise covariance Sigma (identity by default); it shapes the real
        training and test samples and the exact accuracy.
    generator_seed : numpy.random.SeedSequence, optional
        When given, a random generator (an estimated covariance) is drawn from
        ``replicate_rng(generator_seed, r)`` instead of the point's stream, so that every point
        of a sweep sees the same sampled C in replicate r (common random numbers, and the draws
        the plug-in theory conditions on).
    verifier : Verifier, optional
        Which synthetic rows are kept; the mix's (rho, phi) by default.
    learner : Learner or str
        What is trained (:func:`rmtsynth.core.learners.get_learner`).

    Returns
    -------
    SimulationResult
    """
    n, m, replicates = int(mix.n), int(mix.m), int(replicates)
    first_replicate = int(first_replicate)
    test_size = int(test_size) if test_size else 0
    learner = get_learner(learner)
    if verifier is not None or mix.rule is not None:
        # Placed once; every replicate's sampler then reads it from the mix.
        mix = mix.with_verifier((mix.verifier if verifier is None else verifier).placed(model))
    _check_simulation(n, m, replicates, first_replicate, test_size, sampler, learner, mix.verifier)

    mu = np.asarray(model.mu, dtype=float)
    gam = np.asarray(mix.gamma, dtype=float)
    shape = (replicates,) + gam.shape
    accuracy = np.empty(shape)
    w_dot_mu = np.empty(shape)
    w_norm2 = np.empty(shape)
    w_sigma_w = np.empty(shape) if noise_cov_factor is not None else None
    test_acc = np.empty(shape) if test_size else None

    for rep in range(replicates):
        rng = replicate_rng(seed, first_replicate + rep)
        gen_rng = rng if generator_seed is None else replicate_rng(generator_seed, first_replicate + rep)
        w = _fit_replicate(model, mix, learner, sampler, rng, gen_rng,
                           gam if gam.ndim else float(gam), noise_cov_factor)
        w_dot_mu[rep] = w @ mu
        w_norm2[rep] = np.sum(w * w, axis=-1)
        if w_sigma_w is not None:
            w_sigma_w[rep] = _score_variance(w, noise_cov_factor)
        accuracy[rep] = conditional_accuracy(w, mu, noise_cov_factor)
        if test_acc is not None:
            test_acc[rep] = _test_accuracy(w, mu, noise_cov_factor, test_size, rng)

    return SimulationResult(
        accuracy=accuracy,
        w_dot_mu=w_dot_mu,
        w_norm2=w_norm2,
        test_accuracy=test_acc,
        w_sigma_w=w_sigma_w,
    )
