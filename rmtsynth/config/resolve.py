"""From the user's parameters to the model's quantities (THEORY.md section 12).

A point's raw parameters speak the user's language (ratios, proportions, named verifiers,
precision and recall, ``label_noise: auto``). :func:`resolve_point` turns them into the
quantities the theory and the simulation take: integer sizes n, m, p, the verifier's (rho, phi),
the label noise, and the data model's parameters (:class:`~rmtsynth.core.model.ModelSpec`).
Files (a covariance spectrum or matrix) are read once here; their contents travel with the point
and key every cache by content, never by path.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rmtsynth.errors import ConfigError, ParameterError, RmtsynthError
from rmtsynth.config.schema import MAX_GRID_POINTS, MAX_P, PARAM_DEFAULTS, key_text
from rmtsynth.config.feature_point import resolve_feature
from rmtsynth.core.model import Covariance, Mix, ModelSpec
from rmtsynth.data.loaders import npy_header_fits
from rmtsynth.core.learners import DEFAULT_LEARNER
from rmtsynth.core.verifiers.rates import precision_recall
from rmtsynth.core.verifiers import Verifier, verifier_from_params
from rmtsynth.sim.geometry import placed_model


_MIX_FIELDS = {"n": "n", "m": "m", "label_noise": "label_noise", "rho": "rho", "phi": "phi", "gamma": "gamma"}
_MODEL_FIELDS = {"p": "p", "mu_norm": "mu_norm", "generator_alignment": "alignment", "generator_shift": "shift"}
_COVARIANCE_FIELDS = {"covariance": "kind", "covariance_scale": "scale", "n_hat": "n_hat",
                      "estimate_generator_mean": "estimate_mean", "spectrum_source": "source"}


@dataclass(frozen=True)
class ResolvedPoint:
    """One sweep point: the data model, the mix, the learner, and how the user wrote them.

    The flat quantities the tables record (n, m, p, rho, phi, the generator's parameters, ...)
    are read through the properties below from :attr:`model` and :attr:`mix`; :meth:`replace`
    changes any of them by that flat name.
    """

    model: ModelSpec
    mix: Mix
    label_noise_auto: bool
    verifier_precision: float
    verifier_recall: float
    learner: str = DEFAULT_LEARNER

    @property
    def generator(self) -> ModelSpec:
        """The data model's parameters (hashable by content)."""
        return self.model

    @property
    def verifier(self) -> Verifier:
        """The point's verifier (its mix's)."""
        return self.mix.verifier

    # The flat quantities of the tables.
    n = property(lambda self: self.mix.n)
    m = property(lambda self: self.mix.m)
    label_noise = property(lambda self: self.mix.label_noise)
    rho = property(lambda self: self.mix.rho)
    phi = property(lambda self: self.mix.phi)
    gamma = property(lambda self: self.mix.gamma)
    p = property(lambda self: self.model.p)
    mu_norm = property(lambda self: self.model.mu_norm)
    generator_alignment = property(lambda self: self.model.alignment)
    generator_shift = property(lambda self: self.model.shift)
    covariance = property(lambda self: self.model.covariance.kind)
    covariance_scale = property(lambda self: self.model.covariance.scale)
    n_hat = property(lambda self: self.model.covariance.n_hat)
    estimate_generator_mean = property(lambda self: self.model.covariance.estimate_mean)
    spectrum_source = property(lambda self: self.model.covariance.source)

    @property
    def covariance_values(self) -> np.ndarray | None:
        """C's eigenvalues (diagonal) or matrix (file), read once; not a column of the tables."""
        cov = self.model.covariance
        return cov.eigenvalues if cov.eigenvalues is not None else cov.matrix

    def replace(self, **changes: Any) -> "ResolvedPoint":
        """A copy with some quantities changed, each by its flat name (``m=0``, ``rho=0.1``, ...)."""
        mix = {_MIX_FIELDS[k]: changes.pop(k) for k in list(changes) if k in _MIX_FIELDS}
        model = {_MODEL_FIELDS[k]: changes.pop(k) for k in list(changes) if k in _MODEL_FIELDS}
        cov = {_COVARIANCE_FIELDS[k]: changes.pop(k) for k in list(changes) if k in _COVARIANCE_FIELDS}
        if "covariance_values" in changes:
            values = changes.pop("covariance_values")
            diagonal = cov.get("kind", self.covariance) == "diagonal"
            cov.update(eigenvalues=values if diagonal else None, matrix=None if diagonal else values)
        if cov:
            model["covariance"] = replace(self.model.covariance, **cov)
        return replace(self, model=replace(self.model, **model) if model else self.model,
                       mix=replace(self.mix, **mix) if mix else self.mix, **changes)

    def record(self) -> dict[str, Any]:
        """The point as a flat mapping (for tables, manifests and seeds).

        The learner appears only when it is not the default, so ridge tables keep their columns.
        """
        row = {name: getattr(self, name) for name in RESOLVED_COLUMNS}
        if self.learner != DEFAULT_LEARNER:
            row["learner"] = self.learner
        row.update(self.verifier.record(self.label_noise))
        return row

    def verifier_record(self, columns: tuple[str, ...]) -> dict[str, Any]:
        """The verifier's columns of a table whose verifiers add ``columns`` (:func:`verifier_columns`)."""
        return self.verifier.record(self.label_noise, columns)


def verifier_columns(points: list[ResolvedPoint]) -> list[str]:
    """The columns the points' verifiers add to a table, in order of first appearance."""
    return list(dict.fromkeys(c for pt in points for c in pt.verifier.columns))


RESOLVED_COLUMNS = [
    "n", "m", "p", "mu_norm", "label_noise", "label_noise_auto", "rho", "phi", "verifier_precision",
    "verifier_recall", "gamma", "generator_alignment", "generator_shift", "covariance", "covariance_scale",
    "n_hat", "estimate_generator_mean", "spectrum_source",
]


def _sizes(params: dict[str, Any], where: str) -> tuple[int, int, int]:
    """n, m and p from any consistent combination of sizes and ratios."""
    n = params.get("n")
    m = params.get("m")
    p = params.get("p")
    s = params.get("synthetic_proportion")
    m_over_n = params.get("m_over_n")
    p_over_n = params.get("p_over_n")
    p_over_m = params.get("p_over_m")

    if s is not None and s == 1.0:
        if n not in (None, 0):
            raise ConfigError(f"{where}: synthetic_proportion = 1 means no real data, but n = {n}.")
        n = 0
    if n is None and p is not None and p_over_n is not None:
        n = _round_size(p / p_over_n, "n", f"p / p_over_n = {p} / {p_over_n:g}", where)
    if n is None:
        raise ConfigError(f"{where}: n is missing; give the number of real samples (0 for synthetic data only).")

    given_m = [k for k, v in (("m", m), ("m_over_n", m_over_n), ("synthetic_proportion", s)) if v is not None]
    if len(given_m) > 1:
        raise ConfigError(f"{where}: {' and '.join(given_m)} both set the synthetic sample size; give only one.")
    if m is None and m_over_n is not None:
        m = _round_size(m_over_n * n, "m", f"m_over_n * n = {m_over_n:g} * {n}", where, allow_zero=True)
    if m is None and s is not None:
        if s == 1.0:
            m = None  # needs m or p_over_m
        else:
            m = int(math.floor(s * n / (1.0 - s) + 1e-9))
    given_p = [k for k, v in (("p", p), ("p_over_n", p_over_n), ("p_over_m", p_over_m)) if v is not None]
    derives_n = p is not None and p_over_n is not None and params.get("n") is None
    derives_m = p is not None and p_over_m is not None and m is None
    if len(given_p) > 1 and not (len(given_p) == 2 and (derives_n or derives_m)):
        raise ConfigError(f"{where}: {' and '.join(given_p)} all set the dimension; give only one.")
    if m is None and p is not None and p_over_m is not None:
        m = _round_size(p / p_over_m, "m", f"p / p_over_m = {p} / {p_over_m:g}", where)
    if m is None:
        raise ConfigError(f"{where}: m is missing; give m, m_over_n or synthetic_proportion.")
    if p is None and p_over_n is not None:
        if n == 0:
            raise ConfigError(f"{where}: p_over_n needs n > 0; with n = 0 give p or p_over_m.")
        p = _round_size(p_over_n * n, "p", f"p_over_n * n = {p_over_n:g} * {n}", where)
    if p is None and p_over_m is not None:
        if m == 0:
            raise ConfigError(f"{where}: p_over_m needs m > 0; give p or p_over_n.")
        p = _round_size(p_over_m * m, "p", f"p_over_m * m = {p_over_m:g} * {m}", where)
    if p is None:
        raise ConfigError(f"{where}: p is missing; give p, p_over_n or p_over_m.")
    if n + m < 1:
        raise ConfigError(f"{where}: n + m = 0; there must be at least one training sample.")
    if p > MAX_P:
        raise ConfigError(f"{where}: p = {p} is too large; it must be at most {MAX_P}.")
    return int(n), int(m), int(p)


def _round_size(value: float, key: str, how: str, where: str, allow_zero: bool = False) -> int:
    out = int(round(value))
    if out < (0 if allow_zero else 1):
        raise ConfigError(f"{where}: {how} rounds to {key} = {out}; it must be at least {0 if allow_zero else 1}.")
    if out > 10**12:
        raise ConfigError(f"{where}: {how} gives {key} = {out}, which is too large (at most 1e12).")
    return out


def _verifier(params: dict[str, Any], eps: float, where: str) -> LabelVerifier:
    try:
        return verifier_from_params(params, eps)
    except ParameterError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def parse_spectrum(value: Any, p: int, base_dir: Path, where: str) -> tuple[np.ndarray, str]:
    """The diagonal spectrum of C (length p) and a canonical description of where it came from."""
    if not isinstance(value, dict) or len(value) != 1:
        raise ConfigError(f"{where}.covariance_spectrum must be {{values: [...]}}, {{loguniform: [lo, hi]}} or {{file: path}}.")
    (kind, arg), = value.items()
    if kind == "values":
        if not isinstance(arg, list) or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in arg):
            raise ConfigError(f"{where}.covariance_spectrum.values must be a list of numbers.")
        vals = np.asarray(arg, dtype=float)
        if vals.size == 1:
            vals = np.full(p, vals[0])
        desc = "values:" + ",".join(repr(float(v)) for v in arg)
    elif kind == "loguniform":
        if (
            not isinstance(arg, list)
            or len(arg) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 for v in arg)
        ):
            raise ConfigError(f"{where}.covariance_spectrum.loguniform must be [lo, hi] with 0 < lo <= hi.")
        vals = np.geomspace(float(arg[0]), float(arg[1]), p)
        desc = f"loguniform:{float(arg[0])!r},{float(arg[1])!r}"
    elif kind == "file":
        path = _resolve_path(arg, base_dir, f"{where}.covariance_spectrum.file")
        vals, digest = _load_array(path, f"{where}.covariance_spectrum.file")
        vals = vals.ravel()
        desc = f"file:{path}#sha256:{digest[:16]}"
    else:
        raise ConfigError(f"{where}.covariance_spectrum.{key_text(kind)} is not known; use values, loguniform or file.")
    if vals.size != p:
        raise ConfigError(f"{where}.covariance_spectrum has {vals.size} values but p = {p}.")
    if not np.all(np.isfinite(vals)) or np.any(vals < 0) or np.any(vals > MAX_EIGENVALUE):
        raise ConfigError(
            f"{where}.covariance_spectrum must hold numbers from 0 to {MAX_EIGENVALUE:g} (the eigenvalues of C)."
        )
    return vals, desc


