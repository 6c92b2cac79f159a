"""Acceptance benchmark of ``rmtsynth.advise`` on scenarios the project never tuned on.

For each scenario (benchmarks/advise_scenarios.py) and split seed, the advisor is called on the
training rows and the synthetic pool with a fixed grid (keep-all plus three score quantiles, five
values of m up to the pool), once per learner (ridge, logistic). The truth is measured by brute
force: at each (threshold, m), the accuracy on held-out real rows of
``make_pipeline(StandardScaler(), learner)`` fitted on the training rows plus the kept rows,
averaged over random draws of the m pool rows (the same draws for every threshold). Reported per
scenario and learner, over the split seeds:

* the mean gap, mean over seeds of (predicted - measured) accuracy, at each (threshold, m); target
  |mean gap| <= 0.015 at every point (the mean absolute per-seed gap is shown beside it: it carries
  the irreducible noise of estimating one training set's accuracy from n rows);
* the sign of the predicted gain against the measured gain wherever the measured gain is
  significant (|mean| > 2 SE over seeds and > 0.001); target: always the measured sign;
* the regret: best measured accuracy on the grid minus the measured accuracy at the recommended
  (threshold, m), per seed; target: <= 0.005 on average;
* any accuracy outside [0, 1], and the wall time of each advise call;

and two timing cases on one core: p <= 200, n + m <= 1000, 3 thresholds x 5 m values (< 2 s);
MNIST at p = 784, n = 100, a pool of 800, 8 thresholds x 6 m values x 2 learners (< 60 s).

    python benchmarks/bench_advise.py --out benchmarks/advise.md            # full, ~15 min on 2 cores
    python benchmarks/bench_advise.py --quick                               # smoke run: 2 scenarios, 3 seeds
    python benchmarks/bench_advise.py --stub --quick                        # the harness alone (5-fold CV stand-in)
    python benchmarks/bench_advise.py --first-seed 100 --seeds 30 --skip-timing --out /tmp/fresh.md

A method chosen while looking at this report should be checked on split seeds it has not seen
(``--first-seed``); ``--scenario`` selects scenarios by a substring of their names. ``--records
PATH`` pickles every record with each advise call's full table, the held-out decision values of
every kept set and the theory's curves per threshold, from which benchmarks/choice_rules.py scores
other recommendation rules offline (about 50 kB per call; 85 kB with ``--advise-draws 6``, which
holds the tables of the default 3 draws too, the draws being nested).

Seeds are fixed, so runs reproduce. BLAS is held to one thread in every process.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, replace  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.linear_model import LogisticRegression, RidgeClassifier  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from advise_scenarios import (SCENARIOS, Scenario, add_run_arguments, make_split, scenario_by_name,  # noqa: E402
                              parse_run_arguments, run_splits)

GAP_TARGET = 0.015
REGRET_TARGET = 0.005
MIN_GAIN = 0.001
SMALL_CALL_TARGET = 2.0
MNIST_CALL_TARGET = 60.0
LEARNER_NAMES = ("ridge", "logistic")
THRESHOLD_QUANTILES = (0.25, 0.5, 0.75)
M_FRACTIONS = (0.0, 0.125, 0.25, 0.5, 1.0)


def make_learner(name: str):
    """The estimators the advisor's learner names stand for."""
    if name == "ridge":
        return RidgeClassifier(alpha=1.0)
    if name == "logistic":
        return LogisticRegression(C=1.0)
    raise ValueError(name)


def limit_threads() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    # Convergence warnings of the default LogisticRegression are expected; the pipeline is the user's as is.
    warnings.filterwarnings("ignore")


# ---------------------------------------------------------------- the grid


@dataclass(frozen=True)
class Grid:
    thresholds: tuple[float, ...]
    threshold_labels: tuple[str, ...]   # "all", "q25", ...: comparable across seeds, unlike the values
    m_values: tuple[int, ...]

    def points(self):
        """(threshold label, threshold, m); m = 0 once, as it keeps nothing at any threshold."""
        yield "all", -math.inf, 0
        for m in self.m_values:
            if m > 0:
                for label, t in zip(self.threshold_labels, self.thresholds):
                    yield label, t, m


def grid_for(scores: np.ndarray, quantiles=THRESHOLD_QUANTILES, m_fractions=M_FRACTIONS) -> Grid:
    thresholds = (-math.inf, *(float(np.quantile(scores, q)) for q in quantiles))
    labels = ("all", *(f"q{round(100 * q)}" for q in quantiles))
    m_values = tuple(int(round(f * len(scores))) for f in m_fractions)
    return Grid(thresholds, labels, m_values)


# ---------------------------------------------------------------- the stand-in advisor (--stub)


@dataclass
class StubAdvice:
    table: pd.DataFrame
    recommendation: dict
    _fit_recommended: object

    def pipeline(self):
        return self._fit_recommended()


