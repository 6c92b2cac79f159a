"""The ``data`` vocabulary, shared by figure configs and plans: which data set, checked, and loaded.

``{source: digits, classes: [a, b]}`` (or its short form ``{digits: [a, b]}``) is scikit-learn's
bundled handwritten digits; ``{path: file.mat|.npz|.csv, ...}`` (or ``file:``) a feature file
(relative to the config file). For ``real_data`` the key may also be a list of such entries, each
with a ``title``: one panel per data set. The keys are declared in :mod:`rmtsynth.config.schema`
(section ``data``) and mean the same in every config; a few belong to one use only (``title``,
``image_shape``, ``images_per_class``, ``use_covariance``). A loaded data set carries a hash of its
arrays, which keys the cache.

``synthetic_data: {path, ...}`` names a file of synthetic rows with the generator's labels and the
verifier's decisions; it is checked here (:func:`parse_synthetic_data`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rmtsynth.errors import ConfigError, RmtsynthError
from rmtsynth.config.schema import DATA_SOURCES, SECTIONS, _did_you_mean, _show, unknown_key

if TYPE_CHECKING:
    from rmtsynth.config.figure_config import FigureConfig

# Keys every data entry takes, with the same meaning in figure configs and plans.
COMMON_DATA_KEYS = ("source", "path", "digits", "file", "classes", "feature_key", "label_key", "label_column", "standardize")
SAMPLES_DATA_KEYS = ("image_shape", "images_per_class")
PLAN_DATA_KEYS = ("use_covariance",)
SOURCES = DATA_SOURCES
# Where the keys that belong to one use only are taken.
_ONE_USE = {
    "title": "in a list of data sets (kind real_data)",
    "image_shape": "with kind generator_samples",
    "images_per_class": "with kind generator_samples",
    "use_covariance": "in a plan",
}
SYNTHETIC_SUFFIXES = (".npz", ".mat", ".csv")


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
    use_covariance: bool = False


@dataclass(frozen=True)
class SyntheticDataSpec:
    """A checked ``synthetic_data`` entry: a file of synthetic rows and the names of its arrays."""

    where: str
    path: Path
    feature_key: str | None = None
    label_key: str | None = None
    label_column: str | None = None
    label_correct_key: str | None = None
    kept_key: str | None = None
    score_key: str | None = None
    threshold: float | None = None


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
    #: The label values of the data that became -1 and +1 (synthetic rows' labels must be these).
    classes: tuple[Any, Any] | None = None

    @property
    def rows(self) -> int:
        return int(self.y.shape[0])

    @property
    def p(self) -> int:
        return int(self.X.shape[1])


def parse_data_specs(cfg: "FigureConfig") -> list[DataSpec]:
    """The config's data sets; a list form (``real_data`` only) gives one panel each."""
    return parse_data_value(cfg.extra.get("data"), kind=cfg.kind, base_dir=cfg.base_dir)


def parse_data_value(raw: Any, *, kind: str, base_dir: Path) -> list[DataSpec]:
    """The data sets under a figure config's ``data`` key, for a config of ``kind``."""
    example = "data: {source: digits, classes: [3, 8]} or data: {path: features.npz}"
    if raw is None:
        raise ConfigError(f"data is missing: kind {kind} needs a data set, for example {example}.")
    if isinstance(raw, dict):
        return [parse_data_entry(raw, "data", base_dir, use=kind)]
    if isinstance(raw, list) and kind == "real_data":
        if not raw:
            raise ConfigError("data is an empty list; give at least one data set.")
        specs = [parse_data_entry(item, f"data[{i}]", base_dir, use=kind, titled=True) for i, item in enumerate(raw)]
        titles = [s.title for s in specs]
        dup = sorted({t for t in titles if titles.count(t) > 1})
        if dup:
            raise ConfigError(f"data has two entries titled {_show(dup[0])}; each data set needs its own title.")
        return specs
    if isinstance(raw, list):
        raise ConfigError(f"data must be one data set (a mapping) for kind {kind}, not a list.")
    raise ConfigError(f"data must be a mapping such as {example}.")


def data_keys(use: str, *, titled: bool = False) -> tuple[str, ...]:
    """The keys a data entry takes for ``use`` (a figure kind, or ``plan``)."""
    extra: tuple[str, ...] = ()
    if use == "generator_samples":
        extra = SAMPLES_DATA_KEYS
    elif use == "plan":
        extra = PLAN_DATA_KEYS
    return COMMON_DATA_KEYS + extra + (("title",) if titled else ())


