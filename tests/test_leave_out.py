"""The learners' leave-out of a standardise-then-fit pipeline against brute-force refits with scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from rmtsynth.core.learners import LEARNERS, learner_of_estimator
from rmtsynth.core.leave_out import cross_fit_decisions, duplicate_groups, standard_scaling


def _rows(rows: int, features: int, seed: int, signal: float = 0.5):
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(rows) < 0.5, -1.0, 1.0)
    y[:2] = (-1.0, 1.0)
    scale = rng.uniform(0.3, 4.0, size=features)
    X = (y[:, None] * signal * rng.normal(size=features) + rng.normal(size=(rows, features))) * scale + 3.0
    return X, y


def _brute_force(estimator, X, y, groups, scored):
    """Each scored row's decision value by the pipeline refitted without its group."""
    out = np.full(y.size, np.nan)
    for i in np.flatnonzero(scored):
        train = groups != groups[i]
        model = make_pipeline(StandardScaler(), estimator).fit(X[train], y[train])
        out[i] = model.decision_function(X[i:i + 1])[0]
    return out


def _hard_rows(X, y):
    """Duplicated rows (real with real, and a synthetic copy), a constant feature, an outlier."""
    X = X.copy()
    X[:, 1] = 7.0
    X[3, 2] += 40.0 * X[:, 2].std()  # its feature's lambda is large: the Woodbury path
    X[5], y[5] = X[4], y[4]
    X[-1], y[-1] = X[6], y[6]  # a synthetic row equal to a real one leaves with it
    return X, y


@pytest.mark.parametrize("rows, features", [(40, 8), (30, 70), (90, 90)])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_leave_out_is_exact(rows, features, fit_intercept):
    X, y = _hard_rows(*_rows(rows, features, seed=rows + features))
    groups = duplicate_groups(X)
    scored = np.arange(rows) < rows // 2 + 3
    estimator = RidgeClassifier(alpha=2.5, fit_intercept=fit_intercept)
    got = LEARNERS["ridge"].leave_out(estimator, X, y, groups, scored)
    want = _brute_force(estimator, X, y, groups, scored)
    assert np.all(np.isnan(got[~scored]))
    scale = np.max(np.abs(want[scored]))
    np.testing.assert_allclose(got[scored], want[scored], rtol=0, atol=1e-8 * scale)


@pytest.mark.parametrize("name, estimator", [
    ("logistic", LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000)),
    ("square_hinge", LinearSVC(C=0.05, tol=1e-10, max_iter=100_000)),
])
@pytest.mark.parametrize("rows, features", [(120, 10), (60, 90)])
def test_convex_leave_out_follows_the_refits(name, estimator, rows, features):
    """The one-Newton-step leave-out moves each decision value most of the way from the full fit to the refit."""
    X, y = _rows(rows, features, seed=7 * rows + features)
    X[5], y[5] = X[4], y[4]
    groups = duplicate_groups(X)
    scored = np.arange(rows) < rows // 2
    plugin = learner_of_estimator(estimator)
    assert plugin is not None and plugin.name == name
    got = plugin.leave_out(estimator, X, y, groups, scored)
    want = _brute_force(estimator, X, y, groups, scored)
    full = make_pipeline(StandardScaler(), estimator).fit(X, y).decision_function(X)
    moved = np.abs(full - want)[scored]
    error = np.abs(got - want)[scored]
    # The approximation error is a small part of the leave-out's own effect, row by row on average
    # and at the worst row.
    assert error.mean() < 0.2 * moved.mean(), (error.mean(), moved.mean())
    assert error.max() < 0.35 * moved.max(), (error.max(), moved.max())
    # Signs differ only where the refit's decision value is within the approximation error of 0.
    differ = np.sign(got[scored]) != np.sign(want[scored])
    assert np.all(np.abs(want[scored][differ]) <= error[differ])


def test_cross_fit_keeps_groups_and_classes_together():
    X, y = _rows(50, 4, seed=3)
    X[11], y[11] = X[10], y[10]
    groups = duplicate_groups(X)
    scored = np.arange(50) < 40
    seen_folds = []

    def fit_predict(train_X, train_y, test_X):
        assert set(np.unique(train_y)) == {-1.0, 1.0}
        # No scored row of the fold, nor a copy of one, is in training.
        for row in test_X:
            assert not np.any(np.all(train_X == row, axis=1))
        seen_folds.append(len(test_X))
        model = make_pipeline(StandardScaler(), KNeighborsClassifier(3)).fit(train_X, train_y)
        return model.predict_proba(test_X)[:, 1] - 0.5

    out = cross_fit_decisions(X, y, fit_predict, groups, scored, folds=5, rng=np.random.default_rng(0))
    assert np.all(np.isfinite(out[scored])) and np.all(np.isnan(out[~scored]))
    assert len(seen_folds) == 5 and sum(seen_folds) == 40


def test_duplicate_groups_name_identical_rows_once():
    X = np.array([[1.0, 2.0], [0.0, 1.0], [1.0, 2.0], [-0.0, 1.0], [3.0, 3.0]])
    groups = duplicate_groups(X)
    assert groups[0] == groups[2] and groups[1] == groups[3]
    assert len(set(groups.tolist())) == 3