def stub_advise(real_features, real_labels, synthetic_features, synthetic_labels, scores=None,
                thresholds=None, m_values=None, learner="ridge", seed=0):
    """Naive 5-fold cross-validation with the advisor's signature: validates the harness, not a method."""
    X, y = np.asarray(real_features, float), np.asarray(real_labels)
    SX, Sy = np.asarray(synthetic_features, float), np.asarray(synthetic_labels)
    scores = np.zeros(len(Sy)) if scores is None else np.asarray(scores, float)
    thresholds = [-math.inf] if thresholds is None else list(thresholds)
    m_values = [0, len(Sy)] if m_values is None else list(m_values)
    learners = learner if isinstance(learner, list) else [learner]
    rng = np.random.default_rng(seed)
    draws = [rng.permutation(len(Sy)) for _ in range(2)]
    rows = []
    for item in learners:
        name = item if isinstance(item, str) else type(item).__name__
        estimator = make_learner(item) if isinstance(item, str) else item
        rows += _stub_rows(name, estimator, X, y, SX, Sy, scores, thresholds, m_values, draws, seed)
    table = pd.DataFrame(rows)
    best = table.loc[table["predicted_accuracy"].idxmax()].to_dict()
    best["verdict"] = ("add" if best["gain"] > 2 * best["gain_se"] else
                       "do not add" if best["gain"] < -2 * best["gain_se"] else "cannot tell")
    estimator = next(make_learner(i) if isinstance(i, str) else i for i in learners
                     if (i if isinstance(i, str) else type(i).__name__) == best["learner"])
    kept = draws[0][: int(best["m"])]
    kept = kept[scores[kept] >= best["threshold"]]

    def fit_recommended():
        return make_pipeline(StandardScaler(), clone(estimator)).fit(np.vstack([X, SX[kept]]), np.concatenate([y, Sy[kept]]))

    return StubAdvice(table, best, fit_recommended)


def _stub_rows(name, estimator, X, y, SX, Sy, scores, thresholds, m_values, draws, seed):
    folds = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(X, y))
    per_fold = {}
    for f, (tr, va) in enumerate(folds):
        for t in thresholds:
            for m in m_values:
                accs = []
                for perm in draws if 0 < m < len(Sy) else draws[:1]:
                    kept = perm[:m]
                    kept = kept[scores[kept] >= t]
                    model = make_pipeline(StandardScaler(), clone(estimator))
                    model.fit(np.vstack([X[tr], SX[kept]]), np.concatenate([y[tr], Sy[kept]]))
                    accs.append(np.mean(model.predict(X[va]) == y[va]))
                per_fold[f, t, m] = np.mean(accs)
    rows = []
    for t in thresholds:
        for m in m_values:
            acc = np.array([per_fold[f, t, m] for f in range(len(folds))])
            gain = acc - np.array([per_fold[f, t, 0] if 0 in m_values else per_fold[f, t, m] for f in range(len(folds))])
            rows.append(dict(learner=name, threshold=t, m=m, kept=float(m * np.mean(scores >= t)),
                             predicted_accuracy=float(acc.mean()), gain=float(gain.mean()),
                             gain_se=float(gain.std(ddof=1) / np.sqrt(len(gain)))))
    return rows


def advise_function(stub: bool):
    if stub:
        return stub_advise
    import rmtsynth

    return rmtsynth.advise


# ---------------------------------------------------------------- reading the advice


def advice_frame(advice) -> pd.DataFrame:
    table = advice.table
    if hasattr(table, "to_pandas"):
        return table.to_pandas()
    return table if isinstance(table, pd.DataFrame) else pd.DataFrame(table)


def same_threshold(a: float, b: float) -> bool:
    return bool(np.isclose(float(a), float(b), rtol=1e-9, atol=1e-12)) or (math.isinf(a) and math.isinf(b) and a == b)


def table_row(frame: pd.DataFrame, threshold: float, m: int) -> dict | None:
    """The advisor's row at (threshold, m); at m = 0 any threshold's row (they are all real rows only)."""
    at_m = frame[np.isclose(frame["m"].astype(float), m)]
    if m == 0 and len(at_m):
        return at_m.iloc[0].to_dict()
    for _, row in at_m.iterrows():
        if same_threshold(float(row["threshold"]), threshold):
            return row.to_dict()
    return None


def out_of_range_count(frame: pd.DataFrame, recommendation: dict) -> int:
    values = list(frame["predicted_accuracy"].astype(float)) + [float(recommendation.get("predicted_accuracy", np.nan))]
    return int(sum(not (0.0 <= v <= 1.0) for v in values))


def grid_point_of(grid: Grid, threshold: float, m: int) -> tuple[str, float, int] | None:
    if m == 0:
        return "all", -math.inf, 0
    for label, t, gm in grid.points():
        if gm == m and same_threshold(t, threshold):
            return label, t, gm
    return None


# ---------------------------------------------------------------- the truth, by brute force


class Measurer:
    """Held-out accuracy of the user's pipeline on train + kept pool rows, over fixed draws of the pool."""

    def __init__(self, split, learner_name: str, draws: int, rng: np.random.Generator):
        self.split = split
        self.learner_name = learner_name
        pool = len(split.pool_y)
        # One permutation per draw, its first m rows the draw of m: the same draws for every threshold and m.
        self.permutations = [rng.permutation(pool) for _ in range(draws)]
        self._cache: dict[bytes, float] = {}

    def accuracy_of(self, kept: np.ndarray) -> float:
        key = np.sort(kept).tobytes()
        if key not in self._cache:
            s = self.split
            model = make_pipeline(StandardScaler(), make_learner(self.learner_name))
            model.fit(np.vstack([s.train_X, s.pool_X[kept]]), np.concatenate([s.train_y, s.pool_y[kept]]))
            self._cache[key] = float(np.mean(model.predict(s.test_X) == s.test_y))
        return self._cache[key]

    def measure(self, threshold: float, m: int) -> tuple[float, float]:
        """(mean accuracy, mean kept rows) over the draws of m pool rows."""
        pool = len(self.split.pool_y)
        perms = self.permutations if 0 < m < pool else self.permutations[:1]
        accs, kept_counts = [], []
        for perm in perms:
            kept = perm[:m]
            kept = kept[self.split.scores[kept] >= threshold]
            accs.append(self.accuracy_of(kept))
            kept_counts.append(len(kept))
        return float(np.mean(accs)), float(np.mean(kept_counts))


