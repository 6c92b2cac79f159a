"""Planner inputs: reading and validating a plan config, and estimating a setting from real data.

A plan config gives one setting in the sweep configs' parameter names (``params``; single
values only, the mix required), or a verifier as ROC points (``verifier_roc``), optionally real
data to estimate p and ||mu|| (and the noise spectrum) from (``data``, one entry of the data
vocabulary that figure configs use, :mod:`rmtsynth.config.data`), and the search ranges
(``search``). Every key is declared in :mod:`rmtsynth.config.schema`. See
:mod:`rmtsynth.engine.planner` for what is computed from it.

The accuracy model of the setting (the theory's accuracy as a vectorised function) is built here,
from the data model's parameters, so that the best ROC point can be chosen while the config is
read; the planner imports it from this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from rmtsynth.core.learners import (CALIBRATED_HELDOUT, DEFAULT_LEARNER, HELDOUT_PREDICTION, INFINITE_SAMPLE_LIMIT, LEARNERS,
                                     SPECTRUM_THEORY, get_learner)
from rmtsynth.core.model import Mix
from rmtsynth.core.theory import Spectrum
from rmtsynth.core.verifiers import LABEL_PROTOCOLS, THEORY, LabelVerifier
from rmtsynth.errors import ConfigError, RmtsynthError
from rmtsynth.sim.geometry import placed_model
from rmtsynth.config.figure_config import _check_param_values, apply_overrides, read_config_file
from rmtsynth.config.data import DataSpec, SyntheticDataSpec, load_data, parse_data_entry, parse_synthetic_data
from rmtsynth.config.resolve import ResolvedPoint, resolve_point
from rmtsynth.config.schema import PLAN_SECTIONS, PLAN_TOP_LEVEL, _show, unknown_key
from rmtsynth.config.schema import TOP_LEVEL as TOP_LEVEL_FIGURE
from rmtsynth.data.estimators import varying_features
from rmtsynth.data.validation import check_rows_per_class

TOP_LEVEL = PLAN_TOP_LEVEL
SEARCH_KEYS = PLAN_SECTIONS["search"].keys
SEARCH_DEFAULTS: dict[str, Any] = {key: p.default for key, p in SEARCH_KEYS.items()}
VERIFIER_KEYS = ("verifier", "rho", "phi", "verifier_precision", "verifier_recall")
MAX_ROC_POINTS = 1000
# Rows of each class the plan's held-out predictor needs: its jackknife subsets set a fifth of the
# rows aside and the leave-one-out on each must still leave two rows of a class.
HELDOUT_ROWS_PER_CLASS = 3
# The folds of the cross-fit correction that the direct held-out prediction uses with synthetic rows.
HELDOUT_FOLDS = 5
PLAN_ESTIMATORS = ("g", "nls", "plugin")

AccuracyFn = Callable[[Mix], np.ndarray]


# ----------------------------------------------------------------------------- the model


@dataclass
class AccuracyModel:
    """The theory's signed accuracy as a vectorised function of the mix.

    ``spectrum`` is the fixed eigen-data, when the generator has one (it gives the m -> infinity
    limit); it is None for an estimated covariance, whose C is random.
    """

    accuracy: AccuracyFn
    spectrum: Spectrum | None = None

    def __call__(self, mix: Mix) -> np.ndarray:
        return np.asarray(self.accuracy(mix), dtype=float)


def model_for_point(point: ResolvedPoint, *, seed: int = 0) -> AccuracyModel:
    """The accuracy model of a resolved point's generator (as the sweep engine evaluates it)."""
    gen = point.generator
    if gen.covariance.estimate_mean:
        raise ConfigError(
            "params.estimate_generator_mean is not supported by plan: the closed-form theory does not cover a "
            "generator mean estimated from the same samples as its covariance."
        )
    model = placed_model(gen, seed)
    learner = get_learner(point.learner)

    def acc(mix: Mix) -> np.ndarray:
        return learner.theory(model, mix).accuracy

    # The m -> infinity limit (the spectrum's use) is a closed form only for the learners that have one.
    limit = gen.covariance.kind != "estimated" and learner.supports(INFINITE_SAMPLE_LIMIT)
    return AccuracyModel(acc, model.spectrum if limit else None)