def test_every_registered_learner_answers_for_its_estimator():
    """Each plug-in's default estimator is its own, and an estimator it cannot leave out is refused by all."""
    for name, learner in LEARNERS.items():
        estimator = learner.estimator()
        assert learner.adopts(estimator), name
        assert learner_of_estimator(estimator) is learner
        assert learner.leave_out_method in ("exact", "approximate", "cross-fit")
    assert learner_of_estimator(KNeighborsClassifier()) is None
    assert learner_of_estimator(LogisticRegression(l1_ratio=1.0, solver="saga")) is None


def test_convex_leave_out_of_rows_that_dominate_a_rare_feature():
    """A row holding most of a feature's variance (a rare pixel or category): its removal rescales
    that feature by a large factor, which the Newton step must carry in its Hessian."""
    rng = np.random.default_rng(11)
    rows, dense, rare = 60, 15, 40
    y = np.where(rng.random(rows) < 0.5, -1.0, 1.0)
    X = np.zeros((rows, dense + rare))
    X[:, :dense] = y[:, None] * 0.4 + rng.normal(size=(rows, dense))
    for j in range(rare):  # each rare feature is on in one or two rows only
        on = rng.choice(rows, size=rng.integers(1, 3), replace=False)
        X[on, dense + j] = rng.uniform(1.0, 5.0, size=on.size)
    estimator = LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000)
    groups = duplicate_groups(X)
    scored = np.ones(rows, dtype=bool)
    got = LEARNERS["logistic"].leave_out(estimator, X, y, groups, scored)
    want = _brute_force(estimator, X, y, groups, scored)
    full = make_pipeline(StandardScaler(), estimator).fit(X, y).decision_function(X)
    error, moved = np.abs(got - want), np.abs(full - want)
    assert error.mean() < 0.2 * moved.mean(), (error.mean(), moved.mean())
    differ = np.sign(got) != np.sign(want)
    assert np.all(np.abs(want[differ]) <= error[differ])


def test_the_uses_beyond_a_learners_theory_are_the_plug_ins_to_declare():
    """Ridge's sufficient statistics carry the held-out prediction, the feature verifier and the loop;
    every other registered learner declares none of them, and is refused there by its own answer."""
    from rmtsynth.core.learners import FEATURE_VERIFIER_THEORY, HELDOUT_PREDICTION, SELF_CONSUMING_LOOP

    uses = (HELDOUT_PREDICTION, FEATURE_VERIFIER_THEORY, SELF_CONSUMING_LOOP)
    assert all(LEARNERS["ridge"].supports(use) for use in uses)
    for name, learner in LEARNERS.items():
        if name != "ridge":
            assert not any(learner.supports(use) for use in uses), name


@pytest.mark.parametrize("name, estimator", [
    ("logistic", LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000)),
    ("square_hinge", LinearSVC(C=0.05, tol=1e-10, max_iter=100_000)),
])
def test_convex_leave_out_refits_the_rows_near_zero(name, estimator, monkeypatch):
    """Few rows against many features: the one Newton step falls short, and rows it leaves near 0
    are counted on the wrong side. Those rows are refitted: their decision is the brute-force one."""
    from rmtsynth.core.leave_out import refit

    plugin = learner_of_estimator(estimator)
    flips_one_step = flips = 0
    for seed in (0, 1, 4):
        X, y = _rows(50, 150, seed=seed, signal=0.15)
        X[5], y[5] = X[4], y[4]  # a duplicated pair is refitted as one group
        groups = duplicate_groups(X)
        scored = np.ones(y.size, dtype=bool)
        want = _brute_force(estimator, X, y, groups, scored)
        full = make_pipeline(StandardScaler(), estimator).fit(X, y).decision_function(X)
        got = plugin.leave_out(estimator, X, y, groups, scored)
        with monkeypatch.context() as patch:
            patch.setattr(refit, "REFIT_WORK", 0.0)
            one_step = plugin.leave_out(estimator, X, y, groups, scored)
        refitted = got != one_step
        near = np.abs(one_step) < refit.REFIT_WITHIN * np.abs(full - one_step)
        assert np.all(refitted[near])
        np.testing.assert_allclose(got[refitted], want[refitted], rtol=0, atol=1e-5 * np.max(np.abs(want)))
        flips_one_step += int(np.sum(np.sign(one_step) != np.sign(want)))
        flips += int(np.sum(np.sign(got) != np.sign(want)))
    assert flips == 0
    assert flips_one_step > 0  # the setting is one where the step alone errs


def test_convex_refits_stop_at_their_work_budget(monkeypatch):
    """The refits' work is bounded: with room for one refit, exactly one group changes."""
    from rmtsynth.core.leave_out import refit

    estimator = LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000)
    plugin = learner_of_estimator(estimator)
    X, y = _rows(50, 150, seed=1, signal=0.15)
    groups = duplicate_groups(X)
    scored = np.ones(y.size, dtype=bool)
    with monkeypatch.context() as patch:
        patch.setattr(refit, "REFIT_WORK", 0.0)
        one_step = plugin.leave_out(estimator, X, y, groups, scored)
    cost = refit.FoldProblem(X, y, 1.0, np.exp, np.exp, "free", 1.0, *standard_scaling(X)).refit_cost()
    monkeypatch.setattr(refit, "REFIT_WORK", 1.5 * cost)
    got = plugin.leave_out(estimator, X, y, groups, scored)
    assert np.sum(got != one_step) == 1