# ---------------------------------------------------------------- one split seed


def run_task(scenario_index: int, split_seed: int, draws: int, stub: bool, advise_draws: int | None,
             keep_records: bool = False) -> list[dict]:
    """Records (one per learner) of one scenario and split seed."""
    limit_threads()
    scenario = SCENARIOS[scenario_index]
    split = make_split(scenario, split_seed, scenario_index)
    grid = grid_for(split.scores)
    advise = advise_function(stub)
    if keep_records and not stub:
        # The data layer's advise, which rmtsynth.advise runs with one local worker: it takes the
        # map_tasks that keeps each fit's decision values.
        from rmtsynth.data.advice import advise
    if advise_draws is not None:
        advise = partial(advise, draws=advise_draws)
    records = []
    for k, learner in enumerate(LEARNER_NAMES):
        rng = np.random.default_rng([split_seed, scenario_index, k, 7])
        record = dict(scenario=scenario.name, seed=split_seed, learner=learner,
                      pool_label_error=split.pool_label_error, error=None)
        try:
            record.update(evaluate_learner(advise, split, grid, learner, split_seed, Measurer(split, learner, draws, rng),
                                           keep_records and not stub))
        except Exception as exc:  # a failing call is a finding, reported, not a crash of the benchmark
            record["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            record["traceback"] = traceback.format_exc(limit=6)
        records.append(record)
    return records


def evaluate_learner(advise, split, grid: Grid, learner: str, seed: int, measurer: Measurer,
                     keep_records: bool = False) -> dict:
    capture = CapturingMap() if keep_records else None
    start = time.perf_counter()
    advice = advise(split.train_X, split.train_y, split.pool_X, split.pool_y, scores=split.scores,
                    thresholds=list(grid.thresholds), m_values=list(grid.m_values), learner=learner, seed=seed,
                    **({} if capture is None else {"map_tasks": capture}))
    frame = advice_frame(advice)
    rec = dict(advice.recommendation)
    seconds = time.perf_counter() - start
    points = compare_grid(frame, grid, measurer)
    extra = {} if capture is None else {"advice": advice_record(advice, frame, grid, capture)}
    return dict(advise_seconds=seconds, points=points, out_of_range=out_of_range_count(frame, rec),
                missing=sum(p["predicted"] is None for p in points),
                **recommendation_outcome(advice, rec, grid, points, measurer), **extra)


# ---------------------------------------------------------------- what --records keeps of each call


#: Besides all the call's draws, theory curves are kept for the table of its first this many (the default).
THEORY_DRAWS = 3


class CapturingMap:
    """A serial ``map_tasks`` for advise that keeps every fit's held-out decision values."""

    def __init__(self):
        self.context, self.tasks, self.results = None, [], []

    def __call__(self, fn, tasks, context):
        self.context, self.tasks = context, list(tasks)
        self.results = [fn(context, task) for task in self.tasks]
        return self.results


def advice_record(advice, frame: pd.DataFrame, grid: Grid, capture: CapturingMap) -> dict:
    """The full table, each kept set's held-out decision values and, per threshold, the theory's curves.

    ``decisions[s]`` are the real rows' held-out decision values with kept set s (one learner per
    call); ``cells[i][d]`` the kept set of table row i in draw d, so that a rule may recompute any
    row from fewer draws or resampled real rows. ``theory[label]`` holds, per threshold label, the
    calibrated random-matrix curve (:class:`TheoryCurve`, the learner's own for ridge, ridge's for
    any other learner) at that threshold's kept counts for every effective label noise of its grid,
    for the tables of the first ``k`` draws (k = the advisor's default and all draws), so that a rule
    can fit the noise and offset to any of its rows.
    """
    from rmtsynth.core.leave_out import duplicate_groups
    from rmtsynth.data.advice.extrapolate import NOISE_GRID, TheoryCurve
    from rmtsynth.data.advice.grid import kept_rows
    from rmtsynth.data.advice.learners import resolve_learners

    inputs, context = advice.inputs, capture.context
    set_index = {rows.tobytes(): k for k, rows in enumerate(context.sets)}
    decisions = np.zeros((len(context.sets), inputs.real_labels.size))
    for (_, k), values in zip(capture.tasks, capture.results):
        decisions[k] = values
    table = [dict(row) for _, row in frame.iterrows()]
    draws = len(advice.orders)
    cells = []
    for row in table:
        m = int(row["m"])
        cells.append([set_index[kept_rows(order, m, float(row["threshold"]), inputs.scores).tobytes()]
                      for order in advice.orders])
    learner = advice.learners[0]
    if learner.label != "ridge":
        learner = resolve_learners("ridge")[0]
    theory = {}
    try:
        curve = TheoryCurve(inputs, learner)
        sizes = np.array([context.sets[k].size for k in range(len(context.sets))], float)
        for label, t in zip(grid.threshold_labels, grid.thresholds):
            rows = [i for i, r in enumerate(table) if r["m"] == 0 or same_threshold(float(r["threshold"]), t)]
            by_draws = {}
            for k in sorted({min(THEORY_DRAWS, draws), draws}):
                kept = np.array([sizes[cells[i][:k]].mean() for i in rows])
                by_draws[k] = curve.accuracy(kept[None, :], NOISE_GRID[:, None]).astype(np.float32)
            theory[label] = dict(rows=rows, curves=by_draws)
        theory_error = None
    except Exception as exc:  # a failing theory is a finding for the rules that use it, not a failed call
        theory_error = f"{type(exc).__name__}: {exc}"[:300]
    return dict(table=table, labels=np.asarray(inputs.real_labels, float),
                groups=np.asarray(duplicate_groups(inputs.real_features)),
                decisions=decisions, cells=np.array(cells, dtype=np.int32), draws=draws,
                noise_grid=np.asarray(NOISE_GRID), theory=theory, theory_error=theory_error,
                threshold_labels=list(grid.threshold_labels), thresholds=list(grid.thresholds))


def compare_grid(frame: pd.DataFrame, grid: Grid, measurer: Measurer) -> list[dict]:
    real_only, _ = measurer.measure(-math.inf, 0)
    points = []
    for label, t, m in grid.points():
        measured, kept = measurer.measure(t, m)
        row = table_row(frame, t, m)
        points.append(dict(threshold=label, m=m, measured=measured, measured_kept=kept,
                           measured_gain=measured - real_only,
                           predicted=None if row is None else float(row["predicted_accuracy"]),
                           predicted_gain=None if row is None else float(row.get("gain", np.nan)),
                           predicted_gain_se=None if row is None else float(row.get("gain_se", np.nan)),
                           predicted_kept=None if row is None else float(row.get("kept", np.nan))))
    return points


def recommendation_outcome(advice, rec: dict, grid: Grid, points: list[dict], measurer: Measurer) -> dict:
    threshold = float(rec.get("threshold", -math.inf) if rec.get("threshold") is not None else -math.inf)
    m = int(rec.get("m", 0) or 0)
    on_grid = grid_point_of(grid, threshold, m)
    if on_grid is not None:
        label = on_grid[0]
        measured = next(p["measured"] for p in points if p["threshold"] == label and p["m"] == m)
    else:
        label = "off-grid"
        measured, _ = measurer.measure(threshold, m)
    best = max([p["measured"] for p in points] + [measured])
    return dict(rec_threshold=label, rec_m=m, rec_verdict=str(rec.get("verdict")),
                rec_predicted=float(rec.get("predicted_accuracy", np.nan)), rec_measured=measured,
                best_measured=best, regret=best - measured, pipeline_accuracy=pipeline_accuracy(advice, measurer.split))


def pipeline_accuracy(advice, split) -> float | str:
    try:
        model = advice.pipeline()
        return float(np.mean(model.predict(split.test_X) == split.test_y))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:200]


