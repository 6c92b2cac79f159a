"""The cross-key rules of a heatmap that need its resolved cells (the others are in ``heatmap_settings``)."""

from __future__ import annotations

from typing import Sequence

from rmtsynth.config.point_rules import check_theory
from rmtsynth.config.resolve import ResolvedPoint
from rmtsynth.core.verifiers import THEORY
from rmtsynth.errors import ConfigError


def check_heatmap_points(quantity: str, points: Sequence[ResolvedPoint]) -> None:
    """Some cell is a possible verifier, and the gain has real data to compare with."""
    if not points:
        raise ConfigError("Every cell of the heatmap is an impossible verifier (precision below its minimum).")
    if quantity == "gain" and all(pt.n == 0 for pt in points):
        raise ConfigError("The gain needs real data (n > 0) to compare with; use plot.y: accuracy for synthetic data only.")


def check_heatmap_theory(points: Sequence[ResolvedPoint], where: Sequence[str], convention: str) -> None:
    """A heatmap draws theory only: every cell's verifier must have one that covers its learner."""
    for point, desc in zip(points, where):
        if not point.verifier.has_theory:
            raise ConfigError(f"{desc}: {point.verifier.supports(THEORY)}")
        check_theory(point, convention, desc)
