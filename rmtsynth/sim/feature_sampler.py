"""An exact sampler of (S, r) for a verifier that looks at the features (THEORY.md 9.5 and 15.2).

:func:`sample_feature_exact` takes the arguments of :func:`rmtsynth.sim.samplers.sample_exact` (the model and the mix)
and returns what it returns, ``(S, r)`` with S (p, p) and r (p,), with exactly the law of the
literal sampler (:func:`rmtsynth.sim.samplers.sample_naive`) run with a
:class:`~rmtsynth.core.verifiers.FeatureVerifier`, without drawing the m x p synthetic matrix.

How: in xi-space (xi = label * x) a synthetic row of label group s (s = +1 correct, -1 flipped)
is ``s mu_beta + zeta g + F P z`` with F F' = C, u = F'v / sigma_v, g = F u, P = I - u u', z
standard normal and zeta = u'(s y* z~) ~ N(0, 1); the verifier's margin is sigma_v (a_s + zeta).
So a row is kept independently with probability q_s Z_s, the kept counts are multinomial, and a
kept row's zeta has the tilted law of 15.2 while F P z stays Gaussian and independent of it.
Rotating each group's k rows as in 9.5 (first direction 1/sqrt(k), second along the centred
zeta) leaves two columns per group, which need only the sum and the spread of the group's zetas,
and a Wishart(k - 2) rest; the rests of the two groups merge into one Wishart. The cost is
O(p^3) plus k one-dimensional draws (the tilted zetas), whatever n and m.

A feature-blind verifier is passed on to :func:`~rmtsynth.sim.samplers.sample_exact`, with its
draws unchanged.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr, ndtri_exp

from rmtsynth.core.verifiers import EXACT_SAMPLER, FeatureVerifier, Verifier
from rmtsynth.errors import ParameterError
from rmtsynth.core.model import DataModel, Mix
from rmtsynth.sim.samplers import (
    Factor,
    Generator,
    _compact_factor,
    _exact_block,
    apply_factor,
    draw_generator,
    factor_dim,
    sample_exact,
    sampler_inputs,
    wishart_root,
)

__all__ = ["sample_feature_exact", "draw_tilted_scores", "normal_above"]


def normal_above(lower: float, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` draws of N(0, 1) conditioned on being above ``lower``, by the inverse survival function.

    Computed in logs, so it stays exact far into either tail.
    """
    return -ndtri_exp(np.log1p(-rng.random(count)) + log_ndtr(-lower))


def draw_tilted_scores(verifier: FeatureVerifier, a: float, score_sd: float, count: int,
                       rng: np.random.Generator) -> np.ndarray:
    """``count`` draws of zeta from the law phi(z) F(sigma_v (a + z)) / Z (THEORY.md 15.2).

    keep-easy is N(0, 1) above -a and keep-hard below it; the soft rule Phi(x / s_F) keeps zeta
    when an independent W ~ N(0, 1) falls below k (a + zeta), k = sigma_v / s_F, so that zeta =
    d T + sqrt(1 - d^2) E with T = (k zeta - W) / sqrt(1 + k^2) ~ N(0, 1) above -d a and E ~ N(0, 1)
    independent, d = k / sqrt(1 + k^2).
    """
    if verifier.rule == "easy":
        return normal_above(-a, count, rng)
    if verifier.rule == "hard":
        return -normal_above(a, count, rng)
    ratio = score_sd / verifier.softness
    d = ratio / np.sqrt(1.0 + ratio * ratio)
    tilted = normal_above(-d * a, count, rng)
    return d * tilted + np.sqrt(1.0 - d * d) * rng.standard_normal(count)


def _factor_transpose(factor: Factor, v: np.ndarray) -> np.ndarray:
    """``F' v`` for a factor in any of the four forms."""
    if factor is None:
        return v
    if np.ndim(factor) == 0:
        return float(factor) * v
    f = np.asarray(factor)
    return f * v if f.ndim == 1 else f.T @ v


