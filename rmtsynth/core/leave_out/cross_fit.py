"""K-fold cross-fitting: the decision values of any estimator on rows it was not fitted on."""

from __future__ import annotations

from typing import Callable

import numpy as np

# Fits on (rows, labels) and returns the decision values of other rows.
FitPredict = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def cross_fit_decisions(X: np.ndarray, y: np.ndarray, fit_predict: FitPredict, groups: np.ndarray,
                        scored: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """Decision values of the scored rows, each from a fit without its fold (NaN elsewhere).

    The scored rows' groups are dealt to ``folds`` folds class by class, so every fold keeps both
    classes; a fold's groups leave training whole (unscored rows of the group included).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    scored = np.asarray(scored, dtype=bool)
    groups = np.asarray(groups)
    scored_ids = np.unique(groups[scored])
    first_label = {g: y[np.flatnonzero(groups == g)[0]] for g in scored_ids}
    fold_of: dict = {}
    start = 0
    for label in (-1.0, 1.0):
        ids = rng.permutation([g for g in scored_ids if first_label[g] == label])
        for j, g in enumerate(ids):
            fold_of[g] = (start + j) % folds
        start += len(ids)
    out = np.full(y.size, np.nan)
    row_fold = np.array([fold_of.get(g, -1) for g in groups])
    for k in range(folds):
        test = row_fold == k
        if not test.any():
            continue
        out[test & scored] = fit_predict(X[~test], y[~test], X[test & scored])
    return out
