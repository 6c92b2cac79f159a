"""Approximate leave-group-out of an L2-regularised smooth convex loss after ``StandardScaler``.

The pipeline minimises ``C sum_j L(y_j f_j) + ||w||^2 / 2`` with ``f = w'z + b`` (scikit-learn's
``LogisticRegression`` with an unpenalised intercept; ``LinearSVC``'s squared hinge, whose
intercept is a penalised feature of value ``intercept_scaling``). From the full fit theta, one
Newton step on the objective without a group G gives its rows' decision values

    f_{-G} = f_G - (I - K C D_G)^{-1} (X_G H^{-1} (r + e_G) - C K g_G),     K = X_G H^{-1} X_G',

with g_j = y_j L'(y_j f_j), D_j = L''(y_j f_j), H the full objective's Hessian and r its gradient
at theta (zero at the exact optimum; keeping it makes the step insensitive to the solver's
tolerance). Refitting the scaler without G multiplies weight j's penalty by c_j (see
:func:`~rmtsynth.core.leave_out.scaling.penalty_shrinkage`; the re-centring is absorbed by a free
intercept), which adds ``e_G = (c - 1) w`` to the gradient; its change of H is of second order
and left out, as is the re-centring of a penalised intercept. H^{-1} is applied through the
smaller of the feature and the row dimension.

The rows whose step lands near 0 (the only ones whose sign the step's error can change) and the
rows that dominate a feature are then refitted exactly (:mod:`rmtsynth.core.leave_out.refit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import expit

from rmtsynth.core.leave_out.curvature import Hessian
from rmtsynth.core.leave_out.refit import FoldProblem, refine_near_zero
from rmtsynth.core.leave_out.scaling import penalty_shrinkage, scored_groups, singleton_shrinkage, standard_scaling


@dataclass(frozen=True)
class ConvexLoss:
    """A margin loss L(t), t = y f: its value, and its first and second derivatives."""

    name: str
    derivatives: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
    value: Callable[[np.ndarray], np.ndarray]


def _logistic(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = expit(-t)
    return -s, s * (1.0 - s)


def _squared_hinge(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    slack = np.maximum(1.0 - t, 0.0)
    return -2.0 * slack, 2.0 * (slack > 0)


LOSSES = {
    "logistic": ConvexLoss("logistic", _logistic, lambda t: np.logaddexp(0.0, -t)),
    "squared_hinge": ConvexLoss("squared_hinge", _squared_hinge, lambda t: np.maximum(1.0 - t, 0.0) ** 2),
}

# Features whose penalty a row's removal changes by this much (lambda) enter that row's Hessian exactly.
DOMINATED = 0.3

# Fits (Z, y) -> (w, b) on the standardised rows; b = 0 without an intercept.
Fit = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, float]]


def convex_leave_out(X: np.ndarray, y: np.ndarray, loss: ConvexLoss, C: float, fit: Fit, groups: np.ndarray,
                     scored: np.ndarray, *, intercept: str = "free", intercept_scaling: float = 1.0) -> np.ndarray:
    """Leave-group-out decision values of the scored rows (NaN elsewhere): one Newton step, exact near 0.

    ``intercept``: ``"free"`` (unpenalised), ``"penalised"`` (a feature of value
    ``intercept_scaling``, as liblinear fits it) or ``"none"``.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    scored = np.asarray(scored, dtype=bool)
    mean, scale = standard_scaling(X)
    Z = (X - mean) / scale
    w, b = fit(Z, y)
    free = intercept == "free"
    F = np.column_stack([Z, np.full(y.size, intercept_scaling)]) if intercept == "penalised" else Z
    theta = np.append(w, b / intercept_scaling) if intercept == "penalised" else np.asarray(w, dtype=float)
    f = F @ theta + (b if free else 0.0)
    first, D = loss.derivatives(y * f)
    g = y * first
    hessian = Hessian.build(F, float(C), D, free)
    design = np.column_stack([F, np.ones(y.size)]) if free else F  # rows of the stacked parameter
    gradient = np.append(C * F.T @ g + theta, C * g.sum()) if free else C * F.T @ g + theta
    out = np.full(y.size, np.nan)
    single, larger = scored_groups(groups, scored)
    rows = np.concatenate([single] + larger).astype(np.int64)
    if rows.size == 0:
        return out
    rescaled = _rescaled_penalty_gradients(Z, w, single, larger, design.shape[1])  # the scaler's refit, first order
    HF = hessian.solve(design[rows].T)
    HG = hessian.solve(gradient[:, None] + rescaled)
    shrink = np.zeros((Z.shape[1], single.size)) if single.size == 0 else singleton_shrinkage(Z[single], y.size).T
    step = _SingleStep(design, f, g, D, float(C), hessian, HF, HG, w, shrink, y.size)
    out[single] = step.moved(np.arange(single.size), single)
    start = single.size
    for members in larger:
        js = start + np.arange(members.size)
        start += members.size
        K = design[members] @ HF[:, js]
        moved = f[members] - np.linalg.solve(np.eye(members.size) - K * (C * D[members])[None, :],
                                             np.einsum("ij,ji->i", design[members], HG[:, js]) - C * K @ g[members])
        out[members[scored[members]]] = moved[scored[members]]
    problem = FoldProblem(X, y, float(C), loss.value, loss.derivatives, intercept, intercept_scaling, mean, scale)
    dominant = np.zeros(y.size, dtype=bool)
    dominant[scored] = singleton_shrinkage(Z[scored], y.size).max(axis=1, initial=0.0) > DOMINATED
    return refine_near_zero(problem, out, f, scored, groups, np.asarray(w, dtype=float), float(b), dominant)


