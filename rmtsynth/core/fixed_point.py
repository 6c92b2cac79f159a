"""Monotone Newton for the two-dimensional self-energy fixed point (THEORY.md section 5).

The map F is isotone, strictly sub-homogeneous and concave on the nonnegative orthant, so Newton
steps started from an upper solution decrease monotonically to the unique fixed point and
converge quadratically. All grid points are advanced at once; a point leaves the active set
when its relative residual or relative Newton step falls below the tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from rmtsynth.errors import ConvergenceError

# F_and_J(x, index) -> (F(x), J(x)) for the points ``index`` of the grid; x has shape (k, 2),
# F shape (k, 2) and J shape (k, 2, 2) with J[:, i, j] = dF_i / dx_j.
MapAndJacobian = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

MAX_NEWTON_ROUNDS = 200
MAX_PLAIN_STEPS = 100_000


@dataclass
class FixedPointSolution:
    """The fixed point x* (shape (K, 2)) with per-point diagnostics."""

    x: np.ndarray
    residual: np.ndarray
    newton_rounds: np.ndarray
    rejected_steps: int
    plain_steps: int


def default_tolerance(p: int) -> float:
    """The stopping tolerance: max(1e-14, 4 p eps_mach)."""
    return max(1e-14, 4.0 * p * np.finfo(float).eps)


def _relative(err: np.ndarray, x: np.ndarray) -> np.ndarray:
    scale = np.maximum(np.abs(x).max(axis=1), np.finfo(float).tiny)
    return np.abs(err).max(axis=1) / scale


def monotone_newton(
    f_and_j: MapAndJacobian,
    upper: np.ndarray,
    tol: float,
    describe: Callable[[int], str],
) -> FixedPointSolution:
    """Solve x = F(x) for every row of ``upper`` (an upper solution, F(upper) <= upper).

    Parameters
    ----------
    f_and_j : callable
        ``f_and_j(x, index)`` evaluates F and its Jacobian at the points ``index``.
    upper : (K, 2) array
        Upper solutions to start from.
    tol : float
        Relative tolerance on the residual ``|x - F(x)|`` and on the Newton step.
    describe : callable
        ``describe(k)`` names grid point k in the error raised when it cannot converge.

    Raises
    ------
    ConvergenceError
        When a point has not converged after the Newton and plain-iteration caps.
    """
    x = np.array(upper, dtype=float, copy=True)
    k_total = x.shape[0]
    residual = np.full(k_total, np.inf)
    rounds = np.zeros(k_total, dtype=np.int64)
    active = np.arange(k_total)
    rejected = 0
    for _ in range(MAX_NEWTON_ROUNDS):
        if active.size == 0:
            break
        active, round_rejected = _newton_round(f_and_j, x, active, tol, residual, rounds)
        rejected += round_rejected
    active, plain = _plain_iteration(f_and_j, x, active, tol, residual)
    if active.size:
        k = int(active[0])
        raise ConvergenceError(
            f"The fixed point did not converge at {describe(k)} "
            f"(relative residual {residual[k]:.2e} after {MAX_NEWTON_ROUNDS} Newton rounds and "
            f"{MAX_PLAIN_STEPS} plain steps); try a larger gamma."
        )
    return FixedPointSolution(x=x, residual=residual, newton_rounds=rounds, rejected_steps=rejected, plain_steps=plain)


def _newton_step(xa: np.ndarray, g: np.ndarray, ja: np.ndarray) -> np.ndarray:
    """x - (I - J)^{-1} G, with the 2x2 inverse written out."""
    a11 = 1.0 - ja[:, 0, 0]
    a12 = -ja[:, 0, 1]
    a21 = -ja[:, 1, 0]
    a22 = 1.0 - ja[:, 1, 1]
    det = a11 * a22 - a12 * a21
    with np.errstate(divide="ignore", invalid="ignore"):
        step0 = (a22 * g[:, 0] - a12 * g[:, 1]) / det
        step1 = (-a21 * g[:, 0] + a11 * g[:, 1]) / det
    return np.stack([xa[:, 0] - step0, xa[:, 1] - step1], axis=1)


def _newton_round(
    f_and_j: MapAndJacobian,
    x: np.ndarray,
    active: np.ndarray,
    tol: float,
    residual: np.ndarray,
    rounds: np.ndarray,
) -> tuple[np.ndarray, int]:
    """One Newton step at every active point, in place; returns the points still active and the rejected steps."""
    xa = x[active]
    fa, ja = f_and_j(xa, active)
    g = xa - fa
    res = _relative(g, xa)
    residual[active] = res
    done = res <= tol
    cand = _newton_step(xa, g, ja)
    slack = 1e-15 * np.abs(xa) + np.finfo(float).tiny
    ok = np.isfinite(cand).all(axis=1) & (cand >= -slack).all(axis=1) & (cand <= xa + slack).all(axis=1)
    # A candidate outside [0, x] can only come from rounding; the plain step F(x) is
    # still an upper solution, so it keeps the iteration monotone.
    cand[~ok] = fa[~ok]
    rejected = int(np.count_nonzero(~ok & ~done))
    cand = np.maximum(cand, 0.0)
    step_small = _relative(cand - xa, xa) <= tol
    move = ~done
    x[active[move]] = cand[move]
    rounds[active[move]] += 1
    finished = done | step_small
    if np.any(step_small & ~done):
        idx = active[step_small & ~done]
        f_new, _ = f_and_j(x[idx], idx)
        residual[idx] = _relative(x[idx] - f_new, x[idx])
    return active[~finished], rejected


def _plain_iteration(
    f_and_j: MapAndJacobian, x: np.ndarray, active: np.ndarray, tol: float, residual: np.ndarray
) -> tuple[np.ndarray, int]:
    """x <- F(x) at the points Newton left unconverged, in place; returns those still active and the steps taken."""
    plain = 0
    if active.size:
        for _ in range(MAX_PLAIN_STEPS):
            xa = x[active]
            fa, _ = f_and_j(xa, active)
            res = _relative(xa - fa, xa)
            residual[active] = res
            x[active] = fa
            plain += active.size
            active = active[res > tol]
            if active.size == 0:
                break
    return active, plain
