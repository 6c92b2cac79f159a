"""Loading and validating a sweep config, and expanding it into cells (panel, series, x).

The config file is YAML, loaded safely (no object construction). Structure and every value are
checked here, before any work; problems raise :class:`ConfigError` with one sentence naming the
key. The expansion gives, for every (panel, series, x) cell, the merged raw parameters; turning
those into the model's quantities is :mod:`rmtsynth.config.resolve`'s job.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rmtsynth.core.learners import SPECTRUM_THEORY, get_learner
from rmtsynth.core.verifiers import LABEL_PROTOCOLS, verifier_rule
from rmtsynth.errors import ConfigError, ParameterError
from rmtsynth.config.data import DataSpec, SyntheticDataSpec, parse_data_value, parse_synthetic_data
from rmtsynth.config.schema import (
    ALIASES,
    MAX_GRID_POINTS,
    FIGURE_KINDS,
    FULLY_DECLARED_KINDS,
    HEATMAP_QUANTITIES,
    KEY_KINDS,
    PARAMS,
    PLOT_Y_BY_KIND,
    PLOT_Y_DEFAULTS,
    PROTOCOLS,
    SECTIONS,
    TOP_LEVEL,
    TOP_LEVEL_PARAMS,
    Y_QUANTITIES,
    _did_you_mean,
    _show,
    canonical_name,
    check_section,
    key_text,
    section_defaults,
    unknown_key,
)

KINDS = tuple(FIGURE_KINDS)
MAX_CONFIG_BYTES = 1_000_000
# Limits on the parsed tree: YAML aliases can expand a small file into billions of values.
MAX_CONFIG_VALUES = 200_000
MAX_CONFIG_DEPTH = 50
MAX_NAME_LENGTH = 120
# Point parameters the real-data experiment uses; the others describe a synthetic model of the
# data (its mean, covariance, generator), which the data set itself replaces.
REAL_DATA_PARAMS = (
    "n", "m", "m_over_n", "synthetic_proportion", "p", "label_noise", "verifier", "rho", "phi",
    "verifier_precision", "verifier_recall", "gamma", "learner", "verifier_keep", "verifier_threshold",
    "verifier_softness", "verifier_angle", "verifier_toward_shift", "verifier_options",
)
REAL_DATA_X = ("m", "m_over_n", "synthetic_proportion")


@dataclass
class Axis:
    """The x (or y) axis: which parameter, its values, label and scale."""

    param: str
    values: list[Any]
    label: str
    scale: str = "linear"


@dataclass
class Group:
    """A panel or a series: its label, the parameters it sets, and options."""

    label: str
    params: dict[str, Any]
    y: str | None = None
    ylabel: str | None = None
    simulate: bool = True
    # Series of kind curves: drawn as the accuracy minus that of the series labelled gain_over.
    gain_over: str | None = None
    draw: bool = True


@dataclass
class SimulationSpec:
    enabled: bool = True
    seeds: int = 20
    sampler: str = "exact"
    x: list[Any] | None = None
    test_size: int | None = None
    max_p: int = 3000
    # The keys the config's simulation section sets (None: no section), for the kinds that take
    # only some of them.
    given: tuple[str, ...] | None = None


@dataclass
class TheorySpec:
    covariance: str = "closed_form"
    convention: str = "exact"


@dataclass
class FigureConfig:
    """A validated config: everything needed to compute and draw one figure."""

    name: str
    title: str
    kind: str
    seed: int
    base_dir: Path
    source: str
    raw: dict[str, Any]
    overrides: list[str]
    params: dict[str, Any]
    x: Axis | None
    y_axis: Axis | None
    panels: list[Group]
    series: list[Group]
    simulation: SimulationSpec
    theory: TheorySpec
    plot: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    quick: bool = False

    def cells(self) -> list[tuple[int, int, Any, dict[str, Any]]]:
        """Every (panel index, series index, x value, merged raw params) of the figure."""
        out = []
        x_values = self.theory_x_values()
        for ip, panel in enumerate(self.panels):
            for iseries, series in enumerate(self.series):
                for xv in x_values:
                    merged = dict(self.params)
                    merged.update(panel.params)
                    merged.update(series.params)
                    if self.x is not None:
                        merged[self.x.param] = xv
                    out.append((ip, iseries, xv, merged))
        return out

    def theory_x_values(self) -> list[Any]:
        """The x values of the theory curve: the x axis and the simulation's x, merged and sorted."""
        if self.x is None:
            return [None]
        values = list(self.x.values)
        if self.simulation.x is not None:
            values = _merge_sorted(values, self.simulation.x)
        return values

    def simulated_x(self, xv: Any) -> bool:
        if self.simulation.x is None:
            return True
        return any(_same(xv, s) for s in self.simulation.x)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _merge_sorted(a: list[Any], b: list[Any]) -> list[Any]:
    out = list(a)
    for v in b:
        if not any(_same(v, w) for w in out):
            out.append(v)
    try:
        return sorted(out, key=float)
    except (TypeError, ValueError):
        return out


