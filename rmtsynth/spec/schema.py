"""The parameters a config may set: their types, ranges and meaning.

One table drives validation, the error messages and ``rmtsynth schema``. Values are checked
before any work starts, and every problem is reported as one sentence that names the key, the
value and what is allowed.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any

from rmtsynth.errors import ConfigError


@dataclass(frozen=True)
class Param:
    """One parameter of a sweep point."""

    name: str
    kind: str  # "int", "float", "bool", "choice", "spectrum"
    doc: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    also: tuple[str, ...] = ()  # string values accepted besides numbers (e.g. "auto")

    def rule(self) -> str:
        """The allowed values, in words."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "spectrum":
            return "a mapping with one of the keys values, loguniform or file"
        if self.kind == "path":
            return "a file path (relative to the config file)"
        parts = []
        kind = "an integer" if self.kind == "int" else "a number"
        if self.low is not None and self.high is not None:
            lo = "(" if self.low_open else "["
            hi = ")" if self.high_open else "]"
            parts.append(f"{kind} in {lo}{_fmt(self.low)}, {_fmt(self.high)}{hi}")
        elif self.low is not None:
            parts.append(f"{kind} {'>' if self.low_open else '>='} {_fmt(self.low)}")
        else:
            parts.append(kind)
        if self.also:
            parts.append(" or ".join(f"'{a}'" for a in self.also))
        return " or ".join(parts)

    def check(self, value: Any, where: str) -> Any:
        """Return the value converted to its type, or raise ConfigError naming ``where``."""
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise ConfigError(f"{where} = {_show(value)} is not allowed; it must be {self.rule()}.")
        if self.kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return value
            hint = _did_you_mean(value, self.choices) if isinstance(value, str) else ""
            raise ConfigError(f"{where} = {_show(value)} is not allowed; it must be {self.rule()}{hint}.")
        if self.kind == "spectrum":
            return value  # checked where it is resolved
        if self.kind == "path":
            if isinstance(value, str) and value:
                return value
            raise ConfigError(f"{where} = {_show(value)} is not allowed; it must be {self.rule()}.")
        if isinstance(value, str) and value in self.also:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} = {_show(value)} is not allowed; it must be {self.rule()}.")
        if not math.isfinite(float(value)):
            raise ConfigError(f"{where} = {_show(value)} is not allowed; it must be {self.rule()}.")
        if self.kind == "int":
            if float(value) != int(value):
                raise ConfigError(f"{where} = {_show(value)} is not allowed; it must be {self.rule()}.")
            value = int(value)
        else:
            value = float(value)
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            raise ConfigError(f"{where} = {_show(value)} is out of range; it must be {self.rule()}.")
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            raise ConfigError(f"{where} = {_show(value)} is out of range; it must be {self.rule()}.")
        return value


def _fmt(x: float) -> str:
    return f"{x:g}"


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, bool):
        text = "true" if value else "false"
    if value is None:
        text = "null"
    return text if len(text) <= 60 else text[:57] + "..."


def _did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


MAX_P = 100_000
MAX_SAMPLES = 10**12

