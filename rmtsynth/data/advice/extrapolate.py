"""What the rows cannot measure, answered by the random-matrix theory: m beyond the pool, another
number of real rows, a verifier not yet built.

The learner's theory gives the shape of the accuracy curve (THEORY.md 3, 13.6, 16, 17.5): the real
rows' law calibrated on the learner's leave-one-out
(:func:`rmtsynth.data.calibrated_convex.calibrate_learner`), synthetic rows of that law whose labels
agree with the class at an effective rate, K kept rows, n real rows, and the learner's own penalty
at n + K rows. At each threshold the effective label noise is the one whose curve best fits the
advisor's measured accuracies over the pool sizes on the grid and of the real rows alone (least
squares with a free offset): one number that stands for everything that makes the kept rows worth
less than real ones (wrong labels, another law). Every answer is a measured value moved by the
fitted curve's change, never the curve's own level:

* m beyond the pool: the value at the largest measured m plus the change from its kept rows to
  (kept share) x m;
* a hypothetical verifier of precision P and recall R: the keep-all value at the same m plus the
  change from m rows at the keep-all noise e to R (1 - eps) m / P rows at noise 1 - P + (e - eps),
  where eps is the pool's label noise (given, or taken as e: then the kept rows differ from real
  ones only by their wrong labels);
* another n: any of those values plus the change from n to n' real rows at the same kept rows and
  noise (the penalty follows the learner's own rule at n' + K rows).

Such rows are marked ``extrapolation`` and never recommended.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from rmtsynth.core.learners import POOL_EXTRAPOLATION
from rmtsynth.core.theory import within_unit_interval
from rmtsynth.data.advice.grid import Grid, check_hypothetical
from rmtsynth.data.advice.inputs import AdviceInputs
from rmtsynth.data.advice.learners import AdviceLearner
from rmtsynth.data.calibrated_convex import calibrate_learner
from rmtsynth.data.estimators import varying_features
from rmtsynth.errors import ParameterError

METHOD = "two-covariance theory from the measured rows"


def check_extrapolation(learners: Sequence[AdviceLearner], grid: Grid, pool_rows: int) -> None:
    """Refuse, in one sentence, a learner whose theory cannot extrapolate when the grid asks the theory."""
    if not grid.needs_theory:
        return
    if grid.beyond:
        asked = f"m_values = {max(grid.beyond)} is beyond the pool's {pool_rows} rows"
    elif grid.n_values:
        asked = f"n_values asks for {grid.n_values[0]} real rows"
    else:
        asked = f"verifiers asks for a verifier of {grid.verifiers[0].label}"
    for learner in learners:
        if learner.plugin is None or not learner.plugin.supports(POOL_EXTRAPOLATION):
            raise ParameterError(
                f"{asked}, and learner {learner.label!r} has no theory to extrapolate with (only learners that support "
                "it, such as ridge and logistic, do); ask for what the rows measure, or leave that learner out."
            )


#: The effective label noise is fitted on this coarse grid over [0, 1] (above 1/2 the rows hurt),
#: then refined between the best point's neighbours.
NOISE_GRID = np.linspace(0.0, 1.0, 41)
REFINE_POINTS = 21


class TheoryCurve:
    """A learner's calibrated theory on the real rows (calibrated once), as a curve over kept synthetic rows."""

    def __init__(self, inputs: AdviceInputs, learner: AdviceLearner):
        self.n = inputs.real_labels.size
        self.plugin, self.estimator = learner.plugin, learner.estimator
        self.theory = calibrate_learner(inputs.real_features, inputs.real_labels, self.penalty(self.n), self.plugin)
        # Synthetic rows of the real rows' own (calibrated) law: the generator's mean is the real one.
        mean = self.theory.real_spectrum().aa
        self.spectrum = self.theory.real_spectrum(bb=mean, ab=mean)

    def penalty(self, rows: float) -> float:
        return self.plugin.theory_penalty(self.estimator, rows)

    def accuracy(self, kept: np.ndarray, noise: np.ndarray, n: float | None = None) -> np.ndarray:
        """Held-out accuracy with ``kept`` synthetic rows at effective label noise ``noise`` (broadcast),
        and ``n`` real rows (the user's by default)."""
        real = float(self.n if n is None else n)
        kept, noise = np.broadcast_arrays(np.asarray(kept, dtype=float), np.asarray(noise, dtype=float))
        gamma = np.array([self.penalty(real + k) for k in kept.reshape(-1)]).reshape(kept.shape)
        ratio = self.theory.ratio(self.spectrum, real, kept, noise, 1.0, 1.0, gamma)
        return np.asarray(self.theory.anchored(ratio), dtype=float)

    def fit_noise(self, kept: Sequence[float], measured: Sequence[float]) -> float:
        """The effective label noise whose curve follows ``measured`` at ``kept`` best, up to an offset."""
        k = np.asarray(kept, dtype=float)[None, :]
        target = np.asarray(measured, dtype=float)[None, :]

        def best(grid: np.ndarray) -> int:
            # A free offset: the fit follows the shape of the measured curve, not the level of its noisiest point.
            residuals = self.accuracy(k, grid[:, None]) - target
            return int(np.argmin(((residuals - residuals.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)))

        i = best(NOISE_GRID)
        fine = np.linspace(NOISE_GRID[max(i - 1, 0)], NOISE_GRID[min(i + 1, NOISE_GRID.size - 1)], REFINE_POINTS)
        return float(fine[best(fine)])


def _moved(row: dict[str, Any], delta: float, alone: float, **changes: Any) -> dict[str, Any]:
    """A copy of ``row`` whose accuracies move by ``delta``, its gain over ``alone`` (the real rows
    alone at the same n), marked as an extrapolation."""
    out = dict(row) | changes
    out["predicted_accuracy"] = float(within_unit_interval(row["predicted_accuracy"] + delta))
    out["gain"] = out["predicted_accuracy"] - alone
    out["smoothed_accuracy"] = float(within_unit_interval(row["smoothed_accuracy"] + delta))
    out["extrapolation"] = True
    out["method"] = METHOD
    return out


def extrapolated_rows(inputs: AdviceInputs, learner: AdviceLearner, grid: Grid,
                      rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Table rows the theory answers for one learner, and notes on how (see the module docstring)."""
    mine = [r for r in rows if r["learner"] == learner.label]
    base = next(r for r in mine if r["m"] == 0)
    theory = TheoryCurve(inputs, learner)
    # Each row at the user's n with the (kept rows, effective noise) the theory places it at.
    placed: list[tuple[dict[str, Any], float, float]] = [(base, 0.0, 0.0)]
    notes: list[str] = []
    noise_at: dict[float, float] = {}
    for threshold, fraction in zip(grid.thresholds, _kept_fractions(inputs, grid.thresholds)):
        measured = sorted((r for r in mine if r["m"] > 0 and r["threshold"] == threshold), key=lambda r: r["m"])
        # The real rows alone belong to every threshold's curve: with them the fit follows the paired
        # gains, which carry far less noise than the accuracies' levels.
        curve = [base, *measured]
        noise = theory.fit_noise([r["kept"] for r in curve], [r["predicted_accuracy"] for r in curve])
        noise_at[threshold] = noise
        placed += [(r, r["kept"], noise) for r in measured]
        anchor = measured[-1]
        beyond = fraction * np.asarray(grid.beyond, dtype=float)
        curve = theory.accuracy(np.r_[anchor["kept"], beyond], noise)
        for m, kept, delta in zip(grid.beyond, beyond, curve[1:] - curve[0]):
            row = _moved(anchor, float(delta), base["predicted_accuracy"], m=int(m), kept=float(kept), note=(
                f"extrapolation: measured at m = {anchor['m']} plus the theory's change (effective label noise "
                f"{noise:.3g}); its standard errors are the anchor's (the theory's own error is not included)"))
            placed.append((row, kept, noise))
    if grid.verifiers:
        placed += _hypothetical(theory, grid, placed, noise_at[-np.inf], notes)
    out = [row for row, _, _ in placed[1:] if row["extrapolation"]]
    notes += _dimension_note(inputs, theory.plugin.name, placed, grid.n_values)
    kept = np.array([k for _, k, _ in placed])
    noise = np.array([e for _, _, e in placed])
    here = theory.accuracy(kept, noise) if grid.n_values else None
    for n in grid.n_values:
        # placed[0] is the real rows alone: its change is that of the gains' baseline.
        change = theory.accuracy(kept, noise, n) - here
        alone = float(within_unit_interval(base["predicted_accuracy"] + change[0]))
        for (row, _, _), delta in zip(placed, change):
            what = row["note"].removeprefix("extrapolation: ") if row["extrapolation"] else "measured"
            out.append(_moved(row, float(delta), alone, n=int(n), note=(
                f"extrapolation: {what} at n = {theory.n}, moved to n = {n} real rows by the theory")))
    return out, notes


def _hypothetical(theory: TheoryCurve, grid: Grid, placed: list[tuple[dict[str, Any], float, float]],
                  keep_all_noise: float, notes: list[str]) -> list[tuple[dict[str, Any], float, float]]:
    """Rows of the verifiers not yet built, each moved from the keep-all row at the same m."""
    known = grid.pool_label_noise is not None
    pool_noise = grid.pool_label_noise if known else keep_all_noise
    check_hypothetical(grid, pool_noise, "as given" if known else "the theory's fit to the keep-all curve")
    notes.append(
        f"hypothetical verifiers ({theory.plugin.name}): the pool's label noise is "
        + (f"{pool_noise:.3g} as given; the keep-all rows' effective noise fitted by the theory is {keep_all_noise:.3g}."
           if known else f"taken as {keep_all_noise:.3g}, the keep-all rows' effective noise fitted by the theory "
                         "(give pool_label_noise if you know it).")
    )
    keep_all = [(r, k) for r, k, _ in placed if r["m"] > 0 and r["threshold"] == -np.inf]
    drawn = np.array([r["m"] for r, _ in keep_all], dtype=float)
    start = theory.accuracy(np.array([k for _, k in keep_all]), keep_all_noise)
    alone = placed[0][0]["predicted_accuracy"]
    out = []
    for verifier in grid.verifiers:
        share = verifier.kept_share(pool_noise)
        noise = float(np.clip(1.0 - verifier.precision + keep_all_noise - pool_noise, 0.0, 1.0))
        kept = share * drawn
        for (row, _), mine, delta in zip(keep_all, kept, theory.accuracy(kept, noise) - start):
            mine = float(mine)
            moved = _moved(row, float(delta), alone, threshold=float("nan"), kept=mine, verifier=verifier.label, note=(
                f"extrapolation: a verifier of {verifier.label} keeps {share:.3g} of the rows drawn at label noise "
                f"{1 - verifier.precision:.3g}; the keep-all value at m = {row['m']} moved by the theory "
                f"(effective label noise {noise:.3g})"))
            out.append((moved, mine, noise))
    return out


def _dimension_note(inputs: AdviceInputs, learner: str, placed: list[tuple[dict[str, Any], float, float]],
                    n_values: Sequence[int]) -> list[str]:
    """A warning where the pool varies in features the real rows hold constant and an answer lies near the dip.

    The theory counts the real rows' varying features d; the training rows also vary in the pool's
    extra k, so the accuracy's dip where n + K meets the rows' dimension (ridge's interpolation) lies
    nearer d + k than where the theory puts it: the answers in between can have the wrong sign.
    """
    real = int(np.count_nonzero(varying_features(inputs.real_features)))
    both = int(np.count_nonzero(varying_features(np.vstack([inputs.real_features, inputs.pool_features]))))
    if both <= real:
        return []
    sizes = [theory_n + kept for theory_n in (inputs.real_labels.size, *n_values)
             for row, kept, _ in placed if row["extrapolation"]]
    if not any(real / 2 <= size <= 2 * both for size in sizes):
        return []
    return [f"{learner}: the pool varies in {both - real} features the real rows hold constant; the theory models the "
            f"kept rows in the real rows' {real}, so its extrapolations with n + kept rows between {real // 2} and "
            f"{2 * both} (where the accuracy dips as the rows fill the features) are the least reliable."]


def _kept_fractions(inputs: AdviceInputs, thresholds: Sequence[float]) -> list[float]:
    if inputs.scores is None:
        return [1.0 for _ in thresholds]
    return [float(np.mean(inputs.scores >= t)) for t in thresholds]


__all__ = ["METHOD", "NOISE_GRID", "check_extrapolation", "extrapolated_rows", "TheoryCurve"]