# ----------------------------------------------------------------------------- loading


class _ConfigLoader(yaml.SafeLoader):
    """The safe loader (no object construction), reading ``1e-3`` as a number as YAML 1.2 does.

    PyYAML follows YAML 1.1, where a float needs a dot, so ``gamma: 1e-3`` would be text.
    A key given twice in one mapping is refused (PyYAML would silently keep the last value).
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the key '{key_node.value}' is given twice", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        # Stop deep nesting while composing: PyYAML's scanner slows down quadratically with depth.
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_CONFIG_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"it is nested more than {MAX_CONFIG_DEPTH} levels deep", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _check_tree(data: Any, where: str) -> None:
    """Refuse trees too large or too deep to be a config (without recursion)."""
    stack = [(data, 0)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_CONFIG_VALUES:
            raise ConfigError(
                f"{where} holds more than {MAX_CONFIG_VALUES} values (after expanding YAML aliases); "
                "that is too large for a config."
            )
        if depth > MAX_CONFIG_DEPTH:
            raise ConfigError(f"{where} is nested more than {MAX_CONFIG_DEPTH} levels deep; that is too deep for a config.")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for kv in node.items() for v in kv)
        elif isinstance(node, (list, tuple, set)):
            stack.extend((v, depth + 1) for v in node)


def load_yaml_text(text: str, where: str) -> dict[str, Any]:
    """Parse YAML safely into a mapping, or raise ConfigError."""
    data = parse_yaml(text, where)
    if data is None:
        raise ConfigError(f"{where} is empty; it must be a YAML mapping of keys to values.")
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a YAML mapping of keys to values, not {type(data).__name__}.")
    return data


def parse_yaml(text: str, where: str) -> Any:
    """Parse one YAML document safely (no object construction), or raise ConfigError."""
    try:
        data = yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "it is not valid YAML"
        raise ConfigError(f"{where} cannot be read{line}: {problem}.") from None
    except RecursionError:
        raise ConfigError(f"{where} is nested too deeply to be a config.") from None
    _check_tree(data, where)
    return data


def read_config_file(path: str | Path) -> tuple[str, dict[str, Any]]:
    """The text and the parsed mapping of a config file."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"The config file {path} is a directory; give a YAML file (for example {path}/NAME.yaml).")
    if not path.is_file():
        raise ConfigError(f"The config file {path} does not exist.")
    raw = path.read_bytes()
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"The config file {path} is {len(raw)} bytes; a config may be at most {MAX_CONFIG_BYTES} bytes.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"The config file {path} is not UTF-8 text (bad byte at offset {exc.start}).") from None
    return text, load_yaml_text(text, f"The config file {path}")


def apply_overrides(data: dict[str, Any], overrides: list[str], top_level: Any = None) -> dict[str, Any]:
    """Apply ``key=value`` overrides (value parsed as YAML) to a copy of the config.

    A dotted key sets a nested value (``simulation.seeds=5``); a bare key that is not a top-level
    key sets a point parameter (``gamma=0.5`` means ``params.gamma``).
    """
    data = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"The override {_show(item)} must have the form key=value.")
        key, text = item.split("=", 1)
        key = key.strip()
        if not key:
            raise ConfigError(f"The override {_show(item)} has no key before '='.")
        value = parse_yaml(text, f"The override {_show(item)}") if text.strip() else None
        parts = key.split(".")
        if len(parts) == 1 and parts[0] not in (TOP_LEVEL if top_level is None else top_level):
            parts = ["params", parts[0]]
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = {}
                node[part] = child
            if not isinstance(child, dict):
                raise ConfigError(f"The override {_show(item)} cannot set {key_text(key)}: {key_text(part)} is not a mapping.")
            node = child
        node[parts[-1]] = value
    return data