def _resolve_path(value: Any, base_dir: Path, where: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where} must be a file path.")
    path = Path(value)
    if not path.is_absolute():
        path = base_dir / path
    if not path.is_file():
        raise ConfigError(f"{where} = {value} does not exist (paths are relative to the config file).")
    return path.resolve()


# Larger eigenvalues overflow the theory's sums long before they mean anything physical.
MAX_EIGENVALUE = 1e12


@lru_cache(maxsize=16)
def _parse_array(digest: str, suffix: str, data: bytes) -> np.ndarray:
    """Parse a file's bytes; cached by content digest, so an edited file is read afresh."""
    if suffix == ".npy":
        import io

        if not npy_header_fits(io.BytesIO(data), len(data)):
            raise ValueError("the array header claims more data than the file holds")
        return np.load(io.BytesIO(data), allow_pickle=False)
    return np.loadtxt(data.decode("utf-8").splitlines(), ndmin=1)


def _load_array(path: Path, where: str) -> tuple[np.ndarray, str]:
    """The numbers in a .npy or text file, and the SHA-256 of the file's bytes."""
    try:
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        return np.asarray(_parse_array(digest, path.suffix, data), dtype=float), digest
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where} = {path} cannot be read as numbers ({type(exc).__name__}).") from None


def load_dense_covariance(path: Path, p: int, where: str) -> tuple[np.ndarray, str]:
    """A p x p covariance matrix from a .npy or text file, and the file's SHA-256.

    The matrix must be symmetric, positive semi-definite (to rounding) and have eigenvalues of
    at most ``MAX_EIGENVALUE``: anything else is not a covariance, and the theory and the
    sampler would return numbers for it all the same.
    """
    cov, digest = _load_array(Path(path), where)
    if cov.shape != (p, p):
        raise ConfigError(f"{where} holds a matrix of shape {cov.shape}, but p = {p} needs ({p}, {p}).")
    if not np.all(np.isfinite(cov)) or not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-12):
        raise ConfigError(f"{where} must hold a finite symmetric matrix.")
    cov = 0.5 * (cov + cov.T)
    eig = np.linalg.eigvalsh(cov)
    largest = float(np.max(np.abs(eig))) if eig.size else 0.0
    if eig.size and float(eig.min()) < -1e-10 * max(largest, 1.0):
        raise ConfigError(
            f"{where} ({Path(path).name}) is not positive semi-definite (its smallest eigenvalue is {float(eig.min()):.3g}); "
            "a covariance matrix must have eigenvalues >= 0."
        )
    if largest > MAX_EIGENVALUE:
        raise ConfigError(
            f"{where} ({Path(path).name}) has an eigenvalue of {largest:.3g}; a covariance here must have eigenvalues "
            f"of at most {MAX_EIGENVALUE:g}."
        )
    return cov, digest


