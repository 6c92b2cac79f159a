"""A loop plan on the user's own rows: the loop theory's setting matched to the held-out predictor.

The loop theory (THEORY.md 14) is the Gram reduction of an isotropic Gaussian: it takes p and
||mu||, not a covariance. With ``data:`` in a loop plan, p is the number of features that vary in
the rows and ||mu|| is the one at which that theory's real-only accuracy at the plan's n and gamma
equals the held-out prediction from the rows (their exact leave-one-out, moved to n by the
LOO-calibrated theory, THEORY.md 13.6). So the loop's baseline is the held-out accuracy, not the
accuracy on the Gaussian fitted to the rows (too optimistic by 0.02-0.1), and the loop's dynamics
are those of the isotropic model with the same real-only accuracy.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
from scipy.optimize import brentq

from rmtsynth.core import loop as loop_theory
from rmtsynth.errors import DataError

MU_RANGE = (1e-6, 1e3)
DATA_SENTENCE = (
    "The loop is planned on the isotropic Gaussian whose real-only accuracy at n equals the held-out prediction "
    "from the data ({source}: {heldout:.4f}, exact leave-one-out moved to n = {n} by the LOO-calibrated theory), "
    "in the data's p = {p}: the loop theory takes p and ||mu|| only, so the held-out predictor sets its signal."
)


def loop_params_from_data(spec, params: Mapping[str, Any], resolve) -> tuple[dict[str, Any], dict[str, Any]]:
    """The loop's params with p and mu_norm from the rows, and what was taken from them.

    ``resolve`` checks a params mapping and returns its point (n and gamma are read from it).
    """
    from rmtsynth.config.data import load_data
    from rmtsynth.data.calibrated import calibrate
    from rmtsynth.data.estimators import varying_features
    from rmtsynth.data.validation import check_rows_per_class

    loaded = load_data(spec)
    X, y = loaded.X, loaded.y
    check_rows_per_class(y, 2, f"data ({loaded.description})", "the leave-one-out of the held-out prediction")
    p = int(np.count_nonzero(varying_features(X)))
    if p == 0:
        raise DataError(f"data ({loaded.description}) has no feature that varies.")
    point = resolve({**params, "p": p, "mu_norm": 1.0})
    theory = calibrate(X, y, point.gamma)
    heldout = float(theory.real_only(point.n))
    mu_norm = _matched_mu_norm(point.n, p, point.gamma, heldout)
    info = {"source": loaded.description, "rows": loaded.rows, "p": p, "heldout_real_only": heldout,
            "loo_accuracy": theory.loo.accuracy, "mean_scale": theory.scale, "mu_norm": mu_norm,
            "sentence": DATA_SENTENCE.format(source=loaded.description, heldout=heldout, n=point.n, p=p)}
    return {**params, "p": p, "mu_norm": mu_norm}, info


def _matched_mu_norm(n: int, p: int, gamma: float, accuracy: float) -> float:
    """||mu|| at which the isotropic real-only accuracy at (n, p, gamma) is ``accuracy``."""
    def gap(log_mu: float) -> float:
        return float(loop_theory.real_only_accuracy(n, p, math.exp(log_mu), gamma)) - accuracy

    lo, hi = (math.log(v) for v in MU_RANGE)
    if gap(lo) >= 0:
        return MU_RANGE[0]
    if gap(hi) <= 0:
        return MU_RANGE[1]
    return math.exp(brentq(gap, lo, hi, xtol=1e-12))


__all__ = ["DATA_SENTENCE", "loop_params_from_data"]