# ---------------------------------------------------------------- running every task


def run_all(scenario_indices: list[int], seeds: list[int], draws: int, stub: bool, workers: int,
            advise_draws: int | None = None, keep_records: bool = False) -> list[dict]:
    return run_splits(run_task, scenario_indices, seeds, workers, limit_threads, draws, stub, advise_draws,
                      keep_records)


# ---------------------------------------------------------------- timing cases (one core, main process)


def timing_cases(stub: bool, repeats: int) -> list[dict]:
    limit_threads()
    advise = advise_function(stub)
    return [small_call_timing(advise, repeats), mnist_call_timing(advise)]


def _cpu_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _timed(call) -> tuple[float, float, object]:
    wall0, cpu0 = time.perf_counter(), _cpu_seconds()
    out = call()
    return time.perf_counter() - wall0, _cpu_seconds() - cpu0, out


def small_call_timing(advise, repeats: int) -> dict:
    """p = 200, n = 200, a pool of 800 (n + m <= 1000), 3 thresholds x 5 m values, ridge."""
    base = scenario_by_name("gaussian p=200 n=60 smote teacher strong-margin")
    scenario = replace(base, n_train=200, pool_size=800)
    split = make_split(scenario, 0, 100)
    thresholds = [-math.inf, *np.quantile(split.scores, [1 / 3, 2 / 3])]
    m_values = [0, 200, 400, 600, 800]
    walls, cpus, error = [], [], None
    for _ in range(repeats):
        try:
            wall, cpu, _ = _timed(lambda: advise(split.train_X, split.train_y, split.pool_X, split.pool_y,
                                                 scores=split.scores, thresholds=thresholds, m_values=m_values,
                                                 learner="ridge", seed=0))
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            break
        walls.append(wall)
        cpus.append(cpu)
    return dict(case="p = 200, n = 200, pool 800, 3 thresholds x 5 m, ridge", target=SMALL_CALL_TARGET,
                walls=walls, cpus=cpus, error=error,
                seconds=statistics.median(walls) if walls else math.nan)


