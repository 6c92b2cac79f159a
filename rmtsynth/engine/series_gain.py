"""Series drawn as a gain over another series of the same figure (kind curves, ``gain_over``).

A series with ``gain_over: LABEL`` is drawn as its accuracy minus that of series LABEL at the same
panel and x: the theory's difference, and the difference of the simulated means with the
standard errors added in quadrature (the two points' replicates descend from different seeds).
"""

from __future__ import annotations

import math
from typing import Any

from rmtsynth.config.figure_config import FigureConfig

GAIN_COLUMNS = ["theory_gain", "sim_gain_mean", "sim_gain_se"]


def uses_gains(cfg: FigureConfig) -> bool:
    """Whether any series of the figure is drawn as a gain over another."""
    return any(s.gain_over is not None for s in cfg.series)


def add_gains(cfg: FigureConfig, rows: list[dict[str, Any]]) -> None:
    """Fill the gain columns of every row (None outside the series drawn as gains)."""
    by_cell = {(r["panel"], r["series"], repr(r["x"])): r for r in rows}
    references = {s.label: s.gain_over for s in cfg.series}
    for row in rows:
        row.update(dict.fromkeys(GAIN_COLUMNS))
        reference = references.get(row["series"])
        if reference is None:
            continue
        other = by_cell.get((row["panel"], reference, repr(row["x"])))
        if other is None:
            continue
        row["theory_gain"] = row["theory_accuracy"] - other["theory_accuracy"]
        if row.get("sim_accuracy_mean") is not None and other.get("sim_accuracy_mean") is not None:
            row["sim_gain_mean"] = row["sim_accuracy_mean"] - other["sim_accuracy_mean"]
            row["sim_gain_se"] = math.hypot(row["sim_accuracy_se"], other["sim_accuracy_se"])
