"""The advisor's input files: a table of real rows and one of synthetic rows, as users keep them.

CSV (a header row), NPZ (one array per column, or ``features`` / ``X`` with ``labels`` / ``y`` and
optionally ``scores``) or Parquet (needs pandas with a Parquet engine). The label column is named;
the pool's file may carry a score column; every other column is a feature unless dropped or
unless feature columns are named.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from rmtsynth.errors import RmtsynthError

SUFFIXES = (".csv", ".npz", ".parquet", ".pq")


@dataclass(frozen=True)
class Columns:
    """A file's columns by name, in file order (numbers as float arrays, text as str arrays)."""

    path: Path
    names: tuple[str, ...]
    values: dict[str, np.ndarray]

    def rows(self) -> int:
        return len(next(iter(self.values.values()))) if self.values else 0


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in list(names)[:12])
    return shown + (", ..." if len(names) > 12 else "")


def _column(cells: list[str]) -> np.ndarray:
    try:
        return np.array([float(c) for c in cells])
    except ValueError:
        return np.array([c.strip() for c in cells])


def _read_csv(path: Path) -> Columns:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RmtsynthError(f"{path} could not be read as CSV ({exc}).") from exc
    if len(rows) < 2:
        raise RmtsynthError(f"{path} has no data rows (a CSV file needs a header row and at least one row).")
    header = [cell.strip() for cell in rows[0]]
    repeated = sorted({n for n in header if header.count(n) > 1})
    if repeated:
        raise RmtsynthError(f"{path} names the column {repeated[0]!r} more than once; column names must be unique.")
    for i, row in enumerate(rows[1:], start=1):
        if len(row) != len(header):
            raise RmtsynthError(f"{path} has {len(row)} values on data row {i} but {len(header)} columns in its header.")
    return Columns(path, tuple(header), {name: _column([row[j] for row in rows[1:]]) for j, name in enumerate(header)})


def _read_npz(path: Path) -> Columns:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: np.asarray(archive[name]) for name in archive.files}
    except Exception as exc:  # a corrupt archive or pickled objects
        raise RmtsynthError(f"{path} could not be read as a .npz archive ({exc}).") from exc
    values: dict[str, np.ndarray] = {}
    for name, arr in arrays.items():
        if arr.ndim == 2 and name in ("features", "X"):
            values.update({f"x{j}": arr[:, j] for j in range(arr.shape[1])})
        elif arr.ndim == 1:
            values[name] = arr
        else:
            raise RmtsynthError(f"{path} holds {name!r} of shape {arr.shape}; use 1-D columns or a 2-D 'features'.")
    lengths = {len(v) for v in values.values()}
    if len(lengths) > 1:
        raise RmtsynthError(f"{path} holds columns of different lengths ({sorted(lengths)}).")
    return Columns(path, tuple(values), values)


def _read_parquet(path: Path) -> Columns:
    try:
        import pandas as pd

        frame = pd.read_parquet(path)
    except ImportError:
        raise RmtsynthError(f"{path}: reading Parquet needs pandas and pyarrow ('pip install pandas pyarrow').") from None
    except Exception as exc:
        raise RmtsynthError(f"{path} could not be read as Parquet ({exc}).") from exc
    names = tuple(str(c) for c in frame.columns)
    return Columns(path, names, {str(c): np.asarray(frame[c].to_numpy()) for c in frame.columns})


def read_columns(path: Path | str) -> Columns:
    """Every column of a CSV, NPZ or Parquet file."""
    path = Path(path)
    if not path.is_file():
        raise RmtsynthError(f"{path} does not exist or is not a file.")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise RmtsynthError(f"{path} is not a .csv, .npz or .parquet file.")
    readers = {".csv": _read_csv, ".npz": _read_npz, ".parquet": _read_parquet, ".pq": _read_parquet}
    return readers[suffix](path)


def _needed(columns: Columns, name: str, option: str) -> np.ndarray:
    if name not in columns.values:
        raise RmtsynthError(f"{columns.path} has no column {name!r} ({option}); its columns are: {_listing(columns.names)}.")
    return columns.values[name]


def _default_label(columns: Columns, label_column: str | None) -> str:
    if label_column is not None:
        return label_column
    for candidate in ("label", "labels", "y", "target", "class"):
        if candidate in columns.values:
            return candidate
    raise RmtsynthError(
        f"{columns.path} has no column named label, y, target or class; name the label column with "
        f"--label-column (its columns are: {_listing(columns.names)})."
    )


def select(columns: Columns, *, label_column: str | None, score_column: str | None = None,
           drop_columns: Sequence[str] = (), feature_columns: Sequence[str] | None = None,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, tuple[str, ...]]:
    """Features (rows x features), labels, scores (or None) and the feature names of one file."""
    label = _default_label(columns, label_column)
    labels = _needed(columns, label, "--label-column")
    scores = None if score_column is None else _needed(columns, score_column, "--score-column")
    if scores is not None and scores.dtype.kind not in "biuf":
        raise RmtsynthError(f"{columns.path}: the score column {score_column!r} holds text; scores must be numbers.")
    if scores is not None and not np.all(np.isfinite(scores)):
        bad = int(np.count_nonzero(~np.isfinite(scores)))
        raise RmtsynthError(f"{columns.path}: the score column {score_column!r} has {bad} value(s) that are not finite numbers.")
    for name in drop_columns:
        _needed(columns, name, "--drop-columns")
    if feature_columns:
        names = tuple(feature_columns)
        for name in names:
            _needed(columns, name, "--feature-columns")
    else:
        skip = {label, score_column, *drop_columns}
        names = tuple(n for n in columns.names if n not in skip)
    if not names:
        raise RmtsynthError(f"{columns.path} has no feature column besides the label and score columns.")
    for name in names:
        if columns.values[name].dtype.kind not in "biuf":
            first = columns.values[name][0]
            raise RmtsynthError(
                f"{columns.path} has the non-numeric value {str(first)!r} in the feature column {name!r}; "
                "drop it with --drop-columns."
            )
    X = np.column_stack([columns.values[n].astype(float) for n in names])
    return X, labels, None if scores is None else scores.astype(float), names


def read_pool_pair(real_path: Path | str, pool_path: Path | str, *, label_column: str | None = None,
                   score_column: str | None = None, drop_columns: Sequence[str] = (),
                   feature_columns: Sequence[str] | None = None):
    """Real features and labels, pool features, labels and scores, from two files with the same feature columns."""
    real = read_columns(real_path)
    pool = read_columns(pool_path)
    for name in drop_columns:
        if name not in real.values and name not in pool.values:
            raise RmtsynthError(f"--drop-columns names {name!r}, which neither {real.path} nor {pool.path} has.")
    # A score column in the real rows' file (if any) is not a feature either.
    real_drop = [c for c in (*drop_columns, score_column) if c is not None and c in real.values]
    X, y, _, names = select(real, label_column=label_column, drop_columns=real_drop, feature_columns=feature_columns)
    missing = [n for n in names if n not in pool.values]
    if missing:
        raise RmtsynthError(f"{pool.path} has no feature column {missing[0]!r}, which {real.path} has.")
    S, t, scores, _ = select(pool, label_column=label_column, score_column=score_column,
                             drop_columns=[c for c in drop_columns if c in pool.values], feature_columns=names)
    return X, y, S, t, scores, names
