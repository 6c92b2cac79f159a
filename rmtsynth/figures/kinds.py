"""The figure kinds: each is a module with the same three functions.

* ``check(cfg) -> int | None``: every check that needs no computing (the number of points when
  it is known), raising :class:`~rmtsynth.errors.ConfigError` with one sentence;
* ``compute(cfg, options) -> SweepResult``: the results table;
* ``draw(cfg, result) -> matplotlib.figure.Figure``: the figure, from the table alone.
"""

from __future__ import annotations

import importlib
from types import ModuleType

KIND_MODULES: dict[str, str] = {
    "curves": "rmtsynth.figures.curves",
    "heatmap": "rmtsynth.figures.heatmap",
    "marchenko_pastur": "rmtsynth.figures.marchenko_pastur",
    "generator_samples": "rmtsynth.figures.generator_samples",
    "real_data": "rmtsynth.figures.real_data",
    "generations": "rmtsynth.figures.generations",
    "mnist": "rmtsynth.figures.mnist",
    "prediction": "rmtsynth.figures.prediction",
}


def figure_kind(kind: str) -> ModuleType:
    """The module that checks, computes and draws figures of ``kind``."""
    return importlib.import_module(KIND_MODULES[kind])