def parse_data_entry(item: Any, where: str, base_dir: Path, *, use: str, titled: bool = False) -> DataSpec:
    """One checked data entry; ``use`` is the figure kind or ``plan`` (it selects the one-use keys).

    Raises ConfigError naming the key for anything not allowed. Files are not opened here.
    """
    if not isinstance(item, dict):
        raise ConfigError(f"{where} must be a mapping with source or path, for example {{source: digits, classes: [3, 8]}}.")
    _check_entry_keys(item, where, data_keys(use, titled=titled))
    item, classes_where = _expand_short_forms(item, where)
    source, path = _parse_source_and_path(item, where, base_dir)
    classes = _parse_classes(item.get("classes"), classes_where, digits=source == "digits")
    declared = SECTIONS["data"].keys
    # A plan rescales the features to unit average variance itself; figures standardize each one.
    standardize = declared["standardize"].check(item.get("standardize", use != "plan"), f"{where}.standardize")
    image_shape = None
    if "image_shape" in item:
        shape = declared["image_shape"].check(item["image_shape"], f"{where}.image_shape")
        image_shape = (shape[0], shape[1])
    per_class = item.get("images_per_class", 6)
    if isinstance(per_class, bool) or not isinstance(per_class, int) or not 1 <= per_class <= 20:
        raise ConfigError(f"{where}.images_per_class = {_show(per_class)} is out of range; it must be an integer from 1 to 20.")
    use_covariance = declared["use_covariance"].check(item.get("use_covariance", False), f"{where}.use_covariance")
    return DataSpec(
        where=where,
        title=_parse_title(item, where) if titled else "",
        source=source,
        path=path,
        classes=classes,
        feature_key=item.get("feature_key", "fts"),
        label_key=item.get("label_key", "labels"),
        label_column=item.get("label_column"),
        standardize=standardize,
        image_shape=image_shape,
        images_per_class=per_class,
        use_covariance=use_covariance,
    )


def _check_entry_keys(item: dict, where: str, allowed: tuple[str, ...]) -> None:
    """Refuse a key the entry does not take, naming where a one-use key belongs."""
    for key in item:
        if key in allowed:
            continue
        if isinstance(key, str) and key in _ONE_USE:
            raise ConfigError(f"{where}.{key} is only used {_ONE_USE[key]}; allowed here: {', '.join(allowed)}.")
        raise unknown_key(str(key), f"{where}.", allowed)


def _expand_short_forms(item: dict, where: str) -> tuple[dict, str]:
    """A copy with ``digits: [a, b]`` as source and classes and ``file`` as path; and where classes were given."""
    item = dict(item)
    classes_where = f"{where}.classes"
    if "digits" in item:
        if "source" in item or "classes" in item:
            raise ConfigError(f"{where}.digits is short for source: digits with classes; give either digits or source and classes.")
        item["source"] = "digits"
        item["classes"] = item.pop("digits")
        classes_where = f"{where}.digits"
    if "file" in item:
        if "path" in item:
            raise ConfigError(f"{where}.file is another name for path; give only one of them.")
        item["path"] = item.pop("file")
    return item, classes_where


def _parse_source_and_path(item: dict, where: str, base_dir: Path) -> tuple[str | None, Path | None]:
    """Exactly one of source and path, checked, with the file keys that go with a path's format."""
    source = item.get("source")
    path_raw = item.get("path")
    if (source is None) == (path_raw is None):
        raise ConfigError(f"{where} needs exactly one of source (digits) and path (a feature file).")
    if source is not None and source not in SOURCES:
        hint = _did_you_mean(source, SOURCES) if isinstance(source, str) else ""
        raise ConfigError(f"{where}.source = {_show(source)} is not allowed; it must be one of {', '.join(SOURCES)}{hint}.")
    file_keys = ("feature_key", "label_key", "label_column")
    if path_raw is None:
        for key in file_keys:
            if key in item:
                raise ConfigError(f"{where}.{key} is only used with path, not with source: {source}.")
        return source, None
    if not isinstance(path_raw, str) or not path_raw.strip():
        raise ConfigError(f"{where}.path = {_show(path_raw)} is not allowed; it must be a file path (relative to the config file).")
    path = Path(path_raw).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    declared = SECTIONS["data"].keys
    for key in file_keys:
        if key in item:
            declared[key].check(item[key], f"{where}.{key}")
    if "label_column" in item and path.suffix.lower() != ".csv":
        raise ConfigError(f"{where}.label_column is only used with a .csv file, not {path.name}.")
    if ("feature_key" in item or "label_key" in item) and path.suffix.lower() != ".mat":
        key = "feature_key" if "feature_key" in item else "label_key"
        raise ConfigError(f"{where}.{key} is only used with a .mat file, not {path.name}.")
    return source, path