PARAMS: dict[str, Param] = {
    p.name: p
    for p in [
        Param("n", "int", "real training samples", 0, MAX_SAMPLES),
        Param("m", "int", "synthetic samples generated (before the verifier prunes them)", 0, MAX_SAMPLES),
        Param("m_over_n", "float", "synthetic samples per real sample: m = round(m_over_n * n)", 0, 1e9),
        Param(
            "synthetic_proportion",
            "float",
            "m / (n + m); m = floor(s n / (1 - s)) for s < 1, and s = 1 means n = 0",
            0,
            1,
        ),
        Param("p", "int", "dimension", 1, MAX_P),
        Param("p_over_n", "float", "dimension per real sample: p = round(p_over_n * n)", 0, 1e9, low_open=True),
        Param("p_over_m", "float", "dimension per synthetic sample: p = round(p_over_m * m)", 0, 1e9, low_open=True),
        Param("mu_norm", "float", "norm of the real class mean mu", 0, 1e6),
        Param(
            "label_noise",
            "float",
            "probability eps that a synthetic label is flipped; 'auto' = the test error of the ridge "
            "trained on the m synthetic samples alone with clean labels",
            0,
            1,
            also=("auto",),
        ),
        Param("verifier", "choice", "a named verifier: oracle (rho=0, phi=1) or none (rho=phi=1)", choices=("oracle", "none")),
        Param("rho", "float", "probability that the verifier keeps a wrong label (false-positive rate)", 0, 1),
        Param("phi", "float", "probability that the verifier keeps a correct label (recall)", 0, 1),
        Param("verifier_precision", "float", "fraction of kept synthetic samples whose label is correct", 0, 1),
        Param("verifier_recall", "float", "fraction of correct labels the verifier keeps (= phi)", 0, 1),
        Param("gamma", "float", "ridge regularisation", 0, 1e12, low_open=True),
        Param("generator_alignment", "float", "beta in mu_beta = beta mu + tau u (u a unit vector orthogonal to mu)", -1e6, 1e6),
        Param("generator_shift", "float", "tau in mu_beta = beta mu + tau u: the generator's spurious mean", 0, 1e6),
        Param(
            "covariance",
            "choice",
            "the generator's noise covariance C",
            choices=("identity", "scaled", "diagonal", "estimated", "file"),
        ),
        Param("covariance_scale", "float", "with covariance: scaled, C = covariance_scale * I", 0, 1e6, low_open=True),
        Param(
            "covariance_spectrum",
            "spectrum",
            "with covariance: diagonal, the eigenvalues of C: {values: [...]}, {loguniform: [lo, hi]} "
            "(p values spaced evenly in log scale) or {file: path.npy|.txt}",
        ),
        Param("covariance_file", "path", "with covariance: file, a .npy or .txt p x p matrix (relative to the config)"),
        Param("n_hat", "int", "with covariance: estimated, C = Z Z^T / n_hat from n_hat fresh samples", 1, 10**8),
        Param("n_hat_over_n", "float", "with covariance: estimated, n_hat = round(n_hat_over_n * n)", 0, 1e6, low_open=True),
        Param(
            "estimate_generator_mean",
            "bool",
            "with covariance: estimated, the generator's mean is also estimated from the n_hat samples "
            "(simulation; the theory then uses the plug-in of each sampled C)",
        ),
    ]
}

# Accepted spellings that map onto the canonical names.
ALIASES = {
    "p/n": "p_over_n",
    "p/m": "p_over_m",
    "m/n": "m_over_n",
    "eps": "label_noise",
    "epsilon": "label_noise",
    "precision": "verifier_precision",
    "recall": "verifier_recall",
    "beta": "generator_alignment",
    "tau": "generator_shift",
    "n_hat/n": "n_hat_over_n",
    "proportion": "synthetic_proportion",
}

PARAM_DEFAULTS: dict[str, Any] = {
    "mu_norm": 1.0,
    "gamma": 1.0,
    "label_noise": 0.0,
    "generator_alignment": 1.0,
    "generator_shift": 0.0,
    "covariance": "identity",
    "estimate_generator_mean": False,
}

# Top-level keys of a config file.
TOP_LEVEL: dict[str, str] = {
    "name": "output file name (default: the config file's name)",
    "title": "figure title",
    "description": "free text, copied to the manifest",
    "kind": "curves (default), heatmap, marchenko_pastur, generator_samples or real_data",
    "seed": "root seed of every random draw (integer >= 0, default 0)",
    "params": "the parameters shared by every point (a value, a list, or a range)",
    "x": "the parameter on the x axis: a name, or {param, label, scale}",
    "y": "with kind: heatmap, the parameter on the y axis",
    "series": "the lines: a list parameter's name, {param, label}, or a list of {label, params}",
    "panels": "the subplots: a list parameter's name, {param, title}, or a list of {title, params, y}",
    "simulation": "{enabled, seeds, sampler, x, test_size}: the Monte-Carlo check",
    "theory": "{covariance: closed_form | plug_in, convention: exact | reference}",
    "plot": "{y, ylabel, sharey, marks, legend, xlim, ylim, baseline}",
    "quick": "overrides used with --quick, e.g. {seeds: 5, x_points: 9}",
    "data": "with kind: real_data or generator_samples, the data set",
    "protocols": "with kind: real_data, the protocols to run (held-out, paper)",
    "fitted_gaussian_theory": "with kind: real_data, also draw the theory on the fitted Gaussian (not a held-out prediction)",
    "mp": "with kind: marchenko_pastur, the histogram and density settings",
    "mnist": "with kind: mnist, the network, the generators and the synthetic counts",
    "generations": "with kind: generations, the loop: regime, labels, generator covariance, generations",
    "prediction": "with kind: prediction, the predicted-against-measured settings",
    "synthetic_data": "with kind: prediction or in a plan, a file of synthetic rows with their labels",
}

