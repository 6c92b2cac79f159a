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

The planner's input is read and validated, and its accuracy model built, by :mod:`rmtsynth.config.plan_config`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, NamedTuple

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from rmtsynth.core.learners import HELDOUT_PREDICTION, get_learner
from rmtsynth.core.model import Mix
from rmtsynth.core.verifiers import LabelVerifier
from rmtsynth.core.verifiers.rates import eps_star, keep_rate, min_precision, precision_recall
from rmtsynth.engine.plan_heldout import heldout_plan, heldout_prediction
from rmtsynth.engine.plan_report import (
    format_heldout_prediction,
    format_plan,
    noise_message,
    plan_messages,
    precision_message,
)
from rmtsynth.errors import RmtsynthError
from rmtsynth.io.output import json_ready
from rmtsynth.config.plan_config import AccuracyModel, PlanConfig, model_for_point, model_for_spectrum
from rmtsynth.config.resolve import ResolvedPoint

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

# AccuracyModel, model_for_point and model_for_spectrum come from rmtsynth.config.plan_config, where
# the plan config is read (the best ROC point is chosen there); they are re-exported here, as are
# the text formatting (rmtsynth.engine.plan_report) and the held-out prediction
# (rmtsynth.engine.plan_heldout).


# ----------------------------------------------------------------------------- results


class _Record:
    """A planner result whose fields are keys of the plan's JSON."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class BestMix(_Record):
    """The synthetic proportion with the highest accuracy (0 when no proportion gains)."""

    helps: bool
    synthetic_proportion: float
    m: int
    accuracy: float
    gain: float
    at_search_limit: bool


class BestGamma(NamedTuple):
    """The ridge parameter with the highest accuracy; ``at_edge``: the accuracy is flat up to an end of the range."""

    gamma: float
    accuracy: float
    at_edge: bool


@dataclass(frozen=True)
class PrecisionThreshold(_Record):
    """The lowest verifier precision at which the mix still gains (None where there is none), and why."""

    value: float | None
    recall: float
    lowest_valid_precision: float | None
    status: str
    message: str


@dataclass(frozen=True)
class NoiseThreshold(_Record):
    """The highest label noise at which the mix still gains (None where there is none), and why."""

    value: float | None
    status: str
    message: str


@dataclass(frozen=True)
class Transition(_Record):
    """The label-noise transition: eps_0.25, eps_0.75, their distance and the accuracy at eps = 0 and 1."""

    width: float | None = None
    eps_25: float | None = None
    eps_75: float | None = None
    accuracy_eps_0: float | None = None
    accuracy_eps_1: float | None = None


@dataclass(frozen=True)
class RocPoint(_Record):
    """An ROC point (rho = fpr, phi = tpr) of the verifier, with the accuracy and gain it gives."""

    index: int
    rho: float
    phi: float
    precision: float
    recall: float
    accuracy: float
    gain: float


@dataclass(frozen=True)
class RocPointMix(RocPoint):
    """An ROC point with the best synthetic proportion for it."""

    synthetic_proportion: float = 0.0
    m: int = 0


# ----------------------------------------------------------------------------- searches


# The searches evaluate every k-th grid point first (k about sqrt(size), both ends included), then
# the whole grid only inside the coarse cells that hold the answer: about 3 sqrt(size) points instead
# of size. The answer is the full grid's unless a feature of the curve is narrower than a coarse
# cell (a second peak or a sign change the coarse points step over). With BRACKET off every grid
# point is evaluated, as the reference.
BRACKET = True


class _LazyGrid:
    """A function's values on a grid, evaluated vectorised on the points asked for, each once."""

    def __init__(self, f: Callable[[np.ndarray], np.ndarray], grid: np.ndarray) -> None:
        self.f, self.grid = f, grid
        self.values = np.full(grid.size, np.nan)
        self.known = np.zeros(grid.size, dtype=bool)
        stride = max(1, math.isqrt(grid.size - 1) + 1) if BRACKET else 1
        self.coarse = np.unique(np.append(np.arange(0, grid.size, stride), grid.size - 1))
        self.fill(self.coarse)

    def fill(self, idx: np.ndarray) -> None:
        """Evaluate the points ``idx`` not yet known, in one call."""
        todo = idx[~self.known[idx]]
        if todo.size:
            self.values[todo] = self.f(self.grid[todo])
            self.known[todo] = True

    def cell(self, j: int) -> np.ndarray:
        """The grid indices from coarse point j to coarse point j + 1 (clipped to the coarse points), evaluated."""
        lo, hi = self.coarse[max(j, 0)], self.coarse[min(j + 1, self.coarse.size - 1)]
        idx = np.arange(lo, hi + 1)
        self.fill(idx)
        return idx


