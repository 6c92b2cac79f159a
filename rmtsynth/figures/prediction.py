"""Predicted against measured held-out accuracy on real data (THEORY.md 13), kind ``prediction``.

For every data set (a panel), training size n, label noise and verifier, the ridge is trained on
random stratified splits of the real rows plus m synthetic rows from a pool, and its accuracy is
measured on the other real rows (markers, ±1 SE over splits). The prediction of each split sees
only that split's training rows and the synthetic pool (:func:`rmtsynth.data.prediction.
measure_heldout`); the line is its mean over splits, and the CSV holds the gap, paired per split.
The band around the line is ±1 standard deviation of the per-split gap (gap_se times the square
root of the splits): the error of one prediction, which is what a user with one data set gets.

The synthetic pool of a panel is the config's ``synthetic_data`` file, another data file (a real
test bed: another domain standing in for the generator), or a Gaussian fitted on real rows set
aside for it, which are then neither trained nor tested on.

Every (setting, split) is one task on the chosen executor (the local process pool or a Dask
cluster), cached on its own, keyed by the hashes of the real rows and of the pool, so a re-run
recomputes nothing; split s uses the seed derived from the root seed and s alone, so the table is
the same whatever the number of workers or the executor, and the splits are shared by every n,
label noise and verifier (common random numbers).
"""

from __future__ import annotations

import copy
import textwrap
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from rmtsynth.engine.cache import content_key
from rmtsynth.engine.sweep import SweepOptions, SweepResult
from rmtsynth.engine.tasks import run_cached
from rmtsynth.core.learners import DEFAULT_LEARNER, HELDOUT_PREDICTION, get_learner
from rmtsynth.core.verifiers import as_verifier
from rmtsynth.errors import ConfigError, ParameterError
from rmtsynth.sim.seeding import named_rng, stable_key
from rmtsynth.config.figure_config import FigureConfig
from rmtsynth.config.data import (
    DataSpec,
    LoadedData,
    SyntheticDataSpec,
    check_files,
    load_data,
    parse_data_entry,
    parse_synthetic_data,
)
from rmtsynth.config.data import load_synthetic_rows
from rmtsynth.data.validation import check_split_classes
from rmtsynth.config.schema import PREDICTION_KEYS, _show, check_section, section_defaults, unknown_key

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Bump when a split's numbers change for the same inputs, so that stale cache entries are not read.
_CACHE_TAG = "prediction/1"

PREDICTION_COLUMNS = [
    "figure", "panel", "series", "x", "real_data", "synthetic_data", "n", "m", "synthetic_proportion",
    "label_noise", "verifier", "rho", "phi", "gamma", "estimator", "correction", "predicted_accuracy",
    "measured_accuracy_mean", "measured_accuracy_se", "gap_mean", "gap_se", "splits",
]
# The measurement and the prediction with synthetic rows form p x p matrices (O(p^2) memory, O(p^3)
# time per split): beyond this many features a split takes minutes and gigabytes.
MAX_FEATURES = 2000
# What the manifest says when the splits train another learner than the one the prediction covers.
PREDICTION_NOTE = ("the held-out prediction covers ridge only; {learner} is measured on every split and its "
                   "predicted_accuracy is not available (NaN)")
ESTIMATOR_NAMES = {
    "g": "G-estimator",
    "nls": "nonlinear-shrinkage covariance with debiased quadratic forms",
    "plugin": "plug-in (the accuracy on the fitted Gaussian)",
}
CORRECTION_NAMES = {
    "cross-fit": "cross-fit correction",
    "loo": "exact leave-one-out + calibrated theory (13.6)",
    "score-shape": "score-shape correction (13.3)",
    "none": "Gaussian Phi(R)",
    "auto": "exact leave-one-out at m = 0, cross-fit correction at m > 0",
}
# A point is labelled with its measured error when the gap is this large and beyond 2 SE.
MISS_LABEL = 0.01
PANEL_KEYS = ("title", "synthetic", "n", "m", "label_noise", "verifiers")
GAUSSIAN_KEYS = ("generator", "pool_rows", "rows")
# A Gaussian pool is drawn in memory: at most this many rows, and this many numbers (800 MB).
MAX_GAUSSIAN_ROWS = 1_000_000
MAX_GAUSSIAN_ENTRIES = 10**8


@dataclass(frozen=True)
class GaussianPool:
    """A synthetic pool drawn from a Gaussian fitted on ``pool_rows`` real rows set aside."""

    pool_rows: int
    rows: int


@dataclass(frozen=True)
class PanelSetting:
    """One data set of the figure, with its synthetic source and what is swept on it."""

    where: str
    data_index: int
    title: str
    synthetic: SyntheticDataSpec | GaussianPool | None
    n: tuple[int, ...]
    m: tuple[Any, ...]
    label_noise: tuple[float, ...]
    verifiers: tuple[Any, ...]


