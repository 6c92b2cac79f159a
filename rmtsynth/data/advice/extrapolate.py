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


def theory_curve(inputs: AdviceInputs, learner: AdviceLearner, kept: Sequence[float], measured: Sequence[float],
                 at: Sequence[float]) -> np.ndarray:
    """The calibrated theory's held-out accuracy at ``at`` kept rows, its label noise fitted to ``measured`` at ``kept``."""
    X, y = inputs.real_features, inputs.real_labels
    n = y.size
    plugin, estimator = learner.plugin, learner.estimator
    theory = calibrate(X, y, plugin.theory_penalty(estimator, n))
    # Synthetic rows of the real rows' own (calibrated) law: the generator's mean is the real one.
    mean = theory.real_spectrum().aa
    spectrum = theory.real_spectrum(bb=mean, ab=mean)

    def accuracy(k: np.ndarray, noise: np.ndarray) -> np.ndarray:
        gamma = np.array([plugin.theory_penalty(estimator, n + kk) for kk in k.reshape(-1)]).reshape(k.shape)
        return np.asarray(theory.anchored(theory_ratio(spectrum, float(n), k, noise, 1.0, 1.0, gamma)), dtype=float)

    k = np.asarray(kept, dtype=float)[None, :]
    # A free offset: the fit follows the shape of the measured curve, not the level of its noisiest point.
    residuals = accuracy(k, NOISE_GRID[:, None]) - np.asarray(measured, dtype=float)[None, :]
    errors = ((residuals - residuals.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    noise = float(NOISE_GRID[int(np.argmin(errors))])
    return accuracy(np.asarray(at, dtype=float), np.full(len(at), noise))


def extrapolated_rows(inputs: AdviceInputs, learner: AdviceLearner, thresholds: Sequence[float], beyond: Sequence[int],
                      rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Table rows for the m beyond the pool, anchored at each threshold's largest measured m (or the real rows alone)."""
    mine = [r for r in rows if r["learner"] == learner.label]
    base = next(r for r in mine if r["m"] == 0)
    out = []
    fractions = _kept_fractions(inputs, thresholds)
    for threshold, fraction in zip(thresholds, fractions):
        measured = sorted((r for r in mine if r["m"] > 0 and r["threshold"] == threshold), key=lambda r: r["m"])
        if len(measured) < 2:
            raise ParameterError(
                f"threshold {threshold:g} has {len(measured)} m within the pool on the grid; extrapolating beyond the "
                "pool fits the theory's curve to the measured pool sizes, so give at least two m up to the pool's rows."
            )
        anchor = measured[-1]
        curve = theory_curve(inputs, learner, [r["kept"] for r in measured], [r["predicted_accuracy"] for r in measured],
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


__all__ = ["METHOD", "NOISE_GRID", "check_extrapolation", "extrapolated_rows", "theory_curve"]