def _best_index(lazy: _LazyGrid) -> int:
    """The index of the grid's highest value (first of ties), searched near the best coarse point."""
    coarse = lazy.values[lazy.coarse]
    if not np.any(np.isfinite(coarse)):
        lazy.fill(np.arange(lazy.grid.size))  # nothing finite on the coarse points: look everywhere
        if not np.any(np.isfinite(lazy.values)):
            raise RmtsynthError("The theory gave no finite accuracy on the search grid.")
        return int(np.nanargmax(lazy.values))
    j = int(np.nanargmax(coarse))
    idx = np.union1d(lazy.cell(j - 1), lazy.cell(j))
    return int(idx[np.nanargmax(lazy.values[idx])])


def _maximise(f: Callable[[np.ndarray], np.ndarray], grid: np.ndarray, xtol: float) -> tuple[float, float]:
    """Maximum of f over [grid[0], grid[-1]]: the best grid point, refined between its neighbours."""
    lazy = _LazyGrid(f, grid)
    k = _best_index(lazy)
    best_x, best_f = float(grid[k]), float(lazy.values[k])
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
    """The accuracy of the n real samples alone (m = 0), at the mix's gamma or the one given."""
    g = st.gamma if gamma is None else gamma
    return float(model(Mix(st.n, 0.0, st.label_noise, st.rho, st.phi, g)))


def best_mix(model: AccuracyModel, st: Mix, max_proportion: float) -> BestMix:
    """The synthetic proportion s* in [0, s_max] that maximises the accuracy, and the accuracy there."""
    n = st.n

    def f(s):
        return model(Mix(n, m_of_proportion(s, n), st.label_noise, st.rho, st.phi, st.gamma))

    base = real_only_accuracy(model, st)
    s_best, acc_best = _maximise(f, proportion_grid(max_proportion), TOLERANCE["synthetic_proportion"])
    helps = acc_best - base > NO_GAIN
    if not helps:
        s_best, acc_best = 0.0, base
    return BestMix(
        helps=bool(helps),
        synthetic_proportion=s_best,
        m=integer_m(s_best, n) if helps else 0,
        accuracy=acc_best,
        gain=acc_best - base,
        at_search_limit=bool(helps and s_best >= max_proportion - 1e-6),
    )


def best_gamma(
    model: AccuracyModel, st: Mix, gamma_range: tuple[float, float], *, real_only: bool = False
) -> BestGamma:
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
    return BestGamma(10.0**t, acc, bool(np.nanmax(ends) >= acc - 1e-6))


def rho_for_precision(eps: float, precision, recall: float) -> np.ndarray:
    """rho = R (1 - eps)(1 - P) / (P eps): the false-positive rate of precision P at recall R."""
    precision = np.asarray(precision, dtype=float)
    return np.clip(recall * (1.0 - eps) * (1.0 - precision) / (precision * eps), 0.0, 1.0)


def _sign_changes(lazy: _LazyGrid) -> int:
    """Sign changes of f > NO_GAIN along the evaluated points."""
    positive = lazy.values[lazy.known] > NO_GAIN
    return int(np.count_nonzero(positive[1:] != positive[:-1]))


def _threshold_above(
    f: Callable[[np.ndarray], np.ndarray], grid: np.ndarray, xtol: float
) -> tuple[float | None, str, bool]:
    """Where f > 0 holds on the upper part of the grid: (threshold, status, monotone).

    status is ``everywhere`` (f > 0 on the whole grid: threshold = grid[0]), ``nowhere`` (f <= 0 at
    the top: threshold None) or ``crossing`` (the root, by brentq, of the highest sign change).
    """
    lazy = _LazyGrid(f, grid)
    positive = lazy.values[lazy.coarse] > NO_GAIN
    if not positive[-1]:
        return None, "nowhere", _sign_changes(lazy) == 0
    if positive.all():
        return float(grid[0]), "everywhere", True
    cell = lazy.cell(int(np.flatnonzero(~positive)[-1]))
    k = int(cell[np.flatnonzero(~(lazy.values[cell] > NO_GAIN))[-1]])
    root = _root(lambda x: float(f(np.array([x]))[0]) - NO_GAIN, float(grid[k]), float(grid[k + 1]), xtol)
    return root, "crossing", _sign_changes(lazy) == 1


