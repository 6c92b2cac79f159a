"""The advisor: should a user add their synthetic rows, how many, at which score threshold, with which learner?

What is predicted is the held-out accuracy, on new real rows drawn like the user's, of the pipeline
the user would run: ``make_pipeline(StandardScaler(), learner)`` fitted on the real rows plus the
synthetic rows the verifier keeps (score >= threshold) out of m rows drawn from the pool, averaged
over the draw. It is measured on the user's own rows, with nothing assumed about the generator:
each real row is held out of a fit on the other real rows and the kept synthetic rows (an exact
leave-one-out for ridge, an approximate one for logistic regression and the squared hinge,
K-fold cross-fitting for any other estimator), and rows identical to it leave with it.

:func:`advise_rows` computes on checked inputs; ``map_tasks`` runs its independent fits (one per
learner and distinct kept set) and may be an executor's map.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from rmtsynth.core.leave_out import duplicate_groups
from rmtsynth.data.advice.extrapolate import check_extrapolation, extrapolated_rows
from rmtsynth.data.advice.grid import DEFAULT_DRAWS, Grid, draw_orders, kept_rows, kept_sets, make_grid
from rmtsynth.data.advice.inputs import AdviceInputs, check_inputs
from rmtsynth.data.advice.learners import AdviceLearner, held_out_decisions, pipeline, resolve_learners
from rmtsynth.data.advice.summary import COLUMNS, grid_row, recommend
from rmtsynth.data.table import Table
from rmtsynth.data.validation import check_bool
from rmtsynth.errors import ParameterError

MapTasks = Callable[[Callable[[Any, Any], Any], Sequence[Any], Any], list[Any]]


def serial_map(fn: Callable[[Any, Any], Any], tasks: Sequence[Any], context: Any) -> list[Any]:
    """Run ``fn(context, task)`` for every task here, in order."""
    return [fn(context, task) for task in tasks]


@dataclass(frozen=True)
class _Context:
    inputs: AdviceInputs
    learners: tuple[AdviceLearner, ...]
    sets: tuple[np.ndarray, ...]
    seed: int


def fit_task(context: _Context, task: tuple[int, int]) -> np.ndarray:
    """Held-out decision values of the real rows for one (learner, kept set)."""
    learner_index, set_index = task
    inputs = context.inputs
    rows = context.sets[set_index]
    from threadpoolctl import threadpool_limits

    # One BLAS thread: the fits are many small factorisations, which threads contending for busy
    # cores slow many times over; parallel work comes from the executor instead.
    with threadpool_limits(limits=1, user_api="blas"):
        # One fold assignment per learner for every kept set: the gains are paired on the same folds.
        return held_out_decisions(context.learners[learner_index], inputs.real_features, inputs.real_labels,
                                  inputs.pool_features[rows], inputs.pool_labels[rows], seed=context.seed)


@dataclass
class Advice:
    """The advisor's answer.

    ``table`` has one row per (learner, threshold, m) (m = 0: the real rows alone);
    ``recommendation`` the best of them with its verdict; ``notes`` what the user should know
    about the grid; :meth:`pipeline` fits the recommended pipeline.
    """

    table: Table
    recommendation: dict[str, Any]
    notes: list[str]
    inputs: AdviceInputs = field(repr=False)
    learners: tuple[AdviceLearner, ...] = field(repr=False)
    orders: list[np.ndarray] = field(repr=False)

    def kept_rows(self, threshold: float, m: int, draw: int = 0) -> np.ndarray:
        """The pool rows kept at (threshold, m) in a draw (indices into the pool)."""
        return kept_rows(self.orders[draw], int(m), float(threshold), self.inputs.scores)

    def pipeline(self, learner: str | None = None, threshold: float | None = None, m: int | None = None):
        """The scikit-learn pipeline fitted on the real rows and the kept synthetic rows, at the recommendation by default."""
        rec = self.recommendation
        label = rec["learner"] if learner is None else learner
        chosen = [a for a in self.learners if a.label == label]
        if not chosen:
            raise ParameterError(f"learner = {label!r} is not in this advice; it has {', '.join(a.label for a in self.learners)}.")
        m = rec["m"] if m is None else m
        if m > self.inputs.pool_rows:
            raise ParameterError(f"m = {m} is beyond the pool's {self.inputs.pool_rows} rows; a pipeline needs rows "
                                 "the pool has (an extrapolated row of the table cannot be fitted).")
        rows = self.kept_rows(rec["threshold"] if threshold is None else threshold, m)
        X = np.vstack([self.inputs.real_features, self.inputs.pool_features[rows]])
        y = self.inputs.user_labels(np.concatenate([self.inputs.real_labels, self.inputs.pool_labels[rows]]))
        return pipeline(chosen[0].estimator).fit(X, y)

    def to_dict(self) -> dict[str, Any]:
        return {"recommendation": self.recommendation, "notes": list(self.notes),
                "classes": list(self.inputs.classes), "columns": self.table.columns, "rows": self.table.rows}


def _notes(rows: list[dict[str, Any]], grid: Grid, pool_rows: int) -> list[str]:
    """What the user should know about the grid: thresholds that keep nothing, a grid without a mix, extrapolations."""
    first = rows[0]["learner"]
    mixes = [r for r in rows if r["learner"] == first and r["m"] > 0 and not r["extrapolation"]]
    notes = []
    if grid.beyond:
        verb = "exceeds" if len(grid.beyond) == 1 else "exceed"
        notes.append(f"m = {', '.join(str(m) for m in grid.beyond)} {verb} the pool's {pool_rows} rows: those rows are "
                     "extrapolations by the theory (extrapolation = true), not measured, and never recommended.")
    if grid.n_values:
        notes.append(f"n = {', '.join(str(n) for n in grid.n_values)} real rows: the measured rows moved by the theory "
                     "(extrapolation = true, column n), never recommended.")
    if grid.verifiers:
        notes.append(f"verifiers {'; '.join(v.label for v in grid.verifiers)}: not built, answered from the keep-all "
                     "rows by the theory (extrapolation = true, column verifier), never recommended.")
    if not mixes:
        return notes + ["no m above 0 within the pool was asked for: the measured table holds the real rows alone."]
    for threshold in dict.fromkeys(r["threshold"] for r in mixes):
        if all(r["kept"] == 0 for r in mixes if r["threshold"] == threshold):
            notes.append(f"threshold {threshold:g} keeps no synthetic row: it equals the real rows alone.")
    return notes


def advise_rows(inputs: AdviceInputs, grid: Grid, learners: Sequence[AdviceLearner], seed: int = 0,
                map_tasks: MapTasks = serial_map) -> Advice:
    """The advice on checked inputs: every (learner, threshold, m) over ``grid.draws`` draws of the pool."""
    orders = draw_orders(inputs.pool_rows, grid.draws, seed)
    sets, cell_set = kept_sets(grid, orders, inputs.scores)
    empty = next((k for k, rows in enumerate(sets) if rows.size == 0), len(sets))
    if empty == len(sets):
        sets = list(sets) + [np.zeros(0, dtype=np.int64)]  # the real rows alone
    tasks = [(i, s) for i in range(len(learners)) for s in range(len(sets))]
    context = _Context(inputs, tuple(learners), tuple(sets), int(seed))
    results = dict(zip(tasks, map_tasks(fit_task, tasks, context)))
    groups = duplicate_groups(inputs.real_features)
    rows = []
    for i, learner in enumerate(learners):
        baseline = results[(i, empty)]
        rows.append(grid_row(learner.label, learner.method, -np.inf, 0, 0.0, [baseline], baseline, inputs.real_labels,
                             groups))
        for t, threshold in enumerate(grid.thresholds):
            for j, m in enumerate(grid.m_values):
                if m == 0:
                    continue
                cells = [cell_set[(d, t, j)] for d in range(grid.draws)]
                kept = float(np.mean([sets[c].size for c in cells]))
                note = "keeps no synthetic row" if kept == 0 else ""
                rows.append(grid_row(learner.label, learner.method, threshold, m, kept,
                                     [results[(i, c)] for c in cells], baseline, inputs.real_labels, groups, note))
    theory_notes: list[str] = []
    for learner in learners if grid.needs_theory else ():
        extra, notes = extrapolated_rows(inputs, learner, grid, rows)
        rows += extra
        theory_notes += notes
    table = Table(columns=list(COLUMNS), rows=rows)
    measured = [r for r in rows if not r["extrapolation"]]
    return Advice(table, recommend(measured), _notes(rows, grid, inputs.pool_rows) + theory_notes, inputs,
                  tuple(learners), orders)


def advise(real_features: Any, real_labels: Any, synthetic_features: Any, synthetic_labels: Any,
           scores: Any = None, thresholds: Any = None, m_values: Any = None, learner: Any = "ridge",
           seed: int = 0, draws: int = DEFAULT_DRAWS, map_tasks: MapTasks = serial_map,
           extrapolate: bool = False, n_values: Any = None, verifiers: Any = None,
           pool_label_noise: Any = None) -> Advice:
    """Check the inputs, build the grid and compute the advice (see :func:`advise_rows`)."""
    from rmtsynth.data.validation import check_integer

    seed = check_integer(seed, "seed", low=0)
    inputs, grid, learners = check_request(real_features, real_labels, synthetic_features, synthetic_labels, scores,
                                           thresholds, m_values, learner, draws, extrapolate, n_values, verifiers,
                                           pool_label_noise)
    return advise_rows(inputs, grid, learners, seed, map_tasks)


def check_request(real_features: Any, real_labels: Any, synthetic_features: Any, synthetic_labels: Any,
                  scores: Any = None, thresholds: Any = None, m_values: Any = None, learner: Any = "ridge",
                  draws: int = DEFAULT_DRAWS, extrapolate: bool = False, n_values: Any = None,
                  verifiers: Any = None, pool_label_noise: Any = None,
                  ) -> tuple[AdviceInputs, Grid, list[AdviceLearner]]:
    """Every check :func:`advise` makes before fitting anything (what ``rmtsynth validate`` runs)."""
    extrapolate = check_bool(extrapolate, "extrapolate")
    inputs = check_inputs(real_features, real_labels, synthetic_features, synthetic_labels, scores)
    grid = make_grid(thresholds, m_values, draws, inputs.scores, inputs.pool_rows, extrapolate, n_values, verifiers,
                     pool_label_noise, inputs.real_labels.size)
    learners = resolve_learners(learner)
    check_extrapolation(learners, grid, inputs.pool_rows)
    return inputs, grid, learners


__all__ = ["Advice", "check_request", "AdviceInputs", "Grid", "advise", "advise_rows", "check_inputs", "make_grid",
           "resolve_learners", "serial_map"]
