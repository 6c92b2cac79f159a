"""The planner: should synthetic data be added to these real data, how much, and how good must
the verifier be?

Every number comes from the deterministic equivalents (THEORY.md sections 2-7, 11, 12), evaluated
vectorised on a fine grid and then refined: maxima by bounded scalar maximisation
(``scipy.optimize.minimize_scalar``) between the neighbours of the best grid point, thresholds by
``scipy.optimize.brentq`` inside the bracket where the grid changes sign. The tolerances are
reported with the results.

Definitions used in the report (all at the configured n, p, generator and gamma):

gain
    accuracy of the mix minus the accuracy of the n real samples alone (m = 0, same gamma).
``min_verifier_precision``
    The lowest precision P, at the configured recall R and label noise eps, above which the
    configured mix still gains over real data alone: P ranges over [P_min(R), 1] with
    P_min(R) = R(1-eps)/(R(1-eps)+eps) (keeping every wrong label), and rho = R(1-eps)(1-P)/(P eps).
``max_label_noise``
    sup {eps in [0, 1] : gain(eps) > 0} with the verifier's (rho, phi) held fixed.
``transition_width``
    With (rho, phi) fixed and the configured mix, let A(eps) be the accuracy, A0 = A(0) and
    A1 = A(1). eps_q is the smallest eps with A(eps) = A0 - q (A0 - A1). The width is
    eps_0.75 - eps_0.25: the label-noise range over which the accuracy covers the middle half of
    its drop. It shrinks like sqrt(p/m) for synthetic-only training (THEORY.md section 8) and is 0
    for the infinite-sample step.
``best_synthetic_proportion``, ``best_m``
    The proportion s* = m/(n+m) in [0, search.max_synthetic_proportion] with the highest accuracy
    (m continuous in the theory), and m = floor(s* n/(1-s*)). Both are 0 when no proportion gains
    more than 1e-12 over the real data alone ("synthetic data cannot help").
``best_gamma``
    The gamma in search.gamma_range with the highest accuracy at the configured mix (also reported
    for the real data alone, with a flag when the accuracy is flat up to the edge of the range).
``accuracy_infinite_m``
    The m -> infinity limit (THEORY.md section 12), when the generator's covariance is fixed
    (null for an estimated covariance, whose C is random).
``best_roc_point``
    With ``verifier_roc``: the ROC point (rho = fpr, phi = tpr) with the highest accuracy at the
    configured mix; every other number then uses that point. ``best_roc_point_best_mix`` is the
    best (point, proportion) pair.

The planner's input is read and validated, and its accuracy model built, by :mod:`rmtsynth.spec.plan_config`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from rmtsynth.core.model import Mix
from rmtsynth.io.output import json_ready
from rmtsynth.core.verifier import eps_star, keep_rate, min_precision, precision_recall
from rmtsynth.errors import RmtsynthError
from rmtsynth.spec.plan_config import AccuracyModel, PlanConfig, model_for_point, model_for_spectrum
from rmtsynth.spec.resolve import ResolvedPoint

# Grids and tolerances of every search (reported in the JSON under "tolerance").
GRID_POINTS = 2001
ROC_MIX_GRID = 201
TOLERANCE = {
    "synthetic_proportion": 1e-7,
    "log10_gamma": 1e-7,
    "verifier_precision": 1e-10,
    "label_noise": 1e-10,
    "gain_zero": 1e-12,
}
# A gain at or below this is "no gain": the theory's accuracy is exact to ~1e-14, so anything
# smaller is rounding.
NO_GAIN = TOLERANCE["gain_zero"]

# AccuracyModel, model_for_point and model_for_spectrum come from rmtsynth.spec.plan_config, where
# the plan config is read (the best ROC point is chosen there); they are re-exported here.


# ----------------------------------------------------------------------------- searches


def _maximise(f: Callable[[np.ndarray], np.ndarray], grid: np.ndarray, xtol: float) -> tuple[float, float]:
    """Maximum of f over [grid[0], grid[-1]]: the best of a vectorised grid, refined between its neighbours."""
    values = f(grid)
    if not np.any(np.isfinite(values)):
        raise RmtsynthError("The theory gave no finite accuracy on the search grid.")
    k = int(np.nanargmax(values))
    best_x, best_f = float(grid[k]), float(values[k])
    lo, hi = float(grid[max(k - 1, 0)]), float(grid[min(k + 1, grid.size - 1)])
    if hi > lo:
        res = minimize_scalar(lambda x: -float(f(np.array([x]))[0]), bounds=(lo, hi), method="bounded", options={"xatol": xtol})
        if np.isfinite(res.fun) and -res.fun > best_f:
            best_x, best_f = float(res.x), float(-res.fun)
    return best_x, best_f


def _root(f: Callable[[float], float], a: float, b: float, xtol: float) -> float:
    """A root of f in [a, b], where f(a) and f(b) have opposite signs (or one is 0)."""
    fa, fb = f(a), f(b)
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    return float(brentq(f, a, b, xtol=xtol, rtol=4 * np.finfo(float).eps, maxiter=200))


def proportion_grid(max_proportion: float, points: int = GRID_POINTS) -> np.ndarray:
    """Synthetic proportions s in [0, s_max]: even in s, plus even in log(m/n) (dense as s -> 1)."""
    lin = np.linspace(0.0, max_proportion, points)
    ratio_hi = max_proportion / (1.0 - max_proportion)
    ratios = np.geomspace(1e-4, ratio_hi, points)
    return np.unique(np.concatenate([lin, ratios / (1.0 + ratios), [max_proportion]]))


def m_of_proportion(s, n: int) -> np.ndarray:
    """m = s n / (1 - s), continuous (the theory takes real m)."""
    s = np.asarray(s, dtype=float)
    return s * n / (1.0 - s)


def integer_m(s: float, n: int) -> int:
    """m = floor(s n / (1 - s)), as configs resolve a proportion (THEORY.md section 12)."""
    return int(math.floor(s * n / (1.0 - s) + 1e-9))


def real_only_accuracy(model: AccuracyModel, st: Mix, gamma: float | None = None) -> float:
    g = st.gamma if gamma is None else gamma
    return float(model(Mix(st.n, 0.0, st.label_noise, st.rho, st.phi, g)))


def best_mix(model: AccuracyModel, st: Mix, max_proportion: float) -> dict[str, Any]:
    """The synthetic proportion s* in [0, s_max] that maximises the accuracy, and the accuracy there."""
    n = st.n

    def f(s):
        return model(Mix(n, m_of_proportion(s, n), st.label_noise, st.rho, st.phi, st.gamma))

    base = real_only_accuracy(model, st)
    s_best, acc_best = _maximise(f, proportion_grid(max_proportion), TOLERANCE["synthetic_proportion"])
    helps = acc_best - base > NO_GAIN
    if not helps:
        s_best, acc_best = 0.0, base
    return {
        "helps": bool(helps),
        "synthetic_proportion": s_best,
        "m": integer_m(s_best, n) if helps else 0,
        "accuracy": acc_best,
        "gain": acc_best - base,
        "at_search_limit": bool(helps and s_best >= max_proportion - 1e-6),
    }


def best_gamma(
    model: AccuracyModel, st: Mix, gamma_range: tuple[float, float], *, real_only: bool = False
) -> tuple[float, float, bool]:
    """The ridge parameter in gamma_range that maximises the accuracy (of the mix, or of real data alone).

    Returns (gamma, accuracy, at_edge); at_edge says the accuracy at an end of the range is within
    1e-6 of the maximum, so the optimum may lie beyond it (the accuracy is then flat there).
    """
    m = 0.0 if real_only else st.m
    lo, hi = (math.log10(g) for g in gamma_range)

    def f(t):
        return model(Mix(st.n, m, st.label_noise, st.rho, st.phi, 10.0 ** np.asarray(t)))

    t, acc = _maximise(f, np.linspace(lo, hi, 801), TOLERANCE["log10_gamma"])
    ends = f(np.array([lo, hi]))
    return 10.0**t, acc, bool(np.nanmax(ends) >= acc - 1e-6)


def rho_for_precision(eps: float, precision, recall: float) -> np.ndarray:
    """rho = R (1 - eps)(1 - P) / (P eps): the false-positive rate of precision P at recall R."""
    precision = np.asarray(precision, dtype=float)
    return np.clip(recall * (1.0 - eps) * (1.0 - precision) / (precision * eps), 0.0, 1.0)


def _threshold_above(
    f: Callable[[np.ndarray], np.ndarray], grid: np.ndarray, xtol: float
) -> tuple[float | None, str, bool]:
    """Where f > 0 holds on the upper part of the grid: (threshold, status, monotone).

    status is ``everywhere`` (f > 0 on the whole grid: threshold = grid[0]), ``nowhere`` (f <= 0 at
    the top: threshold None) or ``crossing`` (the root, by brentq, of the highest sign change).
    """
    values = f(grid)
    positive = values > NO_GAIN
    changes = int(np.count_nonzero(positive[1:] != positive[:-1]))
    if not positive[-1]:
        return None, "nowhere", changes == 0
    if positive.all():
        return float(grid[0]), "everywhere", True
    k = int(np.flatnonzero(~positive)[-1])
    root = _root(lambda x: float(f(np.array([x]))[0]) - NO_GAIN, float(grid[k]), float(grid[k + 1]), xtol)
    return root, "crossing", changes == 1


def _threshold_below(
    f: Callable[[np.ndarray], np.ndarray], grid: np.ndarray, xtol: float
) -> tuple[float | None, str, bool]:
    """Mirror of :func:`_threshold_above`: the sup of {x : f(x) > 0} on the grid."""
    values = f(grid)
    positive = values > NO_GAIN
    changes = int(np.count_nonzero(positive[1:] != positive[:-1]))
    if not positive.any():
        return None, "nowhere", True
    if positive[-1]:
        return float(grid[-1]), "everywhere" if positive.all() else "at_end", changes == 0
    k = int(np.flatnonzero(positive)[-1])
    root = _root(lambda x: float(f(np.array([x]))[0]) - NO_GAIN, float(grid[k]), float(grid[k + 1]), xtol)
    return root, "crossing", changes == 1 and positive[0]


def min_verifier_precision(model: AccuracyModel, st: Mix) -> dict[str, Any]:
    """The lowest precision (at the configured recall and label noise) at which the mix still gains."""
    recall, eps = st.phi, st.label_noise
    out: dict[str, Any] = {"value": None, "recall": recall, "lowest_valid_precision": None, "status": "", "message": ""}
    if st.m == 0:
        out.update(status="no_mix", message="the configured mix has no synthetic data (m = 0), so no verifier matters.")
        return out
    if eps == 0.0:
        out.update(status="no_label_noise", message="with label_noise = 0 every kept label is correct: the precision is always 1.")
        return out
    if recall == 0.0:
        out.update(status="no_recall", message="with recall 0 the verifier keeps no correct label; the precision is 0.")
        return out
    if eps == 1.0:
        out.update(
            status="all_labels_wrong",
            message="with label_noise = 1 every synthetic label is wrong, so any verifier that keeps a row has precision 0.",
        )
        return out
    p_lo = float(min_precision(eps, recall))
    out["lowest_valid_precision"] = p_lo
    base = real_only_accuracy(model, st)

    def gain(P):
        return model(Mix(st.n, st.m, eps, rho_for_precision(eps, P, recall), recall, st.gamma)) - base

    grid = np.linspace(p_lo, 1.0, GRID_POINTS)
    value, status, monotone = _threshold_above(gain, grid, TOLERANCE["verifier_precision"])
    out["value"] = value
    out["status"] = status
    if status == "nowhere":
        out["message"] = (
            f"synthetic data do not help at this mix even with a perfect-precision verifier (P = 1) at recall {recall:.4g}."
        )
    elif status == "everywhere":
        out["message"] = (
            f"synthetic data help even at the lowest possible precision P_min = {p_lo:.4g} (the verifier keeps every "
            f"wrong label) at recall {recall:.4g}."
        )
    else:
        out["message"] = f"the mix gains over real data alone when the precision exceeds {value:.4g} at recall {recall:.4g}."
    if not monotone:
        out["message"] += " (The gain is not monotone in the precision; this is the threshold above which it always helps.)"
    return out


def max_label_noise(model: AccuracyModel, st: Mix) -> dict[str, Any]:
    """The highest label noise at which the mix still gains, with the verifier's (rho, phi) fixed."""
    out: dict[str, Any] = {"value": None, "status": "", "message": ""}
    if st.m == 0:
        out.update(status="no_mix", message="the configured mix has no synthetic data (m = 0).")
        return out
    base = real_only_accuracy(model, st)

    def gain(e):
        return model(Mix(st.n, st.m, e, st.rho, st.phi, st.gamma)) - base

    grid = np.linspace(0.0, 1.0, GRID_POINTS)
    value, status, monotone = _threshold_below(gain, grid, TOLERANCE["label_noise"])
    out["value"] = value
    out["status"] = status
    if status == "nowhere":
        out["message"] = "synthetic data do not help at this mix and verifier at any label noise."
    elif status in ("everywhere", "at_end"):
        out["message"] = "synthetic data help at this mix and verifier up to label noise 1."
    else:
        out["message"] = f"the mix gains over real data alone while the label noise is below {value:.4g}."
    if not monotone:
        out["message"] += " (The gain changes sign more than once in the label noise; this is the largest eps where it helps.)"
    return out