class _Tilt:
    """The verifier's direction in the generator's noise coordinates: u, g = F u, F P (.)."""

    def __init__(self, factor: Factor, direction: np.ndarray):
        w = _factor_transpose(factor, direction)
        self.score_sd = float(np.linalg.norm(w))
        # sigma_v = 0: the score is a constant, nothing is tilted and P is the identity.
        self.unit = w / self.score_sd if self.score_sd > 0 else np.zeros_like(w)
        self.factor = factor
        self.g = apply_factor(factor, self.unit)

    def noise(self, z: np.ndarray) -> np.ndarray:
        """``F P z`` for a (q, c) array of columns."""
        return apply_factor(self.factor, z - np.outer(self.unit, self.unit @ z))


def _group_columns(sign: float, mu_beta: np.ndarray, tilt: _Tilt, zeta: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """The one or two special columns of a kept group of k = len(zeta) >= 1 rows (the first gives r)."""
    k = zeta.size
    h = tilt.noise(rng.standard_normal((tilt.unit.size, 1 if k == 1 else 2)))
    centre = float(np.mean(zeta))
    first = np.sqrt(k) * (sign * mu_beta + centre * tilt.g) + h[:, 0]
    if k == 1:
        return first[:, None]
    spread = float(np.sqrt(np.sum((zeta - centre) ** 2)))
    return np.column_stack([first, spread * tilt.g + h[:, 1]])


def _kept_counts(verifier: FeatureVerifier, tilt: _Tilt, mu_beta: np.ndarray, m: int, label_noise: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(k_+, k_-) ~ Multinomial(m; (1 - eps) q_c Z_+, eps q_w Z_-, rest), and the groups' a_s."""
    score_mean = float(verifier.direction @ mu_beta)
    passed, _, _ = verifier.group_tilts(score_mean, tilt.score_sd)
    keep = np.array([1.0 - label_noise, label_noise]) * np.array([verifier.q_correct, verifier.q_wrong]) * passed
    counts = rng.multinomial(m, [keep[0], keep[1], max(0.0, 1.0 - keep.sum())])[:2]
    margins = np.array([score_mean, -score_mean]) - verifier.threshold
    a = margins / tilt.score_sd if tilt.score_sd > 0 else np.zeros(2)
    return counts, a


def sample_feature_exact(
    model: DataModel,
    mix: Mix,
    rng: np.random.Generator,
    *,
    generator: Generator | None = None,
    real_factor: Factor = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(S, r) with exactly the law of :func:`~rmtsynth.sim.samplers.sample_naive`, for a feature verifier.

    Parameters and returns are those of :func:`~rmtsynth.sim.samplers.sample_exact`; the mix's
    verifier may be a :class:`FeatureVerifier` or any feature-blind verifier (then this is
    ``sample_exact`` itself).
    """
    generator = draw_generator(model, rng) if generator is None else generator
    if not mix.verifier.feature_aware:
        return sample_exact(model, mix, rng, generator=generator, real_factor=real_factor)
    mu, mu_beta, factor, n, m, label_noise, verifier, p = sampler_inputs(model, mix, rng, generator, real_factor)
    refusal = verifier.supports(EXACT_SAMPLER)
    if refusal is not None:
        raise ParameterError(refusal)
    factor = _compact_factor(factor, p)
    real_factor = _compact_factor(real_factor, p)
    tilt = _Tilt(factor, verifier.direction)
    counts, a = _kept_counts(verifier, tilt, mu_beta, m, float(label_noise), rng)

    b_real, r_real = _exact_block(mu, real_factor, n, n, rng)
    columns, r = [b_real], r_real
    for sign, k, a_s in zip((1.0, -1.0), counts, a):
        if k == 0:
            continue
        zeta = draw_tilted_scores(verifier, a_s, tilt.score_sd, int(k), rng) if tilt.score_sd > 0 else np.zeros(k)
        group = _group_columns(sign, mu_beta, tilt, zeta, rng)
        columns.append(group)
        r = r + np.sqrt(k) * group[:, 0]
    rest = int(sum(max(int(k) - 2, 0) for k in counts))
    columns.append(tilt.noise(wishart_root(factor_dim(factor, p), rest, rng)))
    b = np.ascontiguousarray(np.hstack(columns))
    return b @ b.T, r
