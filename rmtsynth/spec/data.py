"""The ``data`` key of the real-data figures: which data set, checked, and loaded.

``{source: digits, classes: [a, b]}`` is scikit-learn's bundled handwritten digits;
``{path: file.mat|.npz|.csv, ...}`` a feature file (relative to the config file). For
``real_data`` the key may also be a list of such entries, each with a ``title``: one panel per
data set. A loaded data set carries a hash of its arrays, which keys the cache.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rmtsynth.spec.config import FigureConfig
from rmtsynth.errors import ConfigError, RmtsynthError
from rmtsynth.spec.schema import _did_you_mean, _show, unknown_key

COMMON_DATA_KEYS = ("source", "path", "classes", "feature_key", "label_key", "label_column", "standardize")
SAMPLES_DATA_KEYS = ("image_shape", "images_per_class")
SOURCES = ("digits",)

@dataclass(frozen=True)
class DataSpec:
    """One data set of a config's ``data`` key, checked."""

    where: str
    title: str
    source: str | None
    path: Path | None
    classes: tuple[Any, Any] | None
    feature_key: str = "fts"
    label_key: str = "labels"
    label_column: str | None = None
    standardize: bool = True
    image_shape: tuple[int, int] | None = None
    images_per_class: int = 6


@dataclass
class LoadedData:
    """A data set in memory: features, labels -1/+1, and what identifies it."""

    spec: DataSpec
    X: np.ndarray
    y: np.ndarray
    description: str
    digest: str
    image_shape: tuple[int, int] | None = None
    class_names: tuple[str, str] = ("-1", "+1")

    @property
    def rows(self) -> int:
        return int(self.y.shape[0])

    @property
    def p(self) -> int:
        return int(self.X.shape[1])


def parse_data_specs(cfg: FigureConfig) -> list[DataSpec]:
    """The config's data sets; a list form (``real_data`` only) gives one panel each."""
    raw = cfg.extra.get("data")
    example = "data: {source: digits, classes: [3, 8]} or data: {path: features.npz}"
    if raw is None:
        raise ConfigError(f"data is missing: kind {cfg.kind} needs a data set, for example {example}.")
    if isinstance(raw, dict):
        return [_parse_data_entry(raw, "data", cfg, titled=False)]
    if isinstance(raw, list) and cfg.kind == "real_data":
        if not raw:
            raise ConfigError("data is an empty list; give at least one data set.")
        specs = [_parse_data_entry(item, f"data[{i}]", cfg, titled=True) for i, item in enumerate(raw)]
        titles = [s.title for s in specs]
        dup = sorted({t for t in titles if titles.count(t) > 1})
        if dup:
            raise ConfigError(f"data has two entries titled {_show(dup[0])}; each data set needs its own title.")
        return specs
    if isinstance(raw, list):
        raise ConfigError(f"data must be one data set (a mapping) for kind {cfg.kind}, not a list.")
    raise ConfigError(f"data must be a mapping such as {example}.")