def load_config(path: str | Path, overrides: list[str] | None = None, *, quick: bool = False) -> FigureConfig:
    """Read, override and validate a config file."""
    path = Path(path)
    text, data = read_config_file(path)
    data = apply_overrides(data, overrides or [])
    return parse_config(data, name_default=path.stem, base_dir=path.resolve().parent, source=text, overrides=overrides or [], quick=quick)


# ----------------------------------------------------------------------------- values


def expand_values(value: Any, where: str) -> list[Any]:
    """A scalar, a list, or a range mapping as a list of values."""
    if isinstance(value, dict):
        if len(value) != 1:
            raise ConfigError(f"{where} must be a value, a list, or one of {{linspace|logspace|arange: [a, b, c]}}.")
        (kind, args), = value.items()
        if kind not in ("linspace", "logspace", "arange"):
            raise ConfigError(f"{where}.{key_text(kind)} is not a range; use linspace, logspace or arange.")
        if (
            not isinstance(args, list)
            or len(args) != 3
            or any(isinstance(a, bool) or not isinstance(a, (int, float)) or not math.isfinite(a) for a in args)
        ):
            raise ConfigError(f"{where}.{kind} must be a list of three numbers [start, stop, {'step' if kind == 'arange' else 'count'}].")
        a, b, c = args
        if kind == "arange":
            if c <= 0 or (b - a) / c > MAX_GRID_POINTS:
                raise ConfigError(f"{where}.arange step must be > 0 and give at most {MAX_GRID_POINTS} values.")
            vals = np.arange(a, b, c)
        else:
            if float(c) != int(c) or not 1 <= c <= MAX_GRID_POINTS:
                raise ConfigError(f"{where}.{kind} count = {c} must be an integer from 1 to {MAX_GRID_POINTS}.")
            if kind == "linspace":
                vals = np.linspace(a, b, int(c))
            else:
                if a <= 0 or b <= 0:
                    raise ConfigError(f"{where}.logspace start and stop must be > 0 (they are the end values, not exponents).")
                vals = np.geomspace(a, b, int(c))
        if vals.size == 0:
            raise ConfigError(f"{where}.{kind} gives no values.")
        return [float(v) for v in vals]
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"{where} is an empty list.")
        if len(value) > MAX_GRID_POINTS:
            raise ConfigError(f"{where} has {len(value)} values; at most {MAX_GRID_POINTS} are allowed.")
        for v in value:
            if isinstance(v, (list, dict)):
                raise ConfigError(f"{where} must be a flat list of values.")
        return list(value)
    return [value]


def _is_multi(value: Any) -> bool:
    return isinstance(value, (list, dict)) and not (isinstance(value, dict) and "file" in value)


def _check_param_values(params: dict[str, Any], where: str) -> dict[str, Any]:
    """Canonicalise keys and check every value (each element of a list or range)."""
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ConfigError(f"{where} must be a mapping of parameter names to values.")
    out: dict[str, Any] = {}
    for key, value in params.items():
        if not isinstance(key, str):
            raise ConfigError(f"{where} has a key {_show(key)} that is not a name.")
        name = canonical_name(key, where)
        if name in out:
            raise ConfigError(f"{where} sets {name} twice (as {key} and under another name).")
        spec = PARAMS[name]
        if spec.kind == "mapping" and not isinstance(value, dict):
            raise ConfigError(f"{where}.{key} = {_show(value)} is not allowed; it must be {spec.rule()}.")
        if spec.kind in ("spectrum", "mapping"):
            out[name] = value
            continue
        if _is_multi(value):
            values = expand_values(value, f"{where}.{key}")
            for v in values:
                spec.check(v, f"{where}.{key}")
            out[name] = [spec.check(v, f"{where}.{key}") for v in values]
        else:
            out[name] = spec.check(value, f"{where}.{key}")
    return out


def _check_mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping.")
    return value


# ----------------------------------------------------------------------------- groups


