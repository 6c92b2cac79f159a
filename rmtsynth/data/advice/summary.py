"""The advisor's table and its one recommendation, from each real row's held-out correctness.

A grid point's predicted accuracy is the fraction of real rows its pipeline classifies correctly
when they are held out, averaged over the draws of the pool; its gain is paired: the same rows'
correctness with the kept synthetic rows minus without them, with the standard error of that
mean difference over the real rows (duplicates count once). The recommendation is the grid point
with the highest predicted accuracy; its verdict says whether its gain is beyond its uncertainty.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

#: A gain counts when it is this many standard errors from 0.
SIGNIFICANCE = 2.0

COLUMNS = ["learner", "method", "threshold", "m", "kept", "predicted_accuracy", "accuracy_se", "gain", "gain_se",
           "extrapolation", "note"]


def _group_means(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    return np.bincount(inverse, weights=values) / counts


def _se(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else 0.0


def grid_row(learner: str, method: str, threshold: float, m: int, kept: float, correct: Sequence[np.ndarray],
             baseline: np.ndarray, groups: np.ndarray, note: str = "") -> dict[str, Any]:
    """One table row from the correctness of each draw (``correct``) and of the real rows alone."""
    per_row = np.mean([c.astype(float) for c in correct], axis=0)
    gain_rows = _group_means(per_row - baseline, groups)
    accuracy_rows = _group_means(per_row, groups)
    return {
        "learner": learner, "method": method, "threshold": float(threshold), "m": int(m), "kept": float(kept),
        "predicted_accuracy": float(per_row.mean()), "accuracy_se": _se(accuracy_rows),
        "gain": float(per_row.mean() - baseline.mean()), "gain_se": _se(gain_rows),
        "extrapolation": False, "note": note,
    }


def _order_key(row: dict[str, Any]) -> tuple:
    # Highest accuracy first; on a tie fewer synthetic rows, then the stricter verifier.
    return (-row["predicted_accuracy"], row["m"] > 0, row["kept"], -row["threshold"])


def recommend(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The best grid point with its verdict: ``add``, ``do not add`` or ``cannot tell``."""
    best = min(rows, key=_order_key)
    same_learner = [r for r in rows if r["learner"] == best["learner"] and r["m"] > 0 and r["kept"] > 0]
    if best["m"] > 0 and best["kept"] > 0:
        significant = best["gain"] > SIGNIFICANCE * best["gain_se"]
        verdict = "add" if significant else "cannot tell"
    else:
        worse = bool(same_learner) and all(r["gain"] < -SIGNIFICANCE * r["gain_se"] for r in same_learner)
        verdict = "do not add" if worse or not same_learner else "cannot tell"
    keys = ("learner", "method", "threshold", "m", "kept", "predicted_accuracy", "accuracy_se", "gain", "gain_se")
    return {k: best[k] for k in keys} | {"verdict": verdict, "reason": _reason(best, verdict)}


def _reason(best: dict[str, Any], verdict: str) -> str:
    gain = f"{best['gain']:+.3f} +- {best['gain_se']:.3f}"
    if verdict == "add":
        return f"keeping rows with score >= {best['threshold']:g} out of {best['m']} drawn gains {gain} over the real rows alone."
    if verdict == "do not add":
        return "every mix of synthetic rows is predicted worse than the real rows alone, beyond its uncertainty."
    if best["m"] > 0:
        return f"the best mix gains {gain}, within its uncertainty: the synthetic rows may neither help nor hurt."
    return "no mix of synthetic rows is predicted better than the real rows alone, but the differences are within their uncertainty."