def model_for_spectrum(spectrum: Spectrum, learner: str = DEFAULT_LEARNER) -> AccuracyModel:
    """The accuracy model of explicit eigen-data (e.g. a spectrum fitted to real data)."""
    chosen = get_learner(learner)
    refusal = chosen.refusal(SPECTRUM_THEORY)
    if refusal is not None:
        raise ConfigError(f"params.learner = {chosen.name}: {refusal}")

    def acc(mix: Mix) -> np.ndarray:
        return chosen.theory_on_spectrum(spectrum, mix).accuracy

    return AccuracyModel(acc, spectrum if chosen.supports(INFINITE_SAMPLE_LIMIT) else None)


def best_roc_index(model: AccuracyModel, point: ResolvedPoint, roc: np.ndarray) -> int:
    """The ROC point (rho = fpr, phi = tpr) with the highest accuracy at the point's mix (first of ties)."""
    acc = model(Mix(point.n, point.m, point.label_noise, roc[:, 0], roc[:, 1], point.gamma))
    return int(np.nanargmax(acc))


# ----------------------------------------------------------------------------- config


@dataclass
class PlanConfig:
    """A validated planner input."""

    title: str
    description: str
    seed: int
    point: ResolvedPoint
    model: AccuracyModel
    roc: np.ndarray | None
    max_proportion: float
    gamma_range: tuple[float, float]
    data: dict[str, Any] | None = None
    source: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    data_spec: DataSpec | None = None
    synthetic_data: SyntheticDataSpec | None = None
    estimator: str = "g"


def load_plan(path: str | Path, overrides: Sequence[str] = ()) -> PlanConfig:
    """Read and validate a planner config file, with ``key=value`` overrides (a bare key is a param)."""
    path = Path(path)
    text, data = read_plan_file(path, overrides)
    return parse_plan(data, base_dir=path.resolve().parent, source=text)


def read_plan_file(path: str | Path, overrides: Sequence[str] = ()) -> tuple[str, Any]:
    """The text and the mapping of a planner config after its overrides."""
    text, data = read_config_file(path)
    if overrides:
        if not isinstance(data, dict):
            raise ConfigError(f"The config file {path} must be a mapping of keys to values.")
        data = apply_overrides(data, list(overrides), top_level=PLAN_TOP_LEVEL)
    return text, data


def is_plan_config(path: str | Path) -> bool:
    """Whether a config file is a planner input: it lives in a ``plan`` folder or has a plan-only key."""
    path = Path(path)
    if path.parent.name == "plan":
        return True
    if not path.is_file():
        return False
    try:
        _, data = read_config_file(path)
    except RmtsynthError:
        return False
    figure_keys = set(TOP_LEVEL_FIGURE)
    return isinstance(data, dict) and any(key in PLAN_TOP_LEVEL and key not in figure_keys for key in data)


