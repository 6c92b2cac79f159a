"""Figures on real data: samples from the fitted Gaussian generator (FIGURES.md 5) and accuracy
on real data mixed with verified synthetic data (FIGURES.md 6, THEORY.md 11.4).

Both read their data set from the config's ``data`` key: ``{source: digits, classes: [a, b]}``
for scikit-learn's bundled handwritten digits, or ``{path: file.mat|.npz|.csv, ...}`` for a
feature file (the path is relative to the config file). For ``real_data`` the key may also be a
list of such entries, each with a ``title``: one panel per data set.

The real-data figure runs :mod:`rmtsynth.realdata` per seed, in this process, and caches every
(data set, protocol, parameters) point as an array over seeds, keyed by a hash of the loaded data
rather than its path, so that re-runs compute nothing and a moved or renamed file still hits.
Seed k of a point is the same number whatever the other points, seeds or workers, so the table is
byte-identical across re-runs and ``--workers``.
"""

from __future__ import annotations

import hashlib
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .cache import PointCache
from .config import FigureConfig
from .errors import ConfigError, RmtsynthError
from .resolve import resolve_point
from .schema import _did_you_mean, _show, unknown_key
from .seeding import named_rng, stable_key
from .sweep import SweepOptions, SweepResult, mean_and_se

# Bump when the experiment's numbers change for the same inputs, so stale entries are not read.
_CACHE_TAG = "real_data/1"

COMMON_DATA_KEYS = ("source", "path", "classes", "feature_key", "label_key", "label_column", "standardize")
SAMPLES_DATA_KEYS = ("image_shape", "images_per_class")
SOURCES = ("digits",)
PROTOCOL_NAMES = ("held-out", "paper")
FITTED_THEORY_KEY = "fitted_gaussian_theory"

# Point parameters the real-data experiment uses; the others describe a synthetic model of the
# data (its mean, covariance, generator), which the data set itself replaces.
REAL_DATA_PARAMS = (
    "n", "m", "m_over_n", "synthetic_proportion", "p", "label_noise", "verifier", "rho", "phi",
    "verifier_precision", "verifier_recall", "gamma",
)

REAL_COLUMNS = [
    "figure", "panel", "data", "series", "protocol", "x", "n", "m", "p", "label_noise", "rho", "phi",
    "verifier_precision", "verifier_recall", "gamma", "synthetic_proportion",
    "sim_accuracy_mean", "sim_accuracy_se", "sim_seeds",
    "sim_real_only_accuracy_mean", "sim_real_only_accuracy_se",
]
THEORY_COLUMN = "theory_fitted_gaussian_accuracy"
SAMPLE_COLUMNS = ["figure", "panel", "series", "index", "class", "image_shape", "pixels"]

PROTOCOL_STYLE = {
    "held-out": {"ls": "-", "marker": "o", "mfc": None, "label": "held-out protocol (honest)"},
    "paper": {"ls": "--", "marker": "s", "mfc": "white", "label": "paper's protocol (test set leaked)"},
}


# --------------------------------------------------------------------------------------------
# The data key
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataSpec:
    """One data set of a config's ``data`` key, checked."""

    where: str
    title: str
    source: str | None
    path: Path | None
    classes: tuple[Any, Any] | None
    feature_key: str = "fts"
    label_key: str = "labels"
    label_column: str | None = None
    standardize: bool = True
    image_shape: tuple[int, int] | None = None
    images_per_class: int = 6


@dataclass
class LoadedData:
    """A data set in memory: features, labels -1/+1, and what identifies it."""

    spec: DataSpec
    X: np.ndarray
    y: np.ndarray
    description: str
    digest: str
    image_shape: tuple[int, int] | None = None
    class_names: tuple[str, str] = ("-1", "+1")

    @property
    def rows(self) -> int:
        return int(self.y.shape[0])

    @property
    def p(self) -> int:
        return int(self.X.shape[1])


