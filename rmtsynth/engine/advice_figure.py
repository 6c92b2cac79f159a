"""The advice figure's computation: per random split, the advisor's prediction and the measured accuracy.

Split s draws, per digit, the real training rows, the images the generator is learned from, the
verifiers' training images and (the rest) the test rows, from ``SeedSequence(seed, spawn_key=(s,))``.
The advisor sees only the real rows, the pool with its given labels and a verifier's scores; the
measurement fits the same pipeline on the real rows and the kept rows of the advisor's own draw and
scores it on the test rows. Every split is one cached task on the chosen executor.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from rmtsynth.config.advice_config import AdviceFigureSettings, advice_settings
from rmtsynth.config.figure_config import FigureConfig
from rmtsynth.core.learners import get_learner
from rmtsynth.data.advice import advise
from rmtsynth.data.advice.testbed import classifier_scores, flip_labels, learn_generator, measured_accuracy
from rmtsynth.data.mnist import load_mnist
from rmtsynth.engine.cache import content_key
from rmtsynth.engine.sweep import SweepOptions, SweepResult
from rmtsynth.engine.tasks import run_cached

# Bump when a split's numbers change for the same inputs, so that stale cache entries are not read.
_CACHE_TAG = "advice-figure/2"

COLUMNS = ["figure", "panel", "kept_fraction", "m", "splits", "predicted_accuracy", "predicted_se",
           "measured_accuracy", "measured_se", "gap", "gap_se", "kept", "learner", "label_noise", "n_real"]


def _split_rows(y: np.ndarray, settings: AdviceFigureSettings, rng: np.random.Generator) -> dict[str, np.ndarray]:
    parts = {"real": settings.real_per_class, "generator": settings.generator_per_class,
             "verifier": max(v.train_per_class for v in settings.verifiers)}
    out: dict[str, list[np.ndarray]] = {name: [] for name in (*parts, "test")}
    for digit in settings.classes:
        rows = rng.permutation(np.flatnonzero(y == digit))
        start = 0
        for name, count in parts.items():
            out[name].append(rows[start:start + count])
            start += count
        out["test"].append(rows[start:])
    return {name: np.concatenate(chunks) for name, chunks in out.items()}


def split_task(context: tuple[np.ndarray, np.ndarray, AdviceFigureSettings, int], split: int) -> dict[str, np.ndarray]:
    """Predicted and measured accuracy of one split: arrays over (verifier, kept fraction, m), and m = 0."""
    X_all, y_all, settings, seed = context
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(split,)))
    rows = _split_rows(y_all, settings, rng)
    real_X, real_y = X_all[rows["real"]], y_all[rows["real"]]
    test_X, test_y = X_all[rows["test"]], y_all[rows["test"]]
    generator = learn_generator(X_all[rows["generator"]], y_all[rows["generator"]], settings.generator_dimension,
                                settings.generator_components, seed=split)
    pool_X, pool_true = generator.sample(settings.pool_rows, rng)
    given = flip_labels(pool_true, settings.classes, settings.label_noise, rng)
    estimator = get_learner(settings.learner).estimator()
    shape = (len(settings.verifiers), len(settings.kept_fractions), len(settings.m))
    out = {name: np.empty(shape) for name in ("predicted", "predicted_se", "measured", "kept")}
    out["baseline_predicted"] = np.empty(len(settings.verifiers))
    for v, verifier in enumerate(settings.verifiers):
        train = _first_per_class(rows["verifier"], y_all, verifier.train_per_class)
        scores = classifier_scores(X_all[train], y_all[train], pool_X, given)
        thresholds = [-np.inf if f >= 1.0 else float(np.quantile(scores, 1.0 - f)) for f in settings.kept_fractions]
        advice = advise(real_X, real_y, pool_X, given, scores=scores, thresholds=sorted(set(thresholds)),
                        m_values=list(settings.m), learner=settings.learner, seed=split)
        by_point = {(r["threshold"], r["m"]): r for r in advice.table.rows}
        out["baseline_predicted"][v] = by_point[(-np.inf, 0)]["predicted_accuracy"]
        for f, threshold in enumerate(thresholds):
            for j, m in enumerate(settings.m):
                row = by_point[(threshold, m)]
                out["predicted"][v, f, j] = row["predicted_accuracy"]
                out["predicted_se"][v, f, j] = row["accuracy_se"]
                out["kept"][v, f, j] = row["kept"]
                # The measurement averages the same draws of the pool as the prediction.
                draws = [advice.kept_rows(threshold, m, d) for d in range(len(advice.orders))]
                accuracy: dict[bytes, float] = {}  # a kept set shared by draws (m = the pool) is fitted once
                for k in draws:
                    if k.tobytes() not in accuracy:
                        accuracy[k.tobytes()] = measured_accuracy(estimator, real_X, real_y, pool_X[k], given[k],
                                                                  test_X, test_y)
                out["measured"][v, f, j] = np.mean([accuracy[k.tobytes()] for k in draws])
    empty = np.zeros((0, real_X.shape[1]))
    out["baseline_measured"] = np.array([measured_accuracy(estimator, real_X, real_y, empty, real_y[:0], test_X, test_y)])
    return out


def _first_per_class(rows: np.ndarray, y: np.ndarray, count: int) -> np.ndarray:
    return np.concatenate([rows[y[rows] == digit][:count] for digit in np.unique(y[rows])])


def _mean_se(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    count = values.shape[0]
    se = values.std(axis=0, ddof=1) / np.sqrt(count) if count > 1 else np.zeros(values.shape[1:])
    return values.mean(axis=0), se


def _table(cfg: FigureConfig, settings: AdviceFigureSettings, results: list[dict[str, np.ndarray]]) -> list[dict[str, Any]]:
    stack = {name: np.stack([r[name] for r in results]) for name in results[0]}
    shared = {"figure": cfg.name, "splits": len(results), "learner": settings.learner,
              "label_noise": settings.label_noise, "n_real": 2 * settings.real_per_class}
    pred, pred_se = _mean_se(stack["predicted"])
    meas, meas_se = _mean_se(stack["measured"])
    gap, gap_se = _mean_se(stack["predicted"] - stack["measured"])
    kept = stack["kept"].mean(axis=0)
    base_pred, base_pred_se = _mean_se(stack["baseline_predicted"])
    base_gap, base_gap_se = _mean_se(stack["baseline_predicted"] - stack["baseline_measured"])
    base_meas, base_meas_se = _mean_se(stack["baseline_measured"][:, 0])
    rows = []
    for v, verifier in enumerate(settings.verifiers):
        rows.append(shared | {"panel": verifier.title, "kept_fraction": 0.0, "m": 0,
                              "predicted_accuracy": float(base_pred[v]), "predicted_se": float(base_pred_se[v]),
                              "measured_accuracy": float(base_meas), "measured_se": float(base_meas_se),
                              "gap": float(base_gap[v]), "gap_se": float(base_gap_se[v]), "kept": 0.0})
        for f, fraction in enumerate(settings.kept_fractions):
            for j, m in enumerate(settings.m):
                rows.append(shared | {
                    "panel": verifier.title, "kept_fraction": fraction, "m": m,
                    "predicted_accuracy": float(pred[v, f, j]), "predicted_se": float(pred_se[v, f, j]),
                    "measured_accuracy": float(meas[v, f, j]), "measured_se": float(meas_se[v, f, j]),
                    "gap": float(gap[v, f, j]), "gap_se": float(gap_se[v, f, j]), "kept": float(kept[v, f, j])})
    return rows


def run_advice_figure(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    """The advice figure's table: one row per (verifier, kept fraction, m), and m = 0 per verifier."""
    settings = advice_settings(cfg)
    images = load_mnist(settings.data_path)
    X = np.asarray(images.X, dtype=float)
    y = np.asarray(images.y)
    record = {"data": images.digest, "settings": asdict(settings) | {"data_path": None}, "seed": cfg.seed}
    keys = [content_key(_CACHE_TAG, record | {"split": s}) for s in range(settings.splits)]
    results, cached = run_cached(split_task, list(range(settings.splits)), keys, options,
                                 context=(X, y, settings, cfg.seed), desc="advising",
                                 describe=lambda i: f"split {i}")
    info = {"splits": settings.splits, "cached_splits": cached, "data": images.description}
    return SweepResult(config=cfg, columns=list(COLUMNS), rows=_table(cfg, settings, results), info=info)