def parse_plan(data: dict[str, Any], *, base_dir: Path, source: str = "") -> PlanConfig:
    """Validate a planner mapping: keys, types and ranges, then resolve the setting."""
    for key in data:
        if not isinstance(key, str) or key not in TOP_LEVEL:
            raise unknown_key(str(key), "", list(TOP_LEVEL))
    title, description, seed = _plan_header(data)
    params = _plan_params(data.get("params"))
    search = _parse_search(data.get("search"))
    roc = _parse_roc(data.get("verifier_roc"))
    if roc is not None:
        given = [k for k in VERIFIER_KEYS if k in params]
        if given:
            raise ConfigError(f"The verifier is given twice (verifier_roc and params.{given[0]}); give only one form.")
        # A placeholder verifier to resolve the sizes; the chosen ROC point replaces it below.
        params["rho"], params["phi"] = float(roc[0, 0]), float(roc[0, 1])

    data_info = None
    spectrum_model = None
    data_spec = None
    if data.get("data") is not None:
        data_spec = parse_data_entry(data["data"], "data", base_dir, use="plan")
        data_info, spectrum_model, params = _apply_data(data_spec, params, seed)
    synthetic, estimator = _heldout_inputs(data, base_dir, data_spec)
    _check_one_verifier(synthetic, params, roc)
    if synthetic is not None and data_info is not None:
        width = data_info["p"] + data_info["constant_features_dropped"]
        if width > MAX_POOL_FEATURES:
            raise ConfigError(f"synthetic_data with data ({data_info['source']}, {width} features): the mix is predicted "
                              f"with dense p x p matrices, which is limited to {MAX_POOL_FEATURES} features; plan the "
                              "real rows alone (leave synthetic_data out), whose cost follows min(n, p).")

    point = resolve_point(params, base_dir, "params", seed=seed)
    if point.n < 1:
        raise ConfigError("params.n = 0: plan compares a mix with the real data alone, so it needs n >= 1 real samples.")
    if point.m < 1:
        raise ConfigError(
            f"The configured mix has m = {point.m} synthetic samples; give the mix you are considering with m >= 1 "
            "(plan also finds the best one)."
        )
    _check_learner_is_covered(point, data_spec, roc, synthetic)
    if synthetic is not None and data_info is not None:
        _check_fold_rows(data_info, int(point.n))
    model = spectrum_model or model_for_point(point, seed=seed)
    if data_info is not None and data_info.get("generator_covariance") == "fitted":
        point = point.replace(covariance="fitted")
    if roc is not None:
        k = best_roc_index(model, point, roc)
        verifier = LabelVerifier.from_roc(roc, k)
        rho, phi = verifier.label_rates()
        precision, recall = verifier.precision_recall(point.label_noise)
        point = point.replace(rho=rho, phi=phi, verifier_precision=float(precision), verifier_recall=float(recall))
    return PlanConfig(
        title=str(title),
        description=str(description),
        seed=seed,
        point=point,
        model=model,
        roc=roc,
        max_proportion=search["max_synthetic_proportion"],
        gamma_range=tuple(search["gamma_range"]),  # type: ignore[arg-type]
        data=data_info,
        source=source,
        raw=data,
        data_spec=data_spec,
        synthetic_data=synthetic,
        estimator=estimator,
    )


