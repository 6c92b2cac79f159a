"""The ``prediction:`` section of a figure config (kind ``prediction``), checked into one settings object.

Every rule that needs no data is checked here, before any work: the swept values of the section and
of each panel, a panel's synthetic source (a file, another data set, a Gaussian fitted on rows set
aside), m > 0 only with a synthetic source, the ``given`` verifier only with a file that records
its decisions, and that every named file exists. What needs the rows themselves (sizes against
the data, the width the measurement affords) is checked by the engine once the data are read.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rmtsynth.config.data import DataSpec, SyntheticDataSpec, check_files, parse_data_entry, parse_synthetic_data
from rmtsynth.config.figure_config import FigureConfig
from rmtsynth.config.schema import PREDICTION_KEYS, _show, check_section, section_defaults, unknown_key
from rmtsynth.core.learners import DEFAULT_LEARNER
from rmtsynth.core.verifiers import as_verifier
from rmtsynth.errors import ConfigError, ParameterError

PANEL_KEYS = ("title", "synthetic", "n", "m", "label_noise", "verifiers")
GAUSSIAN_KEYS = ("generator", "pool_rows", "rows")
# A Gaussian pool is drawn in memory: at most this many rows.
MAX_GAUSSIAN_ROWS = 1_000_000


@dataclass(frozen=True)
class GaussianPool:
    """A synthetic pool drawn from a Gaussian fitted on ``pool_rows`` real rows set aside."""

    pool_rows: int
    rows: int


@dataclass(frozen=True)
class PanelSetting:
    """One data set of the figure, with its synthetic source and what is swept on it."""

    where: str
    data_index: int
    title: str
    synthetic: SyntheticDataSpec | GaussianPool | None
    n: tuple[int, ...]
    m: tuple[Any, ...]
    label_noise: tuple[float, ...]
    verifiers: tuple[Any, ...]


@dataclass(frozen=True)
class PredictionSettings:
    """A prediction config's checked settings."""

    data: list[DataSpec]
    panels: list[PanelSetting]
    gamma: float
    splits: int
    estimator: str
    correction: str
    folds: int
    x: str  # "" : n for a panel without synthetic rows, else the proportion
    learner: str = DEFAULT_LEARNER  # what is trained; the prediction covers the learners that support it
    # Whether the section itself sets label_noise: a pool file's own rate of wrong labels is
    # measured otherwise.
    label_noise_given: bool = False

    def x_of(self, panel: PanelSetting) -> str:
        """The x axis of one panel."""
        if self.x:
            return self.x
        return "n" if all(m == 0 for m in panel.m) else "proportion"


