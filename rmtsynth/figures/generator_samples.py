"""Figure 5: samples from Gaussian generators fitted to real images, with and without the
estimated covariance (FIGURES.md 5)."""

from __future__ import annotations

import math
import textwrap
from typing import Any

import numpy as np

from rmtsynth.config.figure_config import FigureConfig
from rmtsynth.errors import ConfigError
from rmtsynth.config.data import check_data, load_data
from rmtsynth.sim.seeding import named_rng
from rmtsynth.engine.sweep import SweepOptions, SweepResult

SAMPLE_COLUMNS = ["figure", "panel", "series", "index", "class", "image_shape", "pixels"]

SAMPLE_PANELS = ("real images", "full covariance", "isotropic noise")


def run_generator_samples(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    """Real images and samples of the per-class Gaussian fitted to them, with and without the covariance."""
    from rmtsynth.data.protocols import fit_gaussian

    (spec,) = check_data(cfg)
    data = load_data(spec)
    shape = data.image_shape
    if shape is None:
        side = math.isqrt(data.p)
        if side * side != data.p:
            raise ConfigError(
                f"{spec.where}.image_shape is missing: the {data.p} features are not a square image, so give [height, width]."
            )
        shape = (side, side)
    if shape[0] * shape[1] != data.p:
        raise ConfigError(f"{spec.where}.image_shape = {list(shape)} has {shape[0] * shape[1]} pixels, but the data have {data.p} features.")
    k = spec.images_per_class
    fit = fit_gaussian(data.X, data.y)
    # The real images are a random choice per class; each sampled image in the two generator rows
    # shares its standard normal draw, so the rows differ only by the covariance.
    pick = named_rng(cfg.seed, "generator-samples/real")
    noise = named_rng(cfg.seed, "generator-samples/noise").standard_normal((2 * k, data.p))
    full = fit.noise_factor(True)
    iso = fit.noise_factor(False)
    rows: list[dict[str, Any]] = []
    images: dict[str, np.ndarray] = {name: np.empty((2 * k, data.p)) for name in SAMPLE_PANELS}
    for c, sign in enumerate((-1.0, 1.0)):
        members = np.flatnonzero(data.y == sign)
        if members.size < k:
            raise ConfigError(f"{spec.where}: class {data.class_names[c]} has {members.size} rows, fewer than images_per_class = {k}.")
        chosen = pick.choice(members, size=k, replace=False)
        mean = fit.mean_pos if sign > 0 else fit.mean_neg
        block = slice(c * k, (c + 1) * k)
        images["real images"][block] = data.X[chosen]
        images["full covariance"][block] = mean + noise[block] @ full.T
        images["isotropic noise"][block] = mean + noise[block] @ iso.T
    for panel in SAMPLE_PANELS:
        for j in range(2 * k):
            c = j // k
            rows.append(
                {
                    "figure": cfg.name,
                    "panel": panel,
                    "series": data.class_names[c],
                    "index": j % k,
                    "class": data.class_names[c],
                    "image_shape": f"{shape[0]}x{shape[1]}",
                    "pixels": " ".join(f"{v:.6g}" for v in images[panel][j]),
                }
            )
    info = {
        "data": data.description,
        "data_sha256": data.digest,
        "rows": data.rows,
        "p": data.p,
        "class_rows": [int(np.sum(data.y < 0)), int(np.sum(data.y > 0))],
        "average_variance": fit.average_variance,
        "value_range": [float(data.X.min()), float(data.X.max())],
    }
    return SweepResult(config=cfg, columns=SAMPLE_COLUMNS, rows=rows, info=info)


def plot_generator_samples(cfg: FigureConfig, result: SweepResult):
    """Three rows of images (real, full covariance, isotropic), the two classes side by side."""
    from rmtsynth.figures.style import new_figure, style

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
    check_data(cfg)


def compute(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    return run_generator_samples(cfg, options)


def draw(cfg: FigureConfig, result: SweepResult):
    return plot_generator_samples(cfg, result)