def _broadcast_shape(params: dict[str, Any]) -> tuple[list[str], list[np.ndarray], tuple[int, ...], int]:
    """The names, object arrays, broadcast shape and point count of the parameters, checked."""
    names = list(params)
    arrays = [np.asarray(params[name], dtype=object) for name in names]
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
    except ValueError:
        shapes = ", ".join(f"{n} {a.shape}" for n, a in zip(names, arrays))
        raise ConfigError(f"The parameters cannot be broadcast together ({shapes}).") from None
    points = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if points > MAX_GRID_POINTS:
        raise ConfigError(f"The parameters make a grid of {points} points; at most {MAX_GRID_POINTS} are allowed.")
    return names, arrays, shape, points


def broadcast_grid(params: dict[str, Any]) -> tuple[tuple[int, ...], list[dict[str, Any]]]:
    """Broadcast parameter values (numbers, strings or arrays) together.

    Returns the broadcast shape and, in C order, one mapping of plain Python values per element.
    """
    names, arrays, shape, points = _broadcast_shape(params)
    broadcast = np.broadcast_arrays(*arrays) if arrays else []
    flat = [b.ravel() for b in broadcast]
    size = int(np.prod(shape)) if shape else 1
    return shape, [
        {name: (column[i].item() if isinstance(column[i], np.generic) else column[i]) for name, column in zip(names, flat)}
        for i in range(size)
    ]


