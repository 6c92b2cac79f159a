"""Loop figures: a classifier retrained over generations of its own verified synthetic data.

A config of ``kind: generations`` draws one of four figures, chosen by ``generations.figure``
(THEORY.md section 14); the panels are the regimes (``generations.regimes``), the series the
verifiers (the config's ``series``), and the x axis the generation k = 0..K:

* ``accuracy``: accuracy against generation, theory lines (GR/FGR) and whole-loop simulation
  markers (±1 SE), the one-generation formula fed the exact generator dashed (it does not apply
  to a loop), and the real-only accuracy;
* ``generator``: the generator's alignment beta_k and spurious size tau_k^2, with the replace
  loop's closed-form fixed point;
* ``stability``: accuracy after K generations (replace: or the fixed point) over the verifier's
  precision and the synthetic proportion, against real data alone, with the break-even contour
  and the 3/4 line of accumulate (theory only);
* ``pseudo_labels``: pseudo-labels (FGR and simulation) against the model of independent flips,
  accuracy and flip rate.

The settings are checked in :mod:`rmtsynth.config.generations_config`, the table is computed in
:mod:`rmtsynth.engine.generations_figure`; this module draws the table.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from rmtsynth.figures.style import COLORS, colormap, new_figure, style

if TYPE_CHECKING:
    from rmtsynth.config.figure_config import FigureConfig
    from rmtsynth.engine.sweep import SweepOptions, SweepResult

ACCUMULATE_THRESHOLD = 0.75
PANEL_TITLES = {"replace": "replace: real rows + generation k", "accumulate": "accumulate: real rows + generations 1..k"}


def check(cfg: FigureConfig) -> int:
    """Every check that needs no computing; returns the number of rows of the table."""
    from rmtsynth.engine.generations_figure import check_generations

    return check_generations(cfg)


def compute(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    """The table of one generations figure: one row per (regime, series, generation), or per grid cell."""
    from rmtsynth.engine.generations_figure import run_generations_figure

    return run_generations_figure(cfg, options)


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------


def _num(value: Any) -> float:
    return float("nan") if value is None or value == "" else float(value)


def _series_labels(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(r["series"] for r in rows))


def _panels(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(r["panel"] for r in rows))


def _select(rows, panel, series):
    sel = [r for r in rows if r["panel"] == panel and r["series"] == series]
    return sorted(sel, key=lambda r: int(r["generation"]))


def _line(ax, sel, key, color, **kwargs) -> bool:
    xs = [int(r["generation"]) for r in sel]
    ys = [_num(r.get(key)) for r in sel]
    if all(math.isnan(y) for y in ys):
        return False
    ax.plot(xs, ys, color=color, **kwargs)
    return True


def _markers(ax, sel, key, color) -> bool:
    sim = [r for r in sel if r.get(f"sim_{key}_mean") is not None]
    if not sim:
        return False
    ax.errorbar([int(r["generation"]) for r in sim], [_num(r[f"sim_{key}_mean"]) for r in sim],
                yerr=[_num(r[f"sim_{key}_se"]) for r in sim], fmt="o", ms=4, mfc="white", mec=color, ecolor=color,
                elinewidth=1.1, capsize=2.5, zorder=3)
    return True


def _generation_axis(ax, rows) -> None:
    K = max(int(r["generation"]) for r in rows)
    ax.set_xlim(-0.3, K + 0.3)
    step = max(1, int(math.ceil((K + 1) / 10)))
    ax.set_xticks(list(range(0, K + 1, step)))


def draw(cfg: FigureConfig, result: SweepResult) -> Figure:
    """The figure, from the table alone."""
    figure = (cfg.extra.get("generations") or {}).get("figure", "accuracy")
    if figure == "stability":
        return _draw_stability(cfg, result.rows)
    return _draw_curves(cfg, result.rows, figure)


# What each row of panels draws: (theory column, simulation key, y label, dashed comparison, its label).
_ROWS_OF_PANELS = {
    "accuracy": [("theory_accuracy", "accuracy", "test accuracy", "one_generation_accuracy",
                  "one-generation formula (does not apply to a loop)")],
    "generator": [("theory_beta", "beta", r"alignment $\beta_k$", "fixed_point_beta", r"replace fixed point $\beta^*$"),
                  ("theory_tau2", "tau2", r"spurious size $\tau_k^2$", "fixed_point_tau2",
                   r"replace fixed point $\tau^{*2}$")],
    "pseudo_labels": [("theory_accuracy", "accuracy", "test accuracy", "flip_model_accuracy",
                       "independent flips (wrong model)"),
                      ("theory_flip_rate", "flip_rate", r"flip rate $\varepsilon_k$", "flip_model_flip_rate",
                       "independent flips (wrong model)")],
}


def _draw_curves(cfg: FigureConfig, rows: list[dict[str, Any]], figure: str) -> Figure:
    panels = _panels(rows)
    series = _series_labels(rows)
    plan = _ROWS_OF_PANELS[figure]
    nrows, ncols = len(plan), len(panels)
    with style():
        fig = new_figure(figsize=(4.6 * ncols, 3.6 * nrows + 0.5), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey="row")
        has = {"sim": False, "dashed": False, "real": False}
        for ic, panel in enumerate(panels):
            for ir, (column, sim_key, ylabel, dashed, _) in enumerate(plan):
                ax = axes[ir, ic]
                for iseries, label in enumerate(series):
                    color = COLORS[iseries % len(COLORS)]
                    sel = _select(rows, panel, label)
                    if not sel:
                        continue
                    _line(ax, sel, column, color, lw=1.8, label=label or None)
                    has["sim"] |= _markers(ax, sel, sim_key, color)
                    if dashed and _line(ax, sel, dashed, color, lw=1.3, ls="--", alpha=0.9):
                        has["dashed"] = True
                if ir == 0 and column == "theory_accuracy" and rows:
                    real = _num(_select(rows, panel, series[0])[0]["theory_accuracy_real_only"])
                    ax.axhline(real, color="0.35", lw=1.0, ls=":")
                    has["real"] = True
                    if cfg.plot.get("ylim"):
                        ax.set_ylim(*cfg.plot["ylim"])
                if ic == 0:
                    ax.set_ylabel(ylabel)
                if ir == 0:
                    ax.set_title(PANEL_TITLES.get(panel, panel))
                if ir == nrows - 1:
                    ax.set_xlabel("generation $k$")
                _generation_axis(ax, rows)
        # One legend below the panels: inside, it would cover the curves of some panel.
        handles, labels = axes[0, 0].get_legend_handles_labels()
        handles.append(Line2D([], [], color="0.3", lw=1.8))
        labels.append({"accuracy": "theory (exact in the limit)", "generator": "theory (recursion)",
                       "pseudo_labels": "theory (FGR)"}[figure])
        if has["sim"]:
            handles.append(Line2D([], [], color="0.3", marker="o", mfc="white", ls="none"))
            labels.append("whole-loop simulation (±1 SE)")
        if has["dashed"]:
            handles.append(Line2D([], [], color="0.3", ls="--"))
            labels.append(plan[0][4] if figure != "generator" else "replace: closed-form fixed point")
        if has["real"]:
            handles.append(Line2D([], [], color="0.35", ls=":"))
            labels.append("real data only")
        fig.legend(handles, labels, loc="outside lower center", ncol=min(4, len(handles)), frameon=False, fontsize=9)
        if cfg.title:
            fig.suptitle(cfg.title)
        if cfg.plot.get("caption"):
            fig.text(0.01, -0.02, cfg.plot["caption"], fontsize=8.5, ha="left", va="top", wrap=True)
    return fig


def _draw_stability(cfg: FigureConfig, rows: list[dict[str, Any]]) -> Figure:
    panels = _panels(rows)
    with style():
        fig = new_figure(figsize=(4.8 * len(panels) + 0.8, 4.2), layout="constrained")
        axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
        gains = [_num(r["gain"]) for r in rows if r["gain"] is not None]
        span = max([abs(g) for g in gains] + [1e-6])
        mesh = None
        for ip, panel in enumerate(panels):
            ax = axes[ip]
            sel = [r for r in rows if r["panel"] == panel]
            xs = sorted({float(r["x"]) for r in sel})
            ys = sorted({float(r["y"]) for r in sel})
            gain = np.full((len(ys), len(xs)), np.nan)
            xi = {x: j for j, x in enumerate(xs)}
            yi = {y: i for i, y in enumerate(ys)}
            for r in sel:
                gain[yi[float(r["y"])], xi[float(r["x"])]] = _num(r["gain"])
            mesh = ax.pcolormesh(xs, ys, np.ma.masked_invalid(gain), cmap=colormap("RdBu"), vmin=-span, vmax=span,
                                 shading="nearest")
            if np.nanmin(gain) < 0 < np.nanmax(gain):
                ax.contour(xs, ys, np.nan_to_num(gain, nan=-span), levels=[0.0], colors="k", linewidths=1.4)
            if panel == "accumulate" and xs[0] < ACCUMULATE_THRESHOLD < xs[-1]:
                ax.axvline(ACCUMULATE_THRESHOLD, color="0.15", ls="--", lw=1.2)
                ax.annotate("precision 3/4", xy=(ACCUMULATE_THRESHOLD, 1.0), xycoords=("data", "axes fraction"),
                            xytext=(4, -12), textcoords="offset points", fontsize=8.5)
            generation = sel[0]["generation"]
            when = "fixed point" if generation == "limit" else f"generation {generation}"
            ax.set_title(f"{panel}: {when}")
            ax.set_xlabel("verifier precision")
            if ip == 0:
                ax.set_ylabel("synthetic proportion $m/(n+m)$")
        handles = [Line2D([], [], color="k", lw=1.4)]
        labels = ["break-even with real data alone"]
        if "accumulate" in panels:
            handles.append(Line2D([], [], color="0.15", ls="--"))
            labels.append("accumulate stabilises above 3/4")
        axes[0].legend(handles, labels, loc="lower left", frameon=True, fontsize=8.5)
        if mesh is not None:
            fig.colorbar(mesh, ax=list(axes), label="accuracy − real data alone")
        if cfg.title:
            fig.suptitle(cfg.title)
        if cfg.plot.get("caption"):
            fig.text(0.01, -0.02, cfg.plot["caption"], fontsize=8.5, ha="left", va="top", wrap=True)
    return fig