def _check_fold_rows(data_info: dict[str, Any], n: int) -> None:
    """With synthetic rows the direct held-out prediction cross-fits: each class of its training rows needs a row per fold."""
    fewest = min(data_info["n_pos"], data_info["n_neg"])
    if n < data_info["rows"]:
        # A stratified subset of n rows gives each class about n/2 of them.
        fewest = min(fewest, n // 2)
    if fewest < HELDOUT_FOLDS:
        raise ConfigError(f"data ({data_info['source']}) gives {fewest} training row(s) of its smaller class (n = {n}); "
                          f"with synthetic_data the held-out prediction's {HELDOUT_FOLDS}-fold cross-fit needs at least "
                          f"{HELDOUT_FOLDS} rows per class.")


def _check_learner_is_covered(point: ResolvedPoint, data_spec: DataSpec | None, roc: np.ndarray | None,
                              synthetic: SyntheticDataSpec | None = None) -> None:
    """Refuse a learner or a verifier whose answers the plan does not have (each says why)."""
    learner = get_learner(point.learner)
    refusal = learner.refusal(CALIBRATED_HELDOUT) if data_spec is not None else None
    if refusal is not None:
        able = ", ".join(name for name, other in LEARNERS.items() if other.supports(CALIBRATED_HELDOUT))
        raise ConfigError(f"params.learner = {point.learner} cannot be used with data (the plan with data needs the "
                          f"learner's leave-one-out, which {able} have): {refusal}")
    refusal = learner.refusal(HELDOUT_PREDICTION) if synthetic is not None else None
    if refusal is not None:
        raise ConfigError(f"params.learner = {point.learner} cannot be used with synthetic_data (the held-out "
                          f"prediction with synthetic rows is ridge's two-covariance theory): {refusal}")
    verifier = point.verifier
    refusal = verifier.supports(LABEL_PROTOCOLS) if data_spec is not None or roc is not None else None
    if refusal is not None:
        raise ConfigError(f"params.verifier_keep: {refusal}")
    if not verifier.has_theory:
        raise ConfigError(f"params.verifier_keep: {verifier.supports(THEORY)}")
    refusal = verifier.supports(THEORY, learner=learner)
    if refusal is not None:
        raise ConfigError(f"params.learner = {point.learner}: {refusal}")


def _check_one_verifier(synthetic: SyntheticDataSpec | None, params: dict[str, Any], roc: np.ndarray | None) -> None:
    """The pool's own decisions (kept flags or scores) are a verifier: a second one in params would be ignored."""
    if synthetic is None:
        return
    decided_by = "kept_key" if synthetic.kept_key is not None else "score_key" if synthetic.score_key is not None else None
    if decided_by is None:
        return
    # With verifier_roc, params holds only its placeholder rates (a verifier in params was refused).
    given = ["verifier_roc"] if roc is not None else [f"params.{k}" for k in VERIFIER_KEYS if k in params]
    if given:
        raise ConfigError(f"The verifier is given twice ({synthetic.where}.{decided_by}, whose rows say which were kept, "
                          f"and {given[0]}); give only one of them.")


def _plan_header(data: dict[str, Any]) -> tuple[Any, Any, int]:
    """The checked title, description and seed."""
    title = data.get("title", "")
    description = data.get("description", "")
    for key, value in (("title", title), ("description", description)):
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{key} must be text.")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ConfigError(f"seed = {_show(seed)} is not allowed; it must be an integer >= 0.")
    return title, description, seed


def _plan_params(raw_params: Any) -> dict[str, Any]:
    """The checked params: single values, a numeric label noise and a mix."""
    if raw_params is None:
        raise ConfigError("params is missing: give the setting (n, p, mu_norm, label_noise, the verifier, gamma and the mix).")
    params = _check_param_values(raw_params, "params")
    for key, value in params.items():
        if isinstance(value, list):
            raise ConfigError(f"params.{key} must be a single value: plan evaluates one setting (use rmtsynth sweep for curves).")
    if params.get("label_noise") == "auto":
        raise ConfigError("params.label_noise = auto is not supported by plan; give the label noise of your generator as a number.")
    if not any(k in params for k in ("m", "m_over_n", "synthetic_proportion")):
        raise ConfigError("params has no mix: give m, m_over_n or synthetic_proportion (the mix you are considering; plan also finds the best one).")
    return params


def _heldout_inputs(
    data: dict[str, Any], base_dir: Path, data_spec: DataSpec | None
) -> tuple[SyntheticDataSpec | None, str]:
    """The synthetic rows and the estimator of the held-out prediction (both need ``data``)."""
    synthetic = None
    if data.get("synthetic_data") is not None:
        synthetic = parse_synthetic_data(data["synthetic_data"], base_dir)
        if data_spec is None:
            raise ConfigError("synthetic_data needs data: the held-out prediction is made from the real rows and the synthetic rows together.")
    estimator = data.get("estimator", "g")
    if estimator not in PLAN_ESTIMATORS:
        raise ConfigError(f"estimator = {_show(estimator)} is not allowed; it must be one of {', '.join(PLAN_ESTIMATORS)}.")
    if "estimator" in data and data_spec is None:
        raise ConfigError("estimator is only used with data: it says how held-out accuracy on those rows is predicted.")
    return synthetic, estimator


def _parse_search(value: Any) -> dict[str, Any]:
    out = {key: p.default for key, p in SEARCH_KEYS.items()}
    if value is None:
        return out
    if not isinstance(value, dict):
        raise ConfigError("search must be a mapping {max_synthetic_proportion, gamma_range}.")
    for key, v in value.items():
        if key not in SEARCH_KEYS:
            raise unknown_key(str(key), "search.", list(SEARCH_KEYS))
        out[key] = SEARCH_KEYS[key].check(v, f"search.{key}")
    out["max_synthetic_proportion"] = float(out["max_synthetic_proportion"])
    out["gamma_range"] = [float(g) for g in out["gamma_range"]]
    return out


def _parse_roc(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise ConfigError("verifier_roc must be a non-empty list of [false-positive rate, true-positive rate] pairs.")
    if len(value) > MAX_ROC_POINTS:
        raise ConfigError(f"verifier_roc has {len(value)} points; at most {MAX_ROC_POINTS} are allowed (thin the curve: "
                          "the planner evaluates the theory at every point).")
    for i, pair in enumerate(value):
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) for v in pair)
        ):
            raise ConfigError(f"verifier_roc[{i}] = {_show(pair)} is not allowed; it must be a pair [fpr, tpr] of numbers.")
        for name, v in zip(("false-positive rate", "true-positive rate"), pair):
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"verifier_roc[{i}] has the {name} {v:g}; it must be between 0 and 1.")
    return np.asarray(value, dtype=float)


