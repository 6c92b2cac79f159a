"""Exact leave-group-out refits of an L2-regularised smooth convex loss after ``StandardScaler``.

The one-Newton-step leave-out (:mod:`rmtsynth.core.leave_out.convex`) errs by a small part of each
row's move from the full fit, and that error leans one way: where the rows are nearly separable (few
rows against many features) the step falls short, so a row whose approximate decision lies close to
0 is counted correct when its refit is not. Only such rows can change sign; they are refitted here,
and so are the rows holding most of a feature's variance, whose removal rescales that feature far
beyond the step's local model. The scaler is refitted without the group, and damped Newton on the
fold's objective starts from the full fit carried into the fold's coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from rmtsynth.core.leave_out.curvature import Hessian
from rmtsynth.core.leave_out.scaling import standard_scaling

# Rows whose approximate decision is within this fraction of its move from the full fit are refitted.
REFIT_WITHIN = 0.5
# Floating-point work allowed for the refits of one call; the rows closest to 0 go first.
REFIT_WORK = 4e8
# Hessian factorisations a refit is costed at (from the full fit it takes 4 on the tests' data).
_ROUNDS = 4


@dataclass(frozen=True)
class FoldProblem:
    """``C sum_j L(y_j f_j) + ||theta||^2 / 2`` over the rows left after a group: the pieces to refit it.

    ``intercept``: ``"free"`` (unpenalised), ``"penalised"`` (a feature of value ``intercept_scaling``)
    or ``"none"``. ``value`` and ``derivatives`` are the margin loss L and (L', L''); ``mean`` and
    ``scale`` the standardisation of all the rows, the one the full fit (w, b) is in.
    """

    X: np.ndarray
    y: np.ndarray
    C: float
    value: Callable[[np.ndarray], np.ndarray]
    derivatives: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
    intercept: str
    intercept_scaling: float
    mean: np.ndarray
    scale: np.ndarray

    def refit_cost(self) -> float:
        """Work of one refit: Newton rounds, each factoring the smaller of the feature and row Gram matrices."""
        rows, features = self.X.shape
        small, large = sorted((rows, features + (self.intercept == "penalised")))
        return _ROUNDS * (small * small * large + small ** 3 / 3.0)

    def decisions_without(self, members: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
        """Decision values of ``members`` by the pipeline refitted without them, from the full fit (w, b)."""
        keep = np.ones(self.y.size, dtype=bool)
        keep[members] = False
        fold_mean, fold_scale = standard_scaling(self.X[keep])
        # The full fit's decision function written in the fold's standardised coordinates.
        weights = w * fold_scale / self.scale
        offset = b + w @ ((fold_mean - self.mean) / self.scale)
        design = (self.X[keep] - fold_mean) / fold_scale
        left_out = (self.X[members] - fold_mean) / fold_scale
        if self.intercept == "penalised":
            design = np.column_stack([design, np.full(design.shape[0], self.intercept_scaling)])
            left_out = np.column_stack([left_out, np.full(members.size, self.intercept_scaling)])
            weights, offset = np.append(weights, offset / self.intercept_scaling), 0.0
        elif self.intercept == "none":
            offset = 0.0
        free = self.intercept == "free"
        theta, intercept = _newton(design, self.y[keep], self.C, self.value, self.derivatives, weights, offset,
                                   free)
        return left_out @ theta + intercept


def _newton(F: np.ndarray, y: np.ndarray, C: float, value, derivatives, theta: np.ndarray, intercept: float,
            free: bool, tolerance: float = 1e-13, rounds: int = 100) -> tuple[np.ndarray, float]:
    """argmin of C sum L(y (F theta + intercept)) + ||theta||^2 / 2 by damped Newton (Armijo backtracking)."""

    def objective(th: np.ndarray, b: float) -> float:
        return float(C * value(y * (F @ th + b)).sum() + 0.5 * th @ th)

    current = objective(theta, intercept)
    q = theta.size
    for _ in range(rounds):
        first, second = derivatives(y * (F @ theta + intercept))
        g = y * first
        gradient = C * F.T @ g + theta
        if free:
            gradient = np.append(gradient, C * g.sum())
        step = Hessian.build(F, C, second, free).solve(gradient[:, None])[:, 0]
        decrement = float(gradient @ step)
        if decrement <= tolerance * max(1.0, abs(current)):
            break
        length = 1.0
        while length > 1e-12:
            trial_theta = theta - length * step[:q]
            trial_intercept = intercept - length * step[q] if free else intercept
            trial = objective(trial_theta, trial_intercept)
            if trial <= current - 1e-4 * length * decrement:
                break
            length *= 0.5
        else:
            break  # no decrease left at machine precision
        theta, intercept, current = trial_theta, trial_intercept, trial
    return theta, intercept


def refine_near_zero(problem: FoldProblem, approximate: np.ndarray, full: np.ndarray, scored: np.ndarray,
                     groups: np.ndarray, w: np.ndarray, b: float, dominant: np.ndarray | None = None, *,
                     within: float | None = None, work: float | None = None) -> np.ndarray:
    """``approximate`` with the scored rows near 0 (relative to their move from ``full``) refitted exactly.

    Then the ``dominant`` rows (holding most of a feature's variance: the scaler's refit without them
    rescales that feature by a large factor, far from the step's local model). Groups are refitted
    whole, nearest to 0 first, while the work of the refits stays within ``work``. ``within`` and
    ``work`` default to :data:`REFIT_WITHIN` and :data:`REFIT_WORK`.
    """
    within = REFIT_WITHIN if within is None else within
    work = REFIT_WORK if work is None else work
    out = approximate.copy()
    move = np.abs(full - approximate)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(move > 0, np.abs(approximate) / move, np.inf)
    near = np.flatnonzero(scored & (ratio < within))
    later = np.zeros(0, dtype=np.int64) if dominant is None else np.flatnonzero(scored & dominant & ~(ratio < within))
    order = np.concatenate([near[np.argsort(ratio[near], kind="stable")],
                            later[np.argsort(ratio[later], kind="stable")]])
    if order.size == 0:
        return out
    cost = problem.refit_cost()
    done: set = set()
    spent = 0.0
    for row in order:
        if groups[row] in done:
            continue
        if spent + cost > work:
            break
        spent += cost
        done.add(groups[row])
        members = np.flatnonzero(groups == groups[row])
        decisions = problem.decisions_without(members, w, b)
        hit = scored[members]
        out[members[hit]] = decisions[hit]
    return out
