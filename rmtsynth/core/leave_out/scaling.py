"""The standardisation a scikit-learn ``StandardScaler`` fits, and the groups left out together."""

from __future__ import annotations

import numpy as np

# scikit-learn treats a feature whose standard deviation is below this as constant (scale 1).
_CONSTANT_SCALE = 10 * np.finfo(float).eps


def standard_scaling(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of ``StandardScaler().fit(X)``: population standard deviation, 1 where constant."""
    X = np.asarray(X, dtype=float)
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    constant = (scale < _CONSTANT_SCALE) | np.all(X == X[:1], axis=0)
    return mean, np.where(constant, 1.0, scale)


def scored_groups(groups: np.ndarray, scored: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Rows alone in their group and scored, and the members of every larger group holding a scored row."""
    groups = np.asarray(groups)
    ids, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    single = np.flatnonzero(scored & (counts[inverse] == 1))
    larger = []
    for gid in np.unique(inverse[scored & (counts[inverse] > 1)]):
        larger.append(np.flatnonzero(inverse == gid))
    return single, larger


# A feature that is constant without the group (lambda = 1) has no data: its weight is 0 under any
# penalty, so it keeps the full one.
_CONSTANT_WITHOUT_GROUP = 1e-9


def penalty_shrinkage(Zg: np.ndarray, rows: int) -> np.ndarray:
    """lambda per feature (columns of ``Zg``, the group's standardised rows; one row may be 1-D).

    Refitting the scaler without the group rescales feature j by sigma_j / sigma'_j; in the full
    fit's coordinates this multiplies its L2 penalty by ``rows / (rows - k) * (1 - lambda_j)``.
    """
    Zg = np.atleast_2d(Zg)
    rest = rows - Zg.shape[0]
    lam = ((Zg ** 2).sum(axis=0) + Zg.sum(axis=0) ** 2 / rest) / rows
    lam[1.0 - lam <= _CONSTANT_WITHOUT_GROUP] = 0.0
    return lam


def singleton_shrinkage(Z_rows: np.ndarray, rows: int) -> np.ndarray:
    """:func:`penalty_shrinkage` of each row left out alone (one row of lambdas per given row)."""
    lam = np.asarray(Z_rows, dtype=float) ** 2 / (rows - 1)
    lam[1.0 - lam <= _CONSTANT_WITHOUT_GROUP] = 0.0
    return lam
