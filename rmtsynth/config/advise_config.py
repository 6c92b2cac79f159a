"""``rmtsynth advise CONFIG.yaml``: the advisor's files, columns and grid from an ``advise:`` section."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rmtsynth.config.figure_config import read_config_file
from rmtsynth.data.advice.grid import DEFAULT_DRAWS
from rmtsynth.config.schema import _show, check_section, section_defaults, unknown_key
from rmtsynth.errors import ConfigError


@dataclass(frozen=True)
class AdviseRequest:
    """What ``rmtsynth advise`` runs on, from its options or from a config file."""

    real: Path
    pool: Path
    label_column: str | None = None
    score_column: str | None = None
    drop_columns: tuple[str, ...] = ()
    feature_columns: tuple[str, ...] = ()
    learner: tuple[str, ...] = ("ridge",)
    thresholds: tuple[float, ...] | None = None
    m: tuple[int, ...] | None = None
    draws: int = DEFAULT_DRAWS
    seed: int = 0
    extrapolate: bool = False
    n_values: tuple[int, ...] | None = None
    verifiers: tuple[tuple[float, float], ...] | None = None
    pool_label_noise: float | None = None
    source: str = field(default="", compare=False)


def _names(value: Any, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v.strip() for v in items):
        raise ConfigError(f"{where} = {_show(value)} is not allowed; it must be a name or a list of names.")
    return tuple(items)


def _numbers(value: Any, where: str, whole: bool) -> tuple[Any, ...]:
    items = value if isinstance(value, list) else [value]
    ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items) and items
    if ok and whole:
        ok = all(float(v).is_integer() and v >= 0 for v in items)
    if not ok:
        rule = "a list of integers >= 0" if whole else "a list of numbers (-.inf keeps all)"
        raise ConfigError(f"{where} = {_show(value)} is not allowed; it must be {rule}.")
    return tuple(int(v) for v in items) if whole else tuple(float(v) for v in items)


def _verifiers(value: Any, where: str) -> tuple[tuple[float, float], ...]:
    items = value if isinstance(value, list) else [value]
    good = bool(items) and all(
        isinstance(v, dict) and sorted(map(str, v)) == ["precision", "recall"]
        and all(isinstance(v[k], (int, float)) and not isinstance(v[k], bool) and 0 < v[k] <= 1 for k in v)
        for v in items)
    if not good:
        raise ConfigError(f"{where} = {_show(value)} is not allowed; it must be a list of {{precision, recall}} "
                          "mappings, each a number greater than 0 and at most 1.")
    return tuple((float(v["precision"]), float(v["recall"])) for v in items)


def is_advise_config(path: Path | str) -> bool:
    """Whether a config file is a request of ``rmtsynth advise`` (it has an ``advise:`` section)."""
    try:
        _, data = read_config_file(path)
    except ConfigError:
        return False
    return isinstance(data, dict) and "advise" in data


def load_advise_config(path: Path | str) -> AdviseRequest:
    """The checked ``advise:`` section of a config file; file paths are relative to the config."""
    path = Path(path)
    text, data = read_config_file(path)
    if not isinstance(data, dict) or "advise" not in data:
        raise ConfigError(f"The config file {path} has no advise: section; rmtsynth advise reads advise: {{real, pool, ...}}.")
    for key in data:
        if key not in ("advise", "name", "title", "description"):
            raise unknown_key(str(key), "", ["advise", "name", "title", "description"])
    values = section_defaults("advise") | check_section("advise", data["advise"])
    for key in ("real", "pool"):
        if key not in values:
            what = "the real rows" if key == "real" else "the synthetic pool"
            raise ConfigError(f"advise.{key} is missing; it names the file of {what}.")
    return AdviseRequest(
        real=(path.parent / values["real"]), pool=(path.parent / values["pool"]),
        label_column=values.get("label_column"), score_column=values.get("score_column"),
        drop_columns=_names(values["drop_columns"], "advise.drop_columns") if values["drop_columns"] else (),
        feature_columns=_names(values["feature_columns"], "advise.feature_columns") if values.get("feature_columns") else (),
        learner=_names(values["learner"], "advise.learner"),
        thresholds=_numbers(values["thresholds"], "advise.thresholds", False) if "thresholds" in values else None,
        m=_numbers(values["m"], "advise.m", True) if "m" in values else None,
        draws=values["draws"], seed=values["seed"], extrapolate=values["extrapolate"],
        n_values=_numbers(values["n_values"], "advise.n_values", True) if "n_values" in values else None,
        verifiers=_verifiers(values["verifiers"], "advise.verifiers") if "verifiers" in values else None,
        pool_label_noise=values.get("pool_label_noise"), source=text,
    )