def _parse_title(item: dict, where: str) -> str:
    """The title of an entry in a list of data sets (each is a panel)."""
    if "title" not in item:
        raise ConfigError(f"{where}.title is missing: each data set of a list is a panel and needs a title.")
    if not isinstance(item["title"], (str, int, float)) or isinstance(item["title"], bool):
        raise ConfigError(f"{where}.title must be text.")
    return str(item["title"])


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


def parse_synthetic_data(value: Any, base_dir: Path, where: str = "synthetic_data") -> SyntheticDataSpec:
    """A checked ``synthetic_data`` entry (the file is not opened).

    The labels are named by ``label_key`` (.npz, .mat) or ``label_column`` (.csv); the verifier's
    decisions by ``kept_key``, or by ``score_key`` with a ``threshold`` (kept when score >= threshold).
    """
    declared = SECTIONS["synthetic_data"].keys
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping {{{', '.join(declared)}}}.")
    for key in value:
        if key not in declared:
            raise unknown_key(str(key), f"{where}.", list(declared))
    checked = {key: declared[key].check(v, f"{where}.{key}") for key, v in value.items()}
    if "path" not in checked:
        raise ConfigError(f"{where}.path is missing: name the file of synthetic rows (.npz, .mat or .csv).")
    path = Path(checked["path"]).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    suffix = path.suffix.lower()
    if suffix not in SYNTHETIC_SUFFIXES:
        raise ConfigError(f"{where}.path = {_show(checked['path'])} is not allowed; it must be a .npz, .mat or .csv file.")
    if suffix == ".csv":
        for key in ("feature_key", "label_key"):
            if key in checked:
                raise ConfigError(f"{where}.{key} is only used with a .npz or .mat file, not {path.name}; a .csv names label_column.")
    elif "label_column" in checked:
        raise ConfigError(f"{where}.label_column is only used with a .csv file, not {path.name}; use label_key.")
    if "threshold" in checked and "score_key" not in checked:
        raise ConfigError(f"{where}.threshold needs score_key: the threshold applies to the verifier's scores.")
    if "threshold" in checked and "kept_key" in checked:
        raise ConfigError(f"{where} gives kept_key and threshold; the rows kept are given by one of them only.")
    return SyntheticDataSpec(
        where=where,
        path=path,
        feature_key=checked.get("feature_key"),
        label_key=checked.get("label_key"),
        label_column=checked.get("label_column"),
        label_correct_key=checked.get("label_correct_key"),
        kept_key=checked.get("kept_key"),
        score_key=checked.get("score_key"),
        threshold=checked.get("threshold"),
    )


def load_data(spec: DataSpec) -> LoadedData:
    """Read one data set; every problem is a ConfigError naming the data key."""
    from rmtsynth.data.loaders import load_digits_pair, load_features

    try:
        if spec.source == "digits":
            assert spec.classes is not None
            X, y, shape = load_digits_pair(spec.classes)
            a, b = pair = spec.classes
            description = f"digits {a} vs {b}"
            names = (f"digit {a}", f"digit {b}")
            image_shape: tuple[int, int] | None = spec.image_shape or shape
        else:
            assert spec.path is not None
            if not spec.path.is_file():
                raise ConfigError(
                    f"{spec.where}.path: the feature file {spec.path} does not exist; point the config at your copy."
                )
            X, y, pair = load_features(
                spec.path,
                label_column=spec.label_column,
                feature_key=spec.feature_key,
                label_key=spec.label_key,
                classes=spec.classes,
                with_classes=True,
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
                      image_shape=image_shape, class_names=names, classes=pair)