@dataclass(frozen=True)
class PredictionSettings:
    """A prediction config's checked settings."""

    data: list[DataSpec]
    panels: list[PanelSetting]
    gamma: float
    splits: int
    estimator: str
    correction: str
    folds: int
    x: str  # "" : n for a panel without synthetic rows, else the proportion
    learner: str = DEFAULT_LEARNER  # what is trained; the prediction covers the learners that support it

    def x_of(self, panel: PanelSetting) -> str:
        """The x axis of one panel."""
        if self.x:
            return self.x
        return "n" if all(m == 0 for m in panel.m) else "proportion"


# --------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------


def _int_list(value: Any, where: str, low: int, *, all_ok: bool = False) -> tuple[Any, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ConfigError(f"{where} is an empty list; give at least one value.")
    out: list[Any] = []
    for v in items:
        if all_ok and v == "all":
            out.append("all")
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or float(v) != int(v) or v < low:
            extra = " or 'all'" if all_ok else ""
            raise ConfigError(f"{where} = {_show(value)} is not allowed; each value must be an integer >= {low}{extra}.")
        out.append(int(v))
    if len(set(out)) != len(out):
        raise ConfigError(f"{where} = {_show(value)} names a value twice.")
    return tuple(out)


def _verifier_list(value: Any, where: str) -> tuple[Any, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ConfigError(f"{where} is an empty list; give at least one verifier.")
    out: list[Any] = []
    for v in items:
        if v == "given":
            out.append(v)
            continue
        try:
            verifier = as_verifier(v) if isinstance(v, (str, list)) else None
        except ParameterError:
            verifier = None
        if verifier is None:
            raise ConfigError(
                f"{where} = {_show(value)} is not allowed; each verifier must be none, oracle, given or [rho, phi] with "
                "two probabilities."
            )
        out.append(v if isinstance(v, str) else verifier.label_rates())
    if len(set(out)) != len(out):
        raise ConfigError(f"{where} names a verifier twice.")
    return tuple(out)


def _noise_list(value: Any, where: str) -> tuple[float, ...]:
    items = value if isinstance(value, list) else [value]
    checked = PREDICTION_KEYS["label_noise"].check(items, where)
    out = tuple(float(v) for v in checked)
    if len(set(out)) != len(out):
        raise ConfigError(f"{where} names a label noise twice.")
    return out


def _synthetic_source(value: Any, where: str, base_dir) -> SyntheticDataSpec | GaussianPool:
    if isinstance(value, dict) and "generator" in value:
        for key in value:
            if key not in GAUSSIAN_KEYS:
                raise unknown_key(str(key), f"{where}.", GAUSSIAN_KEYS)
        if value["generator"] != "gaussian":
            raise ConfigError(f"{where}.generator = {_show(value['generator'])} is not allowed; it must be gaussian.")
        sizes = []
        for key in ("pool_rows", "rows"):
            v = value.get(key)
            if isinstance(v, bool) or not isinstance(v, int) or not 4 <= v <= MAX_GAUSSIAN_ROWS:
                raise ConfigError(f"{where}.{key} = {_show(v)} is not allowed; it must be an integer from 4 to "
                                  f"{MAX_GAUSSIAN_ROWS}.")
            sizes.append(v)
        return GaussianPool(pool_rows=sizes[0], rows=sizes[1])
    return parse_synthetic_data(value, base_dir, where)


def _section(cfg: FigureConfig) -> dict[str, Any]:
    """The prediction section, with quick.prediction applied under --quick."""
    values = check_section("prediction", cfg.extra.get("prediction"))
    if cfg.quick:
        quick = (cfg.raw.get("quick") or {}).get("prediction")
        over = check_section("prediction", quick, "quick.prediction") if quick is not None else {}
        values = {**values, **copy.deepcopy(over)}
        if "splits" not in over:
            seeds = (cfg.raw.get("quick") or {}).get("seeds")
            values["splits"] = int(seeds) if seeds else min(int(values.get("splits", 50)), 4)
    return values


def prediction_settings(cfg: FigureConfig) -> PredictionSettings:
    """Check a prediction config without opening any file; returns its settings.

    Raises ConfigError with one sentence naming the key for anything not allowed.
    """
    for key in ("x", "series", "panels", "params"):
        if cfg.raw.get(key) is not None:
            raise ConfigError(f"{key} is not used by kind prediction; its sweep is in the prediction section (n, m, label_noise, verifiers).")
    section = _section(cfg)
    values = section_defaults("prediction")
    values.update(section)
    specs = _data_specs(cfg)
    if "n" not in values:
        raise ConfigError("prediction.n is missing: give the real training sizes, for example n: [100, 200].")
    shared = _sweep(values, "prediction")
    top_synthetic = None
    if cfg.extra.get("synthetic_data") is not None:
        top_synthetic = parse_synthetic_data(cfg.extra["synthetic_data"], cfg.base_dir)
    per_panel = values.get("panels")
    if per_panel is None:
        per_panel = [{} for _ in specs]
    if not isinstance(per_panel, list) or len(per_panel) != len(specs):
        raise ConfigError(f"prediction.panels must be a list with one mapping per data entry ({len(specs)}).")
    panels = [_panel_setting(cfg, i, spec, entry, shared, top_synthetic)
              for i, (spec, entry) in enumerate(zip(specs, per_panel))]
    x = values.get("x") or ""
    return PredictionSettings(data=specs, panels=panels, gamma=float(values["gamma"]), splits=int(values["splits"]),
                              estimator=values["estimator"], correction=values["correction"],
                              folds=int(values["folds"]), x=x, learner=values.get("learner", DEFAULT_LEARNER))


def _data_specs(cfg: FigureConfig) -> list[DataSpec]:
    """The real data sets of the figure, one per panel."""
    raw = cfg.extra.get("data")
    example = "data: {source: digits, classes: [3, 8]} or a list of {title, path}"
    if raw is None:
        raise ConfigError(f"data is missing: kind prediction needs the real rows, for example {example}.")
    if isinstance(raw, dict):
        return [parse_data_entry(raw, "data", cfg.base_dir, use="prediction")]
    if not (isinstance(raw, list) and raw):
        raise ConfigError(f"data must be one data set or a non-empty list of titled ones, for example {example}.")
    specs = [parse_data_entry(item, f"data[{i}]", cfg.base_dir, use="prediction", titled=True)
             for i, item in enumerate(raw)]
    titles = [s.title for s in specs]
    if len(set(titles)) != len(titles):
        raise ConfigError("data has two entries with the same title; each data set needs its own title.")
    return specs


# How each swept key of the prediction section (or of one of its panels) is read.
_SWEPT_KEYS = {
    "n": lambda value, where: _int_list(value, where, 4),
    "m": lambda value, where: _int_list(value, where, 0, all_ok=True),
    "label_noise": _noise_list,
    "verifiers": _verifier_list,
}


def _sweep(values: dict[str, Any], where: str, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """``base`` with the swept keys that ``values`` gives, each checked."""
    out = dict(base or {})
    for key, parse in _SWEPT_KEYS.items():
        if key in values:
            out[key] = parse(values[key], f"{where}.{key}")
    return out


def _panel_setting(cfg: FigureConfig, i: int, spec: DataSpec, entry: Any, shared: dict[str, Any],
                   top_synthetic: SyntheticDataSpec | None) -> PanelSetting:
    """Panel ``i``: its data set, its synthetic source and its sweep (the shared one where it gives none)."""
    where = f"prediction.panels[{i}]"
    if entry is None:
        entry = {}
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a mapping of {', '.join(PANEL_KEYS[1:])}.")
    for key in entry:
        if key not in PANEL_KEYS[1:]:
            raise unknown_key(str(key), f"{where}.", PANEL_KEYS[1:])
    synthetic: Any = top_synthetic
    if entry.get("synthetic") is not None:
        if top_synthetic is not None:
            raise ConfigError(f"{where}.synthetic cannot be given with synthetic_data, which applies to every panel.")
        synthetic = _synthetic_source(entry["synthetic"], f"{where}.synthetic", cfg.base_dir)
    setting = _sweep(entry, where, shared)
    key_m = f"{where}.m" if "m" in entry else "prediction.m"
    if synthetic is None and any(m != 0 for m in setting["m"]):
        raise ConfigError(f"{key_m} has m > 0 but {spec.where} has no synthetic source; give synthetic_data or {where}.synthetic.")
    key_v = f"{where}.verifiers" if "verifiers" in entry else "prediction.verifiers"
    _check_given_verifier(setting["verifiers"], synthetic, key_v)
    return PanelSetting(where=where, data_index=i, title=spec.title, synthetic=synthetic, n=setting["n"], m=setting["m"],
                        label_noise=setting["label_noise"], verifiers=setting["verifiers"])


def _check_given_verifier(verifiers: tuple[Any, ...], synthetic: Any, key: str) -> None:
    """The ``given`` verifier needs a synthetic file that records which labels are right and which rows were kept."""
    if "given" in verifiers and not (isinstance(synthetic, SyntheticDataSpec) and synthetic.label_correct_key
                                     and (synthetic.kept_key or synthetic.score_key)):
        raise ConfigError(
            f"{key} has given, which needs a synthetic_data file with label_correct_key and kept_key (or score_key "
            "and threshold): the verifier's rates are estimated from them."
        )


def check(cfg: FigureConfig) -> int:
    """Every check that needs no computing; returns the number of rows of the table."""
    settings = prediction_settings(cfg)
    check_files(settings.data)
    count = 0
    for panel in settings.panels:
        if isinstance(panel.synthetic, SyntheticDataSpec) and not panel.synthetic.path.is_file():
            raise ConfigError(f"{panel.synthetic.where}.path: the synthetic rows' file {panel.synthetic.path} does not exist; "
                              "point the config at your copy.")
        count += len(panel.n) * len(panel.m) * len(_series(panel))
    return count


def _series(panel: PanelSetting) -> list[tuple[float, Any]]:
    """(label noise, verifier) pairs; with clean labels an oracle keeps what no verifier keeps."""
    out = []
    for eps in panel.label_noise:
        for v in panel.verifiers:
            flagged = isinstance(panel.synthetic, SyntheticDataSpec) and panel.synthetic.label_correct_key
            if eps == 0.0 and v == "oracle" and "none" in panel.verifiers and not flagged:
                continue
            out.append((eps, v))
    return out


# --------------------------------------------------------------------------------------------
# compute
# --------------------------------------------------------------------------------------------


@dataclass
class _Pool:
    features: np.ndarray
    labels: np.ndarray  # true classes
    digest: str
    description: str
    rates: dict[str, tuple[float, float]]  # the "given" verifier's estimated (rho, phi)
    file_label_noise: float | None


def _gaussian_pool(data: LoadedData, source: GaussianPool, seed: int) -> tuple[np.ndarray, np.ndarray, _Pool]:
    """The real rows left after setting ``pool_rows`` aside, and a Gaussian pool fitted on those."""
    from rmtsynth.data.protocols import stratified_split

    if source.rows * data.p > MAX_GAUSSIAN_ENTRIES:
        raise ConfigError(f"synthetic.rows = {source.rows} rows of the {data.p} features of {data.description} would hold "
                          f"{source.rows * data.p:.3g} numbers; at most {MAX_GAUSSIAN_ENTRIES:.0e} are allowed.")
    if not 4 <= source.pool_rows <= data.rows - 8:
        raise ConfigError(f"pool_rows = {source.pool_rows} must leave at least 8 of the {data.rows} rows of {data.description}.")
    rng = named_rng(seed, f"prediction gaussian pool {data.digest}")
    pool_idx, rest = stratified_split(data.y, source.pool_rows, rng)
    Xp, yp = data.X[pool_idx], data.y[pool_idx]
    means = {c: Xp[yp == c].mean(axis=0) for c in (-1.0, 1.0)}
    resid = np.vstack([Xp[yp == c] - means[c] for c in (-1.0, 1.0)])
    cov = resid.T @ resid / max(resid.shape[0] - 2, 1)
    values, vectors = np.linalg.eigh(cov)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    labels = np.where(np.arange(source.rows) % 2 == 0, -1.0, 1.0)
    noise = rng.standard_normal((source.rows, data.p)) @ root.T
    features = np.where(labels[:, None] > 0, means[1.0], means[-1.0]) + noise
    digest = stable_key({"gaussian": data.digest, "pool_rows": source.pool_rows, "rows": source.rows, "seed": seed})
    pool = _Pool(features=features, labels=labels, digest=digest,
                 description=f"Gaussian fitted on {source.pool_rows} {data.description} rows",
                 rates={}, file_label_noise=None)
    return data.X[rest], data.y[rest], pool


def _file_pool(spec: SyntheticDataSpec, data: LoadedData) -> _Pool:
    rows = load_synthetic_rows(spec, data.p, data.classes)
    labels = rows["labels"]
    correct = rows.get("label_correct")
    rates: dict[str, tuple[float, float]] = {}
    wrong_rate = None
    if correct is not None:
        # The measurement re-draws the wrong labels and the verifier's decisions at the file's rates
        # (the theory's assumption: neither depends on the features), from the true classes.
        wrong_rate = float(np.mean(~correct))
        labels = np.where(correct, labels, -labels)
        kept = rows.get("kept")
        if kept is not None:
            phi = float(np.mean(kept[correct])) if correct.any() else 1.0
            rho = float(np.mean(kept[~correct])) if (~correct).any() else 0.0
            rates["given"] = (rho, phi)
    return _Pool(features=rows["features"], labels=labels, digest=rows["digest"], description=rows["description"],
                 rates=rates, file_label_noise=wrong_rate)


def _data_pool(data: LoadedData) -> _Pool:
    return _Pool(features=data.X, labels=data.y, digest=data.digest, description=data.description, rates={},
                 file_label_noise=None)


def split_seed(root_seed: int, split: int) -> int:
    """The seed of split ``split``: the same for every setting, so that settings are paired."""
    return int(stable_key({"prediction split": int(split), "root": int(root_seed)})[:15], 16)


def _split_task(context: list[tuple[Any, ...]], task: dict[str, Any]) -> dict[str, np.ndarray]:
    """One split of one setting: measured and predicted accuracy per (verifier, m).

    ``context`` holds each panel's real rows and synthetic pool, shared by all the panel's tasks.
    """
    from rmtsynth.data.prediction import measure_heldout

    X, y, pool_features, pool_labels = context[task["panel"]]
    synthetic = None
    if pool_features is not None:
        synthetic = {"features": pool_features, "labels": pool_labels}
    got = measure_heldout(
        X, y, n=task["n"], gamma=task["gamma"], synthetic=synthetic, m_values=task["m"],
        label_noise=task["label_noise"], verifiers=task["verifiers"], splits=1, seed=task["seed"],
        estimator=task["estimator"], corrections=(task["correction"],), folds=task["folds"],
        learner=task.get("learner", DEFAULT_LEARNER),
    )
    return {"measured_accuracy": got["measured"], "predicted": got["predicted"][task["correction"]]}


def _verifier_name(v: Any, rates: dict[str, tuple[float, float]]) -> str:
    if v == "given":
        rho, phi = rates["given"]
        return f"given (rho={rho:.3g}, phi={phi:.3g})"
    return v if isinstance(v, str) else f"rho={v[0]:g},phi={v[1]:g}"


def _resolved_verifiers(verifiers: list[Any], pool: _Pool | None) -> list[Any]:
    """The verifiers as the measurement takes them: ``given`` becomes the pool file's (rho, phi)."""
    if pool is None:
        return list(verifiers)
    return [pool.rates["given"] if v == "given" else v for v in verifiers]


def _verifier_rates(rate: Any) -> tuple[float, float]:
    """(rho, phi) of a resolved verifier, for the table."""
    return as_verifier(rate).label_rates()


@dataclass
class _Setting:
    """One (panel, n, label noise) of the figure; its verifiers share one measurement per split."""

    panel: PanelSetting
    rows_index: int  # where the panel's real rows and pool are in the tasks' context
    data: LoadedData
    pool: _Pool | None
    n: int
    label_noise: float
    verifiers: list[Any]
    rates: list[Any]
    m: list[int]
    record: dict[str, Any]  # what the cache key holds, the split aside
    measured: list[Any] = field(default_factory=list)
    predicted: list[Any] = field(default_factory=list)


def _panel_rows(cfg: FigureConfig, panel: PanelSetting, data: LoadedData,
                needed: int = 2) -> tuple[np.ndarray, np.ndarray, _Pool | None, list[int]]:
    """The real rows a panel splits, its synthetic pool and its m values, checked against each other."""
    X, y = data.X, data.y
    pool: _Pool | None = None
    if isinstance(panel.synthetic, GaussianPool):
        X, y, pool = _gaussian_pool(data, panel.synthetic, cfg.seed)
    elif isinstance(panel.synthetic, SyntheticDataSpec):
        pool = _file_pool(panel.synthetic, data)
    if pool is not None and pool.features.shape[1] != X.shape[1]:
        raise ConfigError(f"{panel.where}.synthetic: the synthetic rows have {pool.features.shape[1]} features, "
                          f"{data.description} has {X.shape[1]}.")
    pool_rows = 0 if pool is None else int(pool.labels.size)
    m_values = [pool_rows if m == "all" else int(m) for m in panel.m]
    if any(m > pool_rows for m in m_values):
        raise ConfigError(f"{panel.where}: m = {max(m_values)} exceeds the {pool_rows} rows of the synthetic pool.")
    for n in panel.n:
        if not n <= y.size - 2:
            raise ConfigError(f"{panel.where}: n = {n} leaves fewer than 2 held-out rows of the {y.size} real rows "
                              f"of {data.description}.")
        try:
            check_split_classes(y, n, needed, data.description, f"the {needed}-fold cross-fit" if needed > 2 else "the class means")
        except ParameterError as exc:
            raise ConfigError(f"{panel.where}: {exc}") from None
    _check_features_vary(data, X)
    return X, y, pool, m_values


def _check_features_vary(data: LoadedData, X: np.ndarray) -> None:
    """At least one feature varies in the real rows (the ridge has nothing to fit otherwise)."""
    if not np.any(X.max(axis=0) > X.min(axis=0)):
        raise ConfigError(f"{data.spec.where}: every feature of {data.description} is constant; the ridge needs a "
                          "feature that varies.")


def _measured_noise(cfg: FigureConfig, pool: _Pool | None, eps: float) -> float:
    """The label noise measured: a pool file's own rate of wrong labels, unless the config sets one."""
    if pool is not None and pool.file_label_noise is not None and eps == 0.0 and "label_noise" not in (
            cfg.extra.get("prediction") or {}):
        return pool.file_label_noise
    return eps


def _panel_settings(cfg: FigureConfig, settings: PredictionSettings, panel: PanelSetting, data: LoadedData,
                    pool: _Pool | None, m_values: list[int], rows_index: int) -> list[_Setting]:
    """The settings of one panel, its series grouped by label noise."""
    by_noise: dict[float, list[Any]] = {}
    for eps, v in _series(panel):
        by_noise.setdefault(eps, []).append(v)
    out = []
    for n in panel.n:
        for eps, verifiers in by_noise.items():
            rates = _resolved_verifiers(verifiers, pool)
            noise = _measured_noise(cfg, pool, eps)
            record = {
                "real": data.digest,
                "removed_for_pool": None if not isinstance(panel.synthetic, GaussianPool) else pool.digest,
                "synthetic": None if pool is None else pool.digest, "n": n, "m": m_values, "label_noise": noise,
                "verifiers": [list(r) if isinstance(r, tuple) else r for r in rates], "gamma": settings.gamma,
                "estimator": settings.estimator, "correction": settings.correction, "folds": settings.folds,
                "seed": cfg.seed,
                # Ridge keeps the keys it always had; another learner is part of what the entry holds.
                **({"learner": settings.learner} if settings.learner != DEFAULT_LEARNER else {}),
            }
            out.append(_Setting(panel=panel, rows_index=rows_index, data=data, pool=pool, n=n, label_noise=noise,
                                verifiers=verifiers, rates=rates, m=m_values, record=record))
    return out


def _split_tasks(cfg: FigureConfig, settings: PredictionSettings, entries: list[_Setting],
                 splits: int) -> tuple[list[dict[str, Any]], list[str], list[tuple[int, int]]]:
    """A task per (setting, split), its cache key and its (setting, split)."""
    tasks, keys, owners = [], [], []
    for index, entry in enumerate(entries):
        for s in range(splits):
            tasks.append({
                "panel": entry.rows_index, "n": entry.n, "gamma": settings.gamma, "m": entry.m,
                "label_noise": entry.label_noise, "verifiers": entry.rates, "seed": split_seed(cfg.seed, s),
                "estimator": settings.estimator, "correction": settings.correction, "folds": settings.folds,
                "learner": settings.learner,
            })
            keys.append(content_key(_CACHE_TAG, {**entry.record, "split": s}))
            owners.append((index, s))
    return tasks, keys, owners


def _usable_entry(task: dict[str, Any], entry: dict[str, np.ndarray]) -> bool:
    return ("measured_accuracy" in entry and "predicted" in entry
            and entry["measured_accuracy"].shape == (1, len(task["verifiers"]), len(task["m"])))


def _finite_prediction(result: dict[str, np.ndarray]) -> bool:
    # A learner the prediction does not cover has none (NaN): such splits are measured anew each run.
    return bool(np.all(np.isfinite(result["predicted"])))


def run_prediction_figure(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    """Measured and predicted held-out accuracy per data set, n, label noise, verifier and m."""
    t0 = time.perf_counter()
    settings = prediction_settings(cfg)
    check(cfg)
    splits = int(options.seeds or settings.splits)
    loaded: dict[int, LoadedData] = {i: load_data(spec) for i, spec in enumerate(settings.data)}
    for i, data in loaded.items():
        _check_width(settings.data[i], data)
    context: list[tuple[Any, ...]] = []
    entries: list[_Setting] = []
    for panel in settings.panels:
        data = loaded[panel.data_index]
        X, y, pool, m_values = _panel_rows(cfg, panel, data, 2 if settings.correction == "none" else settings.folds)
        entries += _panel_settings(cfg, settings, panel, data, pool, m_values, len(context))
        context.append((X, y, None if pool is None else pool.features, None if pool is None else pool.labels))
    tasks, keys, owners = _split_tasks(cfg, settings, entries, splits)

    def describe(i: int) -> str:
        entry, s = entries[owners[i][0]], owners[i][1]
        return f"At {entry.panel.where}, n = {entry.n}, label_noise = {entry.label_noise:g}, split {s}"

    results, cached = run_cached(_split_task, tasks, keys, options, usable=_usable_entry, storable=_finite_prediction,
                                 describe=describe, desc="splits", context=context)
    for entry in entries:
        entry.measured, entry.predicted = [None] * splits, [None] * splits
    for (index, s), result in zip(owners, results):
        entries[index].measured[s] = result["measured_accuracy"][0]
        entries[index].predicted[s] = result["predicted"][0]
    rows = [row for entry in entries for row in _setting_rows(cfg, settings, entry, splits)]
    stats = {"cached_points": cached, "computed_points": len(tasks) - cached}
    # Ridge's tables keep the columns they always had; another learner is named in every row.
    columns = list(PREDICTION_COLUMNS) + (["learner"] if settings.learner != DEFAULT_LEARNER else [])
    return SweepResult(config=cfg, columns=columns, rows=rows,
                       info=_prediction_info(settings, loaded, rows, splits, time.perf_counter() - t0, stats))


def _check_width(spec: DataSpec, data: LoadedData) -> None:
    """Refuse, before any split, data whose p x p Gram matrices the measurement cannot afford."""
    if data.p > MAX_FEATURES:
        raise ConfigError(f"{spec.where} ({data.description}) has {data.p} features; the prediction figure fits the "
                          f"ridge on p x p matrices, which is limited to {MAX_FEATURES} features; "
                          "rmtsynth.predict_heldout on real rows only, whose leave-one-out costs min(n, p), takes "
                          "wider data.")


def _setting_rows(cfg: FigureConfig, settings: PredictionSettings, entry: _Setting, splits: int) -> list[dict[str, Any]]:
    """The rows of one setting: one per (verifier, m), over the splits."""
    panel, data, pool = entry.panel, entry.data, entry.pool
    measured = np.stack(entry.measured)  # (splits, verifiers, m)
    predicted = np.stack(entry.predicted)
    gaps = predicted - measured
    root = np.sqrt(splits)

    def se(a: np.ndarray) -> np.ndarray:
        return a.std(axis=0, ddof=1) / root if splits > 1 else np.zeros(a.shape[1:])

    m_se, g_se = se(measured), se(gaps)
    rows = []
    for iv, v in enumerate(entry.verifiers):
        name = _verifier_name(v, pool.rates if pool is not None else {})
        rho, phi = _verifier_rates(entry.rates[iv])
        for j, m in enumerate(entry.m):
            n = entry.n
            proportion = m / (n + m)
            x = {"n": n, "m": m, "proportion": proportion}[settings.x_of(panel)]
            rows.append({
                "figure": cfg.name,
                "panel": _panel_title(panel, data, n, settings),
                "series": _series_label(pool, entry.label_noise, name, settings),
                "x": x,
                "real_data": data.description,
                "synthetic_data": "" if pool is None else pool.description,
                "n": n,
                "m": m,
                "synthetic_proportion": proportion,
                "label_noise": entry.label_noise if pool is not None else 0.0,
                "verifier": name,
                "rho": rho,
                "phi": phi,
                "gamma": settings.gamma,
                "estimator": settings.estimator,
                "correction": settings.correction,
                "predicted_accuracy": float(predicted[:, iv, j].mean()),
                "measured_accuracy_mean": float(measured[:, iv, j].mean()),
                "measured_accuracy_se": float(m_se[iv, j]),
                "gap_mean": float(gaps[:, iv, j].mean()),
                "gap_se": float(g_se[iv, j]),
                "splits": splits,
                **({"learner": settings.learner} if settings.learner != DEFAULT_LEARNER else {}),
            })
    return rows


def _prediction_info(settings: PredictionSettings, loaded: dict[int, LoadedData], rows: list[dict[str, Any]],
                     splits: int, seconds: float, stats: dict[str, int]) -> dict[str, Any]:
    """What the manifest records of the run."""
    return {
        "points": len(rows),
        "splits": splits,
        "estimator": settings.estimator,
        "correction": settings.correction,
        "learner": settings.learner,
        **({"prediction_note": PREDICTION_NOTE.format(learner=settings.learner)}
           if not get_learner(settings.learner).supports(HELDOUT_PREDICTION) else {}),
        "x": {p.title or settings.data[p.data_index].where: settings.x_of(p) for p in settings.panels},
        "data": [{"title": s.title, "description": loaded[i].description, "sha256": loaded[i].digest,
                  "rows": loaded[i].rows, "p": loaded[i].p} for i, s in enumerate(settings.data)],
        "max_abs_gap": max((abs(r["gap_mean"]) for r in rows), default=None),
        "seconds": seconds,
        **stats,
    }


def _panel_title(panel: PanelSetting, data: LoadedData, n: int, settings: PredictionSettings) -> str:
    title = panel.title or data.description
    if settings.x_of(panel) == "n" or len(panel.n) == 1:
        return title
    return f"{title}, n = {n}"


def _series_label(pool: _Pool | None, eps: float, verifier: str, settings: PredictionSettings) -> str:
    if pool is None:
        return "real data only"
    if eps == 0.0:
        return "clean labels" + ("" if verifier == "none" else f", verifier {verifier}")
    verifier_text = {"none": "no verifier", "oracle": "oracle verifier"}.get(verifier, f"verifier {verifier}")
    return f"$\\varepsilon$ = {eps:g}, {verifier_text}"


# --------------------------------------------------------------------------------------------
# draw
# --------------------------------------------------------------------------------------------


def plot_prediction(cfg: FigureConfig, rows: list[dict[str, Any]]) -> Figure:
    """Predicted (lines) against measured (markers, ±1 SE) held-out accuracy, one panel per setting."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from rmtsynth.figures.style import COLORS, new_figure, style

    panels = list(dict.fromkeys(r["panel"] for r in rows))
    series = list(dict.fromkeys(r["series"] for r in rows))
    ncols = 2 if len(panels) == 4 else min(len(panels), 3)
    nrows = -(-len(panels) // ncols)
    with style():
        fig = new_figure(figsize=(max(4.6 * ncols, 6.5), 3.9 * nrows + 0.6), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False)
        flat = axes.ravel()
        for ip, panel in enumerate(panels):
            ax = flat[ip]
            x_kind = _x_kind([r for r in rows if r["panel"] == panel])
            for iseries, name in enumerate(series):
                sel = sorted((r for r in rows if r["panel"] == panel and r["series"] == name), key=lambda r: float(r["x"]))
                if not sel:
                    continue
                color = COLORS[iseries % len(COLORS)]
                xs = [float(r["x"]) for r in sel]
                worst = max(abs(r["gap_mean"]) for r in sel)
                predicted = np.array([r["predicted_accuracy"] for r in sel])
                spread = np.array([per_split_gap_sd(r) for r in sel])
                ax.fill_between(xs, predicted - spread, predicted + spread, color=color, alpha=0.13, lw=0, zorder=1)
                ax.plot(xs, predicted, color=color, lw=1.7, zorder=2, label=f"{name}: max |gap| {worst:.3f}")
                ax.errorbar(xs, [r["measured_accuracy_mean"] for r in sel], yerr=[r["measured_accuracy_se"] for r in sel],
                            color=color, ls="none", marker="o", ms=4.5, mfc="white", mec=color, elinewidth=1.0,
                            capsize=2.5, zorder=3)
                for r, xv in zip(sel, xs):
                    if abs(r["gap_mean"]) > MISS_LABEL and abs(r["gap_mean"]) > 2.0 * r["gap_se"]:
                        ax.annotate(f"{r['gap_mean']:+.3f}", (xv, r["predicted_accuracy"]), textcoords="offset points",
                                    xytext=(0, 6 if r["gap_mean"] > 0 else -11), ha="center", fontsize=7.5, color=color)
            ax.set_xlabel({"n": "real training rows $n$", "m": "synthetic rows drawn $m$",
                           "proportion": "proportion of synthetic data $m/(n+m)$"}[x_kind])
            if x_kind == "n":
                ax.set_xscale("log")
                ticks = sorted({float(r["x"]) for r in rows if r["panel"] == panel})
                ax.set_xticks(ticks)
                ax.set_xticklabels([f"{t:g}" for t in ticks])
                ax.minorticks_off()
            if ip % ncols == 0:
                ax.set_ylabel("held-out accuracy")
            ax.set_title(panel)
            ax.margins(y=0.12)
            handles, labels = ax.get_legend_handles_labels()
            if ip == 0:
                estimator, correction = rows[0]["estimator"], rows[0]["correction"]
                handles += [Line2D([], [], color="0.2", lw=1.7),
                            Line2D([], [], color="0.2", ls="none", marker="o", mfc="white", mec="0.2")]
                handles.append(Patch(color="0.2", alpha=0.13, lw=0))
                labels += [f"predicted: {ESTIMATOR_NAMES[estimator]}\n+ {CORRECTION_NAMES[correction]}",
                           "measured (ridge on the mix), ±1 SE", "one split's prediction error, ±1 sd"]
            ax.legend(handles, labels, loc="best", frameon=False, fontsize=7.5)
        for extra in flat[len(panels):]:
            extra.set_visible(False)
        if cfg.title:
            fig.suptitle(cfg.title)
        caption = _caption(rows)
        if cfg.plot.get("caption"):
            caption += " " + str(cfg.plot["caption"])
        # Fix the layout before the caption goes below the axes, so that the caption does not
        # squeeze them.
        fig.draw_without_rendering()
        fig.set_layout_engine("none")
        fig.text(0.01, -0.005, textwrap.fill(caption, width=int(fig.get_figwidth() * 15.5)), fontsize=8.5,
                 ha="left", va="top")
    return fig


def per_split_gap_sd(row: dict[str, Any]) -> float:
    """The standard deviation over splits of the paired gap of a table row: gap_se * sqrt(splits).

    It is the error one user's prediction (one split) carries, where gap_se is that of the mean.
    """
    return float(row["gap_se"]) * float(np.sqrt(row["splits"])) if int(row["splits"]) > 1 else 0.0


def _x_kind(rows: list[dict[str, Any]]) -> str:
    r = rows[0]
    if float(r["x"]) == float(r["n"]) and all(float(q["x"]) == float(q["n"]) for q in rows):
        return "n"
    if all(float(q["x"]) == float(q["m"]) for q in rows):
        return "m"
    return "proportion"


def _caption(rows: list[dict[str, Any]]) -> str:
    splits = rows[0]["splits"]
    worst = max(rows, key=lambda r: abs(r["gap_mean"]))
    gaps = np.array([r["gap_mean"] for r in rows])
    estimator = ESTIMATOR_NAMES[rows[0]["estimator"]]
    correction = CORRECTION_NAMES[rows[0]["correction"]]
    where = ", ".join(dict.fromkeys((worst["panel"], worst["series"])))
    text = (
        f"Lines: the held-out accuracy predicted by the {estimator} with the {correction}, from each split's training "
        f"rows and the synthetic pool only, averaged over {splits} splits. Markers: the accuracy measured on the other "
        f"real rows. Gap = predicted - measured, paired per split: mean {gaps.mean():+.4f}, largest "
        f"{worst['gap_mean']:+.4f} ± {worst['gap_se']:.4f} ({where}, n = {worst['n']}, "
        f"m = {worst['m']}); points off by more than {MISS_LABEL:g} (and 2 SE) carry their gap. "
        f"Bands: ±1 standard deviation of the per-split gap (largest {max(per_split_gap_sd(r) for r in rows):.3f}), "
        f"the error of a prediction from one set of training rows. gamma = {rows[0]['gamma']:g}."
    )
    if rows[0]["estimator"] == "plugin":
        text += " The plug-in predicts the accuracy on the Gaussian fitted to the training rows, not held-out accuracy."
    return text


def compute(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    return run_prediction_figure(cfg, options)


def draw(cfg: FigureConfig, result: SweepResult) -> Figure:
    return plot_prediction(cfg, result.rows)
