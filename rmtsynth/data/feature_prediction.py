"""Held-out prediction for a verifier given as per-row scores on the synthetic pool (THEORY.md 15, 13).

A verifier that scores the rows keeps a row for what it looks like, so the kept rows are not a
random thinning of the pool: their class means and covariances differ from the pool's. The
prediction therefore fits the K-group deterministic equivalent of THEORY.md 15.3
(:func:`rmtsynth.core.feature_verifier.dense._solve_points`) on the empirical moments of three
groups, in the signed coordinates xi = label * x:

* the real training rows: weight n / N, mean mu_hat, the pooled within-class covariance;
* the kept synthetic rows with a correct label and those with a wrong one: weights K_+ / N and
  K_- / N, their own means and covariances (the pool's ``label_correct`` flags split them).

K_s = m f_s are the expected kept rows of each group among m drawn from the pool (f_s the kept
shares measured on the pool) and N = n + K_+ + K_-, the measurement's normaliser. The Gaussian
answer Phi(mean / sd) is then corrected by cross-fitting, as the default of
:func:`rmtsynth.data.prediction.predict_heldout`: the out-of-fold accuracy of the same pipeline on
(folds - 1)/folds of the training rows plus the pool's kept rows, plus the theory's change from
that size to n (each fold's theory on the fold's own moments).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from scipy.special import ndtr

from rmtsynth.core.feature_verifier.dense import _solve_points
from rmtsynth.core.learners import get_learner
from rmtsynth.core.theory import within_unit_interval
from rmtsynth.data.estimators import fit_standardisation
from rmtsynth.data.protocols import copy_groups, fit_gaussian, group_folds
from rmtsynth.errors import RmtsynthError

FOLDS = 5
RIDGE = get_learner("ridge")


@dataclass(frozen=True)
class KeptGroups:
    """The kept synthetic rows of a pool, by label group, in the real rows' standardised coordinates."""

    signed: tuple[np.ndarray, np.ndarray]  # xi = observed label * z, rows of the correct and wrong groups
    shares: tuple[float, float]  # f_+ and f_-: kept shares of all pool rows
    features: np.ndarray  # every kept row, centred (z), for the cross-fitted fits
    labels: np.ndarray  # their observed labels
    kept: np.ndarray  # the keep decision of every pool row

    def moments(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Means and covariances (about each group's own mean) of the two groups."""
        means, covs = [], []
        for xi in self.signed:
            mean = xi.mean(axis=0) if xi.shape[0] else np.zeros(xi.shape[1])
            centred = xi - mean
            means.append(mean)
            covs.append(centred.T @ centred / max(xi.shape[0], 1))
        return means, covs


def kept_groups(pool: Mapping[str, Any], loc: np.ndarray, scale: np.ndarray) -> KeptGroups:
    """The pool's kept rows (score >= threshold) split by label correctness.

    The pool is centred at its own class midpoint, found with the true classes that the
    observed labels and their correctness flags give, as the measurement centres it.
    """
    features = np.asarray(pool["features"], dtype=float)
    observed = np.asarray(pool["labels"], dtype=float).reshape(-1)
    if pool.get("label_correct") is None or pool.get("score") is None or pool.get("threshold") is None:
        raise RmtsynthError("The kept-group prediction needs the pool's label_correct flags, scores and threshold.")
    correct = np.asarray(pool["label_correct"], dtype=bool).reshape(-1)
    kept = np.asarray(pool["score"], dtype=float).reshape(-1) >= float(pool["threshold"])
    Z = (features - loc) / scale
    Z = Z - fit_gaussian(Z, np.where(correct, observed, -observed)).centre
    signed = observed[:, None] * Z
    rows = observed.size
    groups = (signed[kept & correct], signed[kept & ~correct])
    shares = (float(np.sum(kept & correct)) / rows, float(np.sum(kept & ~correct)) / rows)
    return KeptGroups(groups, shares, Z[kept], observed[kept], kept)


def kept_group_accuracy(Z: np.ndarray, y: np.ndarray, groups: KeptGroups, m: float, gamma: float) -> float:
    """Phi(mean / sd) of the K-group equivalent for n = len(y) centred real rows Z plus m pool rows."""
    real = fit_gaussian(Z, y)
    means, covs = groups.moments()
    n = float(y.size)
    kept = np.array(groups.shares) * m
    N = n + kept.sum()
    weights = np.concatenate([[n], kept])[None, :] / N
    out, _ = _solve_points([real.covariance, *covs], np.vstack([real.mu, *means]), real.mu, weights,
                           np.array([gamma]), np.array([N]))
    sd = np.sqrt(max(out["variance"][0], 0.0))
    return float(ndtr(out["mean"][0] / sd)) if sd > 0 else float(out["mean"][0] > 0)


def _pipeline_accuracy(Z_train, y_train, Z_test, y_test, groups: KeptGroups, kept_rows: np.ndarray, gamma: float) -> float:
    """Held-out accuracy of the ridge on the real rows plus the pool's kept rows ``kept_rows``."""
    Zs, ys = groups.features[kept_rows], groups.labels[kept_rows]
    gram = Z_train.T @ Z_train + Zs.T @ Zs
    moment = Z_train.T @ y_train + Zs.T @ ys
    w = RIDGE.fit_statistics(gram, moment, y_train.size + ys.size, gamma)
    return float(np.mean(np.where(Z_test @ w >= 0.0, 1.0, -1.0) == y_test))


def predict_kept_groups(
    real_features: np.ndarray,
    real_labels: np.ndarray,
    synthetic: Mapping[str, Any],
    *,
    gamma: float,
    m_values: Sequence[int],
    folds: int = FOLDS,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Predicted held-out accuracy over m for a pool whose verifier is given by scores and a threshold.

    Returns ``m``, ``accuracy`` (cross-fitted), ``accuracy_gaussian`` (the K-group Phi(mean/sd)),
    ``kept_correct_share`` and ``kept_wrong_share`` (of the pool's rows) and ``verifier_precision``.
    """
    X = np.asarray(real_features, dtype=float)
    y = np.asarray(real_labels, dtype=float).reshape(-1)
    loc, scale = fit_standardisation(X)
    Z = (X - loc) / scale
    Z = Z - fit_gaussian(Z, y).centre
    groups = kept_groups(synthetic, loc, scale)
    pool_rows = np.asarray(synthetic["labels"]).size
    m_arr = np.asarray(list(m_values), dtype=float)
    if np.any(m_arr < 0) or np.any(m_arr > pool_rows):
        raise RmtsynthError(f"m_values must lie between 0 and the pool's {pool_rows} rows.")
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(3,)))
    fold_of = group_folds(copy_groups(X, y), y, folds, rng)
    # m rows drawn from the pool in a random order, of which the verifier keeps some, as measured.
    order = rng.permutation(pool_rows)
    kept_index = np.cumsum(groups.kept) - 1
    gaussian, accuracy = np.empty(m_arr.size), np.empty(m_arr.size)
    for j, m in enumerate(m_arr):
        gaussian[j] = kept_group_accuracy(Z, y, groups, m, gamma)
        drawn = order[: int(m)]
        kept_rows = kept_index[drawn[groups.kept[drawn]]]
        cv, fold_theory = [], []
        for f in range(folds):
            tr, te = fold_of != f, fold_of == f
            # The fold's own standardisation and centring, as the measurement does with its rows.
            l_f, s_f = fit_standardisation(X[tr])
            Zf = (X - l_f) / s_f
            Zf = Zf - fit_gaussian(Zf[tr], y[tr]).centre
            g_f = kept_groups(synthetic, l_f, s_f)
            cv.append(_pipeline_accuracy(Zf[tr], y[tr], Zf[te], y[te], g_f, kept_rows, gamma))
            fold_theory.append(kept_group_accuracy(Zf[tr], y[tr], g_f, m, gamma))
        accuracy[j] = within_unit_interval(float(np.mean(cv)) + gaussian[j] - float(np.mean(fold_theory)))
    f_plus, f_minus = groups.shares
    return {
        "m": m_arr, "accuracy": accuracy, "accuracy_gaussian": gaussian,
        "kept_correct_share": np.full(m_arr.size, f_plus), "kept_wrong_share": np.full(m_arr.size, f_minus),
        "verifier_precision": np.full(m_arr.size, f_plus / (f_plus + f_minus) if f_plus + f_minus > 0 else np.nan),
    }
