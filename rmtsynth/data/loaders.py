"""Loading two-class feature data: .npz, .csv and MATLAB .mat files, and scikit-learn's digits.

Labels are mapped to -1/+1: two classes as they are (the smaller label becomes -1), more only
when the caller names the two to keep. Every problem raises :class:`RmtsynthError` with one
sentence naming the file and what is wrong.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rmtsynth.data.validation import check_features
from rmtsynth.errors import RmtsynthError

FEATURE_EXTENSIONS: tuple[str, ...] = (".npz", ".csv", ".mat")


def load_features(
    path: str | Path,
    *,
    label_column: str | None = None,
    feature_key: str = "fts",
    label_key: str = "labels",
    classes: tuple[Any, Any] | None = None,
    with_classes: bool = False,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, tuple[Any, Any]]:
    """Read a two-class feature file.

    Parameters
    ----------
    path
        A ``.npz`` file with arrays ``X`` and ``y``; a ``.csv`` file with a header row, whose
        ``label_column`` holds the labels and every other column a numeric feature; or a MATLAB
        ``.mat`` file with arrays ``feature_key`` (samples x features, dense or sparse) and
        ``label_key``.
    label_column
        The label column of a ``.csv`` file (required for ``.csv``).
    feature_key, label_key
        The array names in a ``.mat`` file.
    classes
        With more than two classes, the two to keep ``(a, b)``: rows of other classes are
        dropped, ``a`` becomes -1 and ``b`` +1. Without it, exactly two classes are required and
        the smaller label value becomes -1.

    with_classes
        Also return the two label values of the file that became -1 and +1.

    Returns
    -------
    X : (samples, features) float64 array
    y : (samples,) float64 array of -1 and +1
    classes : the file's (label of -1, label of +1), with ``with_classes``

    Raises
    ------
    RmtsynthError
        When the file is missing or unreadable, an array or column is missing, the features are
        not finite, or the labels do not give two classes.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in FEATURE_EXTENSIONS:
        raise RmtsynthError(
            f"Feature file {path} has the extension '{path.suffix}', which is not supported; "
            f"use one of {', '.join(FEATURE_EXTENSIONS)}."
        )
    if not path.is_file():
        raise RmtsynthError(f"Feature file {path} does not exist.")
    if ext == ".npz":
        X, labels = _read_npz(path)
    elif ext == ".csv":
        X, labels = _read_csv(path, label_column)
    else:
        X, labels = _read_mat(path, feature_key, label_key)
    X, y, pair = _finish(path, X, labels, classes)
    return (X, y, pair) if with_classes else (X, y)


class ObjectArray(ValueError):
    """An .npy header announcing an array of Python objects (pickled, so not read)."""

    def __init__(self) -> None:
        super().__init__("the array holds Python objects (pickled), which are not read")


# Feature matrices beyond this many numbers (16 GB as float64) are refused before reading.
MAX_FEATURE_ENTRIES = 2 * 10**9


def npy_header_fits(stream, available_bytes: int) -> bool:
    """Whether the .npy array at ``stream`` claims no more data than ``available_bytes`` (and is not huge).

    An array of Python objects is pickled, not stored as numbers: it raises :class:`ObjectArray`.
    """
    version = np.lib.format.read_magic(stream)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read_header(stream)
    if dtype.hasobject:
        raise ObjectArray()
    entries = int(np.prod(shape, dtype=object)) if shape else 1
    return entries <= MAX_FEATURE_ENTRIES and entries * dtype.itemsize <= available_bytes


