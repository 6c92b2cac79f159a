"""The LOO-calibrated theory of a convex learner: held-out accuracy at other mixes (THEORY.md 13.6, 16).

Ridge's construction (:mod:`rmtsynth.data.calibrated`) with the learner's loss in both halves:
the leave-one-out of the protocol is the learner's (:func:`rmtsynth.data.convex_loo.convex_loo`),
and the theory whose ratio M/sqrt(q_r) is calibrated at the rows' size and moved to other mixes is
section 16's (the learner's own theory on a spectrum, :meth:`Learner.theory_on_spectrum`), on
the same Ledoit-Wolf spectrum with the mean scaled by the fitted s. The answer at the rows' size,
real rows only, is the learner's leave-one-out accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from rmtsynth.core.model import Mix
from rmtsynth.core.theory import Spectrum
from rmtsynth.data.calibrated import S_RANGE, CalibratedTheory, _ratio, calibrate
from rmtsynth.data.convex_loo import convex_loo

# The half-widths (in factors of s) of the successive search ranges of s.
S_WIDTHS = (10.0, 1e3, 1e6)


@dataclass(frozen=True)
class ConvexCalibratedTheory(CalibratedTheory):
    """A :class:`CalibratedTheory` whose ratios are the convex ``learner``'s theory on the spectrum."""

    learner: Any = None

    def ratio(self, spectrum: Spectrum, n, m, label_noise, rho, phi, gamma) -> np.ndarray:
        return _ratio(self.learner.theory_on_spectrum(spectrum, Mix(n, m, label_noise, rho, phi, gamma)))

    def base_ratio(self) -> float:
        return float(self.ratio(self.real_spectrum(), self.n, 0.0, 0.0, 1.0, 1.0, self.gamma)[()])

    def real_only(self, n, gamma=None) -> np.ndarray:
        g = self.gamma if gamma is None else gamma
        return self.anchored(self.ratio(self.real_spectrum(), n, 0.0, 0.0, 1.0, 1.0, g))


def calibrate_convex(X_raw: np.ndarray, y: np.ndarray, gamma: float, learner: Any) -> ConvexCalibratedTheory:
    """The convex learner's leave-one-out on the rows, and the mean's scale s fitted to it in its theory.

    s is searched in ranges around 1 that widen up to ridge's (S_RANGE) only while the match lies
    beyond: at a huge s the rows are nearly separable and the convex fixed point is slow or fails.
    """
    y = np.asarray(y, dtype=float).reshape(-1)
    loo = convex_loo(X_raw, y, gamma, learner)
    theory = partial(ConvexCalibratedTheory, learner=learner)
    for width in S_WIDTHS:
        s_range = (max(1.0 / width, S_RANGE[0]), min(width, S_RANGE[1]))
        got = calibrate(X_raw, y, gamma, loo=loo, theory=theory, s_range=s_range)
        if s_range[0] < got.scale < s_range[1] or s_range == S_RANGE:
            return got  # type: ignore[return-value]
    return got  # type: ignore[return-value]


__all__ = ["ConvexCalibratedTheory", "calibrate_convex"]


def calibrate_learner(X_raw: np.ndarray, y: np.ndarray, gamma: float, learner: Any) -> CalibratedTheory:
    """The learner's theory calibrated at its leave-one-out on the rows: ridge's closed forms for a
    quadratic loss, section 16's convex theory otherwise (the learner must support CALIBRATED_HELDOUT)."""
    if learner.quadratic:
        return calibrate(X_raw, y, gamma)
    return calibrate_convex(X_raw, y, gamma, learner)