def _parse_data_entry(item: Any, where: str, cfg: FigureConfig, *, titled: bool) -> DataSpec:
    if not isinstance(item, dict):
        raise ConfigError(f"{where} must be a mapping with source or path, for example {{source: digits, classes: [3, 8]}}.")
    allowed = COMMON_DATA_KEYS + (SAMPLES_DATA_KEYS if cfg.kind == "generator_samples" else ()) + (("title",) if titled else ())
    for key in item:
        if key not in allowed:
            raise unknown_key(str(key), f"{where}.", allowed)
    source = item.get("source")
    path_raw = item.get("path")
    if (source is None) == (path_raw is None):
        raise ConfigError(f"{where} needs exactly one of source (digits) and path (a feature file).")
    if source is not None and source not in SOURCES:
        hint = _did_you_mean(source, SOURCES) if isinstance(source, str) else ""
        raise ConfigError(f"{where}.source = {_show(source)} is not allowed; it must be one of {', '.join(SOURCES)}{hint}.")
    path = None
    if path_raw is not None:
        if not isinstance(path_raw, str) or not path_raw.strip():
            raise ConfigError(f"{where}.path = {_show(path_raw)} is not allowed; it must be a file path (relative to the config file).")
        path = Path(path_raw).expanduser()
        if not path.is_absolute():
            path = cfg.base_dir / path
        for key in ("feature_key", "label_key", "label_column"):
            if key in item and not (isinstance(item[key], str) and item[key]):
                raise ConfigError(f"{where}.{key} = {_show(item[key])} is not allowed; it must be a name.")
        if "label_column" in item and path.suffix.lower() != ".csv":
            raise ConfigError(f"{where}.label_column is only used with a .csv file, not {path.name}.")
        if ("feature_key" in item or "label_key" in item) and path.suffix.lower() != ".mat":
            key = "feature_key" if "feature_key" in item else "label_key"
            raise ConfigError(f"{where}.{key} is only used with a .mat file, not {path.name}.")
    else:
        for key in ("feature_key", "label_key", "label_column"):
            if key in item:
                raise ConfigError(f"{where}.{key} is only used with path, not with source: {source}.")
    classes = _parse_classes(item.get("classes"), f"{where}.classes", digits=source == "digits")
    standardize = item.get("standardize", True)
    if not isinstance(standardize, bool):
        raise ConfigError(f"{where}.standardize = {_show(standardize)} is not allowed; it must be true or false.")
    image_shape = None
    if "image_shape" in item:
        shape = item["image_shape"]
        if (
            not isinstance(shape, list)
            or len(shape) != 2
            or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape)
        ):
            raise ConfigError(f"{where}.image_shape = {_show(shape)} is not allowed; it must be [height, width], two integers >= 1.")
        image_shape = (int(shape[0]), int(shape[1]))
    per_class = item.get("images_per_class", 6)
    if isinstance(per_class, bool) or not isinstance(per_class, int) or not 1 <= per_class <= 20:
        raise ConfigError(f"{where}.images_per_class = {_show(per_class)} is out of range; it must be an integer from 1 to 20.")
    title = ""
    if titled:
        if "title" not in item:
            raise ConfigError(f"{where}.title is missing: each data set of a list is a panel and needs a title.")
        if not isinstance(item["title"], (str, int, float)) or isinstance(item["title"], bool):
            raise ConfigError(f"{where}.title must be text.")
        title = str(item["title"])
    return DataSpec(
        where=where,
        title=title,
        source=source,
        path=path,
        classes=classes,
        feature_key=item.get("feature_key", "fts"),
        label_key=item.get("label_key", "labels"),
        label_column=item.get("label_column"),
        standardize=standardize,
        image_shape=image_shape,
        images_per_class=per_class,
    )


def _parse_classes(value: Any, where: str, *, digits: bool) -> tuple[Any, Any] | None:
    if value is None:
        if digits:
            raise ConfigError(f"{where} is missing: name the two digits to compare, for example classes: [3, 8].")
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise ConfigError(f"{where} = {_show(value)} is not allowed; it must be a list of two class labels [a, b].")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise ConfigError(f"{where} = {_show(value)} is not allowed; each class must be a number or a name.")
        if digits and (not isinstance(v, int) or not 0 <= v <= 9):
            raise ConfigError(f"{where} = {_show(value)} is not allowed; the digits are the integers 0 to 9.")
    if value[0] == value[1]:
        raise ConfigError(f"{where} names the class {_show(value[0])} twice; two different classes are needed.")
    return (value[0], value[1])


def load_data(spec: DataSpec) -> LoadedData:
    """Read one data set; every problem is a ConfigError naming the data key."""
    from rmtsynth.data.loaders import load_digits_pair, load_features

    try:
        if spec.source == "digits":
            assert spec.classes is not None
            X, y, shape = load_digits_pair(spec.classes)
            a, b = spec.classes
            description = f"digits {a} vs {b}"
            names = (f"digit {a}", f"digit {b}")
            image_shape: tuple[int, int] | None = spec.image_shape or shape
        else:
            assert spec.path is not None
            if not spec.path.is_file():
                raise ConfigError(
                    f"{spec.where}.path: the feature file {spec.path} does not exist; point the config at your copy."
                )
            X, y = load_features(
                spec.path,
                label_column=spec.label_column,
                feature_key=spec.feature_key,
                label_key=spec.label_key,
                classes=spec.classes,
            )
            description = spec.path.name
            if spec.classes is not None:
                description += f" ({spec.classes[0]} vs {spec.classes[1]})"
                names = (str(spec.classes[0]), str(spec.classes[1]))
            else:
                names = ("class -1", "class +1")
            image_shape = spec.image_shape
    except ConfigError:
        raise
    except RmtsynthError as exc:
        raise ConfigError(f"{spec.where}: {exc}") from None
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    digest = hashlib.sha256()
    digest.update(repr((X.shape, X.dtype.str, y.dtype.str)).encode())
    digest.update(X.tobytes())
    digest.update(y.tobytes())
    return LoadedData(spec=spec, X=X, y=y, description=description, digest=digest.hexdigest(),
                      image_shape=image_shape, class_names=names)


def check_data(cfg: FigureConfig) -> list[DataSpec]:
    """The config's data entries, checked, with every feature file present (nothing is loaded)."""
    specs = parse_data_specs(cfg)
    for spec in specs:
        if spec.path is not None and not spec.path.is_file():
            raise ConfigError(f"{spec.where}.path: the feature file {spec.path} does not exist; point the config at your copy.")
    return specs
