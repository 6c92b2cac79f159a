"""The figure kinds: each is a module of this package with the same three functions (:class:`FigureKind`).

* ``check(cfg) -> int | None``: every check that needs no computing (the number of points when
  it is known), raising :class:`~rmtsynth.errors.ConfigError` with one sentence;
* ``compute(cfg, options) -> SweepResult``: the results table;
* ``draw(cfg, result) -> matplotlib.figure.Figure``: the figure, from the table alone;
* optionally ``check_data(cfg) -> None``: the checks against the data the config names (its
  rows, its features), run by ``rmtsynth validate``; ``compute`` makes them again as it reads.

The kind names are those of :data:`rmtsynth.config.schema.FIGURE_KINDS`, the one list that config
checking, ``rmtsynth schema`` and this module share; each kind is the module of its name in
this package (``curves`` is ``rmtsynth.figures.curves``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Callable, Protocol, cast

from rmtsynth.config.schema import FIGURE_KINDS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from rmtsynth.engine.sweep import SweepOptions, SweepResult
    from rmtsynth.config.figure_config import FigureConfig


class FigureKind(Protocol):
    """What the module of every figure kind provides."""

    def check(self, cfg: FigureConfig) -> int | None:
        """Every check that needs no computing; the number of points when it is known."""
        ...

    def compute(self, cfg: FigureConfig, options: SweepOptions) -> SweepResult:
        """The results table of the figure."""
        ...

    def draw(self, cfg: FigureConfig, result: SweepResult) -> Figure:
        """The figure, drawn from the table alone."""
        ...


KIND_MODULES: dict[str, str] = {kind: f"{__package__}.{kind}" for kind in FIGURE_KINDS}


def figure_kind(kind: str) -> FigureKind:
    """The module that checks, computes and draws figures of ``kind``."""
    return cast(FigureKind, importlib.import_module(KIND_MODULES[kind]))


def data_check(kind: str) -> Callable[[FigureConfig], None] | None:
    """The check of ``kind`` against the data its config names, if the kind reads data."""
    return getattr(figure_kind(kind), "check_data", None)