SIMULATION_KEYS = {
    "enabled": Param("simulation.enabled", "bool", "run the Monte-Carlo"),
    "seeds": Param("simulation.seeds", "int", "replicates per point", 1, 100_000),
    "sampler": Param("simulation.sampler", "choice", "exact (sufficient statistics) or naive (data matrices)", choices=("exact", "naive")),
    "x": Param("simulation.x", "spectrum", "x values to simulate at (default: every x)"),
    "test_size": Param("simulation.test_size", "int", "also report accuracy on a sampled test set of this size", 1, 10**7),
    "max_p": Param("simulation.max_p", "int", "skip simulation for points with a larger p", 1, MAX_P),
}

THEORY_KEYS = {
    "covariance": Param("theory.covariance", "choice", "closed_form (Marchenko-Pastur) or plug_in", choices=("closed_form", "plug_in")),
    "convention": Param("theory.convention", "choice", "exact, or the seed paper's reference convention", choices=("exact", "reference")),
}


def key_text(key: Any) -> str:
    """A user's key as shown in a message: on one line and of bounded length."""
    text = str(key)
    if not text.isprintable() or len(text) > 60:
        text = _show(text)
    return text


def canonical_name(key: str, where: str) -> str:
    """The canonical parameter name for ``key``, or a ConfigError with a did-you-mean."""
    if key in PARAMS:
        return key
    if key in ALIASES:
        return ALIASES[key]
    raise ConfigError(
        f"{where}.{key_text(key)} is not a known parameter{_did_you_mean(key, list(PARAMS) + list(ALIASES))}; "
        "run 'rmtsynth schema' for the list."
    )


def unknown_key(key: str, where: str, options) -> ConfigError:
    return ConfigError(
        f"{where}{key_text(key)} is not a known key{_did_you_mean(key, options)}; allowed: {', '.join(options)}."
    )


def schema_text() -> str:
    """The schema as readable text, for ``rmtsynth schema``."""
    lines = ["Top-level keys:"]
    for key, doc in TOP_LEVEL.items():
        lines.append(f"  {key:22s} {doc}")
    lines.append("")
    lines.append("Point parameters (under params, panels[].params or series[].params):")
    for p in PARAMS.values():
        default = f" [default {PARAM_DEFAULTS[p.name]}]" if p.name in PARAM_DEFAULTS else ""
        lines.append(f"  {p.name:22s} {p.doc}; {p.rule()}{default}")
    lines.append("  aliases: " + ", ".join(f"{a} -> {c}" for a, c in ALIASES.items()))
    lines.append("")
    lines.append("Any point parameter may be a value, a list [a, b, ...], or a range:")
    lines.append("  {linspace: [start, stop, count]}  evenly spaced, both ends included")
    lines.append("  {logspace: [start, stop, count]}  evenly spaced on a log scale from start to stop")
    lines.append("  {arange: [start, stop, step]}     numpy.arange (stop excluded)")
    lines.append("A list or range must be the x axis, the series or the panels.")
    lines.append("")
    lines.append("simulation:")
    for key, p in SIMULATION_KEYS.items():
        lines.append(f"  {key:22s} {p.doc}")
    lines.append("theory:")
    for key, p in THEORY_KEYS.items():
        lines.append(f"  {key:22s} {p.doc}")
    lines.append("")
    lines.append("The verifier is given by name (verifier), by rho and phi, or by verifier_precision and verifier_recall.")
    lines.append("Sizes: give n, then m (or m_over_n, or synthetic_proportion), then p (or p_over_n, or p_over_m).")
    return "\n".join(lines)