def check_data(cfg: "FigureConfig") -> list[DataSpec]:
    """The config's data entries, checked, with every feature file present (nothing is loaded)."""
    return check_files(parse_data_specs(cfg))


def check_files(specs: list[DataSpec]) -> list[DataSpec]:
    """The entries unchanged, once every feature file they name is found to exist."""
    for spec in specs:
        if spec.path is not None and not spec.path.is_file():
            raise ConfigError(f"{spec.where}.path: the feature file {spec.path} does not exist; point the config at your copy.")
    return specs


def load_synthetic_rows(spec: SyntheticDataSpec, p: int | None = None,
                        classes: tuple[Any, Any] | None = None) -> dict[str, Any]:
    """Read a ``synthetic_data`` file: features, labels -1/+1 and the optional per-row flags.

    Returns a mapping with ``features``, ``labels``, and when the file has them ``label_correct``,
    ``kept`` (from ``kept_key``, or ``score >= threshold``), plus ``digest`` (a hash of every
    array read) and ``description``. Every problem is a ConfigError naming the key; ``p``, when
    given, is the number of real features the rows must match, and ``classes`` the real data's
    label values of -1 and +1: every synthetic label must be one of them (they are not matched
    by rank).
    """
    where = spec.where
    path = spec.path
    if not path.is_file():
        raise ConfigError(f"{where}.path: the synthetic rows' file {path} does not exist; point the config at your copy.")
    try:
        if path.suffix.lower() == ".csv":
            arrays = _read_synthetic_csv(spec)
        else:
            arrays = _read_synthetic_arrays(spec)
    except ConfigError:
        raise
    except Exception as exc:  # an unreadable file of any format
        raise ConfigError(f"{where}.path: {path.name} could not be read ({exc}).") from None
    out = _checked_synthetic_rows(spec, arrays, p, classes)
    digest = hashlib.sha256()
    for key in ("features", "labels", "label_correct", "kept"):
        if key in out:
            digest.update(key.encode())
            digest.update(np.ascontiguousarray(out[key]).tobytes())
    out["digest"] = digest.hexdigest()
    out["description"] = path.name
    return out


