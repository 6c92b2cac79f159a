"""The Marchenko-Pastur figure: a sampled eigenvalue histogram against the density, and the
densities for several ratios (FIGURES.md 1)."""

from __future__ import annotations

from typing import Any

import numpy as np

from rmtsynth.core.closed_forms import marchenko_pastur_atom, marchenko_pastur_density, marchenko_pastur_support
from rmtsynth.config.figure_config import FigureConfig, mp_settings
from rmtsynth.sim.samplers import wishart_root
from rmtsynth.sim.seeding import named_rng
from rmtsynth.engine.sweep import SweepOptions, SweepResult

COLUMNS = ["figure", "panel", "series", "x", "ratio", "histogram_density", "theory_density", "atom_mass"]


def sample_eigenvalues(p: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Eigenvalues of Z Z^T / n for Z with i.i.d. N(0, 1) entries (p x n).

    Drawn through Bartlett's decomposition of the Wishart matrix Z Z^T, which has the same law
    and needs O(p^2) random numbers instead of p n.
    """
    root = wishart_root(p, n, rng)
    return np.linalg.eigvalsh(root @ root.T / n)


def run_marchenko_pastur(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    s = mp_settings(cfg)
    p, n = s.p, s.n
    ratio = p / n
    eig = sample_eigenvalues(p, n, named_rng(cfg.seed, "marchenko-pastur"))
    lo, hi = marchenko_pastur_support(ratio)
    pad = 0.1 * (hi - lo)
    edges = np.linspace(max(0.0, lo - pad), hi + pad, s.bins + 1)
    counts, _ = np.histogram(eig, bins=edges)
    width = np.diff(edges)
    centres = 0.5 * (edges[:-1] + edges[1:])
    hist_density = counts / (eig.size * width)
    rows: list[dict[str, Any]] = []
    label = f"p = {p}, n = {n}"
    for c, h in zip(centres, hist_density):
        rows.append(
            {
                "figure": cfg.name,
                "panel": "histogram",
                "series": label,
                "x": float(c),
                "ratio": ratio,
                "histogram_density": float(h),
                "theory_density": float(marchenko_pastur_density(c, ratio)),
                "atom_mass": None,
            }
        )
    for r in s.ratios:
        r = float(r)
        a, b = marchenko_pastur_support(r)
        # Points cluster at the edges, where the density has its square-root behaviour.
        t = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, s.grid))
        xs = a + (b - a) * t
        for x in xs:
            rows.append(
                {
                    "figure": cfg.name,
                    "panel": "densities",
                    "series": f"p/n = {r:g}",
                    "x": float(x),
                    "ratio": r,
                    "histogram_density": None,
                    "theory_density": float(marchenko_pastur_density(x, r)),
                    "atom_mass": None,
                }
            )
        atom = marchenko_pastur_atom(r)
        if atom > 0:
            rows.append(
                {
                    "figure": cfg.name,
                    "panel": "densities",
                    "series": f"p/n = {r:g}",
                    "x": 0.0,
                    "ratio": r,
                    "histogram_density": None,
                    "theory_density": None,
                    "atom_mass": atom,
                }
            )
    info = {"p": p, "n": n, "eigenvalues": int(eig.size), "largest": float(eig.max()), "smallest": float(eig.min())}
    return SweepResult(config=cfg, columns=COLUMNS, rows=rows, info=info)


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
