"""What a resolved point must allow before any work: a theory for its learner, a simulation that fits.

The engine calls these on every path that computes the point, and ``rmtsynth validate`` through a
kind's check, so that a config is refused with the same sentence before and during a run.
"""

from __future__ import annotations

import math

from rmtsynth.config.resolve import ResolvedPoint
from rmtsynth.core.learners import SUFFICIENT_STATISTICS, get_learner
from rmtsynth.core.verifiers import EXACT_SAMPLER, THEORY
from rmtsynth.errors import ConfigError

NAIVE_SAMPLER_MAX_ENTRIES = 2 * 10**8
# Per process; a sweep runs one replicate per worker at a time.
SIMULATION_MAX_BYTES = 2 * 2**30


def simulation_bytes(point: ResolvedPoint, sampler: str) -> float:
    """A replicate's peak memory, roughly: a few p x p matrices (and the data with the naive sampler)."""
    size = 6.0 * 8 * point.p * point.p
    if sampler == "naive":
        size += 2.0 * 8 * (point.n + point.m) * point.p
    return size


def check_simulable(point: ResolvedPoint, sampler: str, where: str) -> None:
    """Refuse, before any work, a replicate that would not fit in memory (or a learner the sampler
    cannot fit); the same on every path."""
    refusal = get_learner(point.learner).refusal(SUFFICIENT_STATISTICS) if sampler == "exact" else None
    if refusal is not None:
        raise ConfigError(f"{where}: simulation.sampler = exact: {refusal}")
    refusal = point.verifier.supports(EXACT_SAMPLER) if sampler == "exact" else None
    if refusal is not None:
        raise ConfigError(f"{where}: {refusal}")
    if simulation_bytes(point, sampler) > SIMULATION_MAX_BYTES:
        raise ConfigError(
            f"{where}: one simulated replicate at p = {point.p} needs about {simulation_bytes(point, sampler) / 2**30:.1f} GiB "
            f"of memory; the limit is {SIMULATION_MAX_BYTES / 2**30:.0f} GiB (p up to about "
            f"{int(math.sqrt(SIMULATION_MAX_BYTES / 48))}). Simulate a smaller p or use the theory alone."
        )
    if sampler == "naive" and (point.n + point.m) * point.p > NAIVE_SAMPLER_MAX_ENTRIES:
        raise ConfigError(
            f"{where}: the naive sampler would draw (n + m) x p = {(point.n + point.m) * point.p:.3g} numbers per "
            f"replicate; it allows at most {NAIVE_SAMPLER_MAX_ENTRIES:.0e}. Use simulation.sampler = exact."
        )


def check_theory(point: ResolvedPoint, convention: str, where: str) -> None:
    """Refuse a point whose verifier has a theory that does not cover its learner or convention."""
    verifier = point.verifier
    refusal = verifier.supports(THEORY, learner=get_learner(point.learner), convention=convention) if verifier.has_theory else None
    if refusal is not None:
        raise ConfigError(f"{where}: {refusal}")


__all__ = ["NAIVE_SAMPLER_MAX_ENTRIES", "SIMULATION_MAX_BYTES", "check_simulable", "check_theory", "simulation_bytes"]