def transition(model: AccuracyModel, st: Mix) -> dict[str, Any]:
    """The label-noise transition of the configured mix: eps_0.25, eps_0.75 and their distance.

    A(eps) is the accuracy with (rho, phi) fixed; eps_q is the smallest eps where A has covered
    the fraction q of its total change A(0) - A(1). Width = eps_0.75 - eps_0.25.
    """
    out: dict[str, Any] = {"width": None, "eps_25": None, "eps_75": None, "accuracy_eps_0": None, "accuracy_eps_1": None}
    if st.m == 0:
        return out

    def acc(e):
        return model(Mix(st.n, st.m, e, st.rho, st.phi, st.gamma))

    grid = np.linspace(0.0, 1.0, GRID_POINTS)
    values = acc(grid)
    a0, a1 = float(values[0]), float(values[-1])
    out["accuracy_eps_0"], out["accuracy_eps_1"] = a0, a1
    if abs(a0 - a1) < 1e-9:
        return out
    for q, key in ((0.25, "eps_25"), (0.75, "eps_75")):
        level = a0 - q * (a0 - a1)
        # Signed so that the function is >= 0 before the crossing, whichever way A moves.
        g = np.sign(a0 - a1) * (values - level)
        k = int(np.flatnonzero(g <= 0)[0])
        if k == 0:
            out[key] = 0.0
            continue
        out[key] = _root(lambda e: float(np.sign(a0 - a1) * (acc(np.array([e]))[0] - level)), float(grid[k - 1]), float(grid[k]), TOLERANCE["label_noise"])
    out["width"] = out["eps_75"] - out["eps_25"]
    return out