def mnist_call_timing(advise) -> dict:
    """MNIST raw pixels, p = 784, n = 100, a pool of 800, 8 thresholds x 6 m values x 2 learners."""
    base = scenario_by_name("mnist 5v8 p=784 n=100 kde flip0.2 weak")
    scenario = replace(base, n_train=100, pool_size=800)
    split = make_split(scenario, 0, 101)
    thresholds = [-math.inf, *np.quantile(split.scores, np.arange(1, 8) / 8)]
    m_values = [0, 100, 200, 400, 600, 800]
    call = dict(scores=split.scores, thresholds=thresholds, m_values=m_values, seed=0)
    note, error, wall, cpu = "one call with learner=['ridge', 'logistic']", None, math.nan, math.nan
    try:
        wall, cpu, _ = _timed(lambda: advise(split.train_X, split.train_y, split.pool_X, split.pool_y,
                                             learner=["ridge", "logistic"], **call))
    except Exception as exc:
        # A learner list may not be supported: time the two learners one after the other instead.
        note = f"two calls (the list failed: {type(exc).__name__}: {str(exc)[:120]})"
        try:
            wall, cpu = 0.0, 0.0
            for learner in LEARNER_NAMES:
                w, c, _ = _timed(lambda: advise(split.train_X, split.train_y, split.pool_X, split.pool_y,
                                                learner=learner, **call))
                wall, cpu = wall + w, cpu + c
        except Exception as exc2:
            error = f"{type(exc2).__name__}: {exc2}".splitlines()[0][:300]
    return dict(case="MNIST p = 784, n = 100, pool 800, 8 thresholds x 6 m x 2 learners", target=MNIST_CALL_TARGET,
                walls=[wall], cpus=[cpu], error=error, note=note, seconds=wall)


# ---------------------------------------------------------------- aggregation


def point_table(records: list[dict]) -> pd.DataFrame:
    """One row per (scenario, learner, seed, grid point)."""
    rows = []
    for r in records:
        for p in r.get("points", []) if r["error"] is None else []:
            rows.append(dict(scenario=r["scenario"], learner=r["learner"], seed=r["seed"], **p))
    frame = pd.DataFrame(rows)
    if len(frame):
        for column in ("predicted", "predicted_gain", "predicted_gain_se", "predicted_kept"):
            frame[column] = frame[column].astype(float)
        frame["gap"] = frame["predicted"] - frame["measured"]
    return frame


def _se(values: pd.Series) -> float:
    values = values.dropna()
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else math.nan


def summarise_points(points: pd.DataFrame) -> pd.DataFrame:
    """Per (scenario, learner, threshold, m): mean gap and its SE, gains and their sign agreement."""
    rows = []
    for (scenario, learner, threshold, m), g in points.groupby(["scenario", "learner", "threshold", "m"], sort=False):
        measured_gain, measured_gain_se = g["measured_gain"].mean(), _se(g["measured_gain"])
        predicted_gain = g["predicted_gain"].mean()
        # A gain below MIN_GAIN is no decision for anyone, however small its SE (accuracies near 1).
        significant = m > 0 and abs(measured_gain) > max(2 * measured_gain_se, MIN_GAIN)
        sign_ok = bool(np.sign(predicted_gain) == np.sign(measured_gain)) if significant else None
        # A wrong sign whose mean predicted gain is within 2 SE (over seeds) of 0 may be the seeds' noise.
        sign_noise = sign_ok is False and abs(predicted_gain) <= 2 * _se(g["predicted_gain"])
        split_agreement = (np.sign(g["predicted_gain"]) == np.sign(measured_gain)).mean() if m > 0 else math.nan
        rows.append(dict(scenario=scenario, learner=learner, threshold=threshold, m=m, seeds=len(g),
                         predicted_kept=g["predicted_kept"].mean(), measured_kept=g["measured_kept"].mean(),
                         predicted=g["predicted"].mean(), measured=g["measured"].mean(),
                         gap=g["gap"].mean(), gap_se=_se(g["gap"]), abs_gap=g["gap"].abs().mean(),
                         predicted_gain=predicted_gain, predicted_gain_se=g["predicted_gain_se"].mean(),
                         measured_gain=measured_gain, measured_gain_se=measured_gain_se, significant=significant,
                         sign_ok=sign_ok, sign_within_noise=sign_noise,
                         split_sign_agreement=split_agreement))
    return pd.DataFrame(rows)


def summarise_learners(records: list[dict], point_summary: pd.DataFrame) -> list[dict]:
    out = []
    keys = list(dict.fromkeys((r["scenario"], r["learner"]) for r in records))
    for scenario, learner in keys:
        rs = [r for r in records if r["scenario"] == scenario and r["learner"] == learner]
        ok = [r for r in rs if r["error"] is None]
        ps = point_summary[(point_summary.scenario == scenario) & (point_summary.learner == learner)] \
            if len(point_summary) else point_summary
        out.append(summary_row(scenario, learner, rs, ok, ps))
    return out


