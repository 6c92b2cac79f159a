"""The held-out prediction's shortcuts give the answers of the direct computations.

The real rows' resolvent in its low-rank form (Woodbury in the synthetic covariance's eigenbasis)
against the p x p Cholesky form, and ``correction='auto'`` against the two corrections it picks from.
"""

from __future__ import annotations

import numpy as np
import pytest

from rmtsynth.data import estimators
from rmtsynth.data.estimators import SyntheticSource, g_estimator_two_covariance
from rmtsynth.data.prediction import predict_heldout
from rmtsynth.data.protocols import fit_gaussian


def _problem(rng: np.random.Generator, p: int, n: int, pool_rows: int):
    """Real rows with correlated features and a synthetic law from a pool of ``pool_rows`` rows."""
    factor = rng.normal(size=(p, p)) / np.sqrt(p) + np.eye(p)
    mu = rng.normal(size=p) * 1.5 / np.sqrt(p)
    y = np.where(np.arange(n) % 3 == 0, 1.0, -1.0)  # unbalanced classes
    X = y[:, None] * mu + rng.normal(size=(n, p)) @ factor.T
    pool = rng.normal(size=(pool_rows, p)) @ (0.7 * factor.T)
    cov = pool.T @ pool / pool_rows if pool_rows else np.zeros((p, p))
    return fit_gaussian(X, y), SyntheticSource(mu=0.8 * mu, covariance=(cov + cov.T) / 2.0, mean_noise=0.01)


@pytest.mark.parametrize("pool_rows", [0, 30, 400])
@pytest.mark.parametrize("gamma", [0.01, 0.3, 10.0])
def test_the_low_rank_resolvent_gives_the_dense_answers(pool_rows: int, gamma: float, monkeypatch) -> None:
    rng = np.random.default_rng(pool_rows + int(100 * gamma))
    real, source = _problem(rng, p=150, n=40, pool_rows=pool_rows)
    assert real.residuals is not None and real.residuals.shape[0] <= estimators.LOW_RANK_FRACTION * real.p
    assert isinstance(estimators.sample_resolvent(real, source, gamma), estimators._LowRankResolvent)
    m = np.array([0.0, 5.0, 40.0, 200.0, 1000.0])
    args = (real, source, m, 0.2, 0.3, 0.9, gamma)
    fast = g_estimator_two_covariance(*args)
    monkeypatch.setattr(estimators, "LOW_RANK_FRACTION", 0.0)
    assert not isinstance(estimators.sample_resolvent(real, source, gamma), estimators._LowRankResolvent)
    dense = g_estimator_two_covariance(*args)
    for key in ("mean", "variance", "ratio", "u", "u_synth", "b"):
        np.testing.assert_allclose(fast[key], dense[key], rtol=1e-10, atol=1e-13, err_msg=key)


def test_auto_is_the_loo_without_synthetic_rows_and_the_cross_fit_with_them() -> None:
    rng = np.random.default_rng(3)
    p, n = 60, 40
    mu = np.full(p, 0.25)
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    X = y[:, None] * mu + rng.normal(size=(n, p))
    ys = np.where(np.arange(300) % 2 == 0, 1.0, -1.0)
    pool = {"features": ys[:, None] * mu + 1.2 * rng.normal(size=(300, p)), "labels": ys}
    m = [50, 0, 200]
    common = dict(synthetic=pool, gamma=0.5, m_values=m, seed=4)
    auto = predict_heldout(X, y, correction="auto", **common)["accuracy"]
    loo = predict_heldout(X, y, correction="loo", **common)["accuracy"]
    cross = predict_heldout(X, y, correction="cross-fit", **common)["accuracy"]
    assert not np.allclose(loo, cross)
    np.testing.assert_allclose(auto, np.where(np.asarray(m) == 0, loo, cross), rtol=0, atol=1e-12)


@pytest.mark.parametrize("gamma", [1e-4, 1e-2, 1.0])
def test_the_low_rank_resolvent_meets_the_exact_traces_without_a_pool(gamma: float) -> None:
    """Without synthetic rows R commutes with Sigma_hat: its traces and forms follow from the SVD of the rows."""
    real, source = _problem(np.random.default_rng(8), p=300, n=60, pool_rows=0)
    left, sv, _ = np.linalg.svd(real.residuals.T / np.sqrt(real.rows), full_matrices=False)
    e, t = sv**2, 0.7
    w = 1.0 / (t * e + gamma)
    V = np.stack([real.mu, source.mu], axis=1)
    P = left.T @ V
    outside = V - left @ P
    want = [np.sum(e * w), np.sum((e * w) ** 2), P.T @ (w[:, None] * P) + outside.T @ outside / gamma,
            P.T @ ((e * w * w)[:, None] * P)]
    here = estimators._LowRankResolvent(real, source, gamma).at(t, 0.0)
    s1, s_rr, _ = here.real_traces()
    VRV, VRSRV, _ = here.forms(V)
    # Far tighter than the p x p Cholesky form manages at gamma = 1e-4 (about 1e-7 on the last form).
    for got, ref in zip([s1, s_rr, VRV, VRSRV], want):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)
