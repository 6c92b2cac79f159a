"""Planner inputs: reading and validating a plan config, and estimating a setting from real data.

A plan config gives one setting in the sweep configs' parameter names (``params``; single
values only, the mix required), or a verifier as ROC points (``verifier_roc``), optionally real
data to estimate p and ||mu|| (and the noise spectrum) from (``data``), and the search ranges
(``search``). See :mod:`rmtsynth.planner` for what is computed from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rmtsynth.errors import ConfigError
from rmtsynth.engine.planner import AccuracyModel, best_roc_point, model_for_point, model_for_spectrum, setting_of
from rmtsynth.spec.resolve import ResolvedPoint, resolve_point
from rmtsynth.spec.schema import _show, unknown_key
from rmtsynth.core.theory import Spectrum
from rmtsynth.core.verifier import precision_recall

TOP_LEVEL = {
    "title": "a title for the report",
    "description": "free text, copied to the report",
    "seed": "root seed of the random geometry (integer >= 0, default 0)",
    "params": "the setting: n, p (or p_over_n), mu_norm, the generator, label_noise, the verifier, gamma and the mix",
    "verifier_roc": "the verifier as [[false-positive rate, true-positive rate], ...] points of a score threshold",
    "data": "estimate mu_norm (and optionally the noise spectrum) from a feature file or the digits",
    "search": "{max_synthetic_proportion, gamma_range}: the search ranges",
}
SEARCH_DEFAULTS: dict[str, Any] = {"max_synthetic_proportion": 0.999, "gamma_range": [1e-4, 1e4]}
DATA_KEYS = ("digits", "file", "label_column", "classes", "feature_key", "label_key", "use_covariance")
VERIFIER_KEYS = ("verifier", "rho", "phi", "verifier_precision", "verifier_recall")
MAX_ROC_POINTS = 100_000

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


def load_plan(path: str | Path) -> PlanConfig:
    """Read and validate a planner config file."""
    from rmtsynth.spec.config import read_config_file

    path = Path(path)
    text, data = read_config_file(path)
    return parse_plan(data, base_dir=path.resolve().parent, source=text)


def parse_plan(data: dict[str, Any], *, base_dir: Path, source: str = "") -> PlanConfig:
    """Validate a planner mapping: keys, types and ranges, then resolve the setting."""
    from rmtsynth.spec.config import _check_param_values

    for key in data:
        if not isinstance(key, str) or key not in TOP_LEVEL:
            raise unknown_key(str(key), "", list(TOP_LEVEL))
    title = data.get("title", "")
    description = data.get("description", "")
    for key, value in (("title", title), ("description", description)):
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{key} must be text.")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ConfigError(f"seed = {_show(seed)} is not allowed; it must be an integer >= 0.")
    raw_params = data.get("params")
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
    if data.get("data") is not None:
        data_info, spectrum_model, params = _apply_data(data["data"], params, base_dir, seed)

    point = resolve_point(params, base_dir, "params", seed=seed)
    if point.n < 1:
        raise ConfigError("params.n = 0: plan compares a mix with the real data alone, so it needs n >= 1 real samples.")
    if point.m < 1:
        raise ConfigError(
            f"The configured mix has m = {point.m} synthetic samples; give the mix you are considering with m >= 1 "
            "(plan also finds the best one)."
        )
    model = spectrum_model or model_for_point(point, seed=seed)
    if data_info is not None and data_info.get("generator_covariance") == "fitted":
        point = replace(point, covariance="fitted")
    if roc is not None:
        st = setting_of(point)
        best = best_roc_point(model, st, roc)
        precision, recall = precision_recall(point.label_noise, best["rho"], best["phi"])
        point = replace(point, rho=best["rho"], phi=best["phi"], verifier_precision=float(precision), verifier_recall=float(recall))
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
    )


def _parse_search(value: Any) -> dict[str, Any]:
    out = dict(SEARCH_DEFAULTS)
    if value is None:
        return out
    if not isinstance(value, dict):
        raise ConfigError("search must be a mapping {max_synthetic_proportion, gamma_range}.")
    for key, v in value.items():
        if key not in SEARCH_DEFAULTS:
            raise unknown_key(str(key), "search.", list(SEARCH_DEFAULTS))
        out[key] = v
    s = out["max_synthetic_proportion"]
    if isinstance(s, bool) or not isinstance(s, (int, float)) or not 0.0 < s <= 0.999999:
        raise ConfigError(f"search.max_synthetic_proportion = {_show(s)} is out of range; it must be a number in (0, 0.999999].")
    out["max_synthetic_proportion"] = float(s)
    g = out["gamma_range"]
    if (
        not isinstance(g, list)
        or len(g) != 2
        or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0 for v in g)
        or not g[0] < g[1]
        or g[0] < 1e-12
        or g[1] > 1e12
    ):
        raise ConfigError(f"search.gamma_range = {_show(g)} is not allowed; it must be [lo, hi] with 1e-12 <= lo < hi <= 1e12.")
    out["gamma_range"] = [float(g[0]), float(g[1])]
    return out


def _parse_roc(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise ConfigError("verifier_roc must be a non-empty list of [false-positive rate, true-positive rate] pairs.")
    if len(value) > MAX_ROC_POINTS:
        raise ConfigError(f"verifier_roc has {len(value)} points; at most {MAX_ROC_POINTS} are allowed.")
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


def _apply_data(value: Any, params: dict[str, Any], base_dir: Path, seed: int):
    """mu_norm and p (and optionally the spectrum) estimated from real two-class data.

    The features are rescaled so that the average within-class variance is 1 (the theory's unit
    noise); gamma is read in those units. ||mu||^2 is the squared half-difference of the class
    means minus its bias tr(Sigma)(1/n_+ + 1/n_-)/4, with Sigma the unbiased pooled covariance.
    """
    from rmtsynth.data.loaders import load_digits_pair, load_features
    from rmtsynth.data.protocols import fit_gaussian

    if not isinstance(value, dict):
        raise ConfigError("data must be a mapping: {digits: [a, b]} or {file: path, ...}.")
    for key in value:
        if key not in DATA_KEYS:
            raise unknown_key(str(key), "data.", DATA_KEYS)
    for key in ("p", "p_over_n", "p_over_m", "mu_norm"):
        if key in params:
            raise ConfigError(f"params.{key} cannot be given with data: it is taken from the data.")
    use_cov = value.get("use_covariance", False)
    if not isinstance(use_cov, bool):
        raise ConfigError(f"data.use_covariance = {_show(use_cov)} is not allowed; it must be true or false.")
    if ("digits" in value) == ("file" in value):
        raise ConfigError("data needs exactly one of digits: [a, b] or file: path.")
    if "digits" in value:
        pair = value["digits"]
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or any(isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 9 for v in pair)
            or pair[0] == pair[1]
        ):
            raise ConfigError(f"data.digits = {_show(pair)} is not allowed; it must be two different digits [a, b] from 0 to 9.")
        for key in ("label_column", "classes", "feature_key", "label_key"):
            if key in value:
                raise ConfigError(f"data.{key} is only used with data.file.")
        X, y, _ = load_digits_pair((pair[0], pair[1]))
        source = f"digits {pair[0]} vs {pair[1]}"
    else:
        path = value["file"]
        if not isinstance(path, str) or not path:
            raise ConfigError("data.file must be a file path (relative to the config file).")
        full = Path(path) if Path(path).is_absolute() else base_dir / path
        kwargs: dict[str, Any] = {}
        for key in ("label_column", "feature_key", "label_key"):
            if key in value:
                if not isinstance(value[key], str):
                    raise ConfigError(f"data.{key} must be text.")
                kwargs[key] = value[key]
        if "classes" in value:
            cls = value["classes"]
            if not isinstance(cls, list) or len(cls) != 2:
                raise ConfigError(f"data.classes = {_show(cls)} is not allowed; it must name two classes [a, b].")
            kwargs["classes"] = tuple(cls)
        X, y = load_features(full, **kwargs)
        source = str(full)
    keep = X.std(axis=0) > 0
    X = X[:, keep]
    if X.shape[1] == 0:
        raise ConfigError(f"data ({source}) has no feature that varies.")
    n_pos, n_neg = int(np.count_nonzero(y > 0)), int(np.count_nonzero(y < 0))
    if min(n_pos, n_neg) < 2:
        raise ConfigError(f"data ({source}) needs at least 2 rows of each class to estimate the noise.")
    fit = fit_gaussian(X, y)
    rows, p = X.shape
    cov = fit.covariance * rows / (rows - 2)
    avg_var = float(np.trace(cov)) / p
    raw2 = float(fit.mu @ fit.mu)
    bias = float(np.trace(cov)) * (1.0 / n_pos + 1.0 / n_neg) / 4.0
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
    }
    model = None
    if use_cov:
        cov_kind = params.get("covariance")
        if cov_kind not in (None, "identity", "scaled"):
            raise ConfigError(
                f"params.covariance = {cov_kind} cannot be used with data.use_covariance: the generator's covariance is "
                "the fitted one (leave covariance out), identity or scaled."
            )
        sigma, vecs = np.linalg.eigh(cov / avg_var)
        sigma = np.clip(sigma, 0.0, None)
        a = vecs.T @ fit.mu / math.sqrt(avg_var)
        a *= mu_norm / max(float(np.linalg.norm(a)), 1e-300)
        from rmtsynth.sim.seeding import named_rng

        g = named_rng(seed, "geometry").standard_normal(p)
        perp = g - (g @ a) / max(float(a @ a), 1e-300) * a
        perp /= max(float(np.linalg.norm(perp)), 1e-300)
        b = float(params.get("generator_alignment", 1.0)) * a + float(params.get("generator_shift", 0.0)) * perp
        if cov_kind is None:
            ell = sigma
        else:
            ell = np.full(p, float(params.get("covariance_scale", 1.0)) if cov_kind == "scaled" else 1.0)
        model = model_for_spectrum(Spectrum.from_eigen(ell, a, b, sigma=sigma))
        info["effective_rank"] = float(sigma.sum() ** 2 / (sigma**2).sum())
        info["generator_covariance"] = "fitted" if cov_kind is None else cov_kind
    return info, model, params