def roc_accuracies(model: AccuracyModel, st: Mix, roc: np.ndarray, m=None) -> np.ndarray:
    """The accuracy of every ROC point (rho = fpr, phi = tpr) at the mix m (default: configured), vectorised."""
    m = st.m if m is None else m
    return model(Mix(st.n, m, st.label_noise, roc[:, 0], roc[:, 1], st.gamma))


def best_roc_point(model: AccuracyModel, st: Mix, roc: np.ndarray) -> dict[str, Any]:
    """The ROC threshold that maximises the accuracy at the configured mix (first of ties)."""
    acc = roc_accuracies(model, st, roc)
    k = int(np.nanargmax(acc))
    return _roc_record(roc, k, st.label_noise, float(acc[k]), real_only_accuracy(model, st))


def best_roc_point_best_mix(model: AccuracyModel, st: Mix, roc: np.ndarray, max_proportion: float) -> dict[str, Any]:
    """The (ROC point, proportion) pair with the highest accuracy: a coarse joint grid, then refined."""
    s = proportion_grid(max_proportion, ROC_MIX_GRID)
    acc = model(Mix(st.n, m_of_proportion(s, st.n)[None, :], st.label_noise, roc[:, 0:1], roc[:, 1:2], st.gamma))
    k = int(np.nanargmax(np.nanmax(acc, axis=1)))
    chosen = replace(st, rho=float(roc[k, 0]), phi=float(roc[k, 1]))
    mix = best_mix(model, chosen, max_proportion)
    rec = _roc_record(roc, k, st.label_noise, mix["accuracy"], real_only_accuracy(model, st))
    rec.update(synthetic_proportion=mix["synthetic_proportion"], m=mix["m"])
    return rec