# ----------------------------------------------------------------------------- real data

# The fitted covariance of data.use_covariance is eigendecomposed: beyond this many features that
# takes minutes and gigabytes.
MAX_COVARIANCE_FEATURES = 4000
# With synthetic_data the mixes go through the dense two-covariance theory: p x p factorisations at
# every point of the searches.
MAX_POOL_FEATURES = 2000


def _apply_data(spec: DataSpec, params: dict[str, Any], seed: int):
    """mu_norm and p (and optionally the spectrum) estimated from real two-class data.

    The features are rescaled so that the average within-class variance is 1 (the theory's unit
    noise); gamma is read in those units. ||mu||^2 is the squared half-difference of the class
    means minus its bias tr(Sigma)(1/n_+ + 1/n_-)/4, with Sigma the unbiased pooled covariance.
    With ``standardize: true`` every feature is first scaled to unit variance over all rows.
    """
    from rmtsynth.data.protocols import fit_gaussian

    for key in ("p", "p_over_n", "p_over_m", "mu_norm"):
        if key in params:
            raise ConfigError(f"params.{key} cannot be given with data: it is taken from the data.")
    use_cov = spec.use_covariance
    loaded = load_data(spec)
    X, y = loaded.X, loaded.y
    source = loaded.description if spec.source is not None else str(spec.path)
    # One power of two for the whole matrix: the plan's numbers do not depend on the units (the
    # noise is rescaled to unit variance), and the squares below then cannot overflow.
    X = X / np.ldexp(1.0, np.frexp(max(float(np.max(np.abs(X))), 1e-300))[1])
    keep = varying_features(X)
    X = X[:, keep]
    if X.shape[1] == 0:
        raise ConfigError(f"data ({source}) has no feature that varies.")
    if spec.standardize:
        X = (X - X.mean(axis=0)) / X.std(axis=0)
    n_pos, n_neg = int(np.count_nonzero(y > 0)), int(np.count_nonzero(y < 0))
    check_rows_per_class(y, HELDOUT_ROWS_PER_CLASS, f"data ({source})",
                         "the held-out prediction (a leave-one-out on subsets that set a fifth of the rows aside)")
    rows, p = X.shape
    if use_cov and p > MAX_COVARIANCE_FEATURES:
        raise ConfigError(f"data.use_covariance: {source} has {p} features; the fitted covariance is eigendecomposed "
                          f"(p x p), which is limited to {MAX_COVARIANCE_FEATURES} features; leave use_covariance out.")
    if use_cov:
        fit = fit_gaussian(X, y)
        cov = fit.covariance * rows / (rows - 2)
        total_var, mu_vec = float(np.trace(cov)), fit.mu
    else:
        # Only the covariance's trace is needed: O(rows p), never the p x p matrix.
        mean_pos, mean_neg = X[y > 0].mean(axis=0), X[y < 0].mean(axis=0)
        residual = X - np.where((y > 0)[:, None], mean_pos, mean_neg)
        total_var, mu_vec = float(np.einsum("ij,ij->", residual, residual)) / (rows - 2), (mean_pos - mean_neg) / 2.0
    if not total_var > 1e-24 * float(np.einsum("ij,ij->", X, X)) / rows:
        raise ConfigError(f"data ({source}) has no noise within its classes: the rows of each class are copies of one "
                          "another, so the planner's unit of noise is undefined.")
    avg_var = total_var / p
    raw2 = float(mu_vec @ mu_vec)
    bias = total_var * (1.0 / n_pos + 1.0 / n_neg) / 4.0
    mu2 = max(raw2 - bias, 0.0)
    mu_norm = math.sqrt(mu2 / avg_var)
    params = dict(params)
    params["p"] = p
    params["mu_norm"] = mu_norm
    params.setdefault("n", rows)
    info: dict[str, Any] = {
        "source": source,
        "rows": rows,
        "n_pos": n_pos,
        "n_neg": n_neg,
        "p": p,
        "constant_features_dropped": int(np.count_nonzero(~keep)),
        "average_noise_variance": avg_var,
        "mu_norm_raw": math.sqrt(raw2 / avg_var),
        "mu_norm": mu_norm,
        "use_covariance": use_cov,
        "standardize": spec.standardize,
    }
    model = None
    if use_cov:
        model, cov_info = _fitted_spectrum_model(cov, avg_var, mu_vec, mu_norm, params, seed)
        info.update(cov_info)
    return info, model, params