def _int_list(value: Any, where: str, low: int, *, all_ok: bool = False) -> tuple[Any, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ConfigError(f"{where} is an empty list; give at least one value.")
    out: list[Any] = []
    for v in items:
        if all_ok and v == "all":
            out.append("all")
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or float(v) != int(v) or v < low:
            extra = " or 'all'" if all_ok else ""
            raise ConfigError(f"{where} = {_show(value)} is not allowed; each value must be an integer >= {low}{extra}.")
        out.append(int(v))
    if len(set(out)) != len(out):
        raise ConfigError(f"{where} = {_show(value)} names a value twice.")
    return tuple(out)


def _verifier_list(value: Any, where: str) -> tuple[Any, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ConfigError(f"{where} is an empty list; give at least one verifier.")
    out: list[Any] = []
    for v in items:
        if v == "given":
            out.append(v)
            continue
        try:
            verifier = as_verifier(v) if isinstance(v, (str, list)) else None
        except ParameterError:
            verifier = None
        if verifier is None:
            raise ConfigError(
                f"{where} = {_show(value)} is not allowed; each verifier must be none, oracle, given or [rho, phi] with "
                "two probabilities."
            )
        out.append(v if isinstance(v, str) else verifier.label_rates())
    if len(set(out)) != len(out):
        raise ConfigError(f"{where} names a verifier twice.")
    return tuple(out)


def _noise_list(value: Any, where: str) -> tuple[float, ...]:
    items = value if isinstance(value, list) else [value]
    checked = PREDICTION_KEYS["label_noise"].check(items, where)
    out = tuple(float(v) for v in checked)
    if len(set(out)) != len(out):
        raise ConfigError(f"{where} names a label noise twice.")
    return out


def _synthetic_source(value: Any, where: str, base_dir: Path) -> SyntheticDataSpec | GaussianPool:
    if isinstance(value, dict) and "generator" in value:
        for key in value:
            if key not in GAUSSIAN_KEYS:
                raise unknown_key(str(key), f"{where}.", GAUSSIAN_KEYS)
        if value["generator"] != "gaussian":
            raise ConfigError(f"{where}.generator = {_show(value['generator'])} is not allowed; it must be gaussian.")
        sizes = []
        for key in ("pool_rows", "rows"):
            v = value.get(key)
            if isinstance(v, bool) or not isinstance(v, int) or not 4 <= v <= MAX_GAUSSIAN_ROWS:
                raise ConfigError(f"{where}.{key} = {_show(v)} is not allowed; it must be an integer from 4 to "
                                  f"{MAX_GAUSSIAN_ROWS}.")
            sizes.append(v)
        return GaussianPool(pool_rows=sizes[0], rows=sizes[1])
    return parse_synthetic_data(value, base_dir, where)


def _section(cfg: FigureConfig) -> dict[str, Any]:
    """The prediction section, with quick.prediction applied under --quick."""
    values = check_section("prediction", cfg.extra.get("prediction"))
    if cfg.quick:
        quick = (cfg.raw.get("quick") or {}).get("prediction")
        over = check_section("prediction", quick, "quick.prediction") if quick is not None else {}
        values = {**values, **copy.deepcopy(over)}
        if "splits" not in over:
            seeds = (cfg.raw.get("quick") or {}).get("seeds")
            values["splits"] = int(seeds) if seeds else min(int(values.get("splits", 50)), 4)
    return values


def prediction_settings(cfg: FigureConfig) -> PredictionSettings:
    """Check a prediction config without opening any file; returns its settings.

    Raises ConfigError with one sentence naming the key for anything not allowed.
    """
    for key in ("x", "series", "panels", "params"):
        if cfg.raw.get(key) is not None:
            raise ConfigError(f"{key} is not used by kind prediction; its sweep is in the prediction section (n, m, label_noise, verifiers).")
    section = _section(cfg)
    values = section_defaults("prediction")
    values.update(section)
    specs = _data_specs(cfg)
    if "n" not in values:
        raise ConfigError("prediction.n is missing: give the real training sizes, for example n: [100, 200].")
    shared = _sweep(values, "prediction")
    top_synthetic = None
    if cfg.extra.get("synthetic_data") is not None:
        top_synthetic = parse_synthetic_data(cfg.extra["synthetic_data"], cfg.base_dir)
    per_panel = values.get("panels")
    if per_panel is None:
        per_panel = [{} for _ in specs]
    if not isinstance(per_panel, list) or len(per_panel) != len(specs):
        raise ConfigError(f"prediction.panels must be a list with one mapping per data entry ({len(specs)}).")
    panels = [_panel_setting(cfg, i, spec, entry, shared, top_synthetic)
              for i, (spec, entry) in enumerate(zip(specs, per_panel))]
    x = values.get("x") or ""
    return PredictionSettings(data=specs, panels=panels, gamma=float(values["gamma"]), splits=int(values["splits"]),
                              estimator=values["estimator"], correction=values["correction"],
                              folds=int(values["folds"]), x=x, learner=values.get("learner", DEFAULT_LEARNER),
                              label_noise_given="label_noise" in (cfg.extra.get("prediction") or {}))


def _data_specs(cfg: FigureConfig) -> list[DataSpec]:
    """The real data sets of the figure, one per panel."""
    raw = cfg.extra.get("data")
    example = "data: {source: digits, classes: [3, 8]} or a list of {title, path}"
    if raw is None:
        raise ConfigError(f"data is missing: kind prediction needs the real rows, for example {example}.")
    if isinstance(raw, dict):
        return [parse_data_entry(raw, "data", cfg.base_dir, use="prediction")]
    if not (isinstance(raw, list) and raw):
        raise ConfigError(f"data must be one data set or a non-empty list of titled ones, for example {example}.")
    specs = [parse_data_entry(item, f"data[{i}]", cfg.base_dir, use="prediction", titled=True)
             for i, item in enumerate(raw)]
    titles = [s.title for s in specs]
    if len(set(titles)) != len(titles):
        raise ConfigError("data has two entries with the same title; each data set needs its own title.")
    return specs


# How each swept key of the prediction section (or of one of its panels) is read.
_SWEPT_KEYS = {
    "n": lambda value, where: _int_list(value, where, 4),
    "m": lambda value, where: _int_list(value, where, 0, all_ok=True),
    "label_noise": _noise_list,
    "verifiers": _verifier_list,
}


def _sweep(values: dict[str, Any], where: str, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """``base`` with the swept keys that ``values`` gives, each checked."""
    out = dict(base or {})
    for key, parse in _SWEPT_KEYS.items():
        if key in values:
            out[key] = parse(values[key], f"{where}.{key}")
    return out


def _panel_setting(cfg: FigureConfig, i: int, spec: DataSpec, entry: Any, shared: dict[str, Any],
                   top_synthetic: SyntheticDataSpec | None) -> PanelSetting:
    """Panel ``i``: its data set, its synthetic source and its sweep (the shared one where it gives none)."""
    where = f"prediction.panels[{i}]"
    if entry is None:
        entry = {}
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a mapping of {', '.join(PANEL_KEYS[1:])}.")
    for key in entry:
        if key not in PANEL_KEYS[1:]:
            raise unknown_key(str(key), f"{where}.", PANEL_KEYS[1:])
    synthetic: Any = top_synthetic
    if entry.get("synthetic") is not None:
        if top_synthetic is not None:
            raise ConfigError(f"{where}.synthetic cannot be given with synthetic_data, which applies to every panel.")
        synthetic = _synthetic_source(entry["synthetic"], f"{where}.synthetic", cfg.base_dir)
    setting = _sweep(entry, where, shared)
    key_m = f"{where}.m" if "m" in entry else "prediction.m"
    if synthetic is None and any(m != 0 for m in setting["m"]):
        raise ConfigError(f"{key_m} has m > 0 but {spec.where} has no synthetic source; give synthetic_data or {where}.synthetic.")
    key_v = f"{where}.verifiers" if "verifiers" in entry else "prediction.verifiers"
    _check_given_verifier(setting["verifiers"], synthetic, key_v)
    return PanelSetting(where=where, data_index=i, title=spec.title, synthetic=synthetic, n=setting["n"], m=setting["m"],
                        label_noise=setting["label_noise"], verifiers=setting["verifiers"])


def _check_given_verifier(verifiers: tuple[Any, ...], synthetic: Any, key: str) -> None:
    """The ``given`` verifier needs a synthetic file that records which labels are right and which rows were kept."""
    if "given" in verifiers and not (isinstance(synthetic, SyntheticDataSpec) and synthetic.label_correct_key
                                     and (synthetic.kept_key or synthetic.score_key)):
        raise ConfigError(
            f"{key} has given, which needs a synthetic_data file with label_correct_key and kept_key (or score_key "
            "and threshold): the verifier's rates are estimated from them."
        )


def check_prediction(cfg: FigureConfig) -> int:
    """Every check of a prediction config that reads no data; returns the number of rows of the table."""
    settings = prediction_settings(cfg)
    check_files(settings.data)
    count = 0
    for panel in settings.panels:
        if isinstance(panel.synthetic, SyntheticDataSpec) and not panel.synthetic.path.is_file():
            raise ConfigError(f"{panel.synthetic.where}.path: the synthetic rows' file {panel.synthetic.path} does not exist; "
                              "point the config at your copy.")
        count += len(panel.n) * len(panel.m) * len(panel_series(panel))
    return count


def panel_series(panel: PanelSetting) -> list[tuple[float, Any]]:
    """(label noise, verifier) pairs; with clean labels an oracle keeps what no verifier keeps."""
    out = []
    for eps in panel.label_noise:
        for v in panel.verifiers:
            flagged = isinstance(panel.synthetic, SyntheticDataSpec) and panel.synthetic.label_correct_key
            if eps == 0.0 and v == "oracle" and "none" in panel.verifiers and not flagged:
                continue
            out.append((eps, v))
    return out