def _roc_record(roc: np.ndarray, k: int, eps: float, acc: float, base: float) -> dict[str, Any]:
    rho, phi = float(roc[k, 0]), float(roc[k, 1])
    precision, recall = precision_recall(eps, rho, phi)
    return {
        "index": k,
        "rho": rho,
        "phi": phi,
        "precision": float(precision),
        "recall": float(recall),
        "accuracy": acc,
        "gain": acc - base,
    }


# ----------------------------------------------------------------------------- the plan


def setting_of(point: ResolvedPoint) -> Mix:
    """The mix a plan is about, as numbers."""
    return Mix(n=point.n, m=point.m, label_noise=point.label_noise, rho=point.rho, phi=point.phi, gamma=point.gamma)


def run_plan(cfg: PlanConfig) -> dict[str, Any]:
    """Every number of the plan, as a JSON-ready mapping."""
    model, point = cfg.model, cfg.point
    st = setting_of(point)
    acc_real = real_only_accuracy(model, st)
    acc_conf = float(model(Mix(st.n, st.m, st.label_noise, st.rho, st.phi, st.gamma)))
    mix = best_mix(model, st, cfg.max_proportion)
    g_best, acc_g, edge_mix = best_gamma(model, st, cfg.gamma_range)
    g_real, acc_g_real, edge_real = best_gamma(model, st, cfg.gamma_range, real_only=True)
    prec = min_verifier_precision(model, st)
    noise = max_label_noise(model, st)
    trans = transition(model, st)
    infinite = None
    if model.spectrum is not None:
        from rmtsynth.core.closed_forms import infinite_sample_accuracy

        infinite = float(infinite_sample_accuracy(model.spectrum, st.label_noise, st.rho, st.phi, st.gamma))
    messages = []
    kept = float(keep_rate(st.label_noise, st.rho, st.phi))
    if kept == 0.0 and st.m > 0:
        messages.append(
            "The verifier keeps no synthetic row (keep rate 0): the mix trains on the real data alone. Any gain below "
            "comes from the normaliser N = n + m, which acts as extra ridge regularisation, not from synthetic data."
        )
    if not mix["helps"]:
        messages.append("Synthetic data cannot help here: no proportion beats the real data alone.")
    elif kept > 0.0 or st.m == 0:
        messages.append(
            f"Synthetic data help: the best proportion {mix['synthetic_proportion']:.4g} (m = {mix['m']}) gains "
            f"{mix['gain']:+.4f} over the real data alone."
        )
    if mix["at_search_limit"] and kept > 0.0:
        messages.append(
            "The accuracy still rises at the largest proportion searched: more synthetic data keep helping"
            + (f" (the m -> infinity limit is {infinite:.4f})." if infinite is not None else ".")
        )
    gain_conf = acc_conf - acc_real
    messages.append(
        f"The configured mix (m = {st.m}) {'gains' if gain_conf > NO_GAIN else 'does not gain'}: {gain_conf:+.4f}."
    )
    lo_g, hi_g = cfg.gamma_range
    for name, edge in (("the mix", edge_mix), ("the real data alone", edge_real)):
        if edge:
            messages.append(
                f"The accuracy of {name} is flat (within 1e-6) up to an edge of the gamma range [{lo_g:g}, {hi_g:g}]; "
                "its best gamma may lie beyond it."
            )
    tuned = acc_g - acc_g_real
    messages.append(
        f"With gamma tuned for each, the configured mix {'gains' if tuned > NO_GAIN else 'does not gain'}: "
        f"{acc_g:.4f} against {acc_g_real:.4f} for the real data alone ({tuned:+.4f})."
    )
    if prec["message"]:
        messages.append("Verifier: " + prec["message"])
    if noise["message"] and st.rho + st.phi > 0.0:
        messages.append("Label noise: " + noise["message"])
    precision, recall = precision_recall(st.label_noise, st.rho, st.phi)
    out: dict[str, Any] = {
        "title": cfg.title,
        "setting": point.record(),
        "accuracy_real_only": acc_real,
        "accuracy_configured": acc_conf,
        "gain_configured": gain_conf,
        "synthetic_helps": mix["helps"],
        "best_synthetic_proportion": mix["synthetic_proportion"],
        "best_m": mix["m"],
        "accuracy_best_mix": mix["accuracy"],
        "gain_best_mix": mix["gain"],
        "best_mix_at_search_limit": mix["at_search_limit"],
        "accuracy_infinite_m": infinite,
        "best_gamma": g_best,
        "accuracy_best_gamma": acc_g,
        "best_gamma_real_only": g_real,
        "accuracy_real_only_best_gamma": acc_g_real,
        "gain_tuned_gamma": tuned,
        "best_gamma_at_search_edge": edge_mix,
        "best_gamma_real_only_at_search_edge": edge_real,
        "verifier_precision": float(precision),
        "verifier_recall": float(recall),
        "min_verifier_precision": prec["value"],
        "min_verifier_precision_status": prec["status"],
        "lowest_valid_precision": prec["lowest_valid_precision"],
        "max_label_noise": noise["value"],
        "max_label_noise_status": noise["status"],
        "eps_star": float(eps_star(st.rho, st.phi)),
        "transition_width": trans["width"],
        "transition_eps_25": trans["eps_25"],
        "transition_eps_75": trans["eps_75"],
        "messages": messages,
        "tolerance": {**TOLERANCE, "grid_points": GRID_POINTS},
        "search": {"max_synthetic_proportion": cfg.max_proportion, "gamma_range": list(cfg.gamma_range)},
    }
    if cfg.roc is not None:
        chosen = best_roc_point(model, st, cfg.roc)
        out["best_roc_point"] = chosen
        out["best_roc_point_best_mix"] = best_roc_point_best_mix(model, st, cfg.roc, cfg.max_proportion)
        out["roc_points"] = int(cfg.roc.shape[0])
    if cfg.data is not None:
        out["data"] = cfg.data
    if cfg.data_spec is not None:
        out["accuracies_are_on"] = "the Gaussian fitted to the data (see heldout_prediction for held-out accuracy)"
        out["heldout_prediction"] = heldout_prediction(cfg)
    return json_ready(out)


