"""Drawing figures from results tables (matplotlib, mathtext only: no LaTeX install needed).

Theory is drawn as solid lines and simulation as markers with error bars (one standard error),
in the same colour per series, with one subplot per panel.
"""

from __future__ import annotations

import math
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from rmtsynth.engine.sweep import SweepOptions, SweepResult, check_cells, resolve_cells, run_curves, theory_column
from rmtsynth.figures.style import COLORS, new_figure, style

Y_LABELS = {
    "accuracy": "test accuracy",
    "delta_real": r"$\delta$ (real)",
    "delta_synth": r"$\delta_s$ (synthetic)",
    "delta_gen": r"$\bar\delta$ (generator)",
    "mean": r"$\mathbb{E}[g]$",
    "variance": r"$\mathrm{Var}[g]$",
    "second_moment": r"$\mathbb{E}[g^2]$",
    "risk": "test risk",
    "gain": "accuracy gain over real data alone",
}

def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def plot_curves(cfg, rows: list[dict[str, Any]]) -> Figure:
    """One subplot per panel, one colour per series: theory lines and simulation markers."""
    n_panels = len(cfg.panels)
    ys = [p.y or cfg.plot.get("y") or "accuracy" for p in cfg.panels]
    sharey = cfg.plot.get("sharey", len(set(ys)) == 1)
    layout = cfg.plot.get("layout")
    ncols = n_panels if not layout else int(layout[1])
    nrows = 1 if not layout else int(layout[0])
    with style():
        fig = new_figure(figsize=(4.3 * ncols, 3.7 * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, sharey=bool(sharey), squeeze=False)
        axes_flat = axes.ravel()
        marks = cfg.plot.get("marks") or []
        for ip, panel in enumerate(cfg.panels):
            ax = axes_flat[ip]
            y = ys[ip]
            has_sim, has_argmax = _draw_series(ax, cfg, panel, rows, y, marks)
            if "eps_star" in marks:
                _mark_eps_star(ax, rows, panel.label)
            if "half" in marks:
                ax.axhline(0.5, color="0.6", lw=0.8)
            _label_axes(ax, cfg, panel, y, show_ylabel=ip % ncols == 0 or not sharey)
            legend = cfg.plot.get("legend", "first")
            if legend == "every" or ip == (n_panels - 1 if legend == "last" else 0):
                _legend(ax, cfg, has_sim, has_argmax)
        for extra in axes_flat[n_panels:]:
            extra.set_visible(False)
        if cfg.title:
            fig.suptitle(cfg.title)
        if cfg.plot.get("caption"):
            fig.text(0.01, -0.02, cfg.plot["caption"], fontsize=8.5, ha="left", va="top", wrap=True)
    return fig


def _draw_series(ax, cfg, panel, rows: list[dict[str, Any]], y: str, marks: list[str]) -> tuple[bool, bool]:
    """Every series of one panel; returns whether any has simulation markers and any a starred maximum."""
    has_sim = False
    has_argmax = False
    drawn = [(i, s) for i, s in enumerate(cfg.series) if s.draw]
    for iseries, series in drawn:
        color = COLORS[drawn.index((iseries, series)) % len(COLORS)]
        # A gain over another series is drawn from the gain columns, theory and simulation alike.
        col, sim_col = ("theory_gain", "sim_gain") if series.gain_over else (theory_column(y), "sim_accuracy")
        sel = [r for r in rows if r["panel"] == panel.label and r["series"] == series.label]
        sel.sort(key=lambda r: float(r["x"]))
        xs = [float(r["x"]) for r in sel]
        ax.plot(xs, [_num(r.get(col)) for r in sel], color=color, lw=1.8, label=series.label or None)
        sim = [r for r in sel if r.get(f"{sim_col}_mean") is not None]
        if sim and y == "accuracy":
            has_sim = True
            ax.errorbar(
                [float(r["x"]) for r in sim],
                [r[f"{sim_col}_mean"] for r in sim],
                yerr=[r[f"{sim_col}_se"] for r in sim],
                fmt="o",
                ms=4,
                mfc="white",
                mec=color,
                ecolor=color,
                elinewidth=1.1,
                capsize=2.5,
                zorder=3,
            )
        if cfg.plot.get("baseline") == "real_only" and sel and "theory_accuracy_real_only" in sel[0]:
            ax.axhline(_num(sel[0]["theory_accuracy_real_only"]), color=color, lw=1.0, ls=":", alpha=0.9)
        if cfg.plot.get("baseline") == "feature_blind" and any(r.get("verifier_keep") not in (None, "none") for r in sel):
            ax.plot(xs, [_num(r.get("theory_accuracy_feature_blind")) for r in sel], color=color, lw=1.2, ls="--")
        if "half_crossing" in marks:
            mark_half_crossings(ax, sel, col, color)
        if "argmax" in marks and _mark_argmax(ax, xs, [_num(r.get(col)) for r in sel], color, iseries):
            has_argmax = True
    return has_sim, has_argmax


def _mark_eps_star(ax, rows: list[dict[str, Any]], panel_label: str) -> None:
    """A dashed line at each eps* of the panel, labelled."""
    stars = sorted({round(float(r["eps_star"]), 12) for r in rows if r["panel"] == panel_label})
    for s in stars:
        if math.isfinite(s):
            ax.axvline(s, color="0.35", ls="--", lw=1.0)
            ax.annotate(
                rf"$\varepsilon^* = {s:.3g}$",
                xy=(s, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(4, -12),
                textcoords="offset points",
                fontsize=9,
                color="0.25",
            )


def _label_axes(ax, cfg, panel, y: str, *, show_ylabel: bool) -> None:
    """Scales, labels, title and limits of one panel."""
    ax.set_xscale(cfg.x.scale)
    ax.set_xlabel(cfg.x.label)
    if show_ylabel:
        ax.set_ylabel(panel.ylabel or cfg.plot.get("ylabel") or Y_LABELS.get(y, y))
    if panel.label:
        ax.set_title(panel.label)
    if cfg.plot.get("xlim"):
        ax.set_xlim(*cfg.plot["xlim"])
    if cfg.plot.get("ylim") and y == "accuracy":
        ax.set_ylim(*cfg.plot["ylim"])


def _legend(ax, cfg, has_sim: bool, has_argmax: bool) -> None:
    """The series' entries, then what the line styles and markers mean."""
    handles, labels = ax.get_legend_handles_labels()
    if has_sim:
        handles += [
            Line2D([], [], color="0.3", lw=1.8),
            Line2D([], [], color="0.3", marker="o", mfc="white", ls="none"),
        ]
        labels += ["theory", "simulation (±1 SE)"]
    if cfg.plot.get("baseline") == "real_only":
        handles.append(Line2D([], [], color="0.3", ls=":"))
        labels.append("real data only")
    if cfg.plot.get("baseline") == "feature_blind":
        handles.append(Line2D([], [], color="0.3", ls="--", lw=1.2))
        labels.append("feature-blind, same P and R")
    if "half_crossing" in (cfg.plot.get("marks") or []):
        handles.append(Line2D([], [], color="0.3", marker="D", ms=6, mec="k", mew=0.6, ls="none"))
        labels.append(r"crossing of 1/2 ($\varepsilon_c$, precision $P_c$)")
    if has_argmax:
        handles.append(Line2D([], [], color="0.3", marker="*", ms=10, mec="k", mew=0.6, ls="none"))
        labels.append("maximum of the theory")
    if handles:
        ax.legend(handles, labels, loc=cfg.plot.get("legend_loc", "best"), frameon=False)


def _mark_argmax(ax, xs: list[float], ys: list[float], color: str, index: int = 0) -> bool:
    """Star the theory's maximum over the grid and write its x next to it; only interior maxima
    (one at an end of the grid only says the optimum lies beyond it)."""
    values = [v if math.isfinite(v) else -math.inf for v in ys]
    if len(values) < 3 or max(values) == -math.inf:
        return False
    k = max(range(len(values)), key=values.__getitem__)
    if k == 0 or k == len(values) - 1:
        return False
    ax.plot([xs[k]], [ys[k]], marker="*", ms=11, color=color, mec="k", mew=0.6, ls="none", zorder=4)
    # Alternate sides so that labels of neighbouring maxima do not overlap.
    side = -1 if index % 2 == 0 else 1
    ax.annotate(
        f"{xs[k]:.3g}", xy=(xs[k], ys[k]), xytext=(3 * side, 6), textcoords="offset points",
        ha="right" if side < 0 else "left", fontsize=8.5, color=color,
    )
    return True


def half_crossings(rows: list[dict[str, Any]], col: str) -> list[tuple[float, float]]:
    """(x, precision) where the curve ``col`` crosses 1/2, linearly interpolated between grid points."""
    out = []
    for a, b in zip(rows, rows[1:]):
        ya, yb = _num(a.get(col)) - 0.5, _num(b.get(col)) - 0.5
        # A grid point exactly at 1/2 counts once, as the start of its pair.
        if math.isfinite(ya) and math.isfinite(yb) and (ya * yb < 0 or (ya == 0 and yb != 0)):
            w = ya / (ya - yb)
            x = float(a["x"]) + w * (float(b["x"]) - float(a["x"]))
            pa, pb = _num(a.get("verifier_precision")), _num(b.get("verifier_precision"))
            out.append((x, pa + w * (pb - pa)))
    return out


def mark_half_crossings(ax, rows: list[dict[str, Any]], col: str, color: str) -> None:
    """A diamond at each crossing of 1/2, labelled with its x and the verifier's precision there."""
    for x, precision in half_crossings(rows, col):
        ax.plot([x], [0.5], marker="D", ms=6, color=color, mec="k", mew=0.6, ls="none", zorder=4)
        # Written downwards from the diamond, so that labels of nearby crossings do not overlap.
        ax.annotate(f"{x:.2f} (P = {precision:.2f})", xy=(x, 0.5), xytext=(3, -8), textcoords="offset points",
                    rotation=90, ha="left", va="top", fontsize=8, color=color,
                    bbox=dict(fc="white", ec="none", alpha=0.75, pad=0.4))


def check(cfg) -> int:
    """Resolve and check every point (an impossible verifier anywhere is found before any work)."""
    return check_cells(cfg)


def compute(cfg, options: SweepOptions) -> SweepResult:
    return run_curves(cfg, options)


def draw(cfg, result: SweepResult) -> Figure:
    return plot_curves(cfg, result.rows)