def _groups(value: Any, where: str, params: dict[str, Any], label_key: str) -> tuple[list[Group], str | None]:
    """Panels or series from their config entry; returns the groups and the swept parameter, if any."""
    if value is None:
        return [Group(label="", params={})], None
    if isinstance(value, str):
        value = {"param": value}
    if isinstance(value, dict):
        allowed = ("param", label_key, "y", "ylabel")
        for key in value:
            if key not in allowed:
                raise unknown_key(str(key), f"{where}.", allowed)
        if "param" not in value:
            raise ConfigError(f"{where} must name the swept parameter with 'param', or be a list of {{{label_key}, params}}.")
        name = _swept_name(value["param"], where)
        if name not in params or not isinstance(params[name], list):
            raise ConfigError(f"{where}.param = {name} must name a parameter that params gives as a list or a range.")
        template = value.get(label_key, f"{name} = {{value}}")
        if not isinstance(template, str):
            raise ConfigError(f"{where}.{label_key} must be text, for example '{name} = {{value}}'.")
        groups = []
        for v in params[name]:
            try:
                label = template.format(value=_label_value(v))
            except (KeyError, IndexError, ValueError, AttributeError, TypeError):
                raise ConfigError(f"{where}.{label_key} = {_show(template)} may use only {{value}} as a placeholder.") from None
            groups.append(Group(label=label, params={name: v}, y=value.get("y"), ylabel=value.get("ylabel")))
        return groups, name
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"{where} is an empty list.")
        groups = []
        for i, item in enumerate(value):
            w = f"{where}[{i}]"
            if not isinstance(item, dict):
                raise ConfigError(f"{w} must be a mapping with {label_key} and params.")
            allowed = (label_key, "params", "y", "ylabel", "simulate") + (("gain_over", "draw") if label_key == "label" else ())
            for key in item:
                if key not in allowed:
                    raise unknown_key(str(key), f"{w}.", allowed)
            label = item.get(label_key, "")
            if not isinstance(label, (str, int, float)):
                raise ConfigError(f"{w}.{label_key} must be text.")
            gparams = _check_param_values(item.get("params") or {}, f"{w}.params")
            for k, v in gparams.items():
                if isinstance(v, list):
                    raise ConfigError(f"{w}.params.{k} must be a single value, not a list.")
            simulate = item.get("simulate", True)
            if not isinstance(simulate, bool):
                raise ConfigError(f"{w}.simulate must be true or false.")
            y = item.get("y")
            if y is not None and y not in Y_QUANTITIES:
                raise ConfigError(f"{w}.y = {_show(y)} is not allowed; it must be one of {', '.join(Y_QUANTITIES)}.")
            gain_over, draw = item.get("gain_over"), item.get("draw", True)
            if gain_over is not None and not isinstance(gain_over, str) or not isinstance(draw, bool):
                raise ConfigError(f"{w}.gain_over must be a series label and {w}.draw true or false.")
            groups.append(Group(label=str(label), params=gparams, y=y, ylabel=item.get("ylabel"), simulate=simulate,
                                gain_over=gain_over, draw=draw))
        _check_gains(groups, where)
        return groups, None
    raise ConfigError(f"{where} must be a parameter name, a mapping {{param, {label_key}}}, or a list.")


def _check_gains(groups: list[Group], where: str) -> None:
    """A series drawn as a gain names another series of the figure, one of accuracies."""
    labels = {g.label: g for g in groups}
    for i, group in enumerate(groups):
        if group.gain_over is None:
            continue
        other = labels.get(group.gain_over)
        if other is None:
            raise ConfigError(f"{where}[{i}].gain_over = '{group.gain_over}' names no series; the labels are "
                              f"{', '.join(repr(label) for label in labels)}.")
        if other.gain_over is not None:
            raise ConfigError(f"{where}[{i}].gain_over = '{group.gain_over}' names a series that is itself a gain; "
                              "name a series of accuracies.")


def _swept_name(value: Any, where: str) -> str:
    """The canonical name of the parameter an axis, the series or the panels sweep."""
    if isinstance(value, str) and (value in PARAMS or value in ALIASES):
        return canonical_name(value, where)
    hint = _did_you_mean(value, list(PARAMS) + list(ALIASES)) if isinstance(value, str) else ""
    raise ConfigError(f"{where}.param = {_show(value)} is not a known parameter{hint}; run 'rmtsynth schema' for the list.")


