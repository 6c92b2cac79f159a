"""A user's real rows, synthetic pool and scores, checked once and put in the form the advisor computes on.

Features may be arrays or pandas DataFrames (the pool's columns are then matched to the real rows'
by name), labels any two values (numbers or strings; the sorted second is the positive class, as
scikit-learn orders ``classes_``), scores one finite number per pool row, higher meaning keep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rmtsynth.data.validation import check_features, check_scores
from rmtsynth.errors import ParameterError, ParameterTypeError

# The leave-one-out refits without one row: each class needs a row left besides it.
MIN_ROWS_PER_CLASS = 2


@dataclass(frozen=True)
class AdviceInputs:
    """The rows the advisor works on: labels as -1/+1, ``classes`` the user's two label values."""

    real_features: np.ndarray
    real_labels: np.ndarray
    pool_features: np.ndarray
    pool_labels: np.ndarray
    scores: np.ndarray | None
    classes: tuple[Any, Any]
    feature_names: tuple[str, ...] | None

    @property
    def pool_rows(self) -> int:
        return int(self.pool_labels.size)

    def user_labels(self, signs: np.ndarray) -> np.ndarray:
        """-1/+1 back to the user's label values."""
        return np.where(np.asarray(signs) > 0, self.classes[1], self.classes[0])


def _columns(frame: Any) -> tuple[str, ...] | None:
    columns = getattr(frame, "columns", None)
    return None if columns is None else tuple(str(c) for c in columns)


def _matched_pool(pool: Any, names: tuple[str, ...] | None) -> Any:
    """The pool's columns in the real rows' order when both are tables with named columns."""
    pool_names = _columns(pool)
    if names is None or pool_names is None or pool_names == names:
        return pool
    missing = [n for n in names if n not in pool_names]
    if missing:
        raise ParameterError(f"synthetic_features has no column {missing[0]!r}, which the real features have.")
    extra = [n for n in pool_names if n not in names]
    if extra:
        raise ParameterError(f"synthetic_features has a column {extra[0]!r} that the real features do not have.")
    return pool[list(pool.columns[[pool_names.index(n) for n in names]])]


def _label_array(values: Any, name: str, rows: int) -> np.ndarray:
    arr = np.asarray(getattr(values, "to_numpy", lambda: values)())
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise ParameterError(f"{name} must be one label per row, not an array of shape {arr.shape}.")
    if arr.size != rows:
        raise ParameterError(f"{name} has {arr.size} labels for {rows} rows.")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ParameterError(f"{name} has a label that is not a finite number (NaN or infinite).")
    if arr.dtype == object and any(v is None for v in arr):
        raise ParameterError(f"{name} has a missing label (None).")
    return arr


def _text(value: Any) -> str:
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _classes(labels: np.ndarray) -> tuple[Any, Any]:
    present = np.unique(labels)
    shown = ", ".join(_text(v) for v in present[:8]) + (", ..." if present.size > 8 else "")
    if present.size != 2:
        raise ParameterError(
            f"real_labels has {present.size} class{'es' if present.size != 1 else ''} ({shown}); the advisor needs exactly two."
        )
    return tuple(v.item() if isinstance(v, np.generic) else v for v in present)  # type: ignore[return-value]


def _signs(labels: np.ndarray, classes: tuple[Any, Any], name: str) -> np.ndarray:
    """-1/+1 per label; labels are compared as text, so a CSV's 3 and an array's 3.0 or '3' agree."""
    text = np.asarray([_text(v) for v in labels])
    y = np.zeros(labels.size)
    y[text == _text(classes[0])] = -1.0
    y[text == _text(classes[1])] = 1.0
    if np.any(y == 0):
        other = labels[y == 0][0]
        raise ParameterError(
            f"{name} has a label {_text(other)!r} that is not one of the real classes "
            f"({_text(classes[0])!r}, {_text(classes[1])!r})."
        )
    return y


def check_inputs(real_features: Any, real_labels: Any, synthetic_features: Any, synthetic_labels: Any,
                 scores: Any = None) -> AdviceInputs:
    """Every input checked, with one sentence naming the argument when it is wrong."""
    names = _columns(real_features)
    X = check_features(real_features, "real_features")
    y_raw = _label_array(real_labels, "real_labels", X.shape[0])
    classes = _classes(y_raw)
    y = _signs(y_raw, classes, "real_labels")
    for sign, value in ((-1.0, classes[0]), (1.0, classes[1])):
        count = int(np.count_nonzero(y == sign))
        if count < MIN_ROWS_PER_CLASS:
            raise ParameterError(
                f"real_labels has {count} row of class {_text(value)!r}; the leave-one-out needs at least "
                f"{MIN_ROWS_PER_CLASS} real rows of each class."
            )
    S = check_features(_matched_pool(synthetic_features, names), "synthetic_features", columns=X.shape[1])
    t_raw = _label_array(synthetic_labels, "synthetic_labels", S.shape[0])
    t = _signs(t_raw, classes, "synthetic_labels")
    if np.unique(t).size < 2:
        raise ParameterError(
            f"synthetic_labels has only the class {_text(t_raw[0])!r}; the pool needs rows of both real classes."
        )
    score_values = None
    if scores is not None:
        if isinstance(scores, (str, bytes)):
            raise ParameterTypeError("scores must be one number per synthetic row, not a string.")
        score_values = check_scores(getattr(scores, "to_numpy", lambda: scores)(), "scores", rows=S.shape[0])
    return AdviceInputs(X, y, S, t, score_values, classes, names)
