"""The advisor's table and its one recommendation, from each real row's held-out decision value.

A grid point's predicted accuracy is the fraction of real rows its pipeline classifies correctly
when they are held out, averaged over the draws of the pool; its gain is paired: the same rows'
correctness with the kept synthetic rows minus without them, with the standard error of that
mean difference over the real rows (duplicates count once).

The recommendation takes, for each learner, the point of highest *smoothed* accuracy,
sum_c pi_c Phi(mean_c / sd_c) of the held-out signed decision values of each class, among the real
rows alone and the mixes whose counted gain is not below 0 by more than its uncertainty (2 SE), so
that the answer never contradicts its own gain; then the learner whose choice has the highest
counted accuracy (the Gaussian reading suits ridge's decision values more than logistic
regression's logits). A count of correct rows carries the noise of a coin per row, and the best of
many noisy counts is mostly the luckiest. On the advisor benchmark's scenarios (7 x 2 learners,
split seeds 0-14, 15-29 and 40-54) the accuracy lost against the best fixed grid point was 0.0038,
0.0044 and 0.0045 choosing so; 0.0043, 0.0047 and 0.0050 when the mixes had to have a counted gain
of at least 0; 0.0092, 0.0084 and 0.0081 by the count. Smoothing the curve over m with the theory,
resampling the real rows, more draws or pessimistic (one-SE) readings did not lower it on every
seed range (docs/advise.md, benchmarks/choice_rules.py). The count, unbiased, remains the reported
prediction; the verdict says whether the recommendation's counted gain is beyond its uncertainty.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

#: A gain counts when it is this many standard errors from 0.
SIGNIFICANCE = 2.0

COLUMNS = ["learner", "method", "n", "verifier", "threshold", "m", "kept", "predicted_accuracy", "accuracy_se", "gain", "gain_se",
           "smoothed_accuracy", "extrapolation", "note"]


def _group_means(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    return np.bincount(inverse, weights=values) / counts


def _se(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else 0.0


def _correct(decisions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return (np.where(decisions > 0, 1.0, -1.0) == labels).astype(float)


def _gaussian_accuracy(decisions: np.ndarray, labels: np.ndarray) -> float:
    """sum_c pi_c Phi(mean_c / sd_c) of the signed decision values y d: a smooth count of the correct rows.

    An estimator that gives only its predictions (decision values +-1) has nothing to smooth: its count.
    """
    from scipy.special import ndtr

    if np.all(np.abs(decisions) == 1.0):
        return float(_correct(decisions, labels).mean())
    total = 0.0
    for c in (-1.0, 1.0):
        margins = labels[labels == c] * decisions[labels == c]
        sd = margins.std(ddof=1) if margins.size > 1 else 0.0
        ratio = margins.mean() / sd if sd > 0 else np.sign(margins.mean()) * np.inf
        total += margins.size / labels.size * float(ndtr(ratio))
    return total


def verifier_name(threshold: float) -> str:
    """The ``verifier`` column of a row selected by the user's scores: keep all, or the scores at a threshold."""
    return "keep all" if threshold == -np.inf else "scores"


def grid_row(learner: str, method: str, threshold: float, m: int, kept: float, decisions: Sequence[np.ndarray],
             baseline_decisions: np.ndarray, labels: np.ndarray, groups: np.ndarray, note: str = "") -> dict[str, Any]:
    """One table row from each draw's held-out decision values and those of the real rows alone."""
    per_row = np.mean([_correct(d, labels) for d in decisions], axis=0)
    baseline = _correct(baseline_decisions, labels)
    gain_rows = _group_means(per_row - baseline, groups)
    accuracy_rows = _group_means(per_row, groups)
    return {
        "learner": learner, "method": method, "n": int(labels.size), "verifier": verifier_name(threshold),
        "threshold": float(threshold), "m": int(m), "kept": float(kept),
        "predicted_accuracy": float(per_row.mean()), "accuracy_se": _se(accuracy_rows),
        "gain": float(per_row.mean() - baseline.mean()), "gain_se": _se(gain_rows),
        "extrapolation": False, "note": note,
        "smoothed_accuracy": float(np.mean([_gaussian_accuracy(d, labels) for d in decisions])),
    }


def choice_score(row: dict[str, Any]) -> float:
    """What the recommendation maximises: the smoothed accuracy."""
    return row["smoothed_accuracy"]


def _order_key(row: dict[str, Any]) -> tuple:
    # Highest choice score first; on a tie fewer synthetic rows, then the stricter verifier.
    return (-choice_score(row), row["m"] > 0, row["kept"], -row["threshold"])


def _candidates(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A learner's rows that may be recommended: the real rows alone and every mix whose counted gain is not
    below 0 by more than :data:`SIGNIFICANCE` standard errors.

    A mix the count puts significantly below the real rows alone is not recommended even where its
    smoothed accuracy is the highest: the answer would contradict its own gain. A gain below 0
    within its uncertainty does not exclude a mix: on the benchmark, excluding those too lost
    accuracy on every seed range.
    """
    return [r for r in rows if r["m"] == 0 or r["gain"] >= -SIGNIFICANCE * r["gain_se"]]


def recommend(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The grid point of highest :func:`choice_score`, with its verdict: ``add``, ``do not add`` or ``cannot tell``."""
    # Within a learner the smoothed accuracy chooses; between learners the count does, as the
    # smoothing's Gaussian reading of decision values suits some learners' values more than others'.
    chosen = [min(_candidates([r for r in rows if r["learner"] == name]), key=_order_key)
              for name in dict.fromkeys(r["learner"] for r in rows)]
    best = max(chosen, key=lambda r: (r["predicted_accuracy"], r["smoothed_accuracy"]))
    same_learner = [r for r in rows if r["learner"] == best["learner"] and r["m"] > 0 and r["kept"] > 0]
    if best["m"] > 0 and best["kept"] > 0:
        significant = best["gain"] > SIGNIFICANCE * best["gain_se"]
        verdict = "add" if significant else "cannot tell"
    elif not same_learner:
        verdict = "cannot tell"
    else:
        worse = all(r["gain"] < -SIGNIFICANCE * r["gain_se"] for r in same_learner)
        verdict = "do not add" if worse else "cannot tell"
    keys = ("learner", "method", "threshold", "m", "kept", "predicted_accuracy", "accuracy_se", "gain", "gain_se",
            "smoothed_accuracy")
    return {k: best[k] for k in keys} | {"verdict": verdict, "reason": _reason(best, verdict, bool(same_learner))}


def _reason(best: dict[str, Any], verdict: str, mixes: bool = True) -> str:
    gain = f"{best['gain']:+.3f} +- {best['gain_se']:.3f}"
    if verdict == "add":
        return f"keeping rows with score >= {best['threshold']:g} out of {best['m']} drawn gains {gain} over the real rows alone."
    if verdict == "do not add":
        return "every mix of synthetic rows is predicted worse than the real rows alone, beyond its uncertainty."
    if not mixes:
        return "no grid point keeps a synthetic row (lower the threshold or draw more rows): there is no mix to compare."
    if best["m"] > 0 and best["gain"] < 0:
        return (f"the recommended mix has the highest smoothed held-out accuracy, and its counted gain, {gain}, is "
                "within its uncertainty: the synthetic rows may neither help nor hurt.")
    if best["m"] > 0:
        return f"the best mix gains {gain}, within its uncertainty: the synthetic rows may neither help nor hurt."
    return "no mix of synthetic rows is predicted better than the real rows alone, but the differences are within their uncertainty."