def _label_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _axis(value: Any, where: str, params: dict[str, Any]) -> Axis:
    if isinstance(value, str):
        value = {"param": value}
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a parameter name or a mapping {{param, label, scale}}.")
    allowed = ("param", "label", "scale")
    for key in value:
        if key not in allowed:
            raise unknown_key(str(key), f"{where}.", allowed)
    if "param" not in value:
        raise ConfigError(f"{where}.param is missing: name the parameter on this axis.")
    name = _swept_name(value["param"], where)
    if name not in params:
        raise ConfigError(f"{where}.param = {name} must be given in params as a list or a range.")
    values = params[name] if isinstance(params[name], list) else [params[name]]
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
        raise ConfigError(
            f"{where}.param = {name} takes text values ({', '.join(map(str, values[:4]))}); an axis needs numbers, "
            "so make it the series or the panels instead."
        )
    scale = value.get("scale", "linear")
    if scale not in ("linear", "log"):
        raise ConfigError(f"{where}.scale = {_show(scale)} is not allowed; it must be linear or log.")
    if scale == "log" and any(not isinstance(v, (int, float)) or v <= 0 for v in values):
        raise ConfigError(f"{where}.scale = log needs every {name} value to be > 0.")
    label = value.get("label", name)
    if not isinstance(label, str):
        raise ConfigError(f"{where}.label must be text.")
    return Axis(param=name, values=values, label=label, scale=scale)


# ----------------------------------------------------------------------------- kinds


def _check_key_kinds(data: dict[str, Any], kind: str) -> None:
    """Refuse a top-level key meant for other kinds (for the kinds whose every key is declared)."""
    if kind not in FULLY_DECLARED_KINDS:
        return
    for key in data:
        kinds = KEY_KINDS.get(key)
        if kinds and kind not in kinds and key != "y":  # y: its own message, with the axes
            raise ConfigError(f"{key} is only used with kind {' or '.join(kinds)}; this config has kind {kind}.")


def _check_plot_y(plot: dict[str, Any], kind: str) -> None:
    if "y" not in plot:
        return
    allowed = PLOT_Y_BY_KIND.get(kind, Y_QUANTITIES)
    if not allowed:
        raise ConfigError(f"plot.y is not used by kind {kind}; remove it.")
    if plot["y"] not in allowed:
        hint = _did_you_mean(plot["y"], allowed) if isinstance(plot["y"], str) else ""
        raise ConfigError(f"plot.y = {_show(plot['y'])} is not allowed for kind {kind}; it must be one of {', '.join(allowed)}{hint}.")


def plot_y(cfg: "FigureConfig") -> str:
    """The quantity on the figure's y axis: plot.y, or the kind's default."""
    return cfg.plot.get("y", PLOT_Y_DEFAULTS.get(cfg.kind, "accuracy"))


def _check_kind_settings(cfg: "FigureConfig") -> None:
    """The checks of one kind beyond the generic ones, so that they all run when a config is read."""
    if cfg.kind == "heatmap":
        heatmap_settings(cfg)
    elif cfg.kind == "marchenko_pastur":
        mp_settings(cfg)
    elif cfg.kind == "real_data":
        real_data_settings(cfg)
    elif cfg.kind == "generator_samples":
        parse_data_value(cfg.extra.get("data"), kind=cfg.kind, base_dir=cfg.base_dir)


@dataclass(frozen=True)
class HeatmapSettings:
    """A heatmap's checked settings: the quantity it draws (gain or accuracy)."""

    quantity: str


def heatmap_settings(cfg: "FigureConfig") -> HeatmapSettings:
    """Check what a heatmap needs beyond the generic config checks; returns its settings."""
    if len(cfg.series) > 1 or cfg.series[0].label or cfg.series[0].params:
        raise ConfigError("A heatmap has no series; put the variants in panels.")
    if cfg.simulation.given is not None and cfg.simulation.enabled:
        raise ConfigError("A heatmap is drawn from the theory only; remove simulation (or set simulation.enabled: false).")
    if cfg.theory.covariance == "plug_in":
        raise ConfigError("A heatmap uses the closed-form theory; theory.covariance = plug_in is for curves.")
    quantity = plot_y(cfg)
    if quantity not in HEATMAP_QUANTITIES:
        raise ConfigError(f"plot.y = {_show(quantity)} is not allowed for kind heatmap; it must be one of {', '.join(HEATMAP_QUANTITIES)}.")
    return HeatmapSettings(quantity=quantity)


