"""The heatmap kind's table: the theory on the (panel, y, x) grid, one row per cell."""

from __future__ import annotations

import time
from typing import Any

from rmtsynth.config.figure_config import FigureConfig
from rmtsynth.config.heatmap_config import resolve_heatmap
from rmtsynth.config.resolve import RESOLVED_COLUMNS, verifier_columns
from rmtsynth.core.learners import DEFAULT_LEARNER
from rmtsynth.engine.points import theory_for_points
from rmtsynth.engine.sweep import SweepOptions, SweepResult, learner_columns, real_only_accuracy

COLUMNS = (
    ["figure", "panel", "x", "y", "valid"]
    + RESOLVED_COLUMNS
    + ["eps_star", "theory_accuracy", "theory_accuracy_real_only", "gain"]
)


def run_heatmap(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    """Theory on the (panel, y, x) grid: accuracy, real-only accuracy and gain, one row per cell."""
    t0 = time.perf_counter()
    quantity, cells, points, where, valid = resolve_heatmap(cfg)
    theory = theory_for_points(points, seed=cfg.seed, convention=cfg.theory.convention)
    base = real_only_accuracy(points, seed=cfg.seed, convention=cfg.theory.convention)
    learner_column = learner_columns(points)
    # Verifiers that look at the rows add their columns, as in a curve's table; other heatmaps keep theirs.
    feature = verifier_columns(points)
    rows: list[dict[str, Any]] = []
    by_cell = dict(zip(where, range(len(points))))
    for i, (ip, xv, yv, _params) in enumerate(cells):
        row: dict[str, Any] = {"figure": cfg.name, "panel": cfg.panels[ip].label, "x": xv, "y": yv, "valid": valid[i]}
        k = by_cell.get(i)
        if k is None:
            row.update({c: None for c in COLUMNS + feature if c not in row})
            if learner_column:
                row["learner"] = _params.get("learner", DEFAULT_LEARNER)
            row["gain"] = float("nan")
        else:
            pt = points[k]
            # The fields are flat scalars, so this equals pt.record() without asdict's deep copies.
            row.update({c: getattr(pt, c) for c in RESOLVED_COLUMNS + learner_column})
            if feature:
                row.update(pt.verifier_record(tuple(feature)))
            acc = float(theory["accuracy"][k])
            row["eps_star"] = pt.verifier.transition()
            row["theory_accuracy"] = acc
            row["theory_accuracy_real_only"] = float(base[k])
            row["gain"] = acc - float(base[k])
        rows.append(row)
    info = {"points": len(rows), "valid_points": len(points), "theory_seconds": time.perf_counter() - t0, "quantity": quantity}
    columns = COLUMNS[:len(COLUMNS) - 4] + learner_column + feature + COLUMNS[len(COLUMNS) - 4:]
    return SweepResult(config=cfg, columns=columns, rows=rows, info=info)


__all__ = ["COLUMNS", "run_heatmap"]
