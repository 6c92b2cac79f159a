"""Figure 7: a small neural network on MNIST trained on real images plus verified Gaussian synthetic images.

Two panels as the seed paper's: label noise 0.3 with an oracle, a strong and no verifier; and the
generator's quality (covariance from all, 100 or 10 pool images per class, and N(mean, I) in
pixel units). The settings are checked in :mod:`rmtsynth.config.mnist_config`, the training runs
are computed in :mod:`rmtsynth.engine.mnist_figure`; this module draws the table.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from rmtsynth.engine.mnist_figure import PAPER_REAL_ONLY
from rmtsynth.figures.style import COLORS, new_figure, style

if TYPE_CHECKING:
    from rmtsynth.config.figure_config import FigureConfig
    from rmtsynth.engine.sweep import SweepOptions, SweepResult


def check(cfg: FigureConfig) -> int | None:
    """Every check of an ``mnist`` config without training; returns the number of distinct points."""
    from rmtsynth.engine.mnist_figure import check_mnist

    return check_mnist(cfg)


def compute(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    """Train every (point, seed) not in the cache; one row per (panel, series, m)."""
    from rmtsynth.engine.mnist_figure import run_mnist_figure

    return run_mnist_figure(cfg, options)


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------


def draw(cfg: FigureConfig, result: SweepResult) -> Figure:
    """Two panels (or as many as the config has): accuracy against the synthetic proportion, ±1 SE."""
    from matplotlib.lines import Line2D

    rows = result.rows
    panels = list(dict.fromkeys(r["panel"] for r in rows))
    with style():
        fig = new_figure(figsize=(5.4 * len(panels), 4.6), layout="constrained")
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        real_mean = float(rows[0]["real_only_accuracy_mean"])
        real_se = float(rows[0]["real_only_accuracy_se"])
        for ax, panel in zip(axes, panels):
            sel_panel = [r for r in rows if r["panel"] == panel]
            ax.axhspan(real_mean - real_se, real_mean + real_se, color="0.5", alpha=0.15, lw=0, zorder=0)
            ax.axhline(real_mean, color="0.35", lw=1.1, ls="--", zorder=1)
            handles = []
            series = list(dict.fromkeys(r["series"] for r in sel_panel))
            for i, name in enumerate(series):
                color = COLORS[i % len(COLORS)]
                sel = sorted((r for r in sel_panel if r["series"] == name), key=lambda r: r["m_per_class"])
                xs = [r["proportion"] for r in sel]
                ax.errorbar(xs, [r["accuracy_mean"] for r in sel], yerr=[r["accuracy_se"] for r in sel], color=color,
                            lw=1.5, marker="o", ms=4.5, elinewidth=1.0, capsize=2.5, zorder=3)
                handles.append((Line2D([], [], color=color, lw=1.5, marker="o", ms=4.5), name))
                published = [(r["proportion"], r["paper_accuracy"]) for r in sel
                             if r["paper_accuracy"] is not None and r["m_per_class"] > 0]
                if published:
                    ax.plot([p[0] for p in published], [p[1] for p in published], ls="none", marker="D", ms=6.5,
                            mfc="0.6", mec=color, mew=1.4, zorder=4)
            if any(r["paper_accuracy"] is not None for r in sel_panel):
                ax.plot([0.0], [PAPER_REAL_ONLY], ls="none", marker="D", ms=6.5, mfc="0.6", mec="0.3", mew=1.0, zorder=4)
            ax.legend([h for h, _ in handles], [t for _, t in handles], loc="upper center", bbox_to_anchor=(0.5, -0.17),
                      ncols=1, frameon=False)
            ax.set_title(panel)
            ax.set_xlabel("proportion of synthetic data $m/(n+m)$ before the verifier")
            ax.set_xlim(-0.03, 1.0)
        axes[0].set_ylabel("test accuracy (held-out images)")
        if cfg.title:
            fig.suptitle(cfg.title)
        # The panels' legends hang below the axes. The layout is fixed first; then the shared
        # legend and the caption go under the lowest of them (a tight bounding box takes all in).
        fig.draw_without_rendering()
        fig.set_layout_engine("none")
        to_figure = fig.transFigure.inverted()
        bottom = min(ax.get_legend().get_window_extent().transformed(to_figure).y0 for ax in axes)
        shared = [(Line2D([], [], color="0.35", lw=1.1, ls="--"), "real images only ($m = 0$), ±1 SE band")]
        if any(r["paper_accuracy"] is not None for r in rows):
            shared.append((Line2D([], [], ls="none", marker="D", ms=6.5, mfc="0.6", mec="0.3"),
                           "the paper's published points (full MNIST, one run; edge colour: the matching curve)"))
        legend = fig.legend([h for h, _ in shared], [t for _, t in shared], loc="upper center",
                            bbox_to_anchor=(0.5, bottom - 0.01), ncols=len(shared), frameon=False)
        fig.draw_without_rendering()
        bottom = legend.get_window_extent().transformed(to_figure).y0
        fig.text(0.01, bottom - 0.015, textwrap.fill(_caption(result), width=int(fig.get_figwidth() * 15)), fontsize=8.3,
                 ha="left", va="top")
    return fig


def _caption(result: SweepResult) -> str:
    rows = result.rows
    first = rows[0]
    seeds = ", ".join(str(v) for v in dict.fromkeys(r["seeds"] for r in rows))
    data = result.info.get("data", {})
    subset = not data.get("has_test_split", False)
    parts = [
        f"A 784-128-10 ReLU network trained with SGD on n = {first['n_per_class']} real images per class plus m "
        "synthetic images per class from per-class Gaussians fitted to pool images (samples clipped at 0), after "
        "label noise (k -> k+1 mod 10) and a random verifier.",
        f"Data: {first['data']}; " + (
            "per seed, a stratified pool/test split; the test images are never used to fit anything."
            if subset else "the pool comes from the training split, the test set is the test split."),
        f"Mean ±1 SE over {seeds} seeds; dashed: real images only.",
        "Grey diamonds: the paper's published points (full MNIST, 10 000 test images, one run), which differ "
        "from ours in data size, test set and seeds.",
    ]
    extra = result.config.plot.get("caption") if isinstance(result.config.plot, dict) else None
    if extra:
        parts.append(str(extra))
    return " ".join(parts)
