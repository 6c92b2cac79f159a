"""Evaluating resolved points: the theory, vectorised per generator, and the model to simulate.

A generator (its covariance kind, mean and dimension) fixes the eigen-data once; every point that
shares it is evaluated in one vectorised call. Random geometry (the directions of mu and of the
generator's spurious shift when C is not rotation invariant) comes from the run's root seed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from rmtsynth.core.learners import DEFAULT_LEARNER, Learner, get_learner
from rmtsynth.core.model import Covariance, DataModel, Mix, ModelSpec
from rmtsynth.core.theory import TheoryResult
from rmtsynth.sim.geometry import placed_model
from rmtsynth.sim.seeding import point_seed, replicate_rng, stable_key
from rmtsynth.config.resolve import ResolvedPoint

THEORY_FIELDS = ("accuracy", "mean", "second_moment", "variance", "risk", "delta_real", "delta_synth", "delta_gen")


def model_for(gen: ModelSpec, seed: int) -> DataModel:
    """The data model of a generator, placed with the run's root seed."""
    return placed_model(gen, seed)


def theory_for_generator(gen: ModelSpec, mix: Mix, *, seed: int = 0, convention: str = "exact",
                         learner: Learner | str = DEFAULT_LEARNER) -> TheoryResult:
    """The theory at a mix (a point or a grid) for one generator: its verifier's, with the learner."""
    return mix.verifier.theory(get_learner(learner), placed_model(gen, seed), mix, convention=convention)


def generator_seed(gen: ModelSpec, root_seed: int) -> np.random.SeedSequence:
    """The seed of a random generator's draws, shared by every point that uses the generator."""
    return point_seed(root_seed, stable_key({"generator": gen.seed_record()}))


def uses_plug_in(gen: ModelSpec, covariance_mode: str) -> bool:
    """Whether the theory conditions on each sampled C instead of its Marchenko-Pastur limit.

    Always so when the generator's mean is estimated from the same samples as C, which the
    closed form of THEORY.md section 7 does not cover.
    """
    return gen.covariance.kind == "estimated" and (covariance_mode == "plug_in" or gen.covariance.estimate_mean)


def plug_in_theory(
    gen: ModelSpec, mix: Mix, *, seed: int, replicates: int, convention: str = "exact",
    learner: Learner | str = DEFAULT_LEARNER,
) -> dict[str, np.ndarray]:
    """The learner's theory at each replicate's sampled C (and mean), averaged over the replicates.

    The draws are those the simulation makes (same generator seed), so the plug-in conditions on
    exactly the covariances the Monte-Carlo used. O(p^3) per replicate, then O(p) per point.
    """
    from rmtsynth.sim.samplers import apply_factor, draw_generator

    model = model_for(gen, seed)
    gseed = generator_seed(gen, seed)
    total: dict[str, np.ndarray] = {}
    for r in range(replicates):
        mu_beta, factor = draw_generator(model, replicate_rng(gseed, r))
        root = apply_factor(factor, np.eye(gen.p)) if np.ndim(factor) < 2 else np.asarray(factor)
        sampled = DataModel(spec=replace(gen, covariance=Covariance(kind="file", matrix=root @ root.T)),
                            mu=model.mu, mean=mu_beta)
        res = mix.verifier.theory(get_learner(learner), sampled, mix, convention=convention)
        for f in THEORY_FIELDS:
            total[f] = total.get(f, 0.0) + getattr(res, f)
    return {f: v / replicates for f, v in total.items()}


def theory_for_points(
    points: list[ResolvedPoint],
    *,
    seed: int = 0,
    convention: str = "exact",
    covariance_mode: str = "closed_form",
    replicates: int = 1,
) -> dict[str, np.ndarray]:
    """Theory for a list of points, grouped by generator, learner and verifier rule, vectorised within each group.

    Each group's verifier answers for its theory (:meth:`rmtsynth.core.verifiers.Verifier.theory`):
    the learner's own for a feature-blind verifier.
    """
    out = {f: np.full(len(points), np.nan) for f in THEORY_FIELDS}
    groups: dict[tuple, list[int]] = {}
    for i, pt in enumerate(points):
        rule = pt.mix.rule
        groups.setdefault((pt.generator, pt.learner, rule, None if rule is None else (pt.rho, pt.phi)), []).append(i)
    for (gen, learner, _rule, _rates), idx in groups.items():
        mix = Mix.of_points([points[i] for i in idx])
        if not mix.verifier.has_theory:
            continue  # a verifier without a theory is simulated only
        if uses_plug_in(gen, covariance_mode):
            res = plug_in_theory(gen, mix, seed=seed, replicates=replicates, convention=convention, learner=learner)
            for f in THEORY_FIELDS:
                out[f][idx] = res[f]
            continue
        res = mix.verifier.theory(get_learner(learner), placed_model(gen, seed), mix, convention=convention)
        for f in THEORY_FIELDS:
            out[f][idx] = getattr(res, f)
    return out