def summary_row(scenario: str, learner: str, rs: list[dict], ok: list[dict], ps: pd.DataFrame) -> dict:
    row = dict(scenario=scenario, learner=learner, seeds=len(rs), errors=len(rs) - len(ok),
               error_examples=sorted({r["error"] for r in rs if r["error"]})[:2],
               pool_label_error=float(np.mean([r["pool_label_error"] for r in rs])))
    if not ok or not len(ps):
        return row
    worst = ps.loc[ps["gap"].abs().idxmax()]
    significant = ps[ps["significant"].astype(bool)]
    recs = pd.Series([f"{r['rec_threshold']}/{r['rec_m']}" for r in ok]).value_counts()
    verdicts = pd.Series([r["rec_verdict"] for r in ok]).value_counts()
    pipeline_diffs = [r["pipeline_accuracy"] - r["rec_measured"] for r in ok if isinstance(r["pipeline_accuracy"], float)]
    best_fixed = ps.loc[ps["measured"].idxmax()]
    rec_mean = float(np.mean([r["rec_measured"] for r in ok]))
    row.update(
        max_gap=float(abs(worst["gap"])), max_gap_se=float(worst["gap_se"]),
        max_gap_point=f"{worst['threshold']}/{int(worst['m'])}", mean_abs_gap=float(ps["abs_gap"].mean()),
        missing=sum(r["missing"] for r in ok),
        significant=len(significant), sign_ok=int(significant["sign_ok"].astype(bool).sum()),
        sign_noise=int(significant["sign_within_noise"].astype(bool).sum()),
        split_sign_agreement=float(ps.loc[ps["significant"].astype(bool), "split_sign_agreement"].mean())
        if len(significant) else math.nan,
        regret=float(np.mean([r["regret"] for r in ok])), regret_se=_se(pd.Series([r["regret"] for r in ok])),
        rec_measured=rec_mean, regret_fixed=float(best_fixed["measured"]) - rec_mean,
        best_measured=float(np.mean([r["best_measured"] for r in ok])),
        best_fixed=f"{best_fixed['threshold']}/{int(best_fixed['m'])}", best_fixed_measured=float(best_fixed["measured"]),
        real_only=float(ps.loc[ps["m"] == 0, "measured"].iloc[0]),
        recommended=", ".join(f"{k} x{v}" for k, v in recs.items()),
        verdicts=", ".join(f"{k} x{v}" for k, v in verdicts.items()),
        out_of_range=sum(r["out_of_range"] for r in ok),
        pipeline_failures=sum(not isinstance(r["pipeline_accuracy"], float) for r in ok),
        pipeline_minus_measured=float(np.mean(pipeline_diffs)) if pipeline_diffs else math.nan,
        seconds_median=float(np.median([r["advise_seconds"] for r in ok])),
        seconds_max=float(np.max([r["advise_seconds"] for r in ok])),
    )
    return row


# ---------------------------------------------------------------- the report


def f3(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.3f}"


def signed(x) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:+.3f}"


def verdicts(summary: list[dict], timings: list[dict]) -> list[tuple[str, str, str]]:
    done = [s for s in summary if "max_gap" in s]
    failed_calls = sum(s["errors"] for s in summary)
    gap_fail = [s for s in done if s["max_gap"] > GAP_TARGET]
    gap_noise = [s for s in gap_fail if s["max_gap"] - 2 * s["max_gap_se"] <= GAP_TARGET]
    worst_gap = max(done, key=lambda s: s["max_gap"]) if done else None
    significant = sum(s["significant"] for s in done)
    sign_noise = sum(s["sign_noise"] for s in done)
    sign_ok = sum(s["sign_ok"] for s in done)
    regret_fail = [s for s in done if s["regret"] > REGRET_TARGET]
    overall_regret = float(np.mean([s["regret"] for s in done])) if done else math.nan
    fixed_fail = [s for s in done if s["regret_fixed"] > REGRET_TARGET]
    overall_fixed = float(np.mean([s["regret_fixed"] for s in done])) if done else math.nan
    # What even the best fixed point loses against each split's own best (the truth's noise included).
    floor = float(np.mean([s["best_measured"] - s["best_fixed_measured"] for s in done])) if done else math.nan
    out_of_range = sum(s["out_of_range"] for s in done)
    rows = [
        ("every advise call answers", "PASS" if failed_calls == 0 else "FAIL", f"{failed_calls} failed calls"),
        (f"mean gap <= {GAP_TARGET} at every (threshold, m)",
         "PASS" if done and not gap_fail else "FAIL",
         (f"{len(done) - len(gap_fail)}/{len(done)} scenario x learner pass"
          + (f"; {len(gap_noise)} of the misses within 2 SE of the target" if gap_fail else "")
          + (f"; worst {worst_gap['max_gap']:.3f} +- {worst_gap['max_gap_se']:.3f} ({worst_gap['scenario']}, "
             f"{worst_gap['learner']}, {worst_gap['max_gap_point']})" if worst_gap else ""))),
        ("predicted gain has the measured sign where significant",
         "PASS" if done and sign_ok == significant else "FAIL",
         f"{sign_ok}/{significant} points" + (f"; {sign_noise} of the {significant - sign_ok} misses with a mean predicted "
                                              "gain within 2 SE of 0" if sign_ok < significant else "")),
        (f"regret <= {REGRET_TARGET} on average, against the best fixed point (highest mean measured accuracy)",
         "PASS" if done and overall_fixed <= REGRET_TARGET else "FAIL",
         f"mean over all {overall_fixed:.4f}; {len(done) - len(fixed_fail)}/{len(done)} scenario x learner within it"),
        (f"regret <= {REGRET_TARGET} on average, against each split's best measured point",
         "PASS" if done and overall_regret <= REGRET_TARGET else "FAIL",
         f"mean over all {overall_regret:.4f}; {len(done) - len(regret_fail)}/{len(done)} scenario x learner within it; "
         f"the best fixed point itself loses {floor:.4f} against it"),
        ("no accuracy outside [0, 1]", "PASS" if done and out_of_range == 0 else "FAIL", f"{out_of_range} values"),
    ]
    for t in timings:
        # Judged on the call's CPU seconds (one thread): wall seconds also count whatever else shares the cores.
        cpu = statistics.median(t["cpus"]) if t["cpus"] else math.nan
        passed = t["error"] is None and cpu < t["target"]
        rows.append((f"{t['case']} < {t['target']:.0f} s", "PASS" if passed else "FAIL",
                     t["error"] or f"{cpu:.2f} CPU s ({t['seconds']:.2f} wall s)"))
    return rows


