"""The break-even verifier precision of a loop and the generation it first drops (THEORY 14.9)."""

from __future__ import annotations

import numpy as np

from rmtsynth.core.loop.common import as_arrays
from rmtsynth.core.loop.gram import gram_reduction, real_only_accuracy, replace_step_accuracy
from rmtsynth.core.loop.recursion import replace_fixed_point
from rmtsynth.core.loop.spec import Regime


def _verifier_from_precision(label_noise, precision, recall):
    """(rho, phi) of the verifier with this precision and recall (THEORY 12); vectorised."""
    eps = np.asarray(label_noise, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        safe_eps = np.where(eps > 0, eps, 1.0)
        rho = np.where(eps > 0, recall * (1.0 - eps) * (1.0 - precision) / (precision * safe_eps), 0.0)
    return rho, recall + 0.0 * rho


def loop_accuracy_at_precision(n, m, p, mu_norm, label_noise, gamma, precision, *, recall=1.0,
                               generations: int | None = None, regime: Regime = "replace") -> np.ndarray:
    """GR accuracy of the loop with a verifier of this precision and recall (identity generator, noisy labels).

    ``generations=None`` (replace only) gives the fixed point of the replace loop; otherwise the
    accuracy at generation K. Vectorised over all array arguments.
    """
    precision = np.asarray(precision, dtype=float)
    rho, phi = _verifier_from_precision(label_noise, precision, np.asarray(recall, dtype=float))
    if generations is None:
        if regime != "replace":
            raise ValueError("the accumulate loop has no fixed point at finite generations; give generations")
        fixed = replace_fixed_point(n, m, p, label_noise, rho, phi)
        return replace_step_accuracy(n, m, p, mu_norm, label_noise, rho, phi, gamma,
                                     fixed["beta"], fixed["spurious_energy"])
    out = gram_reduction(n, m, p, mu_norm, label_noise, rho, phi, gamma, generations=int(generations), regime=regime)
    return out["accuracy"][..., -1]


def min_precision_for_loop(*, n, m, p, mu_norm, label_noise, gamma, recall=1.0, generations: int | None = None,
                           regime: Regime = "replace", iterations: int = 60) -> np.ndarray:
    """Smallest verifier precision for which the loop does not end below real data alone (THEORY 14.9).

    "End" is the replace loop's fixed point (``generations=None``) or generation K. Identity
    generator, noisy labels, GR. Vectorised (bisection on all settings at once); assumes the end
    accuracy increases with the precision, as it does in the settings of 14.9.

    Returns
    -------
    Array of the broadcast shape: the break-even precision; the lowest valid precision
    R(1-eps)/(R(1-eps)+eps) when even that does not fall below real-only; nan when even P = 1 does.
    """
    n, m, p, mu_norm, eps, gamma, recall = as_arrays(n, m, p, mu_norm, label_noise, gamma, recall)
    baseline = real_only_accuracy(n, p, mu_norm, gamma)

    def margin(precision):
        return loop_accuracy_at_precision(n, m, p, mu_norm, eps, gamma, precision, recall=recall,
                                          generations=generations, regime=regime) - baseline

    lowest = np.where(recall * (1.0 - eps) + eps > 0, recall * (1.0 - eps) / (recall * (1.0 - eps) + eps), 1.0)
    lowest = np.clip(lowest, 1e-12, 1.0)
    low = lowest.copy()
    high = np.ones_like(low)
    ok_low = margin(low) >= 0
    ok_high = margin(high) >= 0
    for _ in range(int(iterations)):
        mid = 0.5 * (low + high)
        ok = margin(mid) >= 0
        high = np.where(ok, mid, high)
        low = np.where(ok, low, mid)
    return np.where(ok_low, lowest, np.where(ok_high, high, np.nan))


def first_drop_generation(accuracy, *, baseline=None, tolerance: float = 0.0) -> np.ndarray:
    """First generation k >= 1 whose accuracy is below the baseline by more than ``tolerance``.

    Parameters
    ----------
    accuracy : array_like, (..., K + 1)
        Accuracy over generations, e.g. ``predict_loop(...)["accuracy"]``.
    baseline : array_like, optional
        Defaults to generation 0 (real data alone).
    tolerance : float

    Returns
    -------
    Integer array of the leading shape: the generation, or -1 if no generation up to K drops.
    """
    acc = np.asarray(accuracy, dtype=float)
    base = acc[..., 0] if baseline is None else np.asarray(baseline, dtype=float)
    below = acc[..., 1:] < (base[..., None] - tolerance)
    first = np.argmax(below, axis=-1) + 1
    return np.where(below.any(axis=-1), first, -1)