def _threshold_below(
    f: Callable[[np.ndarray], np.ndarray], grid: np.ndarray, xtol: float
) -> tuple[float | None, str, bool]:
    """Mirror of :func:`_threshold_above`: the sup of {x : f(x) > 0} on the grid."""
    lazy = _LazyGrid(f, grid)
    positive = lazy.values[lazy.coarse] > NO_GAIN
    if not positive.any():
        return None, "nowhere", True
    if positive[-1]:
        return float(grid[-1]), "everywhere" if positive.all() else "at_end", _sign_changes(lazy) == 0
    cell = lazy.cell(int(np.flatnonzero(positive)[-1]))
    k = int(cell[np.flatnonzero(lazy.values[cell] > NO_GAIN)[-1]])
    root = _root(lambda x: float(f(np.array([x]))[0]) - NO_GAIN, float(grid[k]), float(grid[k + 1]), xtol)
    return root, "crossing", _sign_changes(lazy) == 1 and bool(positive[0])


def min_verifier_precision(model: AccuracyModel, st: Mix) -> PrecisionThreshold:
    """The lowest precision (at the configured recall and label noise) at which the mix still gains."""
    recall, eps = st.phi, st.label_noise
    if st.m == 0:
        status = "no_mix"
    elif eps == 0.0:
        status = "no_label_noise"
    elif recall == 0.0:
        status = "no_recall"
    elif eps == 1.0:
        status = "all_labels_wrong"
    else:
        status = ""
    if status:
        return PrecisionThreshold(None, recall, None, status, precision_message(status, None, recall, None))
    p_lo = float(min_precision(eps, recall))
    base = real_only_accuracy(model, st)

    def gain(P):
        return model(Mix(st.n, st.m, eps, rho_for_precision(eps, P, recall), recall, st.gamma)) - base

    grid = np.linspace(p_lo, 1.0, GRID_POINTS)
    value, status, monotone = _threshold_above(gain, grid, TOLERANCE["verifier_precision"])
    return PrecisionThreshold(value, recall, p_lo, status, precision_message(status, value, recall, p_lo, monotone))


def max_label_noise(model: AccuracyModel, st: Mix) -> NoiseThreshold:
    """The highest label noise at which the mix still gains, with the verifier's (rho, phi) fixed."""
    if st.m == 0:
        return NoiseThreshold(None, "no_mix", noise_message("no_mix", None))
    base = real_only_accuracy(model, st)

    def gain(e):
        return model(Mix(st.n, st.m, e, st.rho, st.phi, st.gamma)) - base

    grid = np.linspace(0.0, 1.0, GRID_POINTS)
    value, status, monotone = _threshold_below(gain, grid, TOLERANCE["label_noise"])
    return NoiseThreshold(value, status, noise_message(status, value, monotone))


def transition(model: AccuracyModel, st: Mix) -> Transition:
    """The label-noise transition of the configured mix: eps_0.25, eps_0.75 and their distance.

    A(eps) is the accuracy with (rho, phi) fixed; eps_q is the smallest eps where A has covered
    the fraction q of its total change A(0) - A(1). Width = eps_0.75 - eps_0.25.
    """
    if st.m == 0:
        return Transition()

    def acc(e):
        return model(Mix(st.n, st.m, e, st.rho, st.phi, st.gamma))

    grid = np.linspace(0.0, 1.0, GRID_POINTS)
    lazy = _LazyGrid(acc, grid)
    a0, a1 = float(lazy.values[0]), float(lazy.values[-1])
    if abs(a0 - a1) < 1e-9:
        return Transition(accuracy_eps_0=a0, accuracy_eps_1=a1)
    eps_q = []
    for q in (0.25, 0.75):
        level = a0 - q * (a0 - a1)
        # Signed so that the function is >= 0 before the crossing, whichever way A moves.
        below = np.sign(a0 - a1) * (lazy.values[lazy.coarse] - level) <= 0
        j = int(np.flatnonzero(below)[0])
        cell = lazy.cell(j - 1) if j > 0 else np.array([0])
        k = int(cell[np.flatnonzero(np.sign(a0 - a1) * (lazy.values[cell] - level) <= 0)[0]])
        if k == 0:
            eps_q.append(0.0)
            continue
        eps_q.append(_root(lambda e: float(np.sign(a0 - a1) * (acc(np.array([e]))[0] - level)), float(grid[k - 1]), float(grid[k]), TOLERANCE["label_noise"]))
    eps_25, eps_75 = eps_q
    return Transition(eps_75 - eps_25, eps_25, eps_75, a0, a1)


def roc_accuracies(model: AccuracyModel, st: Mix, roc: np.ndarray, m=None) -> np.ndarray:
    """The accuracy of every ROC point (rho = fpr, phi = tpr) at the mix m (default: configured), vectorised."""
    m = st.m if m is None else m
    return model(Mix(st.n, m, st.label_noise, roc[:, 0], roc[:, 1], st.gamma))