def write_report(path: Path | None, args, summary: list[dict], point_summary: pd.DataFrame,
                 timings: list[dict], meta: dict) -> str:
    lines = [f"# Advisor acceptance benchmark{' (stub: 5-fold CV stand-in)' if args.stub else ''}", ""]
    lines += [f"`{meta['command']}`", "",
              f"{meta['date']}; {meta['machine']}; rmtsynth {meta['version']}; {meta['seeds']} split seeds from {args.first_seed}, "
              f"{args.draws} draws of the pool per (threshold, m) below the pool size; BLAS on one thread per "
              f"process, {args.workers} worker processes; total {meta['total']:.0f} s; load average "
              f"{meta['load_before']:.1f} before, {meta['load_after']:.1f} after.", ""]
    lines += ["## Verdict", "", "| target | result | detail |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in verdicts(summary, timings)]
    lines += ["", "## Per scenario and learner", "",
              "Gap: mean over seeds of predicted - measured accuracy; max over the grid (its point, "
              "threshold/m) with its SE; mean |gap|: the per-seed absolute gap averaged over seeds and the grid. "
              "Sign: points whose predicted mean gain has the sign of a significant measured gain. Regret: best "
              "measured accuracy of the split minus the measured accuracy at the recommendation, mean +- SE.", "",
              "| scenario | learner | max gap (point) | mean abs gap | sign | regret | at rec / best / real only | "
              "best fixed point (regret against it) | outside [0,1] | advise s (median / max) | errors |",
              "|---|---|---|---:|---|---|---|---|---:|---|---:|"]
    for s in summary:
        if "max_gap" not in s:
            lines.append(f"| {s['scenario']} | {s['learner']} | - | - | - | - | - | - | - | - | "
                         f"{s['errors']}: {'; '.join(s['error_examples'])} |")
            continue
        lines.append(
            f"| {s['scenario']} | {s['learner']} | {s['max_gap']:.3f} +- {s['max_gap_se']:.3f} ({s['max_gap_point']}) | "
            f"{s['mean_abs_gap']:.3f} | {s['sign_ok']}/{s['significant']} | {s['regret']:.4f} +- {s['regret_se']:.4f} | "
            f"{s['rec_measured']:.3f} / {s['best_measured']:.3f} / {s['real_only']:.3f} | "
            f"{s['best_fixed']} {s['best_fixed_measured']:.3f} ({s['regret_fixed']:+.4f}) | {s['out_of_range']} | "
            f"{s['seconds_median']:.2f} / {s['seconds_max']:.2f} | {s['errors']}"
            + (f": {'; '.join(s['error_examples'])}" if s["errors"] else "") + " |")
    lines += timing_section(timings)
    lines += detail_sections(summary, point_summary)
    lines += definitions()
    text = "\n".join(lines) + "\n"
    if path is not None:
        path.write_text(text)
    return text


def timing_section(timings: list[dict]) -> list[str]:
    lines = ["", "## Timing (one core, main process, nothing else of the benchmark running)", "",
             "| case | wall s | CPU s (incl. child processes) | target | note |", "|---|---|---|---:|---|"]
    for t in timings:
        walls = ", ".join(f"{w:.2f}" for w in t["walls"]) or "-"
        cpus = ", ".join(f"{c:.2f}" for c in t["cpus"]) or "-"
        note = t.get("note", "median of the calls" if len(t["walls"]) > 1 else "")
        lines.append(f"| {t['case']} | {walls} | {cpus} | < {t['target']:.0f} s | {t['error'] or note} |")
    return lines


def detail_sections(summary: list[dict], point_summary: pd.DataFrame) -> list[str]:
    lines = ["", "## Details per scenario", ""]
    for scenario in dict.fromkeys(s["scenario"] for s in summary):
        spec = scenario_by_name(scenario)
        label_error = np.mean([s["pool_label_error"] for s in summary if s["scenario"] == scenario])
        lines += [f"### {scenario}", "",
                  f"{spec.dataset}, n = {spec.n_train}, generator {spec.generator} fitted on {spec.n_generator} "
                  f"other real rows, pool {spec.pool_size}, labels {spec.labels} (pool label error "
                  f"{label_error:.2f}), verifier {spec.verifier} ({spec.score}); {spec.note}.", ""]
        for s in (s for s in summary if s["scenario"] == scenario and "max_gap" in s):
            lines.append(f"- {s['learner']}: recommended {s['recommended']}; verdicts {s['verdicts']}; "
                         f"pipeline() accuracy - measured at the recommendation {signed(s['pipeline_minus_measured'])} "
                         f"({s['pipeline_failures']} failures); rows missing from the table {s['missing']}.")
        lines += ["", "| learner | threshold | m | kept pred / meas | predicted | measured | gap +- SE | mean abs gap | "
                  "pred gain (its SE) | meas gain +- SE | sign |", "|---|---|---:|---|---:|---:|---|---:|---|---|---|"]
        ps = point_summary[point_summary.scenario == scenario] if len(point_summary) else point_summary
        for _, p in ps.iterrows():
            sign = "" if p["sign_ok"] is None else ("ok" if p["sign_ok"] else
                                                    "**WRONG** (within noise)" if p["sign_within_noise"] else "**WRONG**")
            gap = f"{signed(p['gap'])} +- {f3(p['gap_se'])}"
            if abs(p["gap"]) > GAP_TARGET:
                gap = f"**{gap}**"
            lines.append(
                f"| {p['learner']} | {p['threshold']} | {int(p['m'])} | {p['predicted_kept']:.0f} / {p['measured_kept']:.0f} | "
                f"{f3(p['predicted'])} | {f3(p['measured'])} | {gap} | {f3(p['abs_gap'])} | "
                f"{signed(p['predicted_gain'])} ({f3(p['predicted_gain_se'])}) | "
                f"{signed(p['measured_gain'])} +- {f3(p['measured_gain_se'])}{' *' if p['significant'] else ''} | {sign} |")
        lines.append("")
    return lines


def definitions() -> list[str]:
    return ["## How the truth is measured", "",
            "Per split seed: stratified real training rows (n), a disjoint set of real rows on which the generator "
            "(per class, in standardised coordinates) and the verifier are fitted, and every other real row as the "
            "held-out test set. The grid: thresholds at keep-all and the 25/50/75 % quantiles of the pool's scores "
            "(`q25`...), m at 0, 1/8, 1/4, 1/2 and all of the pool. Measured accuracy at (threshold, m): "
            "`make_pipeline(StandardScaler(), learner)` fitted on the training rows plus the drawn rows with "
            "score >= threshold, accuracy on the test rows, averaged over the draws (one permutation of the pool per "
            "draw, its first m rows the draw, shared by every threshold and m so that differences are paired); at m "
            "= pool size the draw is the pool. Measured gain = measured(threshold, m) - measured(m = 0) on the same "
            f"split; significant when |mean| > 2 SE over the seeds and > {MIN_GAIN} (marked *).", "",
            "The per-seed absolute gap cannot be small at small n whatever the method: the measured accuracy is that "
            "of one training set, which n rows estimate with an error of order sqrt(acc (1 - acc) / n). The target "
            "is on the mean over seeds (the bias), whose SE is shown.", ""]


# ---------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser, draws=20, quick_draws=5)
    parser.add_argument("--stub", action="store_true", help="use the 5-fold CV stand-in instead of rmtsynth.advise")
    parser.add_argument("--advise-draws", type=int, default=None,
                        help="pass draws= to advise (default: the advisor's own default)")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--records", type=Path, default=None,
                        help="pickle every record, with each call's full table, held-out decision values and theory "
                             "curves, for offline choice rules (benchmarks/choice_rules.py)")
    return parse_run_arguments(parser, argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    start, load_before = time.perf_counter(), os.getloadavg()[0]
    timings = [] if args.skip_timing else timing_cases(args.stub, repeats=3)
    for t in timings:
        outcome = t["error"] or f"{t['seconds']:.2f} s"
        print(f"timing: {t['case']}: {outcome}", file=sys.stderr)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    records = run_all(args.scenarios, seeds, args.draws, args.stub, args.workers, args.advise_draws,
                      args.records is not None)
    if args.records is not None:
        import pickle

        args.records.parent.mkdir(parents=True, exist_ok=True)
        with open(args.records, "wb") as f:
            pickle.dump(dict(command=" ".join(sys.argv), seeds=seeds, draws=args.draws, advise_draws=args.advise_draws,
                             records=records), f, protocol=pickle.HIGHEST_PROTOCOL)
    for r in records:
        if r["error"]:
            print(f"advise failed: {r['scenario']} seed {r['seed']} {r['learner']}: {r['error']}\n{r.get('traceback', '')}",
                  file=sys.stderr)
    points = point_table(records)
    point_summary = summarise_points(points) if len(points) else pd.DataFrame()
    summary = summarise_learners(records, point_summary)
    meta = dict(command="python benchmarks/bench_advise.py " + " ".join(sys.argv[1:] if argv is None else argv),
                date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                machine=f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                version=_version(), seeds=args.seeds, total=time.perf_counter() - start,
                load_before=load_before, load_after=os.getloadavg()[0])
    print(write_report(args.out, args, summary, point_summary, timings, meta))


def _version() -> str:
    """The package version and the commit it was run from (a dirty tree is said so: results then may not reproduce)."""
    import subprocess

    try:
        import rmtsynth

        version = rmtsynth.__version__
    except Exception:
        version = "?"
    try:
        run = dict(cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=10)
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], **run).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "rmtsynth"], **run).stdout.strip()
        return f"{version} at {commit}{' with uncommitted changes under rmtsynth/' if dirty else ''}"
    except Exception:
        return version


if __name__ == "__main__":
    main()