@dataclass(frozen=True)
class MpSettings:
    """The Marchenko-Pastur figure's checked ``mp`` section, defaults filled in."""

    p: int
    n: int
    bins: int
    ratios: list[float]
    grid: int


def mp_settings(cfg: "FigureConfig") -> MpSettings:
    """The checked ``mp`` section of a marchenko_pastur config (see ``rmtsynth schema``)."""
    values = section_defaults("mp")
    values.update(check_section("mp", cfg.extra.get("mp")))
    return MpSettings(**values)


@dataclass(frozen=True)
class RealDataSettings:
    """A real_data config's checked settings.

    ``panels`` holds (title, params, index into ``data``) per panel: the data list's entries, or
    the config's panels over its one data set.
    """

    data: list[DataSpec]
    protocols: list[str]
    fitted_gaussian_theory: bool
    panels: list[tuple[str, dict[str, Any], int]]


def _check_real_data_plugins(where: str, params: dict[str, Any], fitted: bool) -> None:
    """The learner and the verifier rule of a real_data group, asked whether they serve the kind."""
    refusal = get_learner(params["learner"]).refusal(SPECTRUM_THEORY) if fitted and "learner" in params else None
    if refusal is not None:
        raise ConfigError(f"{where}: learner = {params['learner']} cannot be used with fitted_gaussian_theory: {refusal}")
    keep = params.get("verifier_keep") or "none"
    if keep == "none":
        return
    try:
        refusal = verifier_rule(keep, params).supports(LABEL_PROTOCOLS)
    except ParameterError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if refusal is not None:
        raise ConfigError(f"{where}: {refusal}")


def real_data_settings(cfg: "FigureConfig") -> RealDataSettings:
    """Check a real_data config without opening any file; returns its settings."""
    specs = parse_data_value(cfg.extra.get("data"), kind=cfg.kind, base_dir=cfg.base_dir)
    assert cfg.x is not None
    if cfg.x.param not in REAL_DATA_X:
        raise ConfigError(f"x.param = {cfg.x.param} is not allowed for kind real_data; it must be m, m_over_n or synthetic_proportion.")
    for key in cfg.simulation.given or ():
        if key not in ("enabled", "seeds"):
            raise ConfigError(f"simulation.{key} is not used by kind real_data; it takes simulation.seeds and simulation.enabled.")
    groups = [("params", cfg.params)] + [(f"panels '{g.label}'", g.params) for g in cfg.panels] + [
        (f"series '{g.label}'", g.params) for g in cfg.series
    ]
    for where, params in groups:
        for key in params:
            if key not in REAL_DATA_PARAMS:
                raise ConfigError(
                    f"{where}: {key} is not used by kind real_data, where the data set replaces the model; "
                    f"the parameters are {', '.join(REAL_DATA_PARAMS)}."
                )
    protocols = _protocols(cfg.extra.get("protocols", TOP_LEVEL_PARAMS["protocols"].default))
    fitted = TOP_LEVEL_PARAMS["fitted_gaussian_theory"].check(cfg.extra.get("fitted_gaussian_theory", False), "fitted_gaussian_theory")
    for where, params in groups:
        _check_real_data_plugins(where, params, fitted)
    if len(specs) > 1 or specs[0].title:
        if len(cfg.panels) > 1 or cfg.panels[0].label or cfg.panels[0].params:
            raise ConfigError("panels cannot be given with a list under data: each data set is a panel; give one data set to use panels.")
        panels = [(s.title, {}, i) for i, s in enumerate(specs)]
    else:
        panels = [(g.label, g.params, 0) for g in cfg.panels]
    return RealDataSettings(data=specs, protocols=protocols, fitted_gaussian_theory=fitted, panels=panels)


def _protocols(raw: Any) -> list[str]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise ConfigError("protocols must be a non-empty list of held-out and/or paper.")
    for v in raw:
        if v not in PROTOCOLS:
            hint = _did_you_mean(v, PROTOCOLS) if isinstance(v, str) else ""
            raise ConfigError(f"protocols has {_show(v)}, which is not a protocol; use held-out and/or paper{hint}.")
    if len(set(raw)) != len(raw):
        raise ConfigError("protocols names a protocol twice.")
    return list(raw)