def check_npy_headers(path: Path) -> None:
    """Refuse an .npz whose arrays claim more data than the archive holds, before allocating them.

    numpy allocates an array of the shape its header states and then fills it; a header that
    claims a huge shape would allocate gigabytes for a file of a few bytes.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with archive.open(info) as member:
                    try:
                        fits = npy_header_fits(member, info.file_size)
                    except ObjectArray:
                        raise RmtsynthError(
                            f"Feature file {path} holds an array '{info.filename[:-4]}' of Python objects (pickled), "
                            "which is not read; save the features and labels as numeric (or text label) arrays."
                        ) from None
                if not fits:
                    raise RmtsynthError(
                        f"Feature file {path} holds an array '{info.filename[:-4]}' whose header claims more data "
                        f"than the file has (or more than {MAX_FEATURE_ENTRIES:.0e} numbers)."
                    )
    except RmtsynthError:
        raise
    except Exception as exc:
        raise RmtsynthError(f"Feature file {path} could not be read as a .npz archive ({exc}).") from exc


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    check_npy_headers(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            for key in ("X", "y"):
                if key not in names:
                    raise RmtsynthError(
                        f"Feature file {path} has no array named '{key}'; its arrays are: "
                        f"{_listing(names)}."
                    )
            return np.asarray(archive["X"]), np.asarray(archive["y"])
    except RmtsynthError:
        raise
    except Exception as exc:  # a corrupt archive or pickled objects
        raise RmtsynthError(f"Feature file {path} could not be read as a .npz archive ({exc}).") from exc


def _read_csv(path: Path, label_column: str | None) -> tuple[np.ndarray, np.ndarray]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RmtsynthError(f"Feature file {path} could not be read as CSV ({exc}).") from exc
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise RmtsynthError(f"Feature file {path} is empty.")
    header = [cell.strip() for cell in rows[0]]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise RmtsynthError(
            f"Feature file {path} names the column {_listing(repeated)} more than once; column names must be unique."
        )
    if label_column is None:
        raise RmtsynthError(
            f"Feature file {path} is a CSV file, so the label column must be named; its columns "
            f"are: {_listing(header)}."
        )
    if label_column not in header:
        raise RmtsynthError(
            f"Feature file {path} has no column named '{label_column}'; its columns are: "
            f"{_listing(header)}."
        )
    if len(header) < 2:
        raise RmtsynthError(f"Feature file {path} has no feature column besides '{label_column}'.")
    body = rows[1:]
    if not body:
        raise RmtsynthError(f"Feature file {path} has a header but no data rows.")
    label_at = header.index(label_column)
    feature_at = [j for j in range(len(header)) if j != label_at]
    X = np.empty((len(body), len(feature_at)))
    labels: list[str] = []
    for i, row in enumerate(body):
        if len(row) != len(header):
            raise RmtsynthError(
                f"Feature file {path} has {len(row)} values on data row {i + 1} but {len(header)} "
                "columns in its header."
            )
        labels.append(row[label_at].strip())
        for out, j in enumerate(feature_at):
            try:
                X[i, out] = float(row[j])
            except ValueError:
                raise RmtsynthError(
                    f"Feature file {path} has the non-numeric value '{row[j]}' in column "
                    f"'{header[j]}' on data row {i + 1}."
                ) from None
    try:
        numeric = np.array([float(v) for v in labels])
    except ValueError:
        # Text labels such as "pos"/"neg" are allowed; they are ordered as strings.
        return X, np.array(labels)
    return X, numeric


def _read_mat(path: Path, feature_key: str, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    import scipy.io
    import scipy.sparse

    try:
        contents = scipy.io.loadmat(str(path))
    except NotImplementedError as exc:
        raise RmtsynthError(
            f"Feature file {path} is a MATLAB v7.3 (HDF5) file, which is not supported; save it "
            "with MATLAB's -v7 option."
        ) from exc
    except Exception as exc:
        raise RmtsynthError(f"Feature file {path} could not be read as a MATLAB file ({exc}).") from exc
    names = [key for key in contents if not key.startswith("__")]
    for key in (feature_key, label_key):
        if key not in contents:
            raise RmtsynthError(
                f"Feature file {path} has no array named '{key}'; its arrays are: {_listing(names)}."
            )
    features = contents[feature_key]
    if scipy.sparse.issparse(features):
        features = features.toarray()
    labels = contents[label_key]
    if scipy.sparse.issparse(labels):
        labels = labels.toarray()
    return np.asarray(features), np.asarray(labels)


def _listing(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names) if names else "(none)"


def _finish(
    path: Path | str, X: np.ndarray, labels: np.ndarray, classes: tuple[Any, Any] | None
) -> tuple[np.ndarray, np.ndarray, tuple[Any, Any]]:
    if X.ndim != 2:
        raise RmtsynthError(
            f"Feature file {path} has features of shape {X.shape}; a samples x features matrix is needed."
        )
    if labels.ndim == 2 and 1 in labels.shape:
        labels = labels.reshape(-1)
    if labels.ndim != 1:
        raise RmtsynthError(f"Feature file {path} has labels of shape {labels.shape}; one label per sample is needed.")
    if labels.shape[0] != X.shape[0]:
        raise RmtsynthError(
            f"Feature file {path} has {X.shape[0]} feature rows but {labels.shape[0]} labels."
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise RmtsynthError(f"Feature file {path} has no samples or no features (shape {X.shape}).")
    X = check_features(X, f"Feature file {path}")
    if labels.dtype.kind == "f" and np.any(np.isnan(labels)):
        raise RmtsynthError(f"Feature file {path} has missing (NaN) labels.")
    pair = two_classes(labels, classes, source=f"Feature file {path}")
    y = map_two_classes(labels, pair, source=f"Feature file {path}")
    keep = ~np.isnan(y)
    return np.ascontiguousarray(X[keep]), y[keep], pair


def map_two_classes(
    labels: np.ndarray, classes: tuple[Any, Any] | None = None, *, source: str = "The data"
) -> np.ndarray:
    """Labels mapped to -1/+1, with NaN for rows of classes that are dropped.

    Two classes: the smaller value becomes -1. More than two: ``classes=(a, b)`` is required;
    ``a`` becomes -1, ``b`` +1 and every other row NaN.
    """
    labels = np.asarray(labels).reshape(-1)
    negative, positive = two_classes(labels, classes, source=source)
    y = np.full(labels.shape[0], np.nan)
    y[labels == _as_label(negative, labels)] = -1.0
    y[labels == _as_label(positive, labels)] = 1.0
    return y


def two_classes(labels: np.ndarray, classes: tuple[Any, Any] | None = None, *, source: str = "The data") -> tuple[Any, Any]:
    """The label values that become -1 and +1 (see :func:`map_two_classes`), as they are in ``labels``."""
    labels = np.asarray(labels).reshape(-1)
    present = np.unique(labels)
    shown = ", ".join(_show(v) for v in present[:12]) + (", ..." if present.size > 12 else "")
    if classes is None:
        if present.size < 2:
            raise RmtsynthError(f"{source} has only one class ({shown}); two are needed.")
        if present.size > 2:
            raise RmtsynthError(
                f"{source} has {present.size} classes ({shown}); name the two to keep with classes=(a, b)."
            )
        negative, positive = present[0], present[1]
    else:
        if len(classes) != 2:
            raise RmtsynthError(f"classes must name exactly two classes, not {len(classes)}.")
        negative, positive = classes
        for wanted in (negative, positive):
            if not np.any(labels == _as_label(wanted, labels)):
                raise RmtsynthError(f"{source} has no class {_show(wanted)}; its classes are: {shown}.")
        if np.all(_as_label(negative, labels) == _as_label(positive, labels)):
            raise RmtsynthError(
                f"classes names the same class {_show(negative)} twice; two different classes are needed."
            )
    return _plain(negative), _plain(positive)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _as_label(value: Any, labels: np.ndarray) -> Any:
    # A class given as text ("3") should match numeric labels read from a file, and vice versa.
    if labels.dtype.kind in "iufb" and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if labels.dtype.kind in "US" and not isinstance(value, str):
        return _show(value)
    return value


def _show(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value.item() if isinstance(value, np.generic) else value)


def load_digits_pair(classes: tuple[int, int] = (0, 1)) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Two classes of scikit-learn's bundled 8 x 8 handwritten digits (no download).

    Returns
    -------
    X : (samples, 64) float64 array of pixel intensities (0 to 16)
    y : (samples,) array of -1 (``classes[0]``) and +1 (``classes[1]``)
    image_shape : (8, 8)

    Raises
    ------
    RmtsynthError
        When scikit-learn is not installed, or a class is not a digit.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise RmtsynthError(
            "The digits data set needs scikit-learn; install it with pip install 'rmtsynth[digits]'."
        ) from exc
    data = load_digits()
    X = np.asarray(data.data, dtype=np.float64)
    y = map_two_classes(np.asarray(data.target), tuple(classes), source="The digits data set")
    keep = ~np.isnan(y)
    image_shape = tuple(int(s) for s in data.images.shape[1:])
    return np.ascontiguousarray(X[keep]), y[keep], image_shape  # type: ignore[return-value]
