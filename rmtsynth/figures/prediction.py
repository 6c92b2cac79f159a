"""Predicted against measured held-out accuracy on real data (THEORY.md 13), kind ``prediction``: the drawing.

The settings are checked in :mod:`rmtsynth.config.prediction_config` and the table is computed in
:mod:`rmtsynth.engine.prediction_figure`; this module draws the table. Lines are the mean
prediction over splits, markers the measured accuracy (±1 SE over splits). The band around the
line is ±1 standard deviation of the per-split gap (gap_se times the square root of the splits):
the error of one prediction, which is what a user with one data set gets.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from rmtsynth.config.figure_config import FigureConfig
    from rmtsynth.engine.sweep import SweepOptions, SweepResult

ESTIMATOR_NAMES = {
    "g": "G-estimator",
    "nls": "nonlinear-shrinkage covariance with debiased quadratic forms",
    "plugin": "plug-in (the accuracy on the fitted Gaussian)",
}
CORRECTION_NAMES = {
    "cross-fit": "cross-fit correction",
    "loo": "exact leave-one-out + calibrated theory (13.6)",
    "score-shape": "score-shape correction (13.3)",
    "none": "Gaussian Phi(R)",
    "auto": "exact leave-one-out at m = 0, cross-fit correction at m > 0",
}
# A point is labelled with its measured error when the gap is this large and beyond 2 SE.
MISS_LABEL = 0.01


def plot_prediction(cfg: FigureConfig, rows: list[dict[str, Any]]) -> Figure:
    """Predicted (lines) against measured (markers, ±1 SE) held-out accuracy, one panel per setting."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from rmtsynth.figures.style import COLORS, new_figure, style

    panels = list(dict.fromkeys(r["panel"] for r in rows))
    series = list(dict.fromkeys(r["series"] for r in rows))
    ncols = 2 if len(panels) == 4 else min(len(panels), 3)
    nrows = -(-len(panels) // ncols)
    with style():
        fig = new_figure(figsize=(max(4.6 * ncols, 6.5), 3.9 * nrows + 0.6), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False)
        flat = axes.ravel()
        for ip, panel in enumerate(panels):
            ax = flat[ip]
            x_kind = _x_kind([r for r in rows if r["panel"] == panel])
            for iseries, name in enumerate(series):
                sel = sorted((r for r in rows if r["panel"] == panel and r["series"] == name), key=lambda r: float(r["x"]))
                if not sel:
                    continue
                color = COLORS[iseries % len(COLORS)]
                xs = [float(r["x"]) for r in sel]
                worst = max(abs(r["gap_mean"]) for r in sel)
                predicted = np.array([r["predicted_accuracy"] for r in sel])
                spread = np.array([per_split_gap_sd(r) for r in sel])
                ax.fill_between(xs, predicted - spread, predicted + spread, color=color, alpha=0.13, lw=0, zorder=1)
                ax.plot(xs, predicted, color=color, lw=1.7, zorder=2, label=f"{name}: max |gap| {worst:.3f}")
                ax.errorbar(xs, [r["measured_accuracy_mean"] for r in sel], yerr=[r["measured_accuracy_se"] for r in sel],
                            color=color, ls="none", marker="o", ms=4.5, mfc="white", mec=color, elinewidth=1.0,
                            capsize=2.5, zorder=3)
                for r, xv in zip(sel, xs):
                    if abs(r["gap_mean"]) > MISS_LABEL and abs(r["gap_mean"]) > 2.0 * r["gap_se"]:
                        ax.annotate(f"{r['gap_mean']:+.3f}", (xv, r["predicted_accuracy"]), textcoords="offset points",
                                    xytext=(0, 6 if r["gap_mean"] > 0 else -11), ha="center", fontsize=7.5, color=color)
            ax.set_xlabel({"n": "real training rows $n$", "m": "synthetic rows drawn $m$",
                           "proportion": "proportion of synthetic data $m/(n+m)$"}[x_kind])
            if x_kind == "n":
                ax.set_xscale("log")
                ticks = sorted({float(r["x"]) for r in rows if r["panel"] == panel})
                ax.set_xticks(ticks)
                ax.set_xticklabels([f"{t:g}" for t in ticks])
                ax.minorticks_off()
            if ip % ncols == 0:
                ax.set_ylabel("held-out accuracy")
            ax.set_title(panel)
            ax.margins(y=0.12)
            handles, labels = ax.get_legend_handles_labels()
            if ip == 0:
                estimator, correction = rows[0]["estimator"], rows[0]["correction"]
                handles += [Line2D([], [], color="0.2", lw=1.7),
                            Line2D([], [], color="0.2", ls="none", marker="o", mfc="white", mec="0.2")]
                handles.append(Patch(color="0.2", alpha=0.13, lw=0))
                labels += [f"predicted: {ESTIMATOR_NAMES[estimator]}\n+ {CORRECTION_NAMES[correction]}",
                           "measured (ridge on the mix), ±1 SE", "one split's prediction error, ±1 sd"]
            ax.legend(handles, labels, loc="best", frameon=False, fontsize=7.5)
        for extra in flat[len(panels):]:
            extra.set_visible(False)
        if cfg.title:
            fig.suptitle(cfg.title)
        caption = _caption(rows)
        if cfg.plot.get("caption"):
            caption += " " + str(cfg.plot["caption"])
        # Fix the layout before the caption goes below the axes, so that the caption does not
        # squeeze them.
        fig.draw_without_rendering()
        fig.set_layout_engine("none")
        fig.text(0.01, -0.005, textwrap.fill(caption, width=int(fig.get_figwidth() * 15.5)), fontsize=8.5,
                 ha="left", va="top")
    return fig


def per_split_gap_sd(row: dict[str, Any]) -> float:
    """The standard deviation over splits of the paired gap of a table row: gap_se * sqrt(splits).

    It is the error one user's prediction (one split) carries, where gap_se is that of the mean.
    """
    return float(row["gap_se"]) * float(np.sqrt(row["splits"])) if int(row["splits"]) > 1 else 0.0


def _x_kind(rows: list[dict[str, Any]]) -> str:
    r = rows[0]
    if float(r["x"]) == float(r["n"]) and all(float(q["x"]) == float(q["n"]) for q in rows):
        return "n"
    if all(float(q["x"]) == float(q["m"]) for q in rows):
        return "m"
    return "proportion"


def _caption(rows: list[dict[str, Any]]) -> str:
    splits = rows[0]["splits"]
    worst = max(rows, key=lambda r: abs(r["gap_mean"]))
    gaps = np.array([r["gap_mean"] for r in rows])
    estimator = ESTIMATOR_NAMES[rows[0]["estimator"]]
    correction = CORRECTION_NAMES[rows[0]["correction"]]
    where = ", ".join(dict.fromkeys((worst["panel"], worst["series"])))
    text = (
        f"Lines: the held-out accuracy predicted by the {estimator} with the {correction}, from each split's training "
        f"rows and the synthetic pool only, averaged over {splits} splits. Markers: the accuracy measured on the other "
        f"real rows. Gap = predicted - measured, paired per split: mean {gaps.mean():+.4f}, largest "
        f"{worst['gap_mean']:+.4f} ± {worst['gap_se']:.4f} ({where}, n = {worst['n']}, "
        f"m = {worst['m']}); points off by more than {MISS_LABEL:g} (and 2 SE) carry their gap. "
        f"Bands: ±1 standard deviation of the per-split gap (largest {max(per_split_gap_sd(r) for r in rows):.3f}), "
        f"the error of a prediction from one set of training rows. gamma = {rows[0]['gamma']:g}."
    )
    if rows[0]["estimator"] == "plugin":
        text += " The plug-in predicts the accuracy on the Gaussian fitted to the training rows, not held-out accuracy."
    return text


# --- the figure kind ``prediction`` ----------------------------------------------------------------


def check(cfg: FigureConfig) -> int:
    """Every check that reads no data; returns the number of rows of the table."""
    from rmtsynth.config.prediction_config import check_prediction

    return check_prediction(cfg)


def check_data(cfg: FigureConfig) -> None:
    """The checks against the data sets the config names, run by ``rmtsynth validate``."""
    from rmtsynth.engine.prediction_figure import check_prediction_data

    check_prediction_data(cfg)


def compute(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    from rmtsynth.engine.prediction_figure import run_prediction_figure

    return run_prediction_figure(cfg, options)


def draw(cfg: FigureConfig, result: SweepResult) -> Figure:
    """Predicted lines, measured markers and one split's error as a band, a panel per setting."""
    return plot_prediction(cfg, result.rows)
