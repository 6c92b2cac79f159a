"""Figure 5's table: real images and samples of the per-class Gaussian fitted to them (FIGURES.md 5).

The settings and the data are checked in :mod:`rmtsynth.config.samples_config`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rmtsynth.config.figure_config import FigureConfig
from rmtsynth.config.samples_config import samples_data
from rmtsynth.engine.sweep import SweepOptions, SweepResult
from rmtsynth.sim.seeding import named_rng

SAMPLE_COLUMNS = ["figure", "panel", "series", "index", "class", "image_shape", "pixels"]

SAMPLE_PANELS = ("real images", "full covariance", "isotropic noise")


def run_generator_samples(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    """Real images and samples of the per-class Gaussian fitted to them, with and without the covariance."""
    from rmtsynth.data.protocols import fit_gaussian

    spec, data, shape = samples_data(cfg)
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
