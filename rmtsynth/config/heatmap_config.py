"""A heatmap's cells, resolved, and the cross-key rules that need them (the others are in ``heatmap_settings``)."""

from __future__ import annotations

from typing import Any, Sequence

from rmtsynth.config.figure_config import FigureConfig, heatmap_settings
from rmtsynth.config.point_rules import check_theory
from rmtsynth.config.resolve import ResolvedPoint, resolve_point
from rmtsynth.core.verifiers.rates import rho_phi_from_precision_recall
from rmtsynth.core.verifiers import THEORY
from rmtsynth.errors import ConfigError, ParameterError


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


def _valid_verifier(params: dict[str, Any]) -> bool:
    """False when the cell's precision and recall are impossible at its label noise."""
    if "verifier_precision" not in params or "verifier_recall" not in params:
        return True
    eps = params.get("label_noise", 0.0)
    if not isinstance(eps, (int, float)):
        return True  # 'auto': resolved (and checked) with the point
    try:
        rho_phi_from_precision_recall(eps, params["verifier_precision"], params["verifier_recall"])
    except ParameterError:
        return False
    return True


def heatmap_cells(cfg: FigureConfig) -> list[tuple[int, Any, Any, dict[str, Any]]]:
    """Every (panel, x, y, merged params) of the grid, y outermost."""
    out = []
    for ip, panel in enumerate(cfg.panels):
        for yv in cfg.y_axis.values:
            for xv in cfg.x.values:
                merged = dict(cfg.params)
                merged.update(panel.params)
                merged[cfg.x.param] = xv
                merged[cfg.y_axis.param] = yv
                out.append((ip, xv, yv, merged))
    return out


def describe_cell(cfg: FigureConfig, cell: tuple) -> str:
    ip, xv, yv, _ = cell
    label = cfg.panels[ip].label
    return (f"In panel '{label}', at " if label else "At ") + f"{cfg.x.param} = {xv:g}, {cfg.y_axis.param} = {yv:g}"


def resolve_heatmap(cfg: FigureConfig) -> tuple[str, list, list[ResolvedPoint], list[int], list[bool]]:
    """Check a heatmap config and resolve its cells: (quantity, cells, points, cell of each point, valid)."""
    quantity = heatmap_settings(cfg).quantity
    cells = heatmap_cells(cfg)
    points: list[ResolvedPoint] = []
    where: list[int] = []
    valid = []
    for i, (ip, xv, yv, params) in enumerate(cells):
        ok = _valid_verifier(params)
        valid.append(ok)
        if not ok:
            continue
        points.append(resolve_point(params, cfg.base_dir, describe_cell(cfg, cells[i]), seed=cfg.seed))
        where.append(i)
    check_heatmap_points(quantity, points)
    return quantity, cells, points, where, valid