# ----------------------------------------------------------------------------- held-out prediction

# The paired gap (prediction - measured held-out accuracy) of the default estimator (the
# G-estimator with the cross-fit correction; THEORY.md 13) on the data sets it was measured on:
# 50 random splits, gamma = 0.1, from benchmarks/prediction_targets.md (generated by
# benchmarks/bench_prediction.py, 2026-11-28). "gap" is the mean gap of a single point with its SE;
# "max_abs_gap" the largest |mean gap| over a curve's points (m from 0 to the whole pool, eps =
# 0.2, no verifier and oracle).
MEASURED_PREDICTION_ERRORS: tuple[dict[str, Any], ...] = (
    {"setting": "Amazon books, real only, n = 800", "gap": -0.0033, "se": 0.0034, "target": 0.01, "met": True},
    {"setting": "Amazon kitchen, real only, n = 800", "gap": 0.0038, "se": 0.0036, "target": 0.01, "met": True},
    {"setting": "Amazon electronics, real only, n = 800", "gap": 0.0023, "se": 0.0029, "target": 0.01, "met": True},
    {"setting": "digits 3 vs 8, real only, n = 100", "gap": -0.0080, "se": 0.0038, "target": None, "met": None},
    {"setting": "Amazon kitchen <- electronics, n = 200, m = 0..1998", "max_abs_gap": 0.0335, "target": 0.02,
     "met": False},
    {"setting": "Amazon kitchen <- electronics, n = 400, m = 0..1998", "max_abs_gap": 0.0101, "target": 0.02,
     "met": True},
    {"setting": "Amazon dvd <- books, n = 200, m = 0..2000", "max_abs_gap": 0.0255, "target": 0.02, "met": False},
    {"setting": "Amazon dvd <- books, n = 400, m = 0..2000", "max_abs_gap": 0.0096, "target": 0.02, "met": True},
)
MEASURED_ERRORS_SOURCE = "benchmarks/prediction_targets.md (50 splits, gamma = 0.1)"
PREDICTION_SUBSETS = 20
PLAN_ESTIMATOR_NAMES = {
    "g": "G-estimator with the cross-fit correction (THEORY.md 13.2-13.4)",
    "nls": "nonlinear-shrinkage covariance with debiased quadratic forms and the cross-fit correction",
    "plugin": "plug-in: the accuracy on the Gaussian fitted to the training rows (not a held-out prediction)",
}


