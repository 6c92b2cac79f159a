"""Verifier parametrisations: (rho, phi) and (precision, recall) (THEORY.md section 12).

A synthetic sample is *positive* when its label is correct (probability 1 - eps); the verifier
keeps it with probability phi if positive (recall) and rho if not (false-positive rate). The
precision is the fraction of kept samples whose label is correct.
"""

from __future__ import annotations

import numpy as np

from rmtsynth.errors import ParameterError

NAMED_VERIFIERS: dict[str, tuple[float, float]] = {
    # name: (rho, phi)
    "oracle": (0.0, 1.0),
    "none": (1.0, 1.0),
}


def keep_rate(label_noise, rho, phi):
    """alpha = P(kept) = phi (1 - eps) + rho eps."""
    return phi * (1.0 - label_noise) + rho * label_noise


def label_signal(label_noise, rho, phi):
    """lambda = E[q s] = phi (1 - eps) - rho eps, the signed label signal of the kept samples.

    Within rounding of zero (|lambda| <= 4 eps_mach (phi + rho)) it is exactly 0: eps* is rarely a
    float, and the accuracy is steep enough there to turn the residue into a visible 1e-12.
    """
    lam = phi * (1.0 - label_noise) - rho * label_noise
    tol = 4.0 * np.finfo(float).eps * (np.abs(phi) + np.abs(rho))
    return np.where(np.abs(lam) <= tol, 0.0, lam)


def eps_star(rho, phi):
    """The label-noise rate where lambda vanishes: phi / (phi + rho) (nan if phi = rho = 0)."""
    rho = np.asarray(rho, dtype=float)
    phi = np.asarray(phi, dtype=float)
    total = phi + rho
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, phi / np.where(total > 0, total, 1.0), np.nan)


def precision_recall(label_noise, rho, phi) -> tuple[np.ndarray, np.ndarray]:
    """(precision, recall) of the verifier (rho, phi) at label noise eps.

    The precision is phi (1 - eps) / alpha; when nothing is kept (alpha = 0) it is reported as
    1 - eps, the precision of keeping at random.
    """
    eps = np.asarray(label_noise, dtype=float)
    alpha = keep_rate(eps, rho, phi)
    kept_correct = np.asarray(phi, dtype=float) * (1.0 - eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(alpha > 0, kept_correct / np.where(alpha > 0, alpha, 1.0), 1.0 - eps)
    return precision, np.asarray(phi, dtype=float) + 0.0 * eps


def min_precision(label_noise, recall):
    """The lowest precision a verifier with this recall can have: R(1-eps) / (R(1-eps) + eps)."""
    eps = np.asarray(label_noise, dtype=float)
    recall = np.asarray(recall, dtype=float)
    num = recall * (1.0 - eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(num + eps > 0, num / np.where(num + eps > 0, num + eps, 1.0), 0.0)


def rho_phi_from_precision_recall(label_noise: float, precision: float, recall: float) -> tuple[float, float]:
    """(rho, phi) of the verifier with the given precision and recall at label noise eps.

    Raises
    ------
    ParameterError
        When no verifier has this (precision, recall) at this label noise, or when the pair does
        not determine it (label noise 1, or recall 0).
    """
    eps = float(label_noise)
    precision = float(precision)
    recall = float(recall)
    for key, value in (("verifier_precision", precision), ("verifier_recall", recall), ("label_noise", eps)):
        if not 0.0 <= value <= 1.0:
            raise ParameterError(f"{key} = {value:g} is out of range; it must be between 0 and 1.")
    phi = recall
    if eps == 0.0:
        if precision != 1.0:
            raise ParameterError(
                f"verifier_precision = {precision:g} is impossible at label_noise = 0: every kept label is "
                "correct, so the precision must be 1."
            )
        return 0.0, phi
    if eps == 1.0:
        # Every label is wrong: whatever the verifier keeps is wrong, so its precision is 0 and
        # says nothing of how much it keeps.
        if precision != 0.0:
            raise ParameterError(
                f"verifier_precision = {precision:g} is impossible at label_noise = 1: every label is wrong, so the "
                "precision must be 0."
            )
        raise ParameterError(
            "verifier_precision = 0 at label_noise = 1 does not determine how many wrong labels the verifier keeps; "
            "give rho and phi instead."
        )
    if recall == 0.0:
        # No correct label is kept: every kept sample is wrong, so the precision is 0.
        if precision != 0.0:
            raise ParameterError(
                f"verifier_precision = {precision:g} is impossible with verifier_recall = 0: no correct label "
                "is kept, so the precision must be 0 (and then rho is not determined by it)."
            )
        raise ParameterError(
            "verifier_recall = 0 with verifier_precision = 0 does not determine the verifier; give rho and phi instead."
        )
    p_min = float(min_precision(eps, recall))
    if precision <= 0.0 or precision < p_min * (1.0 - 1e-12):
        raise ParameterError(
            f"verifier_precision = {precision:g} is impossible with verifier_recall = {recall:g} at "
            f"label_noise = {eps:g}: the precision must be at least {p_min:.6g} (keeping every wrong label)."
        )
    rho = recall * (1.0 - eps) * (1.0 - precision) / (precision * eps)
    return float(min(rho, 1.0)), phi
