"""The advisor's answer as text: the recommendation first, then the table behind it."""

from __future__ import annotations

from typing import Any

import numpy as np

HEADLINES = {
    "add": "Add synthetic rows",
    "do not add": "Do not add synthetic rows",
    "cannot tell": "Cannot tell whether synthetic rows help",
}


def _threshold(value: float) -> str:
    return "keep all" if not np.isfinite(value) else f">= {value:.6g}"


def _selection(row: dict[str, Any]) -> str:
    """The score threshold, or the hypothetical verifier a row answers for."""
    return _threshold(row["threshold"]) if row.get("verifier") in (None, "keep all", "scores") else str(row["verifier"])


def format_recommendation(rec: dict[str, Any]) -> list[str]:
    lines = [f"{HEADLINES.get(rec['verdict'], rec['verdict'])}: {rec['reason']}"]
    if rec["m"] > 0:
        lines.append(
            f"  recommended: learner {rec['learner']}, draw m = {rec['m']} pool rows, keep score "
            f"{_threshold(rec['threshold'])} ({rec['kept']:.0f} rows kept)"
        )
    else:
        lines.append(f"  recommended: learner {rec['learner']} on the real rows alone")
    lines.append(
        f"  predicted held-out accuracy {rec['predicted_accuracy']:.3f} +- {rec['accuracy_se']:.3f}, "
        f"gain {rec['gain']:+.3f} +- {rec['gain_se']:.3f} ({rec['method']})"
    )
    return lines


def format_table(rows: list[dict[str, Any]]) -> list[str]:
    width = max([14] + [len(_selection(r)) for r in rows])
    header = (f"{'learner':<12} {'n':>7} {'threshold':>{width}} {'m':>7} {'kept':>8} {'accuracy':>9} {'+-':>6} "
              f"{'gain':>7} {'+-':>6}")
    lines = [header]
    for r in rows:
        lines.append(
            f"{str(r['learner'])[:12]:<12} {r['n']:>7d} {_selection(r):>{width}} {r['m']:>7d} {r['kept']:>8.1f} "
            f"{r['predicted_accuracy']:>9.3f} {r['accuracy_se']:>6.3f} {r['gain']:>+7.3f} {r['gain_se']:>6.3f}"
            + ("  extrapolation" if r.get("extrapolation") else "")
        )
    return lines


def format_advice(advice: Any) -> str:
    """Recommendation, notes, then one line per (learner, n, threshold or verifier, m)."""
    lines = format_recommendation(advice.recommendation)
    lines += [f"  note: {note}" for note in advice.notes]
    lines.append("")
    lines += format_table(advice.table.rows)
    return "\n".join(lines)
