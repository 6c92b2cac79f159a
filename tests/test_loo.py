"""The exact leave-one-out of the held-out protocol against brute-force refits, and the planner on it."""

import numpy as np
import pytest

from rmtsynth.data.estimators import fit_pipeline
from rmtsynth.data.loo import exact_loo
from rmtsynth.data.prediction import predict_heldout
from rmtsynth.errors import RmtsynthError


def _naive_margins(X, y, gamma):
    """y_i times the score of row i by the protocol refitted from scratch on the other rows."""
    out = np.empty(y.size)
    for i in range(y.size):
        keep = np.arange(y.size) != i
        out[i] = y[i] * fit_pipeline(X[keep], y[keep], gamma).scores(X[i:i + 1])[0]
    return out


def _rows(n, p, seed):
    rng = np.random.default_rng(seed)
    y = np.where(np.arange(n) % 3 == 0, 1.0, -1.0)
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, p) + 0.8 * y[:, None] * (np.arange(p) < 4)
    X[:, 0] = 7.0                      # constant in every row
    X[:, 1] = 0.0
    X[3, 1] = 2.0                      # constant once row 3 is left out
    X[:, 2] = (rng.random(n) < 0.15)   # sparse: large per-row rescaling when left out
    return X, y


@pytest.mark.parametrize("n, p", [(30, 12), (24, 70), (40, 40)])
def test_fast_loo_equals_refitting_without_each_row(n, p):
    X, y = _rows(n, p, seed=n + p)
    fast = exact_loo(X, y, 0.1)
    naive = _naive_margins(X, y, 0.1)
    assert np.max(np.abs(fast.margins - naive)) <= 1e-10 * np.max(np.abs(naive))
    assert fast.accuracy == pytest.approx(np.mean(np.where(naive * y >= 0, 1.0, -1.0) == y))


def test_loo_is_the_real_only_prediction_at_n_and_refuses_single_row_classes():
    X, y = _rows(30, 50, seed=3)
    got = predict_heldout(X, y, gamma=0.1, correction="loo")
    assert got["accuracy"][0] == pytest.approx(exact_loo(X, y, 0.1).accuracy)
    y1 = -np.ones(30)
    y1[0] = 1.0
    with pytest.raises(RmtsynthError, match="2 training rows of each class"):
        exact_loo(X, y1, 0.1)


def test_loo_is_unbiased_for_held_out_accuracy_on_gaussian_rows_with_p_above_n():
    # n = 40 < p = 80: the mean LOO accuracy over splits matches the measured held-out accuracy
    # within 3 standard errors of the paired gap.
    rng = np.random.default_rng(11)
    rows, p = 1000, 80
    y = np.where(rng.random(rows) < 0.5, 1.0, -1.0)
    X = rng.standard_normal((rows, p)) + 0.35 * y[:, None]
    gaps = []
    for s in range(40):
        idx = np.random.default_rng(100 + s).permutation(rows)
        tr, te = idx[:40], idx[40:]
        if min(np.sum(y[tr] > 0), np.sum(y[tr] < 0)) < 2:
            continue
        measured = np.mean(np.where(fit_pipeline(X[tr], y[tr], 0.1).scores(X[te]) >= 0, 1.0, -1.0) == y[te])
        gaps.append(exact_loo(X[tr], y[tr], 0.1).accuracy - measured)
    gaps = np.asarray(gaps)
    assert abs(gaps.mean()) <= 3.0 * gaps.std(ddof=1) / np.sqrt(gaps.size) + 1e-3


def test_plan_with_data_decides_on_the_heldout_predictor(tmp_path):
    import rmtsynth

    cfg = tmp_path / "plan.yaml"
    cfg.write_text("seed: 0\ndata: {digits: [3, 8]}\nparams: {n: 357, label_noise: 0.0, rho: 1.0, phi: 1.0, "
                   "gamma: 0.1, m_over_n: 1, generator_alignment: 1.0, generator_shift: 0.0}\n")
    res = rmtsynth.plan(cfg, diagnostics=True)
    # At the data's own n, real rows only, the answer is the exact leave-one-out of the rows.
    from rmtsynth.data.loaders import load_digits_pair

    X, y, _ = load_digits_pair((3, 8))
    assert res["accuracy_real_only"] == pytest.approx(exact_loo(X, y, 0.1).accuracy, abs=1e-12)
    assert res["diagnostics"]["fitted_gaussian"]["accuracy_real_only"] > res["accuracy_real_only"]
    sd = res["uncertainty"]["jackknife_sd"]
    assert sd["accuracy_real_only"] > 0 and sd["gain_configured"] is not None
    cannot_tell = any("the data cannot tell" in msg for msg in res["messages"])
    assert cannot_tell == (abs(res["gain_best_mix"]) <= sd["gain_best_mix"] or
                           abs(res["gain_configured"]) <= sd["gain_configured"] or
                           abs(res["gain_tuned_gamma"]) <= sd["gain_tuned_gamma"])
