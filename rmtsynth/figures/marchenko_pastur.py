"""The Marchenko-Pastur figure: a sampled eigenvalue histogram against the density, and the
densities for several ratios (FIGURES.md 1)."""

from __future__ import annotations

from typing import Any

import numpy as np

from rmtsynth.config.figure_config import FigureConfig, mp_settings
from rmtsynth.core.closed_forms import marchenko_pastur_density, marchenko_pastur_support
from rmtsynth.engine.marchenko_pastur_figure import run_marchenko_pastur
from rmtsynth.engine.sweep import SweepOptions, SweepResult


def plot_marchenko_pastur(cfg: FigureConfig, rows: list[dict[str, Any]]):
    from rmtsynth.figures.style import COLORS, new_figure, style

    with style():
        fig = new_figure(figsize=(9.6, 3.8), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        hist = [r for r in rows if r["panel"] == "histogram"]
        xs = np.array([r["x"] for r in hist])
        width = xs[1] - xs[0] if xs.size > 1 else 0.1
        ax1.bar(xs, [r["histogram_density"] for r in hist], width=width, color="#9ecae1", edgecolor="white", lw=0.3, label="eigenvalues of $ZZ^{\\top}/n$")
        ratio = hist[0]["ratio"]
        a, b = marchenko_pastur_support(ratio)
        fine = a + (b - a) * (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, 600)))
        ax1.plot(fine, marchenko_pastur_density(fine, ratio), color="#d62728", lw=1.8, label=f"Marchenko-Pastur, $p/n = {ratio:g}$")
        ax1.set_title(hist[0]["series"].replace("p = ", "$p = ").replace(", n = ", "$, $n = ") + "$")
        ax1.set_xlabel("eigenvalue")
        ax1.set_ylabel("density")
        ax1.legend(frameon=False, loc="upper right")
        dens = [r for r in rows if r["panel"] == "densities"]
        series = list(dict.fromkeys(r["series"] for r in dens))
        for i, s in enumerate(series):
            sel = [r for r in dens if r["series"] == s and r["theory_density"] is not None]
            color = COLORS[i % len(COLORS)]
            ratio = sel[0]["ratio"]
            ax2.plot([r["x"] for r in sel], [r["theory_density"] for r in sel], color=color, lw=1.6, label=f"$p/n = {ratio:g}$")
            atom = [r for r in dens if r["series"] == s and r["atom_mass"] is not None]
            if atom:
                mass = atom[0]["atom_mass"]
                ax2.annotate(
                    f"atom at 0 of mass {mass:.2g}",
                    xy=(0.0, 0.0),
                    xycoords=("data", "axes fraction"),
                    xytext=(0.1, 0.25 + 0.1 * i),
                    textcoords="axes fraction",
                    color=color,
                    fontsize=9,
                    arrowprops={"arrowstyle": "->", "color": color, "lw": 1.2},
                )
        ax2.set_yscale("log")
        ax2.set_ylim(1e-2, None)
        ax2.set_xlabel("eigenvalue")
        ax2.set_ylabel("density (log scale)")
        ax2.set_title("Marchenko-Pastur densities")
        ax2.legend(frameon=False, loc="upper right")
        if cfg.title:
            fig.suptitle(cfg.title)
    return fig


def check(cfg: FigureConfig) -> None:
    mp_settings(cfg)


def compute(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    return run_marchenko_pastur(cfg, options)


def draw(cfg: FigureConfig, result: SweepResult):
    return plot_marchenko_pastur(cfg, result.rows)
