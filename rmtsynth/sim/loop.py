"""Whole-loop simulation of training over generations with verified synthetic data (THEORY.md 14.1, 14.8).

Every generation draws real data matrices, labels, verifier decisions and refits the generator and
the ridge classifier from them: no shortcut through the theory's rotations. It is the oracle the
generation theory (:mod:`rmtsynth.core.loop`) is checked against.

The training set of each generation is kept as per-class sufficient statistics (counts, sums and
scatter matrices of the rows with observed label +1 and -1). The ridge system, the midpoint class
mean and the pooled within-class covariance are all functions of these, so an accumulating training
set costs O(p^2) memory, not O(rows * p).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import ndtr

from rmtsynth.core.loop import LoopSpec, cde_prediction, check_loop, loop_setting
from rmtsynth.core.learners import get_learner
from rmtsynth.core.model import Mix, ModelSpec
from rmtsynth.core.verifiers.rates import keep_rate, label_signal
from rmtsynth.errors import ParameterError
from rmtsynth.sim.seeding import point_seed, replicate_rng, stable_key

# What one replicate records per generation.
_REPLICATE_KEYS = ("accuracy", "beta", "tau2", "flip_rate", "margin", "kept", "cde_accuracy")


@dataclass
class _ClassStats:
    """Counts, sums and second-moment matrices of the rows of each observed class (+1, -1)."""

    count_pos: float
    count_neg: float
    sum_pos: np.ndarray
    sum_neg: np.ndarray
    scatter: np.ndarray  # sum of x x^T over both classes

    @staticmethod
    def of(rows: np.ndarray, labels: np.ndarray) -> "_ClassStats":
        pos = labels > 0
        return _ClassStats(
            count_pos=float(pos.sum()),
            count_neg=float((~pos).sum()),
            sum_pos=rows[pos].sum(axis=0),
            sum_neg=rows[~pos].sum(axis=0),
            scatter=rows.T @ rows,
        )

    def __add__(self, other: "_ClassStats") -> "_ClassStats":
        return _ClassStats(
            self.count_pos + other.count_pos,
            self.count_neg + other.count_neg,
            self.sum_pos + other.sum_pos,
            self.sum_neg + other.sum_neg,
            self.scatter + other.scatter,
        )

    @property
    def rows(self) -> float:
        return self.count_pos + self.count_neg

    @property
    def signal(self) -> np.ndarray:
        """r = sum of label * x."""
        return self.sum_pos - self.sum_neg

    def class_means(self) -> tuple[np.ndarray, np.ndarray]:
        mean_pos = self.sum_pos / max(self.count_pos, 1.0)
        mean_neg = self.sum_neg / max(self.count_neg, 1.0)
        return mean_pos, mean_neg

    def midpoint_mean(self) -> np.ndarray:
        mean_pos, mean_neg = self.class_means()
        return 0.5 * (mean_pos - mean_neg)

    def pooled_covariance(self) -> np.ndarray:
        mean_pos, mean_neg = self.class_means()
        within = (self.scatter - self.count_pos * np.outer(mean_pos, mean_pos)
                  - self.count_neg * np.outer(mean_neg, mean_neg))
        return within / (self.rows - 2.0)


RIDGE = get_learner("ridge")


def _ridge(stats: _ClassStats, normaliser: float, gamma: float) -> np.ndarray:
    # The loop keeps per-class sufficient statistics, so its learner must fit on them.
    return RIDGE.fit_statistics(stats.scatter, stats.signal, normaliser, gamma)


def _psd_root(cov: np.ndarray) -> np.ndarray:
    """A factor F with F F^T = cov; the pooled covariance is singular when rows - 2 < p."""
    evals, evecs = np.linalg.eigh(cov)
    return evecs * np.sqrt(np.clip(evals, 0.0, None))


def _balanced_labels(count: int) -> np.ndarray:
    labels = -np.ones(count)
    labels[: (count + 1) // 2] = 1.0
    return labels


class _Generator(NamedTuple):
    """The generator refitted on a training set: its mean, covariance (None for the identity) and a root."""

    mean: np.ndarray
    cov: np.ndarray | None
    root: np.ndarray | None


def _draw_rows(rng: np.random.Generator, generator: _Generator, m: int, p: int) -> tuple[np.ndarray, np.ndarray]:
    """(generator labels y*, rows) of m rows drawn from the generator."""
    y_star = _balanced_labels(m)
    noise = rng.standard_normal((m, p))
    if generator.root is None:
        return y_star, np.outer(y_star, generator.mean) + noise
    return y_star, np.outer(y_star, generator.mean) + noise @ generator.root.T


def _cde_accuracy(known: _ClassStats, normaliser: float, mu: np.ndarray, generator: _Generator, mix: Mix) -> float:
    """The conditional deterministic equivalent of this generation, given the sampled history (14.6)."""
    alpha = float(keep_rate(mix.label_noise, mix.rho, mix.phi))
    lam = float(label_signal(mix.label_noise, mix.rho, mix.phi))
    pred = cde_prediction(
        known_scatter=known.scatter, known_signal=known.signal, normaliser=normaliser,
        mu=mu, generator_mean=generator.mean, generator_cov=generator.cov,
        kept=alpha * mix.m, label_signal_total=lam * mix.m, gamma=mix.gamma,
    )
    return pred["accuracy"]


def _record(out: dict[str, np.ndarray], k: int, w: np.ndarray, train: _ClassStats, mu: np.ndarray, mu2: float,
            generator_covariance: str) -> _Generator:
    """Record generation k's accuracy and refitted generator; returns the generator."""
    norm = np.linalg.norm(w)
    out["accuracy"][k] = ndtr(w @ mu / norm) if norm > 0 else 0.5
    generator_mean = train.midpoint_mean()
    proj = generator_mean @ mu
    out["beta"][k] = proj / mu2
    out["tau2"][k] = generator_mean @ generator_mean - proj**2 / mu2
    if generator_covariance == "estimated":
        generator_cov = train.pooled_covariance()
        return _Generator(generator_mean, generator_cov, _psd_root(generator_cov))
    return _Generator(generator_mean, None, None)