def _read_synthetic_csv(spec: SyntheticDataSpec) -> dict[str, np.ndarray]:
    """The named columns of a .csv of synthetic rows (labels, flags, score) and the rest as features."""
    import csv

    where, path = spec.where, spec.path
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = [r for r in csv.reader(handle) if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise ConfigError(f"{where}.path: {path.name} has no data rows.")
    header = [c.strip() for c in rows[0]]
    label_column = spec.label_column or "label"
    named = {label_column: "labels", spec.label_correct_key: "label_correct", spec.kept_key: "kept",
             spec.score_key: "score"}
    for column, key in named.items():
        if column is not None and column not in header:
            raise ConfigError(f"{where}: {path.name} has no column {_show(column)}; its columns are {', '.join(header)}.")
    table = rows[1:]
    arrays: dict[str, np.ndarray] = {}
    for column, key in named.items():
        if column is not None:
            j = header.index(column)
            values = [r[j].strip() for r in table]
            try:
                arrays[key] = np.array([float(v) for v in values])
            except ValueError:
                arrays[key] = _text_flags(values) if key in ("label_correct", "kept") else np.array(values)
    feature_at = [j for j, name in enumerate(header) if name not in named]
    try:
        arrays["features"] = np.array([[float(r[j]) for j in feature_at] for r in table])
    except (ValueError, IndexError):
        raise ConfigError(f"{where}: {path.name} has a feature value that is not a number.") from None
    return arrays


def _read_synthetic_arrays(spec: SyntheticDataSpec) -> dict[str, np.ndarray]:
    """The named arrays of a .npz or .mat file of synthetic rows."""
    import scipy.io

    where, path = spec.where, spec.path
    if path.suffix.lower() == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            contents = {k: archive[k] for k in archive.files}
        default_features = "X" if "X" in contents else "fts"
        default_labels = "y" if "y" in contents else "labels"
    else:
        contents = {k: v for k, v in scipy.io.loadmat(str(path)).items() if not k.startswith("__")}
        default_features, default_labels = "fts", "labels"
    names = {"features": spec.feature_key or default_features, "labels": spec.label_key or default_labels,
             "label_correct": spec.label_correct_key, "kept": spec.kept_key, "score": spec.score_key}
    arrays: dict[str, np.ndarray] = {}
    for key, name in names.items():
        if name is None:
            continue
        if name not in contents:
            raise ConfigError(f"{where}: {path.name} has no array {_show(name)}; its arrays are {', '.join(contents)}.")
        value = contents[name]
        if hasattr(value, "toarray"):
            value = value.toarray()
        arrays[key] = np.asarray(value)
    return arrays


def _text_flags(values: list[str]) -> np.ndarray:
    """Flags written as true/false or yes/no (any case); other text stays text, and is refused as a flag."""
    words = {"true": True, "yes": True, "false": False, "no": False}
    if all(v.lower() in words for v in values):
        return np.array([words[v.lower()] for v in values])
    return np.array(values)


def _checked_synthetic_rows(spec: SyntheticDataSpec, arrays: dict[str, np.ndarray], p: int | None,
                            classes: tuple[Any, Any] | None = None) -> dict[str, Any]:
    """Features, labels -1/+1 and the flags (kept from a score and the threshold), checked to match."""
    from rmtsynth.data.validation import check_features, check_flags, check_scores

    where = f"{spec.where} ({spec.path.name})"
    try:
        features = check_features(arrays["features"], f"{where}: the synthetic features")
        if p is not None and features.shape[1] != p:
            raise ConfigError(f"{where}: the synthetic rows have {features.shape[1]} features, the real rows {p}.")
        raw = np.asarray(arrays["labels"]).reshape(-1)
        if raw.size != features.shape[0]:
            raise ConfigError(f"{where}: {raw.size} labels for {features.shape[0]} synthetic rows.")
        labels = _synthetic_labels(raw, classes, where)
        if np.unique(labels).size < 2:
            raise ConfigError(f"{where} has only the class {_label_key(raw[0])} among its labels; the synthetic rows "
                              "need both classes (the pool's class means are estimated from them).")
        out: dict[str, Any] = {"features": np.ascontiguousarray(features), "labels": labels}
        rows = features.shape[0]
        for key in ("label_correct", "kept"):
            if key in arrays:
                out[key] = check_flags(arrays[key], f"{where}: the {key.replace('_', ' ')} flags", rows=rows)
        if "score" in arrays:
            out["kept"] = check_scores(arrays["score"], f"{where}: the scores", rows=rows) >= float(spec.threshold)
    except ConfigError:
        raise
    except RmtsynthError as exc:
        raise ConfigError(str(exc)) from None
    return out


def _synthetic_labels(raw: np.ndarray, classes: tuple[Any, Any] | None, where: str) -> np.ndarray:
    """The synthetic labels as -1/+1: the real data's two classes, or already -1 and +1 (never matched by rank)."""
    from rmtsynth.data.loaders import map_two_classes

    if classes is None:
        return map_two_classes(raw, source=where)
    mapped = map_two_classes(raw, classes, source=where) if _has_both(raw, classes) else np.full(raw.size, np.nan)
    if not np.isnan(mapped).any():
        return mapped
    signs = raw.astype(float) if raw.dtype.kind in "biuf" else None
    # -1/+1 is the package's own convention (the first class is -1), unless a real class reads otherwise.
    conflict = any(_label_key(v) == _label_key(c) and v != sign for c, sign in zip(classes, (-1, 1)) for v in (-1, 1))
    if signs is not None and np.all((signs == -1) | (signs == 1)) and not conflict:
        return signs
    known = {_label_key(c) for c in classes}
    if {_label_key(v) for v in np.unique(raw)} <= known:
        raise ConfigError(f"{where} has only the class {_label_key(raw[0])} among its labels; the synthetic rows need "
                          "both classes (the pool's class means are estimated from them).")
    other = next(v for v in raw if _label_key(v) not in known)
    raise ConfigError(f"{where} has the label {_show(_plain(other))}, which is not one of the real data's classes "
                      f"{_show(classes[0])} and {_show(classes[1])} (nor -1/+1 for them); the synthetic labels must be the "
                      "real classes.")


def _has_both(raw: np.ndarray, classes: tuple[Any, Any]) -> bool:
    present = {_label_key(v) for v in np.unique(raw)}
    return all(_label_key(c) in present for c in classes)


def _label_key(value: Any) -> str:
    """A label as text, 1 and 1.0 alike, to compare the classes of two files."""
    value = _plain(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