def heldout_prediction(cfg: PlanConfig) -> dict[str, Any]:
    """The held-out accuracy predicted from the plan's real rows (and synthetic rows, if given).

    The ridge is imagined trained on n of the real rows (``params.n``; stratified subsets, the
    predictions averaged over them) plus m synthetic rows of the ``synthetic_data`` file, for no
    verifier, an oracle and (when the file says which labels are correct and which rows were kept)
    the file's own verifier. With ``estimator: plugin`` the number is the theory on the Gaussian
    fitted to the training rows, which is not a held-out prediction; the record says so.
    """
    from rmtsynth.data.prediction import predict_heldout
    from rmtsynth.data.protocols import stratified_split
    from rmtsynth.sim.seeding import named_rng
    from rmtsynth.spec.data import load_data
    from rmtsynth.spec.data import load_synthetic_rows

    assert cfg.data_spec is not None
    loaded = load_data(cfg.data_spec)
    X, y = loaded.X, loaded.y
    point = cfg.point
    n = min(int(point.n), loaded.rows)
    estimator = cfg.estimator
    correction = "none" if estimator == "plugin" else "cross-fit"
    pool = None
    verifiers: list[Any] = []
    label_noise = None
    m = 0
    notes: list[str] = []
    if cfg.synthetic_data is not None:
        rows = load_synthetic_rows(cfg.synthetic_data, loaded.p)
        pool = {k: rows[k] for k in ("features", "labels", "label_correct", "kept") if k in rows}
        m = min(int(point.m), int(rows["labels"].size))
        if m < point.m:
            notes.append(f"the synthetic file has {rows['labels'].size} rows, fewer than m = {point.m}: predicted at m = {m}.")
        verifiers = ["none", "oracle", (float(point.rho), float(point.phi))]
        if "label_correct" in pool and "kept" in pool:
            verifiers.append("estimated")
        if "label_correct" not in pool:
            label_noise = float(point.label_noise)
    if n >= loaded.rows:
        subsets = [np.arange(loaded.rows)]
        notes.append(f"n = {point.n} is not below the {loaded.rows} rows of the data: every row is a training row.")
    else:
        rng = named_rng(cfg.seed, "plan held-out prediction subsets")
        subsets = [stratified_split(y, n, rng)[0] for _ in range(PREDICTION_SUBSETS)]
    real_only = []
    names = {v: v if isinstance(v, str) else "configured" for v in verifiers}
    mixes: dict[str, list[float]] = {names[v]: [] for v in verifiers}
    for k, rows_k in enumerate(subsets):
        got = predict_heldout(X[rows_k], y[rows_k], gamma=point.gamma, estimator=estimator, correction=correction,
                              seed=cfg.seed + k)
        real_only.append(float(got["accuracy"][0]))
        for v in verifiers:
            got = predict_heldout(X[rows_k], y[rows_k], synthetic=pool, gamma=point.gamma, m_values=(m,),
                                  label_noise=label_noise, verifier=v, estimator=estimator, correction=correction,
                                  seed=cfg.seed + k)
            mixes[names[v]].append(float(got["accuracy"][0]))
    predicts = ("the accuracy on the Gaussian fitted to the training rows (not a held-out prediction)"
                if estimator == "plugin" else "held-out accuracy on new real rows")
    return {
        "estimator": estimator,
        "estimator_name": PLAN_ESTIMATOR_NAMES[estimator],
        "correction": correction,
        "predicts": predicts,
        "n": n,
        "subsets": len(subsets),
        "accuracy_real_only": float(np.mean(real_only)),
        "accuracy_real_only_se": _subset_se(real_only),
        "m": m,
        "rho": float(point.rho),
        "phi": float(point.phi),
        "synthetic_data": None if cfg.synthetic_data is None else str(cfg.synthetic_data.path.name),
        "accuracy_mix": {v: float(np.mean(a)) for v, a in mixes.items()},
        "accuracy_mix_se": {v: _subset_se(a) for v, a in mixes.items()},
        "expected_error": [dict(e) for e in MEASURED_PREDICTION_ERRORS] if estimator == "g" else [],
        "expected_error_source": MEASURED_ERRORS_SOURCE if estimator == "g" else (
            "not measured for this estimator; the plug-in over-predicts held-out accuracy by 0.11-0.13 on Amazon and "
            "0.028 on digits (THEORY.md 13.1)" if estimator == "plugin" else "not measured for this estimator"),
        "notes": notes,
    }


