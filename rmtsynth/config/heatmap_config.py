"""The cross-key rules of a heatmap that need its resolved cells (the others are in ``heatmap_settings``)."""

from __future__ import annotations

from typing import Sequence

from rmtsynth.config.resolve import ResolvedPoint
from rmtsynth.errors import ConfigError


def check_heatmap_points(quantity: str, points: Sequence[ResolvedPoint]) -> None:
    """Some cell is a possible verifier, and the gain has real data to compare with."""
    if not points:
        raise ConfigError("Every cell of the heatmap is an impossible verifier (precision below its minimum).")
    if quantity == "gain" and all(pt.n == 0 for pt in points):
        raise ConfigError("The gain needs real data (n > 0) to compare with; use plot.y: accuracy for synthetic data only.")