def synthetic_data_spec(cfg: "FigureConfig") -> SyntheticDataSpec | None:
    """The config's checked ``synthetic_data`` entry, or None."""
    value = cfg.extra.get("synthetic_data")
    return None if value is None else parse_synthetic_data(value, cfg.base_dir)


# ----------------------------------------------------------------------------- parse


def parse_config(
    data: dict[str, Any],
    *,
    name_default: str,
    base_dir: Path,
    source: str = "",
    overrides: list[str] | None = None,
    quick: bool = False,
) -> FigureConfig:
    """Validate a parsed config mapping and build a :class:`FigureConfig`."""
    for key in data:
        if not isinstance(key, str) or key not in TOP_LEVEL:
            raise unknown_key(str(key), "", list(TOP_LEVEL))
    raw = copy.deepcopy(data)
    data, quick_over = _with_quick_params(data, quick)
    name = _check_name(data.get("name", name_default))
    title = data.get("title", "")
    if not isinstance(title, (str, int, float)):
        raise ConfigError("title must be text.")
    kind = data.get("kind", "curves")
    if kind not in KINDS:
        raise ConfigError(f"kind = {_show(kind)} is not allowed; it must be one of {', '.join(KINDS)}.")
    _check_key_kinds(data, kind)
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ConfigError(f"seed = {_show(seed)} is not allowed; it must be an integer >= 0.")

    params = _check_param_values(data.get("params") or {}, "params")
    sim, sim_raw = _simulation_spec(data)
    theory = TheorySpec(**check_section("theory", data.get("theory")))
    plot = check_section("plot", data.get("plot"))
    _check_plot_y(plot, kind)

    panels, panel_param = _groups(data.get("panels"), "panels", params, "title")
    series, series_param = _groups(data.get("series"), "series", params, "label")
    x_axis, y_axis = _axes(data, kind, params, panel_param, series_param)
    if "x" in sim_raw:
        if x_axis is None:
            raise ConfigError("simulation.x needs an x axis.")
        spec = PARAMS[x_axis.param]
        sim.x = [spec.check(v, "simulation.x") for v in expand_values(sim_raw["x"], "simulation.x")]
    if quick:
        _apply_quick(quick_over, sim, x_axis, y_axis)
    extra = _extra_sections(data, base_dir)
    n_cells = len(panels) * len(series) * (len(x_axis.values) if x_axis else 1) * (len(y_axis.values) if y_axis else 1)
    if n_cells > MAX_GRID_POINTS:
        raise ConfigError(f"The figure has {n_cells} points; at most {MAX_GRID_POINTS} are allowed.")
    cfg = FigureConfig(
        name=name,
        title=str(title),
        kind=kind,
        seed=seed,
        base_dir=base_dir,
        source=source,
        raw=raw,
        overrides=list(overrides or []),
        params={k: v for k, v in params.items() if not isinstance(v, list)},
        x=x_axis,
        y_axis=y_axis,
        panels=panels,
        series=series,
        simulation=sim,
        theory=theory,
        plot=plot,
        extra=extra,
        quick=quick,
    )
    _check_kind_settings(cfg)
    return cfg