def resolve_point(params: dict[str, Any], base_dir: Path, where: str = "params", *, seed: int = 0,
                  spectra: dict[tuple[int, int], tuple[np.ndarray, str]] | None = None) -> ResolvedPoint:
    """Resolve one point's raw parameters (already type- and range-checked) to model quantities.

    ``spectra`` keeps parsed spectra by (id of the written spectrum, p) for points resolved
    together from the same objects; the caller keeps those objects alive while it is used.
    """
    full = dict(PARAM_DEFAULTS)
    full.update(params)
    n, m, p = _sizes(full, where)
    cov = full["covariance"]
    n_hat = full.get("n_hat")
    if full.get("n_hat_over_n") is not None:
        if n_hat is not None:
            raise ConfigError(f"{where}: n_hat and n_hat_over_n both set n_hat; give only one.")
        if n == 0:
            raise ConfigError(f"{where}: n_hat_over_n needs n > 0; give n_hat.")
        n_hat = _round_size(full["n_hat_over_n"] * n, "n_hat", f"n_hat_over_n * n = {full['n_hat_over_n']:g} * {n}", where)
    if cov == "estimated" and n_hat is None:
        raise ConfigError(f"{where}: covariance = estimated needs n_hat (or n_hat_over_n), the samples C is estimated from.")
    if cov != "estimated":
        for key in ("n_hat", "n_hat_over_n"):
            if full.get(key) is not None:
                raise ConfigError(f"{where}: {key} is only used with covariance = estimated, not {cov}.")
        if full.get("estimate_generator_mean"):
            raise ConfigError(f"{where}: estimate_generator_mean is only used with covariance = estimated.")
        n_hat = None
    if cov != "scaled" and "covariance_scale" in params:
        raise ConfigError(f"{where}: covariance_scale is only used with covariance = scaled, not {cov}.")
    if cov != "diagonal" and "covariance_spectrum" in params:
        raise ConfigError(f"{where}: covariance_spectrum is only used with covariance = diagonal, not {cov}.")
    if cov != "file" and "covariance_file" in params:
        raise ConfigError(f"{where}: covariance_file is only used with covariance = file, not {cov}.")
    source = ""
    values = None
    if cov == "diagonal":
        if "covariance_spectrum" not in full:
            raise ConfigError(f"{where}: covariance = diagonal needs covariance_spectrum.")
        written = full["covariance_spectrum"]
        if spectra is None:
            values, source = parse_spectrum(written, p, base_dir, where)
        else:
            if (id(written), p) not in spectra:
                spectra[id(written), p] = parse_spectrum(written, p, base_dir, where)
            values, source = spectra[id(written), p]
    elif cov == "file":
        if "covariance_file" not in full:
            raise ConfigError(f"{where}: covariance = file needs covariance_file.")
        path = _resolve_path(full["covariance_file"], base_dir, f"{where}.covariance_file")
        values, digest = load_dense_covariance(path, p, f"{where}.covariance_file")
        source = f"{path}#sha256:{digest[:16]}"

    gamma = float(full["gamma"])
    mu_norm = float(full["mu_norm"])
    gen = ModelSpec(
        p=p,
        mu_norm=mu_norm,
        alignment=float(full["generator_alignment"]),
        shift=float(full["generator_shift"]),
        covariance=Covariance(
            kind=cov,
            scale=float(full.get("covariance_scale", 1.0)),
            eigenvalues=values if cov == "diagonal" else None,
            matrix=values if cov == "file" else None,
            n_hat=n_hat,
            estimate_mean=bool(full.get("estimate_generator_mean", False)),
            source=source,
        ),
    )
    eps_raw = full["label_noise"]
    auto = eps_raw == "auto"
    if auto:
        if m == 0:
            raise ConfigError(f"{where}: label_noise = auto needs m > 0 (it is the error of a classifier trained on the m synthetic samples).")
        eps = auto_label_noise(gen, seed, m, gamma)
    else:
        eps = float(eps_raw)
    verifier = _verifier(full, eps, where)
    precision, recall = verifier.precision_recall(eps)
    rule = resolve_feature(full, gen, seed, eps, float(verifier.rho), float(verifier.phi), where)
    mix = Mix(n=n, m=m, label_noise=eps, rho=float(verifier.rho), phi=float(verifier.phi), gamma=gamma, rule=rule)
    if rule is not None:
        # The table's precision and recall are then those of the rows the rule keeps.
        precision, recall = kept_precision_recall(rule, eps)
    return ResolvedPoint(model=gen, mix=mix, label_noise_auto=auto,
                         verifier_precision=float(precision), verifier_recall=float(recall),
                         learner=str(full["learner"]))


