"""The Marchenko-Pastur figure's table: a sampled eigenvalue histogram and the densities (FIGURES.md 1)."""

from __future__ import annotations

from typing import Any

import numpy as np

from rmtsynth.config.figure_config import FigureConfig, mp_settings
from rmtsynth.core.closed_forms import marchenko_pastur_atom, marchenko_pastur_density, marchenko_pastur_support
from rmtsynth.engine.sweep import SweepOptions, SweepResult
from rmtsynth.sim.samplers import wishart_root
from rmtsynth.sim.seeding import named_rng

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


__all__ = ["COLUMNS", "run_marchenko_pastur", "sample_eigenvalues"]