def parse_data_specs(cfg: FigureConfig) -> list[DataSpec]:
    """The config's data sets; a list form (``real_data`` only) gives one panel each."""
    raw = cfg.extra.get("data")
    example = "data: {source: digits, classes: [3, 8]} or data: {path: features.npz}"
    if raw is None:
        raise ConfigError(f"data is missing: kind {cfg.kind} needs a data set, for example {example}.")
    if isinstance(raw, dict):
        return [_parse_data_entry(raw, "data", cfg, titled=False)]
    if isinstance(raw, list) and cfg.kind == "real_data":
        if not raw:
            raise ConfigError("data is an empty list; give at least one data set.")
        specs = [_parse_data_entry(item, f"data[{i}]", cfg, titled=True) for i, item in enumerate(raw)]
        titles = [s.title for s in specs]
        dup = sorted({t for t in titles if titles.count(t) > 1})
        if dup:
            raise ConfigError(f"data has two entries titled {_show(dup[0])}; each data set needs its own title.")
        return specs
    if isinstance(raw, list):
        raise ConfigError(f"data must be one data set (a mapping) for kind {cfg.kind}, not a list.")
    raise ConfigError(f"data must be a mapping such as {example}.")


def _parse_data_entry(item: Any, where: str, cfg: FigureConfig, *, titled: bool) -> DataSpec:
    if not isinstance(item, dict):
        raise ConfigError(f"{where} must be a mapping with source or path, for example {{source: digits, classes: [3, 8]}}.")
    allowed = COMMON_DATA_KEYS + (SAMPLES_DATA_KEYS if cfg.kind == "generator_samples" else ()) + (("title",) if titled else ())
    for key in item:
        if key not in allowed:
            raise unknown_key(str(key), f"{where}.", allowed)
    source = item.get("source")
    path_raw = item.get("path")
    if (source is None) == (path_raw is None):
        raise ConfigError(f"{where} needs exactly one of source (digits) and path (a feature file).")
    if source is not None and source not in SOURCES:
        hint = _did_you_mean(source, SOURCES) if isinstance(source, str) else ""
        raise ConfigError(f"{where}.source = {_show(source)} is not allowed; it must be one of {', '.join(SOURCES)}{hint}.")
    path = None
    if path_raw is not None:
        if not isinstance(path_raw, str) or not path_raw.strip():
            raise ConfigError(f"{where}.path = {_show(path_raw)} is not allowed; it must be a file path (relative to the config file).")
        path = Path(path_raw).expanduser()
        if not path.is_absolute():
            path = cfg.base_dir / path
        for key in ("feature_key", "label_key", "label_column"):
            if key in item and not (isinstance(item[key], str) and item[key]):
                raise ConfigError(f"{where}.{key} = {_show(item[key])} is not allowed; it must be a name.")
        if "label_column" in item and path.suffix.lower() != ".csv":
            raise ConfigError(f"{where}.label_column is only used with a .csv file, not {path.name}.")
        if ("feature_key" in item or "label_key" in item) and path.suffix.lower() != ".mat":
            key = "feature_key" if "feature_key" in item else "label_key"
            raise ConfigError(f"{where}.{key} is only used with a .mat file, not {path.name}.")
    else:
        for key in ("feature_key", "label_key", "label_column"):
            if key in item:
                raise ConfigError(f"{where}.{key} is only used with path, not with source: {source}.")
    classes = _parse_classes(item.get("classes"), f"{where}.classes", digits=source == "digits")
    standardize = item.get("standardize", True)
    if not isinstance(standardize, bool):
        raise ConfigError(f"{where}.standardize = {_show(standardize)} is not allowed; it must be true or false.")
    image_shape = None
    if "image_shape" in item:
        shape = item["image_shape"]
        if (
            not isinstance(shape, list)
            or len(shape) != 2
            or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape)
        ):
            raise ConfigError(f"{where}.image_shape = {_show(shape)} is not allowed; it must be [height, width], two integers >= 1.")
        image_shape = (int(shape[0]), int(shape[1]))
    per_class = item.get("images_per_class", 6)
    if isinstance(per_class, bool) or not isinstance(per_class, int) or not 1 <= per_class <= 20:
        raise ConfigError(f"{where}.images_per_class = {_show(per_class)} is out of range; it must be an integer from 1 to 20.")
    title = ""
    if titled:
        if "title" not in item:
            raise ConfigError(f"{where}.title is missing: each data set of a list is a panel and needs a title.")
        if not isinstance(item["title"], (str, int, float)) or isinstance(item["title"], bool):
            raise ConfigError(f"{where}.title must be text.")
        title = str(item["title"])
    return DataSpec(
        where=where,
        title=title,
        source=source,
        path=path,
        classes=classes,
        feature_key=item.get("feature_key", "fts"),
        label_key=item.get("label_key", "labels"),
        label_column=item.get("label_column"),
        standardize=standardize,
        image_shape=image_shape,
        images_per_class=per_class,
    )