def _subset_se(values: list[float]) -> float | None:
    """The standard error of the mean over subsets (None for one subset)."""
    return float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else None


def format_heldout_prediction(pred: dict[str, Any]) -> list[str]:
    """The held-out prediction's lines of the plan's text."""
    lines = ["", f"Held-out prediction from the data ({pred['estimator_name']}; estimator: {pred['estimator']}):"]
    lines.append(f"  predicts: {pred['predicts']}")
    subsets = f"averaged over {pred['subsets']} random subsets of n = {pred['n']} rows" if pred["subsets"] > 1 else \
        f"all {pred['n']} rows as training rows"
    def shown(acc: float, se: float | None) -> str:
        return f"{acc:.4f}" + (f" ± {se:.4f}" if se is not None else "")

    lines.append(f"  accuracy, real data only: {shown(pred['accuracy_real_only'], pred['accuracy_real_only_se'])} ({subsets})")
    for v, acc in pred["accuracy_mix"].items():
        name = {"none": "no verifier", "oracle": "oracle", "estimated": "the file's verifier (rates from its flags)",
                "configured": f"the configured verifier (rho {pred['rho']:.4g}, phi {pred['phi']:.4g})"}.get(v, v)
        lines.append(f"  accuracy, n = {pred['n']} + m = {pred['m']} synthetic rows ({pred['synthetic_data']}), {name}: "
                     f"{shown(acc, pred['accuracy_mix_se'][v])}")
    for note in pred["notes"]:
        lines.append(f"  note: {note}")
    if pred["expected_error"]:
        lines.append(f"  expected error (prediction - measured, from {pred['expected_error_source']}):")
        for e in pred["expected_error"]:
            shown = f"gap {e['gap']:+.4f} ± {e['se']:.4f}" if "gap" in e else f"max |gap| {e['max_abs_gap']:.4f}"
            status = "" if e["met"] is None else (f"  (target {e['target']:g}: " + ("met)" if e["met"] else "MISSED)"))
            lines.append(f"    {e['setting']:<52s} {shown}{status}")
    else:
        lines.append(f"  expected error: {pred['expected_error_source']}")
    return lines


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.{digits}g}"
        return f"{v:.{digits}f}"
    return str(v)


