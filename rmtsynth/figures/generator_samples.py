"""Figure 5: samples from Gaussian generators fitted to real images, with and without the
estimated covariance (FIGURES.md 5). The table is computed in
:mod:`rmtsynth.engine.generator_samples_figure`; this module draws it."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from rmtsynth.engine.generator_samples_figure import SAMPLE_PANELS
from rmtsynth.figures.style import new_figure, style

if TYPE_CHECKING:
    from rmtsynth.config.figure_config import FigureConfig
    from rmtsynth.engine.sweep import SweepOptions, SweepResult


def plot_generator_samples(cfg: FigureConfig, result: SweepResult) -> Figure:
    """Three rows of images (real, full covariance, isotropic), the two classes side by side."""
    rows = result.rows
    h, w = (int(s) for s in rows[0]["image_shape"].split("x"))
    classes = list(dict.fromkeys(r["class"] for r in rows))
    per_class = 1 + max(int(r["index"]) for r in rows)
    lo, hi = result.info.get("value_range", [None, None])
    with style():
        ncols = 2 * per_class + 1  # a narrow spacer column between the classes
        widths = [1.0] * per_class + [0.35] + [1.0] * per_class
        fig = new_figure(figsize=(0.8 * (2 * per_class + 0.35) + 1.6, 0.8 * 3 + 0.75), layout="constrained")
        grid = fig.add_gridspec(3, ncols, width_ratios=widths, wspace=0.02, hspace=0.02)
        labels = {
            "real images": "real images",
            "full covariance": "generator,\nfull covariance",
            "isotropic noise": "generator,\nisotropic noise",
        }
        for i, panel in enumerate(SAMPLE_PANELS):
            for c, name in enumerate(classes):
                sel = sorted((r for r in rows if r["panel"] == panel and r["class"] == name), key=lambda r: int(r["index"]))
                for r in sel:
                    j = int(r["index"])
                    col = j if c == 0 else per_class + 1 + j
                    ax = fig.add_subplot(grid[i, col])
                    pixels = np.array([float(v) for v in r["pixels"].split()]).reshape(h, w)
                    ax.imshow(pixels, cmap="gray_r", vmin=lo, vmax=hi, interpolation="nearest")
                    ax.set_xticks([])
                    ax.set_yticks([])
                    ax.grid(False)
                    for spine in ax.spines.values():
                        spine.set_visible(False)
                    if j == 0 and c == 0:
                        ax.set_ylabel(labels[panel], rotation=0, ha="right", va="center", fontsize=10, labelpad=8)
                    if i == 0 and j == (per_class - 1) // 2:
                        ax.set_title(name, fontsize=11, loc="left" if per_class % 2 == 0 else "center",
                                     x=1.0 if per_class % 2 == 0 else 0.5, ha="center")
        if cfg.title:
            fig.suptitle(cfg.title)
        var = result.info.get("average_variance")
        caption = (
            "Generator rows: each class's Gaussian fitted to all its real images (class mean and pooled "
            "within-class covariance); the full-covariance row uses that covariance, the isotropic row "
            f"the same average variance in every pixel (tr(C)/p = {var:.3g}). Paired samples share one "
            f"noise draw. Intensities are shown on the real images' scale [{lo:g}, {hi:g}], clipped."
        )
        width_in = fig.get_figwidth()
        fig.text(0.01, -0.01, textwrap.fill(caption, width=int(width_in * 15)), fontsize=8.5, ha="left", va="top")
    return fig


def check(cfg: FigureConfig) -> None:
    """Every check of the config, the data read and checked against it (the image shape, the rows per class)."""
    from rmtsynth.config.samples_config import samples_data

    samples_data(cfg)


def compute(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    from rmtsynth.engine.generator_samples_figure import run_generator_samples

    return run_generator_samples(cfg, options)


def draw(cfg: FigureConfig, result: SweepResult) -> Figure:
    return plot_generator_samples(cfg, result)