def best_roc_point(model: AccuracyModel, st: Mix, roc: np.ndarray) -> RocPoint:
    """The ROC threshold that maximises the accuracy at the configured mix (first of ties)."""
    acc = roc_accuracies(model, st, roc)
    k = int(np.nanargmax(acc))
    return RocPoint(**_roc_fields(roc, k, st.label_noise, float(acc[k]), real_only_accuracy(model, st)))


def best_roc_point_best_mix(model: AccuracyModel, st: Mix, roc: np.ndarray, max_proportion: float) -> RocPointMix:
    """The (ROC point, proportion) pair with the highest accuracy: a coarse joint grid, then refined."""
    s = proportion_grid(max_proportion, ROC_MIX_GRID)
    acc = model(Mix(st.n, m_of_proportion(s, st.n)[None, :], st.label_noise, roc[:, 0:1], roc[:, 1:2], st.gamma))
    k = int(np.nanargmax(np.nanmax(acc, axis=1)))
    chosen = st.with_verifier(LabelVerifier.from_roc(roc, k))
    mix = best_mix(model, chosen, max_proportion)
    fields = _roc_fields(roc, k, st.label_noise, mix.accuracy, real_only_accuracy(model, st))
    return RocPointMix(**fields, synthetic_proportion=mix.synthetic_proportion, m=mix.m)


def _roc_fields(roc: np.ndarray, k: int, eps: float, acc: float, base: float) -> dict[str, Any]:
    verifier = LabelVerifier.from_roc(roc, k)
    rho, phi = verifier.label_rates()
    precision, recall = verifier.precision_recall(eps)
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


def infinite_m_accuracy(model: AccuracyModel, st: Mix) -> float | None:
    """The m -> infinity limit of the accuracy (THEORY.md section 12); None without a fixed spectrum."""
    if model.spectrum is None:
        return None
    from rmtsynth.core.closed_forms import infinite_sample_accuracy

    return float(infinite_sample_accuracy(model.spectrum, st.label_noise, st.rho, st.phi, st.gamma))


def run_plan(cfg: PlanConfig, diagnostics: bool = False) -> dict[str, Any]:
    """Every number of the plan, as a JSON-ready mapping.

    With ``data:`` every answer is on the held-out predictor (:func:`heldout_plan`), one estimator.
    ``diagnostics`` adds, under ``diagnostics``, the answers on the Gaussian fitted to the data
    (``fitted_gaussian``) and a second held-out estimator evaluated directly at the configured
    n and m (``heldout_prediction``), each labelled: for comparison only, never the answer.
    """
    if cfg.point.verifier.feature_aware:
        from rmtsynth.engine.feature_plan import run_feature_plan

        return run_feature_plan(cfg)
    st = setting_of(cfg.point)
    if cfg.data_spec is None:
        return json_ready(_plan_answers(cfg, cfg.model, st))
    if cfg.roc is not None:
        from rmtsynth.engine.plan_heldout import heldout_model, heldout_rows

        held = heldout_model(cfg, *heldout_rows(cfg))[0]
        st = st.with_verifier(LabelVerifier.from_roc(cfg.roc, best_roc_point(held, st, cfg.roc).index))
    out = heldout_plan(cfg, _plan_answers, st)
    if diagnostics:
        fitted = _plan_answers(cfg, cfg.model, setting_of(cfg.point))
        out["diagnostics"] = {
            "fitted_gaussian": {"label": DIAGNOSTIC_LABELS["fitted_gaussian"]} | {
                k: v for k, v in fitted.items() if k not in ("data", "heldout_prediction", "title")},
        }
        if "heldout_prediction" in fitted:
            out["diagnostics"]["heldout_prediction"] = ({"label": DIAGNOSTIC_LABELS["heldout_prediction"]}
                                                        | fitted["heldout_prediction"])
    return json_ready(out)


#: What each diagnostic of a plan with data is, printed beside it.
DIAGNOSTIC_LABELS = {
    "fitted_gaussian": "diagnostic: the theory on the Gaussian fitted to the rows (not held-out accuracy; too "
                       "optimistic by about the gap between its real-only answer and the plan's)",
    "heldout_prediction": "diagnostic: a second held-out estimator evaluated directly at the configured n and m "
                          "(the plan's answers do not use it)",
}


