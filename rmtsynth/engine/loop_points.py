"""A resolved loop point in the flat form :mod:`rmtsynth.figures.generations` still reads.

A loop's setting is a :class:`~rmtsynth.config.resolve.ResolvedPoint` (its ``mix`` and ``model``)
with a :class:`~rmtsynth.core.loop.LoopSpec`, resolved and checked by
:func:`rmtsynth.config.loop_config.resolve_loop_point`; the engine's theory and simulation take
those objects. The generations figure resolves its series here and feeds the one-generation formula
plain keywords; this view adds that mapping and nothing else, and goes when the figure reads the
point's ``mix`` and ``model`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from rmtsynth.config.loop_config import resolve_loop_point as resolve_setting
from rmtsynth.config.resolve import ResolvedPoint
from rmtsynth.core.loop import LoopSpec


@dataclass(frozen=True)
class LoopPoint:
    """A resolved point (every attribute read from it) and the keywords of the one-generation formula."""

    point: ResolvedPoint

    def __getattr__(self, name: str) -> Any:
        if name == "point":  # not set yet (while unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.point, name)

    def model_args(self) -> dict[str, Any]:
        """The plain keywords of :func:`rmtsynth.core.loop.one_generation_loop` but the loop's own."""
        return {k: getattr(self.point, k) for k in ("n", "m", "p", "mu_norm", "label_noise", "rho", "phi", "gamma")}


def resolve_loop_point(params: Mapping[str, Any], where: str = "params", *, labels: str = "noisy") -> LoopPoint:
    """:func:`rmtsynth.config.loop_config.resolve_loop_point` for a loop with these labels, as a :class:`LoopPoint`."""
    return LoopPoint(resolve_setting(params, LoopSpec(generations=0, labels=labels), where))