def with_verifier(point: ResolvedPoint, verifier: Verifier, seed: int, where: str) -> ResolvedPoint:
    """The point with another verifier, measured in its placed model (its precision and recall too)."""
    try:
        measured = verifier.measured(placed_model(point.generator, seed))
    except ParameterError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    precision, recall = kept_precision_recall(measured, point.label_noise)
    return replace(point, mix=point.mix.with_verifier(measured), verifier_precision=precision, verifier_recall=recall)


def kept_precision_recall(verifier: Verifier, label_noise: float) -> tuple[float, float]:
    """The precision and recall of what a verifier keeps (nan when it does not know its shares)."""
    shares = verifier.kept_shares()
    if shares is None:
        return float("nan"), float("nan")
    return float(precision_recall(label_noise, *shares)[0]), shares[1]


@lru_cache(maxsize=65536)
def auto_label_noise(gen: ModelSpec, seed: int, m: int, gamma: float) -> float:
    """eps(m) = 1 - accuracy of the ridge trained on m clean synthetic samples alone (section 12)."""
    res = placed_model(gen, seed).theory(Mix(n=0.0, m=float(m), label_noise=0.0, rho=0.0, phi=1.0, gamma=gamma))
    acc = float(res.accuracy)
    return float(min(max(1.0 - acc, 0.0), 1.0))