def _fitted_spectrum_model(
    cov: np.ndarray, avg_var: float, mu: np.ndarray, mu_norm: float, params: dict[str, Any], seed: int
) -> tuple[AccuracyModel, dict[str, Any]]:
    """The accuracy model on the data's fitted covariance (noise scaled to unit average variance).

    The generator's mean is the data's, rotated by generator_alignment and generator_shift as for
    synthetic settings; its covariance is the fitted one, or identity or scaled when
    ``params.covariance`` says so.
    """
    from rmtsynth.sim.seeding import named_rng

    p = cov.shape[0]
    cov_kind = params.get("covariance")
    if cov_kind not in (None, "identity", "scaled"):
        raise ConfigError(
            f"params.covariance = {cov_kind} cannot be used with data.use_covariance: the generator's covariance is "
            "the fitted one (leave covariance out), identity or scaled."
        )
    sigma, vecs = np.linalg.eigh(cov / avg_var)
    sigma = np.clip(sigma, 0.0, None)
    a = vecs.T @ mu / math.sqrt(avg_var)
    a *= mu_norm / max(float(np.linalg.norm(a)), 1e-300)
    g = named_rng(seed, "geometry").standard_normal(p)
    perp = g - (g @ a) / max(float(a @ a), 1e-300) * a
    perp /= max(float(np.linalg.norm(perp)), 1e-300)
    b = float(params.get("generator_alignment", 1.0)) * a + float(params.get("generator_shift", 0.0)) * perp
    if cov_kind is None:
        ell = sigma
    else:
        ell = np.full(p, float(params.get("covariance_scale", 1.0)) if cov_kind == "scaled" else 1.0)
    model = model_for_spectrum(Spectrum.from_eigen(ell, a, b, sigma=sigma), params.get("learner", DEFAULT_LEARNER))
    info = {
        "effective_rank": float(sigma.sum() ** 2 / (sigma**2).sum()),
        "generator_covariance": "fitted" if cov_kind is None else cov_kind,
    }
    return model, info


# ----------------------------------------------------------------------------- synthetic rows
