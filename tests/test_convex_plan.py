"""The planner on the user's rows with a convex learner: the learner's leave-one-out under the
theory's protocol (checked against refits), the theory calibrated at it, and every plan answer."""

from pathlib import Path

import numpy as np
import pytest

from clitools import write_file

from rmtsynth.core.learners import CALIBRATED_HELDOUT, HELDOUT_PREDICTION, LEARNERS, get_learner
from rmtsynth.data.convex_loo import convex_loo
from rmtsynth.data.estimators import fit_standardisation
from rmtsynth.data.loo import standardised_rows
from rmtsynth.data.protocols import copy_groups


def _digits(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    keep = np.isin(d.target, [3, 8])
    X, y = d.data[keep], np.where(d.target[keep] == 8, 1.0, -1.0)
    pick = np.random.default_rng(seed).choice(y.size, rows, replace=False)
    return X[pick], y[pick]


def _protocol_scores(learner, X_train, y_train, X_test, gamma) -> np.ndarray:
    """Scores of test rows by the protocol fitted on the training rows: standardise, centre, ERM."""
    Z, _, centre, _ = standardised_rows(X_train, y_train)
    loc, scale = fit_standardisation(X_train)
    w = learner.fit((Z - centre).T, y_train, float(y_train.size), gamma)
    return ((X_test - loc) / scale - centre) @ w


def _refits(learner, X, y, gamma) -> np.ndarray:
    """y times the score of each row by the protocol refitted without it and its copies."""
    groups = copy_groups(X, y)
    out = np.empty(y.size)
    for i in range(y.size):
        keep = groups != groups[i]
        out[i] = y[i] * _protocol_scores(learner, X[keep], y[keep], X[i:i + 1], gamma)[0]
    return out


@pytest.mark.parametrize(("name", "gamma", "share"), [("logistic", 0.1, 0.05), ("logistic", 0.01, 0.1),
                                                      ("square_hinge", 0.1, 0.3)])
def test_the_convex_leave_one_out_follows_refits_without_the_row(name, gamma, share):
    X, y = _digits(60, seed=0)
    X, y = np.vstack([X, X[:1]]), np.append(y, y[0])  # a copy: it leaves with its row
    learner = get_learner(name)
    got = convex_loo(X, y, gamma, learner)
    want = _refits(learner, X, y, gamma)
    full = y * _protocol_scores(learner, X, y, X, gamma)
    error, moved = np.abs(got.margins - want), np.abs(full - want)
    # The Newton step recovers most of what leaving the row out changes, and the sign wherever it is clear.
    assert error.mean() < share * moved.mean(), (error.mean(), moved.mean())
    differ = np.sign(got.margins) != np.sign(want)
    assert np.all(np.abs(want[differ]) <= error[differ])
    assert got.margins[0] == got.margins[-1]


def test_the_leave_one_out_predicts_the_measured_held_out_accuracy():
    """Over random splits, the LOO of the training rows against the accuracy on the other rows."""
    from sklearn.datasets import load_digits

    d = load_digits()
    keep = np.isin(d.target, [3, 8])
    X, y = d.data[keep], np.where(d.target[keep] == 8, 1.0, -1.0)
    learner, rng, gaps = get_learner("logistic"), np.random.default_rng(5), []
    for _ in range(16):
        order = rng.permutation(y.size)
        train, test = order[:80], order[80:]
        if min(np.count_nonzero(y[train] > 0), np.count_nonzero(y[train] < 0)) < 3:
            continue
        predicted = convex_loo(X[train], y[train], 0.1, learner).accuracy
        measured = np.mean(y[test] * _protocol_scores(learner, X[train], y[train], X[test], 0.1) > 0)
        gaps.append(predicted - measured)
    gaps = np.asarray(gaps)
    se = gaps.std(ddof=1) / np.sqrt(gaps.size)
    assert abs(gaps.mean()) <= 3.0 * se + 0.005, (gaps.mean(), se)


def test_the_convex_learners_with_a_leave_one_out_declare_the_plans_use():
    assert LEARNERS["ridge"].supports(CALIBRATED_HELDOUT)
    assert LEARNERS["logistic"].supports(CALIBRATED_HELDOUT) and LEARNERS["square_hinge"].supports(CALIBRATED_HELDOUT)
    assert not LEARNERS["hinge"].supports(CALIBRATED_HELDOUT)
    # The direct estimators (and the pool's theory) stay ridge's.
    assert not any(LEARNERS[name].supports(HELDOUT_PREDICTION) for name in ("logistic", "square_hinge", "hinge"))


def _gaussian_rows(rows: int, p: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.where(np.arange(rows) % 2 == 0, 1.0, -1.0)
    return rng.standard_normal((rows, p)) * np.linspace(0.5, 2.0, p) + 0.5 * y[:, None] * (np.arange(p) < 4), y


@pytest.mark.parametrize("name", ["logistic", "square_hinge"])
def test_a_convex_plan_with_data_answers_every_question_from_its_leave_one_out(tmp_path, monkeypatch, name):
    import rmtsynth
    from rmtsynth.engine import plan_heldout

    monkeypatch.setattr(plan_heldout, "JACKKNIFE_SUBSETS", 2)
    X, y = _gaussian_rows(60, 8, seed=3)
    np.savez(tmp_path / "real.npz", X=X, y=y)
    # Every row trains (n = 60): the real-only answer is the learner's leave-one-out itself.
    cfg = write_file(tmp_path / "plan.yaml", "seed: 0\ndata: {path: real.npz}\n"
                     f"params: {{n: 60, label_noise: 0.2, verifier_precision: 0.9, verifier_recall: 0.9, gamma: 0.1, "
                     f"m: 120, generator_alignment: 0.9, learner: {name}}}\n")
    res = rmtsynth.plan(Path(cfg))
    learner = get_learner(name)
    assert res["accuracy_real_only"] == pytest.approx(convex_loo(X, y, 0.1, learner).accuracy, abs=1e-12)
    assert res["heldout_estimator"]["learner"] == name
    assert res["heldout_estimator"]["leave_one_out"] == "approximate"
    for key in ("accuracy_real_only", "accuracy_configured", "accuracy_best_mix", "accuracy_best_gamma",
                "accuracy_real_only_best_gamma"):
        assert 0.0 <= res[key] <= 1.0, key
    for key in ("best_synthetic_proportion", "best_gamma", "min_verifier_precision_status", "max_label_noise_status",
                "transition_width"):
        assert res[key] is not None, key
    assert res["accuracy_best_mix"] >= res["accuracy_configured"] - 1e-9
    assert res["accuracy_best_gamma"] >= res["accuracy_configured"] - 1e-9
    assert res["uncertainty"]["jackknife_sd"]["accuracy_configured"] > 0
    assert "ridge" in res["uncertainty"]["benchmarked_sd"]["measured_for"]


def test_the_convex_plans_model_is_its_own_theory_not_ridges(tmp_path, monkeypatch):
    """Same rows, same mix: the logistic and ridge plans differ (each calibrated on its own LOO)."""
    from rmtsynth.config.plan_config import load_plan
    from rmtsynth.core.model import Mix
    from rmtsynth.engine.plan_heldout import heldout_model

    X, y = _gaussian_rows(60, 8, seed=4)
    np.savez(tmp_path / "real.npz", X=X, y=y)
    models = {}
    for name in ("ridge", "logistic"):
        cfg = write_file(tmp_path / f"{name}.yaml", "seed: 0\ndata: {path: real.npz}\n"
                         f"params: {{n: 60, label_noise: 0.2, rho: 0.2, phi: 0.9, gamma: 0.1, m: 120, learner: {name}}}\n")
        models[name] = heldout_model(load_plan(cfg), X, y)
    mix = Mix(60.0, np.array([0.0, 60.0, 240.0]), 0.2, 0.2, 0.9, 0.1)
    ridge, logistic = (np.asarray(models[k][0](mix)) for k in ("ridge", "logistic"))
    assert logistic[0] == pytest.approx(models["logistic"][1].loo.accuracy, abs=1e-12)
    assert np.all((logistic >= 0) & (logistic <= 1))
    assert np.max(np.abs(logistic[1:] - ridge[1:])) > 1e-4
