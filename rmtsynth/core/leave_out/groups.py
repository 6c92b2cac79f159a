"""Rows that must be left out together: exact duplicates of one another."""

from __future__ import annotations

import numpy as np


def duplicate_groups(X: np.ndarray) -> np.ndarray:
    """One group id per row; identical rows share an id (the index of their first occurrence).

    A row's copy left in training would let a leave-one-out see the row it is scoring.
    """
    X = np.ascontiguousarray(np.asarray(X, dtype=float))
    if X.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    # -0.0 and 0.0 are the same feature value.
    X = X + 0.0
    _, first, inverse = np.unique(X, axis=0, return_index=True, return_inverse=True)
    return first[inverse.reshape(-1)].astype(np.int64)
