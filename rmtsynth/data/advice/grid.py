"""The advisor's grid: score thresholds, pool sizes m, and the kept rows of each draw.

m rows are drawn from the pool at random, then the verifier keeps those with score >= threshold.
Every draw is a permutation of the pool and m takes its first m rows, so the kept sets are nested
in m and shared by every threshold and learner (common random numbers: the differences between
grid points carry less noise than the points).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from rmtsynth.data.validation import check_integer
from rmtsynth.errors import ParameterError, ParameterTypeError

#: Default thresholds keep all rows, then the top 80 %, 60 %, 40 % and 20 % of the pool's scores.
DEFAULT_KEPT_FRACTIONS = (0.8, 0.6, 0.4, 0.2)
#: Default pool sizes, as fractions of the pool.
DEFAULT_POOL_FRACTIONS = (0.125, 0.25, 0.5, 0.75, 1.0)
#: Draws of the pool averaged at each m below the pool's size: on the benchmark three draws lost
#: less accuracy at the recommendation than one, and six no less than three.
DEFAULT_DRAWS = 3
MAX_GRID_POINTS = 10_000
MAX_DRAWS = 100


@dataclass(frozen=True)
class Grid:
    thresholds: tuple[float, ...]
    m_values: tuple[int, ...]
    draws: int
    #: Pool sizes beyond the pool's rows, answered by the theory (extrapolations).
    beyond: tuple[int, ...] = ()


def _numbers(values: Any, name: str) -> list[float]:
    if isinstance(values, (str, bytes)):
        raise ParameterTypeError(f"{name} must be a list of numbers, not a string.")
    arr = np.atleast_1d(np.asarray(values))
    if arr.dtype == object or arr.dtype.kind not in "biuf" or arr.ndim != 1:
        raise ParameterTypeError(f"{name} must be a list of numbers.")
    if arr.size == 0:
        raise ParameterError(f"{name} is empty; give at least one value.")
    return [float(v) for v in arr]


def thresholds_for(thresholds: Any, scores: np.ndarray | None) -> tuple[float, ...]:
    """The thresholds asked for, or keep-all plus the scores' quantiles; without scores only keep-all."""
    if thresholds is None:
        if scores is None:
            return (-np.inf,)
        quantiles = np.quantile(scores, [1.0 - f for f in DEFAULT_KEPT_FRACTIONS])
        return tuple(sorted({-np.inf, *(float(q) for q in quantiles)}))
    values = _numbers(thresholds, "thresholds")
    if any(np.isnan(v) for v in values):
        raise ParameterError("thresholds has a NaN; use -inf to keep every row.")
    if scores is None and any(v != -np.inf for v in values):
        raise ParameterError("thresholds needs scores: without a score per synthetic row only -inf (keep all) applies.")
    return tuple(sorted(set(values)))


def m_values_for(m_values: Any, pool_rows: int, extrapolate: bool = False) -> tuple[int, ...]:
    """The pool sizes asked for (0 to the pool's rows, beyond it only with ``extrapolate``), or a grid up to the pool."""
    if m_values is None:
        return tuple(sorted({max(1, int(round(f * pool_rows))) for f in DEFAULT_POOL_FRACTIONS}))
    values = []
    for v in _numbers(m_values, "m_values"):
        m = check_integer(v, "m_values", low=0)
        if m > pool_rows and not extrapolate:
            raise ParameterError(
                f"m_values = {m} is more rows than the synthetic pool has ({pool_rows}); "
                f"m counts rows drawn from the pool before the verifier, at most {pool_rows} "
                "(extrapolate=True, or --extrapolate, asks the theory beyond the pool, marked as extrapolations)."
            )
        values.append(m)
    return tuple(sorted(set(values)))


def make_grid(thresholds: Any, m_values: Any, draws: Any, scores: np.ndarray | None, pool_rows: int,
              extrapolate: bool = False) -> Grid:
    values = m_values_for(m_values, pool_rows, bool(extrapolate))
    grid = Grid(thresholds_for(thresholds, scores), tuple(m for m in values if m <= pool_rows),
                check_integer(draws, "draws", low=1, high=MAX_DRAWS), tuple(m for m in values if m > pool_rows))
    points = len(grid.thresholds) * len(grid.m_values) * grid.draws
    if points > MAX_GRID_POINTS:
        raise ParameterError(
            f"thresholds x m_values x draws is {points} fits; at most {MAX_GRID_POINTS} are allowed."
        )
    return grid


def draw_orders(pool_rows: int, draws: int, seed: int) -> list[np.ndarray]:
    """One permutation of the pool per draw, from ``SeedSequence(seed)``."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    return [rng.permutation(pool_rows) for _ in range(draws)]


def kept_rows(order: np.ndarray, m: int, threshold: float, scores: np.ndarray | None) -> np.ndarray:
    """The pool rows kept from the first m of ``order`` (sorted)."""
    drawn = order[:m]
    if scores is not None:
        drawn = drawn[scores[drawn] >= threshold]
    return np.sort(drawn)


def kept_sets(grid: Grid, orders: Sequence[np.ndarray], scores: np.ndarray | None,
              ) -> tuple[list[np.ndarray], dict[tuple[int, int, int], int]]:
    """The distinct kept sets, and the index of each (draw, threshold, m) cell's set among them."""
    distinct: list[np.ndarray] = []
    seen: dict[bytes, int] = {}
    cell_set: dict[tuple[int, int, int], int] = {}
    for d, order in enumerate(orders):
        for t, threshold in enumerate(grid.thresholds):
            for j, m in enumerate(grid.m_values):
                rows = kept_rows(order, m, threshold, scores)
                key = rows.tobytes()
                if key not in seen:
                    seen[key] = len(distinct)
                    distinct.append(rows)
                cell_set[(d, t, j)] = seen[key]
    return distinct, cell_set