def _parse_classes(value: Any, where: str, *, digits: bool) -> tuple[Any, Any] | None:
    if value is None:
        if digits:
            raise ConfigError(f"{where} is missing: name the two digits to compare, for example classes: [3, 8].")
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise ConfigError(f"{where} = {_show(value)} is not allowed; it must be a list of two class labels [a, b].")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise ConfigError(f"{where} = {_show(value)} is not allowed; each class must be a number or a name.")
        if digits and (not isinstance(v, int) or not 0 <= v <= 9):
            raise ConfigError(f"{where} = {_show(value)} is not allowed; the digits are the integers 0 to 9.")
    if value[0] == value[1]:
        raise ConfigError(f"{where} names the class {_show(value[0])} twice; two different classes are needed.")
    return (value[0], value[1])


def load_data(spec: DataSpec) -> LoadedData:
    """Read one data set; every problem is a ConfigError naming the data key."""
    from .realdata import load_digits_pair, load_features

    try:
        if spec.source == "digits":
            assert spec.classes is not None
            X, y, shape = load_digits_pair(spec.classes)
            a, b = spec.classes
            description = f"digits {a} vs {b}"
            names = (f"digit {a}", f"digit {b}")
            image_shape: tuple[int, int] | None = spec.image_shape or shape
        else:
            assert spec.path is not None
            if not spec.path.is_file():
                raise ConfigError(
                    f"{spec.where}.path: the feature file {spec.path} does not exist; point the config at your copy."
                )
            X, y = load_features(
                spec.path,
                label_column=spec.label_column,
                feature_key=spec.feature_key,
                label_key=spec.label_key,
                classes=spec.classes,
            )
            description = spec.path.name
            if spec.classes is not None:
                description += f" ({spec.classes[0]} vs {spec.classes[1]})"
                names = (str(spec.classes[0]), str(spec.classes[1]))
            else:
                names = ("class -1", "class +1")
            image_shape = spec.image_shape
    except ConfigError:
        raise
    except RmtsynthError as exc:
        raise ConfigError(f"{spec.where}: {exc}") from None
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    digest = hashlib.sha256()
    digest.update(repr((X.shape, X.dtype.str, y.dtype.str)).encode())
    digest.update(X.tobytes())
    digest.update(y.tobytes())
    return LoadedData(spec=spec, X=X, y=y, description=description, digest=digest.hexdigest(),
                      image_shape=image_shape, class_names=names)


# --------------------------------------------------------------------------------------------
# Figure 5: samples from the fitted generator
# --------------------------------------------------------------------------------------------

SAMPLE_PANELS = ("real images", "full covariance", "isotropic noise")


