"""The advisor's figures: held-out accuracy against the synthetic rows drawn, one line per verifier threshold.

One panel per learner (an ``rmtsynth advise`` run) or per verifier (kind ``advice``), sharing the
accuracy axis. Lines with bands (one standard error) are the advisor's predictions (dashed beyond
the pool: the theory's extrapolation); markers with error bars are accuracies measured on held-out
real rows; the dotted line is the real rows alone and the star the recommendation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from matplotlib.figure import Figure

from rmtsynth.figures.style import COLORS, new_figure, style

if TYPE_CHECKING:
    from rmtsynth.config.figure_config import FigureConfig
    from rmtsynth.engine.sweep import SweepOptions, SweepResult


@dataclass(frozen=True)
class Point:
    """One drawn grid point: its panel and line, m, the prediction and its band, the measurement if any."""

    panel: str
    line: str
    order: float
    m: int
    predicted: float
    band: float
    measured: float = float("nan")
    measured_se: float = 0.0
    extrapolated: bool = False


def threshold_label(threshold: float, kept_fraction: float | None = None) -> str:
    if not np.isfinite(threshold):
        return "keep all"
    share = "" if kept_fraction is None else f" (keeps {100 * kept_fraction:.0f} %)"
    return f"score $\\geq$ {threshold:.4g}{share}"


def fraction_label(fraction: float) -> str:
    return "keep all" if fraction >= 1.0 else f"keep the top {100 * fraction:.0f} % of scores"


def _panel(ax: Any, points: list[Point]) -> None:
    lines = sorted({(p.order, p.line) for p in points if p.m > 0}, reverse=True)
    for k, (_, name) in enumerate(lines):
        color = COLORS[k % len(COLORS)]
        line = sorted((p for p in points if p.m > 0 and p.line == name), key=lambda p: p.m)
        inside = [p for p in line if not p.extrapolated]
        m = np.array([p.m for p in inside], dtype=float)
        acc = np.array([p.predicted for p in inside])
        band = np.array([p.band for p in inside])
        if inside:
            ax.plot(m, acc, color=color, lw=1.8, label=name)
            ax.fill_between(m, np.clip(acc - band, 0, 1), np.clip(acc + band, 0, 1), color=color, alpha=0.12, lw=0)
        beyond = inside[-1:] + [p for p in line if p.extrapolated]
        if len(beyond) > 1 and any(p.extrapolated for p in line):
            # Where nothing was measured the line is the theory's extrapolation, dashed.
            ax.plot([p.m for p in beyond], [p.predicted for p in beyond], color=color, lw=1.6, ls="--",
                    label=None if inside else name)
        measured = [p for p in line if np.isfinite(p.measured)]
        if measured:
            ax.errorbar([p.m for p in measured], [p.measured for p in measured], yerr=[p.measured_se for p in measured],
                        fmt="o", ms=4.5, color=color, capsize=2, mfc="white")
    base = [p for p in points if p.m == 0]
    if base:
        ax.axhline(base[0].predicted, color="0.3", ls=":", lw=1.4, label="real rows alone (predicted)")
        if np.isfinite(base[0].measured):
            ax.axhline(base[0].measured, color="0.55", ls="--", lw=1.0, label="real rows alone (measured)")
    ax.set_xlabel("synthetic rows drawn from the pool, $m$")


def draw_points(points: Sequence[Point], *, recommendation: dict[str, Any] | None = None, title: str = "",
                measured_legend: bool = False) -> Figure:
    """One panel per distinct ``Point.panel``, in order of first appearance."""
    panels = list(dict.fromkeys(p.panel for p in points))
    with style():
        fig = new_figure(figsize=(4.8 * len(panels) + 0.6, 4.8), layout="constrained")
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        for ax, panel in zip(axes, panels):
            _panel(ax, [p for p in points if p.panel == panel])
            if recommendation and recommendation.get("panel") == panel and recommendation["m"] > 0:
                ax.plot([recommendation["m"]], [recommendation["predicted_accuracy"]], marker="*", ms=14,
                        color="k", ls="none", label="recommended")
            ax.set_title(str(panel))
        axes[0].set_ylabel("held-out accuracy on real rows")
        # Every panel's lines once, each with its first (measured, solid) style.
        legend: dict[str, Any] = {}
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                legend.setdefault(label, handle)
        handles, labels = list(legend.values()), list(legend)
        if measured_legend:
            from matplotlib.lines import Line2D

            handles.append(Line2D([], [], marker="o", mfc="white", color="0.3", ls="none"))
            labels.append("measured on held-out images (markers)")
        fig.legend(handles, labels, loc="outside lower center", ncol=min(3, max(1, len(labels))), frameon=False)
        if title:
            fig.suptitle(title)
    return fig


def draw_advice(rows: Sequence[dict[str, Any]], *, recommendation: dict[str, Any] | None = None) -> Figure:
    """The figure of an advice table (the rows of ``Advice.table``): a panel per learner and number of
    real rows, a line per threshold or hypothetical verifier."""
    own_n = min((r["n"] for r in rows if not r.get("extrapolation")), default=None)
    # One share per threshold (kept over drawn, over its measured rows), so that a line keeps one label.
    drawn: dict[float, list[float]] = {}
    for r in rows:
        if r["m"] > 0 and np.isfinite(r["threshold"]) and not r.get("extrapolation"):
            totals = drawn.setdefault(r["threshold"], [0.0, 0.0])
            totals[0] += r["kept"]
            totals[1] += r["m"]
    points = []
    for r in rows:
        panel = r["learner"] if r.get("n", own_n) == own_n else f"{r['learner']}, n = {r['n']} (theory)"
        if np.isfinite(r["threshold"]):
            kept, total = drawn.get(r["threshold"], (0.0, 0.0))
            line, order = threshold_label(r["threshold"], kept / total if total else None), -r["threshold"]
        elif r["threshold"] == -np.inf:
            line, order = threshold_label(r["threshold"]), np.inf
        else:  # a verifier not yet built: below the thresholds in the legend
            line, order = f"{r['verifier']} (theory)", -np.inf
        points.append(Point(panel, line, order, r["m"], r["predicted_accuracy"], r["accuracy_se"],
                            extrapolated=bool(r.get("extrapolation"))))
    rec = None if recommendation is None else recommendation | {"panel": recommendation["learner"]}
    return draw_points(points, recommendation=rec)


# --- the figure kind ``advice`` ------------------------------------------------------------------


def check(cfg: FigureConfig) -> int:
    """Every check that needs no computing; returns the number of rows of the table."""
    from rmtsynth.config.advice_config import advice_settings

    settings = advice_settings(cfg)
    return len(settings.verifiers) * (1 + len(settings.kept_fractions) * len(settings.m))


def compute(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    from rmtsynth.engine.advice_figure import run_advice_figure

    return run_advice_figure(cfg, options)


def draw(cfg: FigureConfig, result: SweepResult) -> Figure:
    """Predicted lines (band: one standard error over splits) and measured markers, a panel per verifier."""
    points = [Point(r["panel"], fraction_label(r["kept_fraction"]), r["kept_fraction"], r["m"],
                    r["predicted_accuracy"], r["predicted_se"], r["measured_accuracy"], r["measured_se"])
              for r in result.rows]
    return draw_points(points, title=cfg.title, measured_legend=True)