def _one_replicate(rng: np.random.Generator, mix: Mix, model: ModelSpec, loop: LoopSpec, *,
                   with_cde: bool) -> dict[str, np.ndarray]:
    n, m, p = int(mix.n), int(mix.m), int(model.p)
    label_noise, gamma, regime, labels = mix.label_noise, mix.gamma, loop.regime, loop.labels
    mu = np.zeros(p)
    mu[0] = model.mu_norm
    mu2 = model.mu_norm**2
    out = {key: np.full(int(loop.generations) + 1, np.nan) for key in _REPLICATE_KEYS}

    y_real = _balanced_labels(n)
    x_real = np.outer(y_real, mu) + rng.standard_normal((n, p))
    real = _ClassStats.of(x_real, y_real)
    synthetic_sum: _ClassStats | None = None
    synthetic_total = 0  # generated rows in the training set, kept or not (the ridge normaliser counts them)

    train = real
    w = _ridge(train, float(n), gamma)
    for k in range(int(loop.generations) + 1):
        if k >= 1:
            normaliser = n + (synthetic_total + m if regime == "accumulate" else m)
            if with_cde and labels == "noisy":
                known = real if regime == "replace" or synthetic_sum is None else real + synthetic_sum
                out["cde_accuracy"][k] = _cde_accuracy(known, normaliser, mu, generator, mix)
            # The previous classifier's margin on the generator: its accuracy there is Phi(margin).
            out["margin"][k] = w @ generator.mean / np.linalg.norm(w)
            y_star, rows = _draw_rows(rng, generator, m, p)
            if labels == "noisy":
                flips = rng.random(m) < label_noise
                observed = np.where(flips, -y_star, y_star)
            else:
                scores = rows @ w
                observed = np.where(scores >= 0, 1.0, -1.0)
            correct = observed == y_star
            keep = mix.verifier.keep(correct, rng.random(m), features=rows, labels=observed)
            out["flip_rate"][k] = 1.0 - correct.mean()
            out["kept"][k] = keep.sum()
            block = _ClassStats.of(rows[keep], observed[keep])
            if regime == "accumulate":
                synthetic_sum = block if synthetic_sum is None else synthetic_sum + block
                synthetic_total += m
                train = real + synthetic_sum
            else:
                synthetic_sum = block
                synthetic_total = m
                train = real + block
            w = _ridge(train, float(normaliser), gamma)
        generator = _record(out, k, w, train, mu, mu2, loop.generator_covariance)
    return out


