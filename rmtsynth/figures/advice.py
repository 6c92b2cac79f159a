"""The advisor's figure: predicted held-out accuracy against the synthetic rows drawn, one line per threshold.

One panel per learner (or per panel of a figure config), sharing the accuracy axis. Lines with
bands (one standard error) are the advisor's predictions; markers with error bars, where given,
are accuracies measured on held-out real rows; the dotted line is the real rows alone and the star
the recommendation.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from matplotlib.figure import Figure

from rmtsynth.figures.style import COLORS, new_figure, style


def threshold_label(threshold: float, kept_fraction: float | None = None) -> str:
    if not np.isfinite(threshold):
        return "keep all"
    share = "" if kept_fraction is None else f" (keeps {100 * kept_fraction:.0f} %)"
    return f"score $\\geq$ {threshold:.4g}{share}"


def _panel(ax: Any, rows: list[dict[str, Any]], measured: list[dict[str, Any]], recommended: dict | None) -> None:
    base = [r for r in rows if r["m"] == 0]
    thresholds = sorted({r["threshold"] for r in rows if r["m"] > 0})
    for k, threshold in enumerate(thresholds):
        color = COLORS[k % len(COLORS)]
        line = sorted((r for r in rows if r["m"] > 0 and r["threshold"] == threshold), key=lambda r: r["m"])
        m = np.array([r["m"] for r in line], dtype=float)
        acc = np.array([r["predicted_accuracy"] for r in line])
        se = np.array([r["accuracy_se"] for r in line])
        kept_fraction = line[-1]["kept"] / line[-1]["m"]
        ax.plot(m, acc, color=color, lw=1.8, label=threshold_label(threshold, kept_fraction))
        ax.fill_between(m, np.clip(acc - se, 0, 1), np.clip(acc + se, 0, 1), color=color, alpha=0.1, lw=0)
        points = sorted((r for r in measured if r["m"] > 0 and r["threshold"] == threshold), key=lambda r: r["m"])
        if points:
            ax.errorbar([r["m"] for r in points], [r["accuracy"] for r in points],
                        yerr=[r.get("accuracy_se", 0.0) for r in points], fmt="o", ms=4, color=color, capsize=2)
    if base:
        ax.axhline(base[0]["predicted_accuracy"], color="0.3", ls=":", lw=1.4, label="real rows alone")
    if recommended is not None and recommended["m"] > 0:
        ax.plot([recommended["m"]], [recommended["predicted_accuracy"]], marker="*", ms=14, color="k", ls="none",
                label="recommended")
    ax.set_xlabel("synthetic rows drawn from the pool, $m$")


def draw_advice(rows: Sequence[dict[str, Any]], *, recommendation: dict[str, Any] | None = None,
                measured: Sequence[dict[str, Any]] = (), panel_key: str = "learner", title: str = "") -> Figure:
    """The figure of an advice table (``rows``: its rows; ``measured``: rows with panel, threshold, m, accuracy)."""
    panels = list(dict.fromkeys(r[panel_key] for r in rows))
    with style():
        fig = new_figure(figsize=(4.6 * len(panels) + 0.6, 4.0), layout="constrained")
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        for ax, panel in zip(axes, panels):
            mine = [r for r in rows if r[panel_key] == panel]
            rec = recommendation if recommendation and recommendation.get(panel_key) == panel else None
            _panel(ax, mine, [r for r in measured if r.get(panel_key) == panel], rec)
            ax.set_title(str(panel))
        axes[0].set_ylabel("held-out accuracy on real rows")
        axes[-1].legend(loc="best")
        if title:
            fig.suptitle(title)
    return fig
