"""Pool sizes beyond the rows the pool holds: the measured answer moved by the random-matrix theory.

The rows cannot say what m rows the pool does not have would do; the theory gives the shape of
the curve (THEORY.md 3, 13.6): the real rows' law calibrated on their exact leave-one-out
(:func:`rmtsynth.data.calibrated.calibrate`), synthetic rows of that law whose labels agree with
the class at an effective rate, K = (kept fraction) x m kept rows, and the learner's own penalty at
n + K rows. The effective label noise is the one whose curve best fits the advisor's measured
accuracies at that threshold (least squares over the pool sizes on the grid): one number that
stands for everything that makes the kept rows worth less than real ones (wrong labels, another
law). The answer at m is the measured value at the largest pool size on the grid (the anchor)
plus the fitted curve's change from the anchor to m. Such rows are marked ``extrapolation`` and
never recommended.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from rmtsynth.core.learners import POOL_EXTRAPOLATION
from rmtsynth.core.theory import within_unit_interval
from rmtsynth.data.advice.inputs import AdviceInputs
from rmtsynth.data.advice.learners import AdviceLearner
from rmtsynth.data.calibrated import calibrate, theory_ratio
from rmtsynth.errors import ParameterError

METHOD = "two-covariance theory beyond the pool"


def check_extrapolation(learners: Sequence[AdviceLearner], beyond: Sequence[int], pool_rows: int) -> None:
    """Refuse, in one sentence, a learner whose theory cannot extrapolate when m beyond the pool is asked for."""
    if not beyond:
        return
    for learner in learners:
        if learner.plugin is None or not learner.plugin.supports(POOL_EXTRAPOLATION):
            raise ParameterError(
                f"m_values = {max(beyond)} is beyond the pool's {pool_rows} rows, and learner {learner.label!r} has no "
                "theory to extrapolate with (only learners that support it, such as ridge, do); ask for m up to the pool."
            )


#: The effective label noise is fitted on this grid over [0, 1] (above 1/2 the rows hurt).
NOISE_GRID = np.linspace(0.0, 1.0, 201)


class TheoryCurve:
    """A learner's calibrated theory on the real rows (calibrated once), as a curve over kept synthetic rows."""

    def __init__(self, inputs: AdviceInputs, learner: AdviceLearner):
        self.n = inputs.real_labels.size
        self.plugin, self.estimator = learner.plugin, learner.estimator
        self.theory = calibrate(inputs.real_features, inputs.real_labels, self.penalty(self.n))
        # Synthetic rows of the real rows' own (calibrated) law: the generator's mean is the real one.
        mean = self.theory.real_spectrum().aa
        self.spectrum = self.theory.real_spectrum(bb=mean, ab=mean)

    def penalty(self, rows: float) -> float:
        return self.plugin.theory_penalty(self.estimator, rows)

    def accuracy(self, kept: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """Held-out accuracy with ``kept`` synthetic rows at effective label noise ``noise`` (broadcast)."""
        gamma = np.array([self.penalty(self.n + k) for k in kept.reshape(-1)]).reshape(kept.shape)
        ratio = theory_ratio(self.spectrum, float(self.n), kept, noise, 1.0, 1.0, gamma)
        return np.asarray(self.theory.anchored(ratio), dtype=float)

    def fitted(self, kept: Sequence[float], measured: Sequence[float], at: Sequence[float]) -> np.ndarray:
        """The curve at ``at`` kept rows, its label noise fitted to ``measured`` at ``kept``."""
        k = np.asarray(kept, dtype=float)[None, :]
        # A free offset: the fit follows the shape of the measured curve, not the level of its noisiest point.
        residuals = self.accuracy(k, NOISE_GRID[:, None]) - np.asarray(measured, dtype=float)[None, :]
        errors = ((residuals - residuals.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        noise = float(NOISE_GRID[int(np.argmin(errors))])
        return self.accuracy(np.asarray(at, dtype=float), np.full(len(at), noise))


def extrapolated_rows(inputs: AdviceInputs, learner: AdviceLearner, thresholds: Sequence[float], beyond: Sequence[int],
                      rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Table rows for the m beyond the pool, anchored at each threshold's largest measured m."""
    mine = [r for r in rows if r["learner"] == learner.label]
    base = next(r for r in mine if r["m"] == 0)
    by_threshold = [sorted((r for r in mine if r["m"] > 0 and r["threshold"] == t), key=lambda r: r["m"])
                    for t in thresholds]
    for threshold, measured in zip(thresholds, by_threshold):
        if len(measured) < 2:
            raise ParameterError(
                f"threshold {threshold:g} has {len(measured)} m within the pool on the grid; extrapolating beyond the "
                "pool fits the theory's curve to the measured pool sizes, so give at least two m up to the pool's rows."
            )
    theory = TheoryCurve(inputs, learner)
    out = []
    for measured, fraction in zip(by_threshold, _kept_fractions(inputs, thresholds)):
        threshold = measured[0]["threshold"]
        anchor = measured[-1]
        curve = theory.fitted([r["kept"] for r in measured], [r["predicted_accuracy"] for r in measured],
                              [anchor["kept"], *(fraction * m for m in beyond)])
        change = curve[1:] - curve[0]
        for m, delta in zip(beyond, change):
            predicted = float(within_unit_interval(anchor["predicted_accuracy"] + delta))
            out.append({
                "learner": learner.label, "method": METHOD, "threshold": float(threshold), "m": int(m),
                "kept": fraction * m, "predicted_accuracy": predicted, "accuracy_se": anchor["accuracy_se"],
                "gain": predicted - base["predicted_accuracy"], "gain_se": anchor["gain_se"],
                "smoothed_accuracy": float(within_unit_interval(anchor["smoothed_accuracy"] + delta)),
                "extrapolation": True,
                "note": f"extrapolation: measured at m = {anchor['m']} plus the theory's change; "
                        "its standard errors are the anchor's (the theory's own error is not included)",
            })
    return out


def _kept_fractions(inputs: AdviceInputs, thresholds: Sequence[float]) -> list[float]:
    if inputs.scores is None:
        return [1.0 for _ in thresholds]
    return [float(np.mean(inputs.scores >= t)) for t in thresholds]


__all__ = ["METHOD", "NOISE_GRID", "check_extrapolation", "extrapolated_rows", "TheoryCurve"]