def run_generator_samples(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    """Real images and samples of the per-class Gaussian fitted to them, with and without the covariance."""
    from .realdata import fit_gaussian

    (spec,) = check_config(cfg)
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
    import matplotlib.pyplot as plt

    from .plotting import STYLE

    rows = result.rows
    h, w = (int(s) for s in rows[0]["image_shape"].split("x"))
    classes = list(dict.fromkeys(r["class"] for r in rows))
    per_class = 1 + max(int(r["index"]) for r in rows)
    lo, hi = result.info.get("value_range", [None, None])
    with plt.rc_context(STYLE):
        ncols = 2 * per_class + 1  # a narrow spacer column between the classes
        widths = [1.0] * per_class + [0.35] + [1.0] * per_class
        fig = plt.figure(figsize=(0.8 * (2 * per_class + 0.35) + 1.6, 0.8 * 3 + 0.75), layout="constrained")
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


# --------------------------------------------------------------------------------------------
# Figure 6: accuracy on real data against the proportion of synthetic data
# --------------------------------------------------------------------------------------------


@dataclass
class _Cell:
    panel: int
    series: int
    protocol: str
    x: Any
    point: Any  # ResolvedPoint


def _protocols(cfg: FigureConfig) -> list[str]:
    raw = cfg.extra.get("protocols", ["held-out"])
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise ConfigError("protocols must be a non-empty list of held-out and/or paper.")
    for v in raw:
        if v not in PROTOCOL_NAMES:
            hint = _did_you_mean(v, PROTOCOL_NAMES) if isinstance(v, str) else ""
            raise ConfigError(f"protocols has {_show(v)}, which is not a protocol; use held-out and/or paper{hint}.")
    if len(set(raw)) != len(raw):
        raise ConfigError("protocols names a protocol twice.")
    return list(raw)


def _fitted_theory(cfg: FigureConfig) -> bool:
    value = cfg.raw.get(FITTED_THEORY_KEY, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{FITTED_THEORY_KEY} = {_show(value)} is not allowed; it must be true or false.")
    return value


def check_config(cfg: FigureConfig) -> list[DataSpec]:
    """Check a generator_samples or real_data config without loading data or computing.

    Raises ConfigError naming the key for a bad data entry, a feature file that does not exist,
    or (real_data) a parameter, protocol or option the figure does not take.
    """
    specs = parse_data_specs(cfg)
    for spec in specs:
        if spec.path is not None and not spec.path.is_file():
            raise ConfigError(f"{spec.where}.path: the feature file {spec.path} does not exist; point the config at your copy.")
    if cfg.kind == "real_data":
        _check_real_data_config(cfg)
        _protocols(cfg)
        _fitted_theory(cfg)
        _panels(cfg, specs)
    return specs


def _check_real_data_config(cfg: FigureConfig) -> None:
    assert cfg.x is not None
    if cfg.x.param not in ("m", "m_over_n", "synthetic_proportion"):
        raise ConfigError(
            f"x.param = {cfg.x.param} is not allowed for kind real_data; it must be m, m_over_n or synthetic_proportion."
        )
    sim = cfg.raw.get("simulation")
    if isinstance(sim, dict):
        for key in sim:
            if key not in ("enabled", "seeds"):
                raise ConfigError(f"simulation.{key} is not used by kind real_data; it takes simulation.seeds and simulation.enabled.")
    groups = [("params", cfg.params)] + [(f"panels '{g.label}'", g.params) for g in cfg.panels] + [
        (f"series '{g.label}'", g.params) for g in cfg.series
    ]
    for where, params in groups:
        for key in params:
            if key not in REAL_DATA_PARAMS:
                raise ConfigError(
                    f"{where}: {key} is not used by kind real_data, where the data set replaces the model; "
                    f"the parameters are {', '.join(REAL_DATA_PARAMS)}."
                )


def _panels(cfg: FigureConfig, specs: list[DataSpec]) -> list[tuple[str, dict[str, Any], int]]:
    """(title, params, data index) per panel: the data list's entries, or the config's panels."""
    if len(specs) > 1 or specs[0].title:
        if len(cfg.panels) > 1 or cfg.panels[0].label or cfg.panels[0].params:
            raise ConfigError("panels cannot be given with a list under data: each data set is a panel; give one data set to use panels.")
        return [(s.title, {}, i) for i, s in enumerate(specs)]
    return [(g.label, g.params, 0) for g in cfg.panels]


def _cache_key(kind: str, data: LoadedData, protocol: str, pt: Any, root_seed: int, *, m: int | None = None,
               verifier: bool = True, convention: str | None = None) -> str:
    record: dict[str, Any] = {
        "cache": _CACHE_TAG,
        "version": __version__,
        "kind": kind,
        "data": data.digest,
        "standardize": data.spec.standardize,
        "protocol": protocol,
        "n": pt.n,
        "gamma": pt.gamma,
        "seed": root_seed,
    }
    if m is not None:
        record["m"] = m
        record["label_noise"] = pt.label_noise
    if verifier:
        record["rho"] = pt.rho
        record["phi"] = pt.phi
    if convention is not None:
        record["convention"] = convention
    return stable_key(record)


def run_real_data_figure(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    """Accuracy of ridge on n real rows plus m verified synthetic samples, per data set, verifier and protocol."""
    import time

    from .realdata import prepare_seed, seed_accuracies

    t0 = time.perf_counter()
    assert cfg.x is not None
    specs = check_config(cfg)
    protocols = _protocols(cfg)
    theory_on = _fitted_theory(cfg)
    simulate = cfg.simulation.enabled and options.simulate
    if not simulate and not theory_on:
        raise ConfigError(
            f"kind real_data has nothing to compute without the simulation; drop --no-sim or set {FITTED_THEORY_KEY}: true."
        )
    seeds = int(options.seeds or cfg.simulation.seeds)
    panels = _panels(cfg, specs)
    datasets = [load_data(s) for s in specs]

    cells: list[_Cell] = []
    for ip, (title, pparams, di) in enumerate(panels):
        data = datasets[di]
        for iseries, series in enumerate(cfg.series):
            for xv in cfg.x.values:
                merged = dict(cfg.params)
                merged.update(pparams)
                merged.update(series.params)
                merged[cfg.x.param] = xv
                where = _where(title, series.label, cfg.x.param, xv)
                if "p" in merged and merged["p"] != data.p:
                    raise ConfigError(f"{where}: p = {merged['p']}, but {data.description} has {data.p} features; drop p or match it.")
                merged["p"] = data.p
                if merged.get("label_noise") == "auto":
                    raise ConfigError(f"{where}: label_noise = auto is not available for kind real_data; give a number.")
                point = resolve_point(merged, cfg.base_dir, where, seed=cfg.seed)
                for protocol in protocols:
                    top = data.rows - 1 if protocol == "held-out" else data.rows
                    if not 2 <= point.n <= top:
                        raise ConfigError(
                            f"{where}: n = {point.n} must be between 2 and {top} for the {protocol} protocol on "
                            f"{data.description}, which has {data.rows} rows."
                        )
                    cells.append(_Cell(ip, iseries, protocol, xv, point))

    cache = PointCache(options.cache_dir)
    accuracy: dict[str, np.ndarray] = {}
    theory: dict[str, np.ndarray] = {}
    stats = {"cached_points": 0, "computed_points": 0, "seed_runs": 0}
    # One group per (data set, protocol, n, gamma, label noise): its seeds share the split, the
    # fit and the synthetic draws, and all its verifiers are run together (common random numbers).
    groups: dict[tuple, list[_Cell]] = {}
    for cell in cells:
        pt = cell.point
        groups.setdefault((panels[cell.panel][2], cell.protocol, pt.n, pt.gamma, pt.label_noise), []).append(cell)
    for (di, protocol, n, gamma, eps), members in groups.items():
        data = datasets[di]
        rates = list(dict.fromkeys((c.point.rho, c.point.phi) for c in members))
        first = members[0].point
        wanted: dict[str, tuple[str, int, tuple[float, float] | None]] = {}
        if simulate:
            wanted[_cache_key("real_only", data, protocol, first, cfg.seed, verifier=False)] = ("sim", 0, None)
            for c in members:
                key = _cache_key("accuracy", data, protocol, c.point, cfg.seed, m=c.point.m)
                wanted[key] = ("sim", c.point.m, (c.point.rho, c.point.phi))
        if theory_on:
            for c in members:
                key = _cache_key("fitted_theory", data, protocol, c.point, cfg.seed, m=c.point.m,
                                 convention=cfg.theory.convention)
                wanted[key] = ("theory", c.point.m, (c.point.rho, c.point.phi))
        have: dict[str, np.ndarray] = {}
        for key in wanted:
            cached = cache.load(key)
            have[key] = cached["values"] if cached is not None else np.empty(0)
        start = {key: have[key].shape[0] for key in wanted}
        for k in range(seeds):
            # Every entry holds seeds 0..len-1, so at seed k the entries shorter than k + 1 are
            # exactly those that lack it.
            missing = [key for key in wanted if have[key].shape[0] <= k]
            if not missing:
                continue
            stats["seed_runs"] += 1
            prepared = prepare_seed(data.X, data.y, n=n, protocol=protocol, root_seed=cfg.seed, seed_index=k,
                                    standardize=data.spec.standardize)
            sim_ms = sorted({wanted[key][1] for key in missing if wanted[key][0] == "sim"})
            if sim_ms:
                acc = seed_accuracies(prepared, n=n, m_values=sim_ms, label_noise=eps, verifiers=rates,
                                      gamma=gamma, root_seed=cfg.seed, seed_index=k)
            theory_keys = [key for key in missing if wanted[key][0] == "theory"]
            th = _fitted_theory_values(prepared, n, [wanted[key][1] for key in theory_keys],
                                       [wanted[key][2] for key in theory_keys], eps, gamma, cfg.theory.convention)
            for key in missing:
                kind, m, rate = wanted[key]
                if kind == "sim":
                    value = acc[0 if rate is None else rates.index(rate), sim_ms.index(m)]
                else:
                    value = th[theory_keys.index(key)]
                have[key] = np.append(have[key], value)
        for key in wanted:
            grew = have[key].shape[0] > start[key]
            stats["computed_points" if grew else "cached_points"] += 1
            if grew:
                cache.store(key, {"values": have[key]})
            target = theory if wanted[key][0] == "theory" else accuracy
            target[key] = have[key][:seeds]

    rows = []
    for cell in cells:
        pt = cell.point
        title, _, di = panels[cell.panel]
        data = datasets[di]
        row: dict[str, Any] = {
            "figure": cfg.name,
            "panel": title or data.description,
            "data": data.description,
            "series": cfg.series[cell.series].label,
            "protocol": cell.protocol,
            "x": pt.m / (pt.n + pt.m),
            "n": pt.n,
            "m": pt.m,
            "p": pt.p,
            "label_noise": pt.label_noise,
            "rho": pt.rho,
            "phi": pt.phi,
            "verifier_precision": pt.verifier_precision,
            "verifier_recall": pt.verifier_recall,
            "gamma": pt.gamma,
            "synthetic_proportion": pt.m / (pt.n + pt.m),
        }
        if simulate:
            acc = accuracy[_cache_key("accuracy", data, cell.protocol, pt, cfg.seed, m=pt.m)]
            real = accuracy[_cache_key("real_only", data, cell.protocol, pt, cfg.seed, verifier=False)]
            row.update(_summary("sim_accuracy", acc))
            row["sim_seeds"] = int(acc.size)
            real_summary = _summary("sim_real_only_accuracy", real)
            row.update(real_summary)
        if theory_on:
            key = _cache_key("fitted_theory", data, cell.protocol, pt, cfg.seed, m=pt.m, convention=cfg.theory.convention)
            row[THEORY_COLUMN] = float(np.mean(theory[key]))
        rows.append(row)
    columns = list(REAL_COLUMNS) if simulate else [c for c in REAL_COLUMNS if not c.startswith("sim_")]
    if theory_on:
        columns.append(THEORY_COLUMN)
    info = {
        "points": len(rows),
        "seeds": seeds if simulate or theory_on else 0,
        "protocols": protocols,
        "data": [
            {"title": panels[i][0] if len(specs) > 1 else "", "description": d.description, "sha256": d.digest,
             "rows": d.rows, "p": d.p, "standardize": d.spec.standardize}
            for i, d in enumerate(datasets)
        ],
        FITTED_THEORY_KEY: theory_on,
        "seconds": time.perf_counter() - t0,
        **stats,
    }
    return SweepResult(config=cfg, columns=columns, rows=rows, info=info)


def _where(panel: str, series: str, param: str, xv: Any) -> str:
    parts = []
    if panel:
        parts.append(f"panel '{panel}'")
    if series:
        parts.append(f"series '{series}'")
    parts.append(f"{param} = {xv:g}" if isinstance(xv, float) else f"{param} = {xv}")
    return "At " + ", ".join(parts)


def _summary(prefix: str, values: np.ndarray) -> dict[str, float]:
    mean, se = mean_and_se(values)
    return {f"{prefix}_mean": mean, f"{prefix}_se": se}


def _fitted_theory_values(prepared: Any, n: int, m_values: list[int], rates: list[Any], eps: float, gamma: float,
                          convention: str) -> np.ndarray:
    """THEORY.md 11.2 on the Gaussian this seed's generator uses (mu = mu_beta = mu_hat, Sigma = C).

    This is the accuracy on that fitted Gaussian, not a prediction of accuracy on held-out rows
    (THEORY.md 11.4).
    """
    from .theory import Spectrum, evaluate

    if not m_values:
        return np.empty(0)
    values, basis = prepared.fit.eigh()
    a = basis.T @ prepared.fit.mu
    spectrum = Spectrum.from_eigen(values, a, a, sigma=values)
    rho = np.array([r[0] for r in rates])
    phi = np.array([r[1] for r in rates])
    result = evaluate(spectrum, float(n), np.asarray(m_values, dtype=float), eps, rho, phi, gamma, convention=convention)
    return np.asarray(result.accuracy, dtype=float)


def plot_real_data(cfg: FigureConfig, rows: list[dict[str, Any]]):
    """One panel per data set: verifiers by colour, protocols by line style, real data alone as grey lines."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from .plotting import COLORS, STYLE

    panels = list(dict.fromkeys(r["panel"] for r in rows))
    series = list(dict.fromkeys(r["series"] for r in rows))
    protocols = list(dict.fromkeys(r["protocol"] for r in rows))
    has_sim = rows[0].get("sim_accuracy_mean") is not None
    has_theory = THEORY_COLUMN in rows[0]
    # The theory is drawn for one protocol only (the table has both): that of the Gaussian fitted
    # to the training split when held-out is run, so that the two fits do not crowd the panel.
    theory_protocol = "held-out" if "held-out" in protocols else protocols[0]
    layout = cfg.plot.get("layout")
    ncols = len(panels) if not layout else int(layout[1])
    nrows = 1 if not layout else int(layout[0])
    sharey = bool(cfg.plot.get("sharey", True))
    with plt.rc_context(STYLE):
        # A single panel is widened so that the legend below it fits.
        fig, axes = plt.subplots(nrows, ncols, figsize=(max(4.4 * ncols, 7.0), 3.6 * nrows + 0.9), sharey=sharey,
                                 squeeze=False, layout="constrained")
        flat = axes.ravel()
        for ip, panel in enumerate(panels):
            ax = flat[ip]
            sel_panel = [r for r in rows if r["panel"] == panel]
            for protocol in protocols:
                style = PROTOCOL_STYLE[protocol]
                if has_sim:
                    reals = sorted({(r["sim_real_only_accuracy_mean"], r["sim_real_only_accuracy_se"])
                                    for r in sel_panel if r["protocol"] == protocol})
                    for mean, se in reals:
                        ax.axhspan(mean - se, mean + se, color="0.5", alpha=0.12, lw=0, zorder=0)
                        ax.axhline(mean, color="0.4", lw=1.1, ls=style["ls"], zorder=1)
                for iseries, name in enumerate(series):
                    color = COLORS[iseries % len(COLORS)]
                    sel = sorted((r for r in sel_panel if r["series"] == name and r["protocol"] == protocol),
                                 key=lambda r: float(r["x"]))
                    xs = [float(r["x"]) for r in sel]
                    if has_sim:
                        ax.errorbar(
                            xs, [r["sim_accuracy_mean"] for r in sel], yerr=[r["sim_accuracy_se"] for r in sel],
                            color=color, ls=style["ls"], lw=1.5, marker=style["marker"], ms=4.5,
                            mfc=style["mfc"] or color, mec=color, elinewidth=1.0, capsize=2.5, zorder=3,
                        )
                    if has_theory and protocol == theory_protocol:
                        ax.plot(xs, [r[THEORY_COLUMN] for r in sel], color=color, ls=":", lw=1.6, zorder=2)
            ax.set_xscale(cfg.x.scale)
            label = cfg.x.label if cfg.x.label != cfg.x.param else "proportion of synthetic data $m/(n+m)$"
            ax.set_xlabel(label)
            if ip % ncols == 0 or not sharey:
                ax.set_ylabel(cfg.plot.get("ylabel") or "test accuracy")
            if panel and (len(panels) > 1 or panel not in cfg.title):
                ax.set_title(panel)
            if cfg.plot.get("xlim"):
                ax.set_xlim(*cfg.plot["xlim"])
            if cfg.plot.get("ylim"):
                ax.set_ylim(*cfg.plot["ylim"])
        for extra in flat[len(panels):]:
            extra.set_visible(False)

        # Three legend columns: verifiers (colour), protocols (line style), reference lines.
        blank = Line2D([], [], color="none")
        columns: list[list[tuple[Any, str]]] = [
            [(Line2D([], [], color=COLORS[i % len(COLORS)], lw=2.2), name) for i, name in enumerate(series)],
            [],
            [],
        ]
        for protocol in protocols:
            style = PROTOCOL_STYLE[protocol]
            handle = Line2D([], [], color="0.2", ls=style["ls"], lw=1.5, marker=style["marker"], ms=4.5,
                            mfc=style["mfc"] or "0.2", mec="0.2")
            columns[1].append((handle, style["label"]))
        if has_sim:
            columns[2].append((Line2D([], [], color="0.4", lw=1.1), "real data only ($m = 0$), ±1 SE"))
        if has_theory:
            columns[2].append((Line2D([], [], color="0.2", ls=":", lw=1.6),
                               "theory on the fitted Gaussian\n(not a held-out prediction)"))
        columns = [c for c in columns if c]
        depth = max(len(c) for c in columns)
        entries = [e for c in columns for e in c + [(blank, "")] * (depth - len(c))]
        legend = fig.legend([e[0] for e in entries], [e[1] for e in entries], loc="outside lower center",
                            ncols=len(columns), frameon=False, columnspacing=2.0)
        if cfg.title:
            fig.suptitle(cfg.title)
        caption = _real_data_caption(rows, protocols, has_sim, has_theory and theory_protocol)
        if cfg.plot.get("caption"):
            caption += " " + str(cfg.plot["caption"])
        _freeze_outside_legend(fig, legend)
        fig.text(0.01, -0.005, textwrap.fill(caption, width=int(fig.get_figwidth() * 15.5)), fontsize=8.5,
                 ha="left", va="top")
    return fig


def _freeze_outside_legend(fig: Any, legend: Any) -> None:
    """Fix the layout, and the legend where the layout put it, before a caption goes below the figure.

    An "outside" legend is anchored to the figure's box, which a tight bounding box enlarges when
    it takes in the caption, so the legend would slide down onto the caption when saved.
    """
    fig.canvas.draw()
    box = legend.get_window_extent().transformed(fig.transFigure.inverted())
    fig.set_layout_engine("none")
    legend.set_loc("lower center")
    legend.set_bbox_to_anchor((0.5, box.y0), transform=fig.transFigure)


def _real_data_caption(rows: list[dict[str, Any]], protocols: list[str], has_sim: bool, theory: str | bool) -> str:
    def values(key: str) -> str:
        found = list(dict.fromkeys(r[key] for r in rows))
        return ", ".join(f"{v:g}" for v in found)

    parts = []
    if "held-out" in protocols:
        parts.append(
            ("Solid: " if len(protocols) > 1 else "")
            + "held-out protocol, the honest estimate: the generator is fitted on the n training rows "
            "and accuracy is measured on the other rows."
        )
    if "paper" in protocols:
        parts.append(
            ("Dashed: " if len(protocols) > 1 else "")
            + "the paper's protocol, which reproduces its published curves: the generator's class means "
            "come from all rows and accuracy is measured on all rows, training rows included."
        )
    if has_sim:
        seeds = values("sim_seeds")
        parts.append(f"Error bars: ±1 SE over {seeds} seeds (splits).")
    if theory:
        fitted = "the training split" if theory == "held-out" else "the paper's protocol's generator"
        parts.append(
            f"Dotted: the random-matrix theory evaluated on the Gaussian fitted to {fitted} (class means, "
            "covariance): the accuracy on that Gaussian, not a prediction of held-out accuracy."
        )
    parts.append(
        f"n = {values('n')}, p = {values('p')}, $\\gamma$ = {values('gamma')}, "
        f"$\\varepsilon$ = {values('label_noise')}."
    )
    return " ".join(parts)
