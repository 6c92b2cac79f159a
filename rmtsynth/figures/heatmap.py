"""Phase diagrams: the accuracy gain of the mix over real data alone on a two-parameter grid.

A figure of ``kind: heatmap`` sweeps its ``x`` and ``y`` parameters over a grid, in one or more
panels, and draws the gain (``plot.y: gain``, the default) or the accuracy as a colour map with
the break-even contour (gain = 0). Theory only: every cell is a deterministic equivalent.

Where the axes are the verifier's precision and recall, pairs that no verifier can have
(P < P_min(R) = R(1-eps)/(R(1-eps)+eps), THEORY.md section 12) are kept as rows marked
``valid = false`` and drawn masked.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
from matplotlib.lines import Line2D

from rmtsynth.config.figure_config import FigureConfig, heatmap_settings
from rmtsynth.config.heatmap_config import check_heatmap_theory, describe_cell, resolve_heatmap
from rmtsynth.core.verifiers.rates import min_precision
from rmtsynth.engine.heatmap_figure import run_heatmap
from rmtsynth.engine.sweep import SweepOptions, SweepResult

PROPORTION_PARAMS = ("synthetic_proportion", "m_over_n", "m")


def _grid(rows: list[dict[str, Any]], xs: list[Any], ys: list[Any], key: str) -> np.ndarray:
    out = np.full((len(ys), len(xs)), np.nan)
    xi = {float(x): j for j, x in enumerate(xs)}
    yi = {float(y): i for i, y in enumerate(ys)}
    for r in rows:
        v = r.get(key)
        if v is not None and r.get("valid", True):
            out[yi[float(r["y"])], xi[float(r["x"])]] = float(v)
    return out


def _panel_constant(rows: list[dict[str, Any]], key: str) -> float | None:
    """The value of ``key`` if it is the same in every valid row of the panel."""
    values = {round(float(r[key]), 12) for r in rows if r.get("valid") and r.get(key) is not None}
    return values.pop() if len(values) == 1 else None


def plot_heatmap(cfg: FigureConfig, rows: list[dict[str, Any]]):
    """One colour map per panel with a shared diverging scale centred at 0, and the break-even contour."""
    from rmtsynth.figures.style import new_figure, style

    quantity = heatmap_settings(cfg).quantity
    key = "gain" if quantity == "gain" else "theory_accuracy"
    xs = [float(v) for v in cfg.x.values]
    ys = [float(v) for v in cfg.y_axis.values]
    n_panels = len(cfg.panels)
    grids = []
    for panel in cfg.panels:
        sel = [r for r in rows if r["panel"] == panel.label]
        grids.append((sel, _grid(sel, xs, ys, key)))
    norm, cmap, cbar_label = _colour_scale(quantity, grids)
    with style():
        caption = " ".join(str(cfg.plot.get("caption") or "").split())
        width = 4.4 * n_panels + 1.0
        lines = textwrap.wrap(caption, width=int(width * 13)) if caption else []
        extra = 0.2 + 0.17 * len(lines) if lines else 0.0
        fig = new_figure(figsize=(width, 4.6 + extra), layout="constrained")
        # The caption gets its own strip below the panels and their legend.
        top, bottom = fig.subfigures(2, 1, height_ratios=[4.6, extra]) if lines else (fig, None)
        axes = top.subplots(1, n_panels, squeeze=False, sharey=True)
        mesh = None
        legend: dict[str, Any] = {}
        for ip, (panel, (sel, grid)) in enumerate(zip(cfg.panels, grids)):
            mesh, handles = _draw_panel(axes[0, ip], cfg, ip, panel, sel, grid, xs, ys, cmap, norm)
            for h in handles:
                legend.setdefault(h.get_label(), h)
        if legend:
            # Below the panels, so that it hides no cell.
            top.legend(handles=list(legend.values()), loc="outside lower center", ncols=min(len(legend), 4), frameon=False)
        if mesh is not None:
            _draw_colorbar(top, axes, mesh, norm, quantity, cbar_label)
        if cfg.title:
            fig.suptitle(cfg.title)
        if bottom is not None:
            bottom.text(0.02, 0.95, "\n".join(lines), fontsize=8.5, ha="left", va="top")
    return fig


def _colour_scale(quantity: str, grids: list[tuple[list[dict[str, Any]], np.ndarray]]):
    """The shared colour norm, colour map and colour-bar label of every panel."""
    from matplotlib.colors import TwoSlopeNorm

    from rmtsynth.figures.style import colormap

    finite = np.concatenate([g[np.isfinite(g)] for _, g in grids]) if grids else np.array([])
    if quantity == "gain":
        # Each side of 0 gets the full colour range, so small gains stay visible next to large losses.
        lo = min(float(np.min(finite)), -1e-6) if finite.size else -1.0
        hi = max(float(np.max(finite)), 1e-6) if finite.size else 1.0
        norm = TwoSlopeNorm(vcenter=0.0, vmin=lo, vmax=hi)
        cmap = colormap("RdBu")
        cbar_label = "accuracy gain over real data alone"
    else:
        lo = float(np.min(finite)) if finite.size else 0.0
        hi = float(np.max(finite)) if finite.size else 1.0
        centre = 0.5 if lo < 0.5 < hi else 0.5 * (lo + hi)
        norm = TwoSlopeNorm(vcenter=centre, vmin=min(lo, centre - 1e-9), vmax=max(hi, centre + 1e-9))
        cmap = colormap("RdBu")
        cbar_label = "test accuracy"
    return norm, cmap, cbar_label


def _draw_panel(ax, cfg: FigureConfig, ip: int, panel, sel, grid: np.ndarray, xs, ys, cmap, norm) -> tuple[Any, list]:
    """One panel's colour map, contour and guides; returns the mesh and the panel's legend handles."""
    from matplotlib.patches import Patch

    ax.grid(False)
    ax.set_facecolor("0.82")
    mesh = ax.pcolormesh(xs, ys, np.ma.masked_invalid(grid), shading="nearest", cmap=cmap, norm=norm, rasterized=True)
    handles: list[Any] = []
    gain = _grid(sel, xs, ys, "gain")
    m_grid = _grid(sel, xs, ys, "m")
    # Cells without synthetic data have gain exactly 0 and would trace a spurious contour.
    contour_gain = np.where(m_grid > 0, gain, np.nan)
    if np.nanmin(contour_gain, initial=np.inf) < 0 < np.nanmax(contour_gain, initial=-np.inf):
        ax.contour(xs, ys, contour_gain, levels=[0.0], colors="k", linewidths=1.8)
        handles.append(Line2D([], [], color="k", lw=1.8, label="break-even (gain = 0)"))
    _draw_best_proportion(ax, cfg, xs, ys, gain, handles)
    _draw_guides(ax, cfg, sel, xs, ys, handles)
    ax.set_xlabel(cfg.x.label)
    if ip == 0:
        ax.set_ylabel(cfg.y_axis.label)
    ax.set_xscale(cfg.x.scale)
    ax.set_yscale(cfg.y_axis.scale)
    ax.set_xlim(_edges(xs, cfg.x.scale))
    ax.set_ylim(_edges(ys, cfg.y_axis.scale))
    if panel.label:
        ax.set_title(panel.label)
    if any(not r["valid"] for r in sel):
        handles.append(Patch(facecolor="0.82", edgecolor="0.5", label="impossible verifier ($P < P_{\\min}(R)$)"))
    return mesh, handles


def _draw_colorbar(top, axes, mesh, norm, quantity: str, label: str) -> None:
    """The colour bar, with ticks on each half of the two-slope scale."""
    from matplotlib.ticker import MaxNLocator

    cbar = top.colorbar(mesh, ax=axes[0, :].tolist(), shrink=0.95, pad=0.02)
    cbar.set_label(label)
    # The two halves have their own scales, so each gets its own ticks.
    vmin, vmax, mid = norm.vmin, norm.vmax, norm.vcenter
    halves = [MaxNLocator(4).tick_values(vmin, mid), MaxNLocator(4).tick_values(mid, vmax)]
    ticks = np.unique(np.concatenate(halves + [[mid]]))
    ticks = ticks[(ticks >= vmin - 1e-12) & (ticks <= vmax + 1e-12)]
    cbar.set_ticks(ticks)
    cbar.set_ticklabels([f"{v:+.3g}" if quantity == "gain" and v != 0 else f"{v:.3g}" for v in ticks])


def _edges(values: list[float], scale: str) -> tuple[float, float]:
    """Axis limits that show the outer cells whole (cells are centred on the grid values)."""
    if len(values) < 2:
        v = values[0]
        return (v * 0.9, v * 1.1) if scale == "log" else (v - 0.5, v + 0.5)
    if scale == "log":
        lo = values[0] ** 1.5 / values[1] ** 0.5
        hi = values[-1] ** 1.5 / values[-2] ** 0.5
        return lo, hi
    return values[0] - 0.5 * (values[1] - values[0]), values[-1] + 0.5 * (values[-1] - values[-2])


def _draw_best_proportion(ax, cfg: FigureConfig, xs, ys, gain: np.ndarray, handles: list) -> None:
    """With the mix on the y axis: the best mix for each x, where synthetic data help."""
    if cfg.y_axis.param not in PROPORTION_PARAMS:
        return
    best_x, best_y = [], []
    for j, x in enumerate(xs):
        col = gain[:, j]
        if np.all(np.isnan(col)):
            continue
        i = int(np.nanargmax(col))
        if col[i] > 0:
            best_x.append(x)
            best_y.append(ys[i])
    if len(best_x) > 1:
        style = {"color": "#1a9850", "lw": 1.6}
        ax.plot(best_x, best_y, **style)
        handles.append(Line2D([], [], label="best mix on the grid", **style))


def _draw_guides(ax, cfg: FigureConfig, sel, xs, ys, handles: list) -> None:
    """eps* where the label noise is an axis; precision 1/2 and P_min(R) where precision is."""
    axes_params = {cfg.x.param: "x", cfg.y_axis.param: "y"}
    if "label_noise" in axes_params:
        star = _panel_constant(sel, "eps_star")
        lo, hi = (min(xs), max(xs)) if axes_params["label_noise"] == "x" else (min(ys), max(ys))
        if star is not None and lo < star < hi:
            on_x = axes_params["label_noise"] == "x"
            (ax.axvline if on_x else ax.axhline)(star, color="0.15", ls="--", lw=1.1)
            ax.annotate(
                f"$\\varepsilon^* = {star:.3g}$",
                xy=(star, 0.03) if on_x else (0.97, star),
                xycoords=("data", "axes fraction") if on_x else ("axes fraction", "data"),
                xytext=(4, 0) if on_x else (0, 4),
                textcoords="offset points",
                ha="left" if on_x else "right",
                fontsize=8.5,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
            )
            handles.append(Line2D([], [], color="0.15", ls="--", lw=1.1, label="$\\varepsilon^* = \\varphi/(\\varphi+\\rho)$: precision 1/2"))
    if "verifier_precision" in axes_params:
        lo, hi = (min(xs), max(xs)) if axes_params["verifier_precision"] == "x" else (min(ys), max(ys))
        if lo < 0.5 < hi:
            line = ax.axvline if axes_params["verifier_precision"] == "x" else ax.axhline
            line(0.5, color="0.15", ls="--", lw=1.1)
            handles.append(Line2D([], [], color="0.15", ls="--", lw=1.1, label="precision 1/2 (labels carry no signal)"))
        eps = _panel_constant(sel, "label_noise")
        if (
            eps is not None
            and eps > 0
            and axes_params.get("verifier_recall")
            and axes_params["verifier_precision"] != axes_params["verifier_recall"]
        ):
            r_vals = np.linspace(min(ys if axes_params["verifier_recall"] == "y" else xs), max(ys if axes_params["verifier_recall"] == "y" else xs), 200)
            p_vals = min_precision(eps, r_vals)
            if axes_params["verifier_precision"] == "x":
                ax.plot(p_vals, r_vals, color="0.35", lw=1.2)
            else:
                ax.plot(r_vals, p_vals, color="0.35", lw=1.2)
            handles.append(Line2D([], [], color="0.35", lw=1.2, label="$P_{\\min}(R)$: every wrong label kept"))


__all__ = ["plot_heatmap"]


def check(cfg: FigureConfig) -> int:
    """Resolve every cell; each point's theory (a heatmap draws theory only) must be supported."""
    _, cells, points, where, _ = resolve_heatmap(cfg)
    check_heatmap_theory(points, [describe_cell(cfg, cells[k]) for k in where], cfg.theory.convention)
    return len(cells)


def compute(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    return run_heatmap(cfg, options)


def draw(cfg: FigureConfig, result: SweepResult):
    return plot_heatmap(cfg, result.rows)
