"""One validation of what a user hands the real-data paths: numbers, features, labels, pools.

The command line and the Python API both come through here, so a bad input gets the same plain
sentence naming the parameter whichever way it arrived: :class:`~rmtsynth.errors.ParameterTypeError`
(a ``TypeError``) for a value of the wrong type, :class:`~rmtsynth.errors.ParameterError`
(a ``ValueError``) for one out of its range. Every check returns the value in the form the
computation takes (a Python int, a float array, a boolean mask).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np

from rmtsynth.errors import ParameterError, ParameterTypeError

#: The keys a synthetic pool may carry.
POOL_KEYS = ("features", "labels", "label_correct", "kept", "score", "threshold")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_bool(value: Any, name: str) -> bool:
    """True or False (numpy's too); strings such as "no" and numbers are refused rather than read as truth values."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ParameterTypeError(f"{name} = {_show(value)} must be True or False, not {type(value).__name__}.")


def check_integer(value: Any, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """A whole number in [low, high]; strings, booleans and fractions are refused."""
    if isinstance(value, bool) or not isinstance(value, (Integral, Real)) or isinstance(value, complex):
        raise ParameterTypeError(f"{name} = {_show(value)} must be an integer, not {type(value).__name__}.")
    if not float(value).is_integer():
        raise ParameterError(f"{name} = {_show(value)} must be a whole number.")
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise ParameterError(f"{name} = {number} is out of range; it must be {_range_text(low, high)}.")
    return number


def check_real(value: Any, name: str, *, low: float | None = None, high: float | None = None,
               low_open: bool = False) -> float:
    """A finite real number in [low, high] ((low, high] with ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ParameterTypeError(f"{name} = {_show(value)} must be a number, not {type(value).__name__}.")
    number = float(value)
    below = low is not None and (number <= low if low_open else number < low)
    if not np.isfinite(number) or below or (high is not None and number > high):
        bound = f"greater than {low:g}" if low_open and high is None else _range_text(low, high, low_open)
        raise ParameterError(f"{name} = {_show(value)} is out of range; it must be {bound}.")
    return number


def _range_text(low, high, low_open: bool = False) -> str:
    if low is not None and high is not None:
        return f"{'greater than' if low_open else 'from'} {low:g} {'and at most' if low_open else 'to'} {high:g}"
    if low is not None:
        return f"{'greater than' if low_open else 'at least'} {low:g}"
    return f"at most {high:g}" if high is not None else "a finite number"


def check_features(values: Any, name: str, *, columns: int | None = None) -> np.ndarray:
    """A 2-D array of finite real numbers (rows x features), as float64."""
    arr = np.asarray(values)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        kind = "complex numbers" if arr.dtype.kind == "c" else f"values of type {arr.dtype}"
        raise ParameterTypeError(f"{name} holds {kind}; the features must be real numbers.")
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ParameterError(f"{name} must be a non-empty 2-D array (rows x features), not of shape {arr.shape}.")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        rows = int(np.count_nonzero(~np.all(np.isfinite(arr), axis=1)))
        raise ParameterError(f"{name} has {rows} row(s) with a value that is not a finite number (NaN or infinite).")
    if columns is not None and arr.shape[1] != columns:
        raise ParameterError(f"{name} has {arr.shape[1]} features but the real rows have {columns}.")
    return arr


def check_labels(values: Any, name: str, *, rows: int) -> np.ndarray:
    """One label -1 or +1 per row, as float64."""
    arr = np.asarray(values)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise ParameterTypeError(f"{name} must hold the numbers -1 and +1, not values of type {arr.dtype}.")
    arr = arr.reshape(-1).astype(np.float64)
    if arr.size != rows:
        raise ParameterError(f"{name} has {arr.size} labels for {rows} rows.")
    bad = ~((arr == 1.0) | (arr == -1.0))
    if bad.any():
        raise ParameterError(
            f"{name} must be -1 or +1 for every row (the real classes); found {_show(arr[bad][0].item())}."
        )
    return arr


def check_flags(values: Any, name: str, *, rows: int) -> np.ndarray:
    """One flag per row, given as booleans or as 0/1 numbers; anything else is refused."""
    arr = np.asarray(values)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise ParameterTypeError(f"{name} must hold booleans or 0/1, not values of type {arr.dtype}.")
    arr = arr.reshape(-1)
    if arr.size != rows:
        raise ParameterError(f"{name} has {arr.size} flags for {rows} rows.")
    if arr.dtype.kind == "b":
        return arr.astype(bool)
    bad = ~((arr == 0) | (arr == 1))
    if bad.any():
        raise ParameterError(f"{name} must be true/false or 0/1 for every row; found {_show(arr[bad][0].item())}.")
    return arr == 1


def check_scores(values: Any, name: str, *, rows: int) -> np.ndarray:
    """One finite real score per row."""
    arr = np.asarray(values)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise ParameterTypeError(f"{name} must hold numbers, not values of type {arr.dtype}.")
    arr = arr.reshape(-1).astype(np.float64)
    if arr.size != rows:
        raise ParameterError(f"{name} has {arr.size} scores for {rows} rows.")
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"{name} has {int(np.count_nonzero(~np.isfinite(arr)))} score(s) that are not finite numbers.")
    return arr


def check_rows_per_class(labels: np.ndarray, needed: int, name: str, why: str) -> None:
    """Each of the two classes has at least ``needed`` rows."""
    counts = {int(c): int(np.count_nonzero(labels == c)) for c in (-1, 1)}
    fewest = min(counts.values())
    if fewest < needed:
        raise ParameterError(
            f"{name} has {fewest} row(s) of its smaller class; {why} needs at least {needed} rows per class."
        )


def check_split_classes(labels: np.ndarray, n: int, needed: int, name: str, why: str) -> None:
    """A stratified training split of ``n`` rows has ``needed`` rows of each class and leaves one of each held out.

    The split gives each class n/2 rows (the odd one to a random class), so the smaller class needs
    more than (n + 1)/2 rows for one of them to be held out.
    """
    fewest = min(int(np.count_nonzero(labels == c)) for c in (-1, 1))
    if fewest <= (n + 1) // 2:
        raise ParameterError(
            f"{name} has {fewest} row(s) of its smaller class; a stratified training split of n = {n} rows takes up "
            f"to {(n + 1) // 2} of them, and at least one must be held out to measure the accuracy."
        )
    if n // 2 < needed:
        raise ParameterError(f"n = {n} gives {n // 2} training row(s) per class; {why} needs at least {needed} per class.")


def check_sequence(values: Any, name: str, example: str) -> list[Any]:
    """A list (or tuple, or 1-D array) of values; a string or a mapping is refused, not read letter by letter."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, (list, tuple, np.ndarray)):
        raise ParameterTypeError(f"{name} = {_show(values)} must be a list, for example {example}.")
    items = list(np.asarray(values).reshape(-1)) if isinstance(values, np.ndarray) else list(values)
    if not items:
        raise ParameterError(f"{name} is empty; give at least one value, for example {example}.")
    return items


def check_pool(synthetic: Any, name: str, *, columns: int | None = None) -> dict[str, Any]:
    """A synthetic pool (a mapping of :data:`POOL_KEYS`), checked and converted."""
    if not isinstance(synthetic, Mapping):
        raise ParameterTypeError(
            f"{name} must be a mapping with features and labels (and optionally {', '.join(POOL_KEYS[2:])}), "
            f"not {type(synthetic).__name__}."
        )
    for key in synthetic:
        if key not in POOL_KEYS:
            close = difflib.get_close_matches(str(key), POOL_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ParameterError(f"{name}[{key!r}] is not a pool key{hint}; the keys are {', '.join(POOL_KEYS)}.")
    for key in ("features", "labels"):
        if key not in synthetic:
            raise ParameterError(f"{name} needs {key!r}.")
    pool: dict[str, Any] = {"features": check_features(synthetic["features"], f"{name}['features']", columns=columns)}
    rows = pool["features"].shape[0]
    pool["labels"] = check_labels(synthetic["labels"], f"{name}['labels']", rows=rows)
    for key in ("label_correct", "kept"):
        if synthetic.get(key) is not None:
            pool[key] = check_flags(synthetic[key], f"{name}[{key!r}]", rows=rows)
    if ("score" in synthetic) != ("threshold" in synthetic):
        raise ParameterError(f"{name}: 'score' and 'threshold' go together.")
    if "score" in synthetic:
        if "kept" in synthetic:
            raise ParameterError(f"{name}: give the verifier's decisions as 'kept' or as 'score' with 'threshold', not both.")
        pool["score"] = check_scores(synthetic["score"], f"{name}['score']", rows=rows)
        pool["threshold"] = check_real(synthetic["threshold"], f"{name}['threshold']")
    # The pool's class means are estimated by class: the true ones when the flags say which labels are wrong.
    classes = pool["labels"] if "label_correct" not in pool else np.where(pool["label_correct"], 1.0, -1.0) * pool["labels"]
    if np.unique(classes).size < 2:
        raise ParameterError(f"{name}['labels'] has only the class {classes[0]:+g}; the pool needs rows of both classes "
                             "(its class means are estimated from them).")
    return pool