def format_plan(res: dict[str, Any]) -> str:
    """The plan as a readable text table."""
    s = res["setting"]
    lines = []
    if res.get("title"):
        lines += [res["title"], ""]
    if "data" in res:
        d = res["data"]
        lines.append(
            f"data: {d['source']}: {d['rows']} rows ({d['n_pos']} + {d['n_neg']}), p = {d['p']}"
            + (f" ({d['constant_features_dropped']} constant features dropped)" if d["constant_features_dropped"] else "")
            + f", ||mu|| = {d['mu_norm']:.4g} (bias-corrected from {d['mu_norm_raw']:.4g}; noise scaled to unit average variance)"
        )
    lines.append(
        f"setting: n = {s['n']}, p = {s['p']}, ||mu|| = {s['mu_norm']:.4g}, gamma = {s['gamma']:.4g}, label noise = "
        f"{s['label_noise']:.4g}, generator: alignment {s['generator_alignment']:.4g}, shift {s['generator_shift']:.4g}, "
        f"covariance {s['covariance']}"
        + (f" (n_hat = {s['n_hat']})" if s.get("n_hat") else "")
    )
    lines.append(
        f"verifier: rho = {s['rho']:.4g}, phi = {s['phi']:.4g} (precision {res['verifier_precision']:.4g}, recall "
        f"{res['verifier_recall']:.4g}); configured mix m = {s['m']} (proportion {s['m'] / (s['n'] + s['m']):.4g})"
    )
    lines.append("")
    if "heldout_prediction" in res:
        lines.append("Theory on the Gaussian fitted to the data (the accuracies below are on that Gaussian, not held-out; "
                     "the held-out prediction follows the table):")
    rows = [
        ("accuracy, real data only", res["accuracy_real_only"]),
        ("accuracy, configured mix", res["accuracy_configured"]),
        ("  gain", res["gain_configured"]),
        ("best synthetic proportion", res["best_synthetic_proportion"]),
        ("best m", res["best_m"]),
        ("accuracy, best mix", res["accuracy_best_mix"]),
        ("  gain", res["gain_best_mix"]),
        ("accuracy, m -> infinity", res["accuracy_infinite_m"]),
        ("best gamma (configured mix)", res["best_gamma"]),
        ("accuracy at best gamma", res["accuracy_best_gamma"]),
        ("best gamma (real data only)", res["best_gamma_real_only"]),
        ("accuracy at that gamma", res["accuracy_real_only_best_gamma"]),
        ("min verifier precision", res["min_verifier_precision"]),
        ("  lowest possible precision", res["lowest_valid_precision"]),
        ("max label noise", res["max_label_noise"]),
        ("eps* (precision = 1/2)", res["eps_star"]),
        ("transition width (eps_75 - eps_25)", res["transition_width"]),
    ]
    if "best_roc_point" in res:
        b = res["best_roc_point"]
        rows.append(
            (
                "best ROC point (configured mix)",
                f"#{b['index']}: fpr {b['rho']:.4g}, tpr {b['phi']:.4g}, precision {b['precision']:.4g}, accuracy {b['accuracy']:.4f}",
            )
        )
        b = res["best_roc_point_best_mix"]
        rows.append(
            (
                "best ROC point (best mix)",
                f"#{b['index']}: fpr {b['rho']:.4g}, tpr {b['phi']:.4g}, proportion {b['synthetic_proportion']:.4g} "
                f"(m = {b['m']}), accuracy {b['accuracy']:.4f}",
            )
        )
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        shown = value if isinstance(value, str) else _fmt(value)
        lines.append(f"  {key:<{width}}  {shown}")
    if "heldout_prediction" in res:
        lines += format_heldout_prediction(res["heldout_prediction"])
    lines.append("")
    lines += res["messages"]
    tol = res["tolerance"]
    lines.append(
        f"(theory only; grids of {tol['grid_points']} points refined to tolerances: proportion {tol['synthetic_proportion']:g}, "
        f"log10 gamma {tol['log10_gamma']:g}, precision {tol['verifier_precision']:g}, label noise {tol['label_noise']:g})"
    )
    return "\n".join(lines)


__all__ = [
    "AccuracyModel",
    "best_gamma",
    "best_mix",
    "best_roc_point",
    "best_roc_point_best_mix",
    "format_heldout_prediction",
    "format_plan",
    "heldout_prediction",
    "max_label_noise",
    "min_verifier_precision",
    "model_for_point",
    "model_for_spectrum",
    "run_plan",
    "setting_of",
    "transition",
]