def _mean_se(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    count = values.shape[0]
    mean = values.mean(axis=0)
    se = values.std(axis=0, ddof=1) / np.sqrt(count) if count > 1 else np.full(values.shape[1:], np.nan)
    return mean, se


def simulate_loop(*, seeds: int = 100, seed: int = 0, with_cde: bool = False, **setting) -> dict[str, np.ndarray]:
    """Simulate the self-consuming loop for generations k = 0..K, over independent seeds.

    Parameters
    ----------
    **setting
        The keywords of :func:`rmtsynth.core.loop.loop_setting`: n, m, p (whole numbers: real rows,
        synthetic rows generated per generation, dimension), mu_norm (mu lies along the first axis;
        the model is rotation invariant), label_noise (the generator labels' flip rate, noisy labels
        only), rho, phi (the verifier's keep probabilities of a wrong and a correct label), gamma,
        generations (K), regime (the training set of generation k: the real rows plus the kept rows of
        generation k, or of 1..k), labels (a generated row's observed label: its generator label
        flipped with probability label_noise, or the previous classifier's prediction) and
        generator_covariance (I, or the pooled within-class covariance of the previous training set,
        divisor rows - 2).
    seeds : int
        Number of independent replicates.
    seed : int
        Root seed; replicate i uses ``replicate_rng(point_seed(seed, stable_key(params)), i)``, with
        params everything above except ``generations`` and ``seeds``, so a longer run extends a
        shorter one and more seeds extend fewer.
    with_cde : bool
        Also evaluate, per seed and generation k >= 1, the conditional deterministic equivalent
        (THEORY 14.6) from the sampled history (noisy labels only; O(p^3) each).

    Returns
    -------
    dict
        Arrays over k = 0..K: ``accuracy_mean``, ``accuracy_se``, ``beta_mean``, ``beta_se``,
        ``tau2_mean``, ``tau2_se``, ``flip_rate_mean``, ``flip_rate_se`` (fraction of generated rows
        whose observed label differs from the generator's, before the verifier; nan at k = 0),
        ``margin_mean``, ``margin_se`` (w_{k-1}^T mu_hat_{k-1} / ||w_{k-1}||, the margin that sets the
        pseudo-label flip rate Phi(-margin); nan at k = 0), ``kept_mean``, ``kept_se``; per-seed
        arrays of shape (seeds, K + 1): ``accuracy``, ``beta``, ``tau2``, ``flip_rate``, ``margin``,
        ``kept`` and, with ``with_cde``, ``cde_accuracy`` (nan at k = 0).
    """
    mix, model, loop = loop_setting(**setting)
    check_loop(mix, model, loop, whole_counts=True)
    if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)) or seeds < 1:
        raise ParameterError(f"seeds has an invalid value ({seeds!r}); it must be a whole number >= 1.")
    per_seed = loop_replicates(mix, model, loop, root_seed=seed, start=0, stop=int(seeds), with_cde=with_cde)
    result = _summarise(per_seed)
    if not with_cde:
        del result["cde_accuracy"]
    result["generation"] = np.arange(int(loop.generations) + 1)
    return result


def seed_params(mix: Mix, model: ModelSpec, loop: LoopSpec) -> dict:
    """The mapping a setting's seed is derived from: everything but the generations and the seeds."""
    return {
        "n": int(mix.n), "m": int(mix.m), "p": int(model.p), "mu_norm": float(model.mu_norm),
        "label_noise": float(mix.label_noise), "rho": float(mix.rho), "phi": float(mix.phi),
        "gamma": float(mix.gamma), "regime": loop.regime, "labels": loop.labels,
        "generator_covariance": loop.generator_covariance, "simulation": "loop",
    }


def _summarise(per_seed: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per-seed arrays stacked (seeds, K + 1), with mean and standard error over seeds."""
    result: dict[str, np.ndarray] = {}
    for key in per_seed[0]:
        stacked = np.stack([rep[key] for rep in per_seed])
        result[key] = stacked
    for key in ("accuracy", "beta", "tau2", "flip_rate", "margin", "kept"):
        with np.errstate(invalid="ignore"):
            mean, se = _mean_se(result[key])
        result[f"{key}_mean"] = mean
        result[f"{key}_se"] = se
    return result


def loop_replicates(
    mix: Mix, model: ModelSpec, loop: LoopSpec, *, root_seed: int, start: int, stop: int, with_cde: bool = False
) -> list[dict[str, np.ndarray]]:
    """Replicates ``start`` to ``stop - 1`` of one loop setting, each from its own stream.

    Replicate i draws only from ``replicate_rng(point_seed(root_seed, stable_key(seed_params(mix,
    model, loop))), i)``, so a run split into batches (over workers, say) gives the same replicates
    as one long run, and a longer loop extends a shorter one. The setting must lie in the loop's
    domain with whole counts (:func:`rmtsynth.core.loop.check_loop`).
    """
    root = point_seed(root_seed, stable_key(seed_params(mix, model, loop)))
    return [_one_replicate(replicate_rng(root, i), mix, model, loop, with_cde=with_cde) for i in range(start, stop)]