# Parameters that change only what a point trains on (its mix, its verifier's rates): points that
# agree on everything else share one resolved model, and only these are read per point.
MIX_ONLY = ("n", "m", "gamma", "label_noise", "rho", "phi", "verifier_precision", "verifier_recall", "verifier")
# Sizes written as ratios tie n, m, p and n_hat together, so a point's sizes are not its n and m alone.
_SIZE_RATIOS = ("synthetic_proportion", "m_over_n", "p_over_n", "p_over_m", "n_hat_over_n")


def broadcast_columns(params: dict[str, Any]) -> tuple[tuple[int, ...], dict[str, Any], dict[str, list[Any]]]:
    """Broadcast parameter values as :func:`broadcast_grid` does, but by column.

    Returns the broadcast shape, the parameters with one value for every point (``shared``) and,
    for the others, one plain Python value per point in C order (``varying``).
    """
    names, arrays, shape, size = _broadcast_shape(params)
    shared: dict[str, Any] = {}
    varying: dict[str, list[Any]] = {}
    for name, arr in zip(names, arrays):
        if arr.size == 1:
            shared[name] = _plain(arr.reshape(-1)[0])
        else:
            varying[name] = [_plain(v) for v in np.broadcast_to(arr, shape).reshape(-1)]
    return shape, shared, varying


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def resolve_each(grid: list[dict[str, Any]], base_dir: Path, where: str = "params", *, seed: int = 0,
                 learner: str | None = None) -> list[ResolvedPoint]:
    """Resolve every point of a grid on its own (equal parameter sets once): the reference path."""
    cache: dict[str, ResolvedPoint] = {}
    points = []
    for params in grid:
        key = repr(sorted(params.items()))
        if key not in cache:
            point = resolve_point(params, base_dir, where, seed=seed)
            cache[key] = point if learner is None else point.replace(learner=learner)
        points.append(cache[key])
    return points


def resolve_columns(shared: dict[str, Any], varying: dict[str, list[Any]], size: int, base_dir: Path,
                    where: str = "params", *, seed: int = 0, learner: str | None = None) -> list[ResolvedPoint]:
    """Resolve a broadcast grid given by column, each shared setting once.

    Points are grouped by what they vary beyond their mix; each group's model (covariance,
    spectrum, geometry, learner, verifier form) resolves once through :func:`resolve_point`,
    and its points differ only in n, m, gamma, the label noise and the verifier's rates. Grids
    this does not cover (sizes given as ratios, ``label_noise: auto``, a verifier that looks at
    the features, unhashable varying values) resolve point by point, with the same results.
    """
    names = list(shared) + list(varying)
    if any(k in names for k in _SIZE_RATIOS) or "auto" in _values(shared, varying, "label_noise"):
        return _each_of_columns(shared, varying, size, base_dir, where, seed, learner)
    model_keys = [k for k in varying if k not in MIX_ONLY]
    groups: dict[tuple[Any, ...], list[int]] = {}
    try:
        for i in range(size):
            groups.setdefault(tuple(varying[k][i] for k in model_keys), []).append(i)
    except TypeError:  # an unhashable varying value: no grouping
        return _each_of_columns(shared, varying, size, base_dir, where, seed, learner)
    try:
        points = _grouped(shared, varying, size, groups, base_dir, where, seed, learner)
    except RmtsynthError:
        points = None  # the point-by-point path raises the grid's first error, as it always did
    return _each_of_columns(shared, varying, size, base_dir, where, seed, learner) if points is None else points