def _with_quick_params(data: dict[str, Any], quick: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """The checked ``quick`` section, and the config with its ``quick.params`` applied in quick mode."""
    quick_over = check_section("quick", data.get("quick"))
    if "params" in quick_over:
        _check_param_values(quick_over["params"], "quick.params")
    if quick and isinstance(quick_over.get("params"), dict):
        data = copy.deepcopy(data)
        data.setdefault("params", {})
        if not isinstance(data["params"], dict):
            raise ConfigError("params must be a mapping of parameter names to values.")
        data["params"].update(quick_over["params"])
    return data, quick_over


def _check_name(name: Any) -> str:
    """The figure's name, which becomes file names in the output directory: it must not lead anywhere else."""
    if (
        not isinstance(name, str)
        or not name
        or len(name) > MAX_NAME_LENGTH
        or any(c in name for c in "/\\:")
        or ".." in name
        or name.startswith(".")
        or not name.isprintable()
    ):
        raise ConfigError(
            f"name = {_show(name)} is not allowed; it must be a plain file name of at most {MAX_NAME_LENGTH} "
            "printable characters, without '/', '\\', ':', '..' or a leading '.'."
        )
    return name


def _simulation_spec(data: dict[str, Any]) -> tuple[SimulationSpec, dict[str, Any]]:
    """The checked simulation section (its x is expanded once the x axis is known) and its raw mapping."""
    sim_raw = data.get("simulation", {})
    if isinstance(sim_raw, bool):
        sim_raw = {"enabled": sim_raw}
    sim_checked = check_section("simulation", sim_raw)
    sim = SimulationSpec(given=None if data.get("simulation") is None else tuple(sim_checked))
    for key, value in sim_checked.items():
        if key != "x":
            setattr(sim, key, value)
    return sim, sim_raw


def _axes(
    data: dict[str, Any], kind: str, params: dict[str, Any], panel_param: str | None, series_param: str | None
) -> tuple[Axis | None, Axis | None]:
    """The x and y axes the kind needs; every swept parameter is swept once, and every list is swept."""
    x_axis = None
    y_axis = None
    swept = {p for p in (panel_param, series_param) if p}
    if kind in ("curves", "heatmap", "real_data"):
        if "x" not in data:
            raise ConfigError(f"x is missing: a {kind} figure needs the parameter on its x axis.")
        x_axis = _axis(data["x"], "x", params)
        swept.add(x_axis.param)
    if kind == "heatmap":
        if "y" not in data:
            raise ConfigError("y is missing: a heatmap needs the parameter on its y axis.")
        y_axis = _axis(data["y"], "y", params)
        if y_axis.param == x_axis.param:
            raise ConfigError("y.param must differ from x.param.")
        swept.add(y_axis.param)
    elif "y" in data:
        raise ConfigError("y is only for kind: heatmap; use plot.y for the quantity on a curve's y axis.")
    if len(swept) < len([p for p in (panel_param, series_param, x_axis and x_axis.param, y_axis and y_axis.param) if p]):
        raise ConfigError("The x axis, the series and the panels must sweep different parameters.")
    for key, value in params.items():
        if isinstance(value, list) and key not in swept:
            raise ConfigError(
                f"params.{key} is a list, but it is neither the x axis, the series nor the panels; "
                "give one value or name it in x, series or panels."
            )
    return x_axis, y_axis


def _apply_quick(quick_over: dict[str, Any], sim: SimulationSpec, x_axis: Axis | None, y_axis: Axis | None) -> None:
    """Quick mode: fewer seeds and thinned axes, in place."""
    sim.seeds = int(quick_over.get("seeds", min(sim.seeds, 4)))
    x_points = quick_over.get("x_points", 9)
    if not isinstance(x_points, int) or isinstance(x_points, bool) or x_points < 2:
        raise ConfigError("quick.x_points must be an integer >= 2.")
    if x_axis is not None:
        x_axis.values = _thin(x_axis.values, x_points)
        if y_axis is not None:
            y_axis.values = _thin(y_axis.values, x_points)
        if sim.x is not None:
            sim.x = _thin(sim.x, int(quick_over.get("simulation_x", max(2, x_points // 2))))


EXTRA_SECTIONS = (
    "data", "protocols", "mp", "description", "mnist", "generations", "prediction", "synthetic_data",
    "fitted_gaussian_theory", "advice",
)


def _extra_sections(data: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """The kind-specific top-level keys, with the sections the schema declares checked."""
    extra = {k: data[k] for k in EXTRA_SECTIONS if k in data}
    for section in ("mnist", "generations", "prediction", "advice"):
        # A kind's own section is checked here once its keys are declared in the schema.
        if extra.get(section) is not None and SECTIONS[section].keys:
            extra[section] = check_section(section, extra[section])
    if "synthetic_data" in extra:
        parse_synthetic_data(extra["synthetic_data"], base_dir)
    return extra


def _thin(values: list[Any], count: int) -> list[Any]:
    """At most ``count`` values, spread evenly, keeping both ends."""
    if len(values) <= count:
        return list(values)
    idx = np.unique(np.round(np.linspace(0, len(values) - 1, count)).astype(int))
    return [values[i] for i in idx]
