"""Placing a model in coordinates from the run's root seed.

When the generator's covariance is not rotation invariant, the directions of mu and of the
generator's shift are drawn once per run from the root seed, so every point and every replicate
of the run shares them.
"""

from __future__ import annotations

from functools import lru_cache

from rmtsynth.core.model import DataModel, ModelSpec, place_model
from rmtsynth.sim.seeding import named_rng


@lru_cache(maxsize=64)
def placed_model(spec: ModelSpec, root_seed: int) -> DataModel:
    """The run's :class:`DataModel` for a spec (cached by the spec's content and the seed)."""
    return place_model(spec, named_rng(root_seed, "geometry"))