def _grouped(shared: dict[str, Any], varying: dict[str, list[Any]], size: int, groups: dict[tuple[Any, ...], list[int]],
             base_dir: Path, where: str, seed: int, learner: str | None) -> list[ResolvedPoint] | None:
    """Each group's model resolved once, then its points' mixes (None: a grid to resolve point by point)."""
    points: list[ResolvedPoint | None] = [None] * size
    mix_keys = [k for k in varying if k in MIX_ONLY]
    spectra: dict[tuple[int, int], tuple[np.ndarray, str]] = {}
    for idx in groups.values():
        first = {**shared, **{k: varying[k][idx[0]] for k in varying}}
        template = resolve_point(first, base_dir, where, seed=seed, spectra=spectra)
        if learner is not None:
            template = template.replace(learner=learner)
        if template.mix.rule is not None:
            return None
        group = _mix_points(template, first, {k: [varying[k][i] for i in idx] for k in mix_keys}, len(idx), where)
        if group is None:
            return None
        for i, point in zip(idx, group):
            points[i] = point
    return points  # type: ignore[return-value]


def _values(shared: dict[str, Any], varying: dict[str, list[Any]], key: str) -> list[Any]:
    return [shared[key]] if key in shared else list(varying.get(key, []))


def _each_of_columns(shared: dict[str, Any], varying: dict[str, list[Any]], size: int, base_dir: Path,
                     where: str, seed: int, learner: str | None) -> list[ResolvedPoint]:
    grid = [{**shared, **{k: col[i] for k, col in varying.items()}} for i in range(size)]
    return resolve_each(grid, base_dir, where, seed=seed, learner=learner)


_VERIFIER_KEYS = ("rho", "phi", "verifier_precision", "verifier_recall", "verifier", "verifier_roc", "roc_index")


def _mix_points(template: ResolvedPoint, first: dict[str, Any], columns: dict[str, list[Any]], count: int,
                where: str) -> list[ResolvedPoint] | None:
    """The points of one group: the template's model with each point's mix (None: not hashable).

    Each point is checked as :func:`resolve_point` checks it, in order, so the first bad point
    raises the same error; the verifier resolves once per distinct (label noise, verifier keys).
    """
    full = dict(PARAM_DEFAULTS)
    full.update(first)
    verifier_keys = [k for k in _VERIFIER_KEYS if k in full]
    rates: dict[tuple[Any, ...], tuple[float, float, float, float]] = {}
    points = []
    for i in range(count):
        for key, column in columns.items():
            full[key] = column[i]
        n, m = full["n"], full["m"]
        if n + m < 1:
            raise ConfigError(f"{where}: n + m = 0; there must be at least one training sample.")
        eps = float(full["label_noise"])
        try:
            key = (eps, *(full[k] for k in verifier_keys))
            rate = rates.get(key)
        except TypeError:
            return None
        if rate is None:
            verifier = _verifier(full, eps, where)
            precision, recall = verifier.precision_recall(eps)
            rate = rates[key] = (float(verifier.rho), float(verifier.phi), float(precision), float(recall))
        mix = Mix(n=int(n), m=int(m), label_noise=eps, rho=rate[0], phi=rate[1], gamma=float(full["gamma"]))
        points.append(ResolvedPoint(model=template.model, mix=mix, label_noise_auto=False, verifier_precision=rate[2],
                                    verifier_recall=rate[3], learner=template.learner))
    return points
