"""The prediction figure's computation: predicted against measured held-out accuracy on real data (THEORY.md 13).

For every data set (a panel), training size n, label noise and verifier, the learner is trained on
random stratified splits of the real rows plus m synthetic rows from a pool, and its accuracy is
measured on the other real rows. The prediction of each split sees only that split's training rows
and the synthetic pool (:func:`rmtsynth.data.prediction.measure_heldout`); the table holds its mean
over splits and the gap, paired per split.

The synthetic pool of a panel is the config's ``synthetic_data`` file, another data file (a real
test bed: another domain standing in for the generator), or a Gaussian fitted on real rows set
aside for it, which are then neither trained nor tested on.

Every (setting, split) is one cached task (:func:`~rmtsynth.engine.tasks.run_cached`) on the chosen
executor, keyed by the hashes of the real rows and of the pool, so a re-run recomputes nothing;
split s uses the seed derived from the root seed and s alone, so the table is the same whatever the
number of workers or the executor, and the splits are shared by every n, label noise and verifier
(common random numbers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rmtsynth.config.data import DataSpec, LoadedData, SyntheticDataSpec, load_data, load_synthetic_rows
from rmtsynth.config.figure_config import FigureConfig
from rmtsynth.config.prediction_config import (
    GaussianPool,
    PanelSetting,
    PredictionSettings,
    check_prediction,
    panel_series,
    prediction_settings,
)
from rmtsynth.core.learners import DEFAULT_LEARNER, HELDOUT_PREDICTION, get_learner
from rmtsynth.core.verifiers import as_verifier
from rmtsynth.data.validation import check_split_classes
from rmtsynth.engine.cache import content_key
from rmtsynth.engine.sweep import SweepOptions, SweepResult
from rmtsynth.engine.tasks import run_cached
from rmtsynth.errors import DataError, ParameterError
from rmtsynth.sim.seeding import named_rng, stable_key

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
# A Gaussian pool is drawn in memory: at most this many rows, and this many numbers (800 MB).
MAX_GAUSSIAN_ENTRIES = 10**8


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
        raise DataError(f"synthetic.rows = {source.rows} rows of the {data.p} features of {data.description} would hold "
                          f"{source.rows * data.p:.3g} numbers; at most {MAX_GAUSSIAN_ENTRIES:.0e} are allowed.")
    if not 4 <= source.pool_rows <= data.rows - 8:
        raise DataError(f"pool_rows = {source.pool_rows} must leave at least 8 of the {data.rows} rows of {data.description}.")
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
        raise DataError(f"{panel.where}.synthetic: the synthetic rows have {pool.features.shape[1]} features, "
                          f"{data.description} has {X.shape[1]}.")
    pool_rows = 0 if pool is None else int(pool.labels.size)
    m_values = [pool_rows if m == "all" else int(m) for m in panel.m]
    if any(m > pool_rows for m in m_values):
        raise DataError(f"{panel.where}: m = {max(m_values)} exceeds the {pool_rows} rows of the synthetic pool.")
    for n in panel.n:
        if not n <= y.size - 2:
            raise DataError(f"{panel.where}: n = {n} leaves fewer than 2 held-out rows of the {y.size} real rows "
                              f"of {data.description}.")
        try:
            check_split_classes(y, n, needed, data.description, f"the {needed}-fold cross-fit" if needed > 2 else "the class means")
        except ParameterError as exc:
            raise DataError(f"{panel.where}: {exc}") from None
    _check_features_vary(data, X)
    return X, y, pool, m_values


def _check_features_vary(data: LoadedData, X: np.ndarray) -> None:
    """At least one feature varies in the real rows (the ridge has nothing to fit otherwise)."""
    if not np.any(X.max(axis=0) > X.min(axis=0)):
        raise DataError(f"{data.spec.where}: every feature of {data.description} is constant; the ridge needs a "
                          "feature that varies.")


def _measured_noise(settings: PredictionSettings, pool: _Pool | None, eps: float) -> float:
    """The label noise measured: a pool file's own rate of wrong labels, unless the config sets one."""
    if pool is not None and pool.file_label_noise is not None and eps == 0.0 and not settings.label_noise_given:
        return pool.file_label_noise
    return eps


def _panel_settings(cfg: FigureConfig, settings: PredictionSettings, panel: PanelSetting, data: LoadedData,
                    pool: _Pool | None, m_values: list[int], rows_index: int) -> list[_Setting]:
    """The settings of one panel, its series grouped by label noise."""
    by_noise: dict[float, list[Any]] = {}
    for eps, v in panel_series(panel):
        by_noise.setdefault(eps, []).append(v)
    out = []
    for n in panel.n:
        for eps, verifiers in by_noise.items():
            rates = _resolved_verifiers(verifiers, pool)
            noise = _measured_noise(settings, pool, eps)
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


def _read_panels(cfg: FigureConfig) -> tuple[PredictionSettings, dict[int, LoadedData], list[tuple[Any, ...]],
                                             list[_Setting]]:
    """The settings, the data sets read, each panel's rows and pool (the tasks' context) and the settings to measure."""
    settings = prediction_settings(cfg)
    check_prediction(cfg)
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
    return settings, loaded, context, entries


def check_prediction_data(cfg: FigureConfig) -> None:
    """Every check of a prediction config against its data (sizes, widths, pools), with no split measured."""
    _read_panels(cfg)


def run_prediction_figure(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    """Measured and predicted held-out accuracy per data set, n, label noise, verifier and m."""
    t0 = time.perf_counter()
    settings, loaded, context, entries = _read_panels(cfg)
    splits = int(options.seeds or settings.splits)
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
        raise DataError(f"{spec.where} ({data.description}) has {data.p} features; the prediction figure fits the "
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