def _plan_answers(cfg: PlanConfig, model: AccuracyModel, st: Mix) -> dict[str, Any]:
    """Every answer of the plan on one accuracy model."""
    point = cfg.point
    acc_real = real_only_accuracy(model, st)
    acc_conf = float(model(Mix(st.n, st.m, st.label_noise, st.rho, st.phi, st.gamma)))
    mix = best_mix(model, st, cfg.max_proportion)
    tuned = best_gamma(model, st, cfg.gamma_range)
    tuned_real = best_gamma(model, st, cfg.gamma_range, real_only=True)
    prec = min_verifier_precision(model, st)
    noise = max_label_noise(model, st)
    trans = transition(model, st)
    infinite = infinite_m_accuracy(model, st)
    gain_conf = acc_conf - acc_real
    messages = plan_messages(
        st,
        kept=float(keep_rate(st.label_noise, st.rho, st.phi)),
        mix=mix,
        infinite=infinite,
        gain_configured=gain_conf,
        configured_gains=gain_conf > NO_GAIN,
        gamma_range=cfg.gamma_range,
        tuned=tuned,
        tuned_real=tuned_real,
        tuned_gains=tuned.accuracy - tuned_real.accuracy > NO_GAIN,
        precision=prec,
        noise=noise,
    )
    precision, recall = precision_recall(st.label_noise, st.rho, st.phi)
    out: dict[str, Any] = {
        "title": cfg.title,
        "setting": point.record(),
        "accuracy_real_only": acc_real,
        "accuracy_configured": acc_conf,
        "gain_configured": gain_conf,
        "synthetic_helps": mix.helps,
        "best_synthetic_proportion": mix.synthetic_proportion,
        "best_m": mix.m,
        "accuracy_best_mix": mix.accuracy,
        "gain_best_mix": mix.gain,
        "best_mix_at_search_limit": mix.at_search_limit,
        "accuracy_infinite_m": infinite,
        "best_gamma": tuned.gamma,
        "accuracy_best_gamma": tuned.accuracy,
        "best_gamma_real_only": tuned_real.gamma,
        "accuracy_real_only_best_gamma": tuned_real.accuracy,
        "gain_tuned_gamma": tuned.accuracy - tuned_real.accuracy,
        "best_gamma_at_search_edge": tuned.at_edge,
        "best_gamma_real_only_at_search_edge": tuned_real.at_edge,
        "verifier_precision": float(precision),
        "verifier_recall": float(recall),
        "min_verifier_precision": prec.value,
        "min_verifier_precision_status": prec.status,
        "lowest_valid_precision": prec.lowest_valid_precision,
        "max_label_noise": noise.value,
        "max_label_noise_status": noise.status,
        "eps_star": float(eps_star(st.rho, st.phi)),
        "transition_width": trans.width,
        "transition_eps_25": trans.eps_25,
        "transition_eps_75": trans.eps_75,
        "messages": messages,
        "tolerance": {**TOLERANCE, "grid_points": GRID_POINTS},
        "search": {"max_synthetic_proportion": cfg.max_proportion, "gamma_range": list(cfg.gamma_range)},
    }
    out.update(_roc_and_data(cfg, model, st))
    return out


def _roc_and_data(cfg: PlanConfig, model: AccuracyModel, st: Mix) -> dict[str, Any]:
    """The plan's keys for a verifier given by its ROC curve and for real data, when the config has them."""
    out: dict[str, Any] = {}
    if cfg.roc is not None:
        out["best_roc_point"] = best_roc_point(model, st, cfg.roc).to_dict()
        out["best_roc_point_best_mix"] = best_roc_point_best_mix(model, st, cfg.roc, cfg.max_proportion).to_dict()
        out["roc_points"] = int(cfg.roc.shape[0])
    if cfg.data is not None:
        out["data"] = cfg.data
    if cfg.data_spec is not None and model is cfg.model:
        out["accuracies_are_on"] = "the Gaussian fitted to the data (not held-out accuracy)"
        # The direct estimators are ridge's; another learner's plan has no second estimator to show.
        if get_learner(cfg.point.learner).supports(HELDOUT_PREDICTION):
            out["heldout_prediction"] = heldout_prediction(cfg).to_dict()
    return out


__all__ = [
    "AccuracyModel",
    "BestGamma",
    "BestMix",
    "NoiseThreshold",
    "PrecisionThreshold",
    "RocPoint",
    "RocPointMix",
    "Transition",
    "best_gamma",
    "best_mix",
    "best_roc_point",
    "best_roc_point_best_mix",
    "format_heldout_prediction",
    "format_plan",
    "heldout_plan",
    "heldout_prediction",
    "max_label_noise",
    "min_verifier_precision",
    "model_for_point",
    "model_for_spectrum",
    "run_plan",
    "setting_of",
    "transition",
]