@dataclass
class _SingleStep:
    """The Newton step of each row left out alone: rank one for its loss term, plus the features it dominates.

    Refitting the scaler without row i multiplies feature j's penalty by c_ij; where that change is
    large (lambda_ij > DOMINATED: the row holds most of the feature's variance, as a rare pixel or a
    rare category does) it enters the Hessian exactly, by Woodbury on those coordinates.
    """

    design: np.ndarray
    f: np.ndarray
    g: np.ndarray
    D: np.ndarray
    C: float
    hessian: Hessian
    HF: np.ndarray
    HG: np.ndarray
    w: np.ndarray
    shrink: np.ndarray
    rows_total: int

    def moved(self, js: np.ndarray, rows: np.ndarray) -> np.ndarray:
        if rows.size == 0:
            return np.zeros(0)
        h = np.einsum("ij,ji->i", self.design[rows], self.HF[:, js])
        Hx = np.einsum("ij,ji->i", self.design[rows], self.HG[:, js]) - self.C * self.g[rows] * h
        out = self.f[rows] - Hx / (1.0 - self.C * self.D[rows] * h)
        hard = np.flatnonzero(self.shrink.max(axis=0) > DOMINATED) if self.shrink.size else np.zeros(0, dtype=int)
        if hard.size:
            columns = self._unit_columns(np.unique(np.nonzero(self.shrink[:, hard] > DOMINATED)[0]))
            for k in hard:
                out[k] = self._dominated(js[k], rows[k], columns)
        return out

    def _unit_columns(self, features: np.ndarray) -> dict[int, np.ndarray]:
        units = np.zeros((self.HF.shape[0], features.size))
        units[features, np.arange(features.size)] = 1.0
        solved = self.hessian.solve(units)
        return {int(j): solved[:, k] for k, j in enumerate(features)}

    def _dominated(self, j: int, row: int, columns: dict[int, np.ndarray]) -> float:
        """One row's decision value with its dominated features' penalty change in the Hessian (Woodbury)."""
        N = self.rows_total
        features = np.flatnonzero(self.shrink[:, j] > DOMINATED)
        reduction = 1.0 - N / (N - 1.0) * (1.0 - self.shrink[features, j])
        x_row = self.design[row]
        HW = np.column_stack([self.HF[:, j]] + [columns[int(k)] for k in features])
        weights = np.concatenate([[self.C * self.D[row]], reduction])
        Hx = self.HG[:, j] - self.C * self.g[row] * self.HF[:, j]  # H^{-1} of the left-out gradient
        WtHW = np.vstack([x_row @ HW] + [HW[int(k)] for k in features])
        WtHx = np.concatenate([[x_row @ Hx], Hx[features]])
        correction = np.linalg.solve(np.eye(weights.size) - weights[:, None] * WtHW, weights * WtHx)
        return float(self.f[row] - (x_row @ Hx + (x_row @ HW) @ correction))


def _rescaled_penalty_gradients(Z: np.ndarray, w: np.ndarray, single: np.ndarray, larger: list[np.ndarray],
                                columns: int) -> np.ndarray:
    """(c - 1) * w per row of interest (columns), c the penalty factors of its group's refitted scaler."""
    N, p = Z.shape
    out = np.zeros((columns, single.size + sum(r.size for r in larger)))
    out[:p, :single.size] = ((N / (N - 1.0)) * (1.0 - singleton_shrinkage(Z[single], N)) - 1.0).T * w[:, None]
    start = single.size
    for rows in larger:
        c = N / (N - rows.size) * (1.0 - penalty_shrinkage(Z[rows], N))
        out[:p, start:start + rows.size] = ((c - 1.0) * w)[:, None]
        start += rows.size
    return out
