"""The advisor: its table against brute-force refits, its prediction against held-out accuracy, its refusals."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import rmtsynth
from rmtsynth.errors import ParameterError, ParameterTypeError, RmtsynthError

CLASSES = np.array(["neg", "pos"])


def _gaussian(rows, features, rng, shift=0.6, flip=0.0):
    y = rng.integers(0, 2, rows)
    y[:2] = (0, 1)
    mean = np.full(features, shift / np.sqrt(features)) * 3
    X = np.where(y[:, None] == 1, mean, -mean) + rng.normal(size=(rows, features))
    given = np.where(rng.random(rows) < flip, 1 - y, y)
    return X, CLASSES[y], CLASSES[given], given != y


def _setting(seed=0, n=40, p=12, pool=120, flip=0.3):
    rng = np.random.default_rng(seed)
    X, y, _, _ = _gaussian(n, p, rng)
    S, _, t, wrong = _gaussian(pool, p, rng, flip=flip)
    # A verifier that sees the truth through noise: wrong labels score lower on average.
    scores = rng.normal(size=pool) - 1.5 * wrong
    return X, y, S, t, scores


def test_table_is_the_brute_force_leave_one_out():
    X, y, S, t, scores = _setting()
    advice = rmtsynth.advise(X, y, S, t, scores=scores, thresholds=[-np.inf, 0.0], m_values=[60, 120], draws=1)
    assert len(advice.table) == 1 + 2 * 2
    for row in advice.table.rows:
        kept = advice.kept_rows(row["threshold"], row["m"]) if row["m"] else np.zeros(0, dtype=int)
        assert row["kept"] == kept.size
        correct = []
        for i in range(len(y)):
            train_X = np.vstack([np.delete(X, i, axis=0), S[kept]])
            train_y = np.concatenate([np.delete(y, i), t[kept]])
            model = make_pipeline(StandardScaler(), RidgeClassifier()).fit(train_X, train_y)
            correct.append(model.predict(X[i:i + 1])[0] == y[i])
        assert row["predicted_accuracy"] == pytest.approx(np.mean(correct), abs=1e-12)
        assert 0.0 <= row["predicted_accuracy"] <= 1.0


def test_recommendation_is_the_best_row_and_its_pipeline_is_fitted_there():
    X, y, S, t, scores = _setting(seed=1)
    advice = rmtsynth.advise(X, y, S, t, scores=scores, learner=["ridge", LogisticRegression(C=0.5)])
    rec = advice.recommendation
    # Each learner's point by the smoothed accuracy (a class-wise Gaussian count of the held-out
    # decision values) over its thresholds and m; the learner by the counted accuracy there.
    learners = {r["learner"] for r in advice.table.rows}
    # Candidates: the real rows alone and the mixes whose counted gain is not below 0 by more than 2 SE.
    chosen = {name: max((r for r in advice.table.rows if r["learner"] == name
                         and (r["m"] == 0 or r["gain"] >= -2 * r["gain_se"])),
                        key=lambda r: r["smoothed_accuracy"]) for name in learners}
    assert rec["smoothed_accuracy"] == chosen[rec["learner"]]["smoothed_accuracy"]
    assert rec["predicted_accuracy"] == max(r["predicted_accuracy"] for r in chosen.values())
    assert all(0.0 <= r["smoothed_accuracy"] <= 1.0 for r in advice.table.rows)
    assert rec["verdict"] in ("add", "do not add", "cannot tell")
    model = advice.pipeline()
    assert set(model.predict(X)) <= set(CLASSES)
    kept = advice.kept_rows(rec["threshold"], rec["m"]) if rec["m"] else np.zeros(0, dtype=int)
    assert model[-1].n_features_in_ == X.shape[1]
    assert model[0].n_samples_seen_ == len(y) + kept.size
    # The default grid: keep-all plus four score quantiles, m up to the pool, both learners.
    table = advice.table.to_pandas()
    assert set(table["learner"]) == {"ridge", "LogisticRegression(C=0.5)"}
    assert table["m"].max() == len(t)
    assert table["threshold"].nunique() == 5


def test_a_mix_is_recommended_unless_its_counted_gain_is_significantly_negative():
    from rmtsynth.data.advice.summary import recommend

    def row(m, threshold, smoothed, gain, gain_se=0.01):
        return dict(learner="ridge", method="exact leave-one-out", threshold=threshold, m=m, kept=float(m),
                    predicted_accuracy=0.9 + gain, accuracy_se=0.02, gain=gain, gain_se=gain_se,
                    smoothed_accuracy=smoothed)

    real = row(0, -np.inf, 0.90, 0.0, 0.0)
    within = row(50, 0.5, 0.93, -0.015)     # below 0 by 1.5 SE: a candidate, and the best smoothed
    beyond = row(100, 0.5, 0.95, -0.025)    # below 0 by 2.5 SE: never recommended
    rec = recommend([real, within, beyond])
    assert (rec["m"], rec["verdict"]) == (50, "cannot tell")
    assert "within its uncertainty" in rec["reason"]
    rec = recommend([real, beyond])
    assert rec["m"] == 0 and rec["verdict"] == "do not add"


def test_same_seed_same_table_and_other_seeds_other_draws():
    X, y, S, t, scores = _setting(seed=2)
    one = rmtsynth.advise(X, y, S, t, scores=scores, m_values=[30, 60], draws=2, seed=4)
    two = rmtsynth.advise(X, y, S, t, scores=scores, m_values=[30, 60], draws=2, seed=4)
    assert one.table.rows == two.table.rows
    other = rmtsynth.advise(X, y, S, t, scores=scores, m_values=[30, 60], draws=2, seed=5)
    assert not np.array_equal(one.kept_rows(-np.inf, 30), other.kept_rows(-np.inf, 30))


def test_dataframes_with_reordered_columns_and_numeric_labels_read_as_text():
    pd = pytest.importorskip("pandas")
    X, y, S, t, scores = _setting(seed=3)
    names = [f"f{j}" for j in range(X.shape[1])]
    real = pd.DataFrame(X, columns=names)
    pool = pd.DataFrame(S, columns=names)[names[::-1]]
    numeric = (y == "pos").astype(int)
    as_text = np.where(t == "pos", "1", "0")
    from_frames = rmtsynth.advise(real, pd.Series(numeric), pool, as_text, scores=pd.Series(scores), m_values=[60])
    from_arrays = rmtsynth.advise(X, y, S, t, scores=scores, m_values=[60])
    for a, b in zip(from_frames.table.rows, from_arrays.table.rows):
        assert a["predicted_accuracy"] == b["predicted_accuracy"] and a["kept"] == b["kept"]


def test_an_estimator_without_a_leave_out_is_cross_fitted():
    X, y, S, t, scores = _setting(seed=4)
    advice = rmtsynth.advise(X, y, S, t, m_values=[120], learner=KNeighborsClassifier(5))
    assert {r["method"] for r in advice.table.rows} == {"10-fold cross-fit"}
    assert all(0.0 <= r["predicted_accuracy"] <= 1.0 for r in advice.table.rows)


def test_a_threshold_that_keeps_nothing_is_the_real_rows_alone_and_said_so():
    X, y, S, t, scores = _setting(seed=5)
    advice = rmtsynth.advise(X, y, S, t, scores=scores, thresholds=[scores.max() + 1.0], m_values=[60])
    base, empty = advice.table.rows
    assert empty["kept"] == 0 and empty["predicted_accuracy"] == base["predicted_accuracy"]
    assert empty["note"] and any("keeps no synthetic row" in note for note in advice.notes)


def test_duplicated_real_rows_are_left_out_together():
    """Ten rows repeated: a left-out row's copy must not stay in training (else accuracy 1)."""
    rng = np.random.default_rng(6)
    X = rng.normal(size=(10, 30))
    y = np.array(["neg", "pos"] * 5)
    S, _, t, _ = _gaussian(40, 30, rng)
    advice = rmtsynth.advise(np.repeat(X, 3, axis=0), np.repeat(y, 3), S, t, m_values=[40])
    baseline = advice.table.rows[0]
    # Pure noise features: held out as a group, a row is as likely wrong as right.
    assert baseline["predicted_accuracy"] < 0.9


@pytest.mark.parametrize("change, argument", [
    (lambda a: a.update(synthetic_labels=np.full(120, "pos")), "synthetic_labels"),
    (lambda a: a.update(synthetic_labels=np.where(a["synthetic_labels"] == "pos", "pos", "cat")), "synthetic_labels"),
    (lambda a: a.update(synthetic_features=a["synthetic_features"][:, :5]), "synthetic_features"),
    (lambda a: a.update(scores=np.r_[a["scores"][:-1], np.nan]), "scores"),
    (lambda a: a.update(scores=a["scores"][:10]), "scores"),
    (lambda a: a.update(m_values=[500]), "m_values"),
    (lambda a: a.update(scores=None, thresholds=[0.5]), "thresholds"),
    (lambda a: a.update(real_labels=np.r_[["neg"], np.full(39, "pos")]), "real_labels"),
    (lambda a: a.update(real_labels=np.r_[["a", "b", "c"], np.full(37, "pos")]), "real_labels"),
    (lambda a: a.update(learner="ridge_regression"), "learner"),
    (lambda a: a.update(learner=42), "learner"),
    (lambda a: a.update(draws=0), "draws"),
])
def test_bad_input_is_one_sentence_naming_the_argument(change, argument):
    X, y, S, t, scores = _setting()
    args = dict(real_features=X, real_labels=y, synthetic_features=S, synthetic_labels=t, scores=scores)
    change(args)
    with pytest.raises((ParameterError, ParameterTypeError)) as info:
        rmtsynth.advise(**args)
    assert argument in str(info.value)
    assert isinstance(info.value, RmtsynthError)


def _measured(X, y, S, t, scores, threshold, m, test_X, test_y, rng):
    """Accuracy on fresh real rows of the pipeline fitted on the real rows and one random draw of the pool."""
    drawn = rng.permutation(len(t))[:m]
    kept = drawn[scores[drawn] >= threshold]
    model = make_pipeline(StandardScaler(), RidgeClassifier()).fit(np.vstack([X, S[kept]]), np.r_[y, t[kept]])
    return np.mean(model.predict(test_X) == test_y)


def test_prediction_matches_the_held_out_accuracy_on_fresh_rows():
    """Averaged over independent settings, predicted minus measured accuracy is 0 within 3 standard errors.

    Each setting draws new real rows, a new pool (30 % wrong labels, a noisy verifier) and 2 000
    fresh test rows; the leave-one-out is nearly unbiased for the accuracy at n - 1 real rows, so
    the gap's mean must vanish within its standard error over the settings.
    """
    gaps = {(-np.inf, 40): [], (0.0, 160): [], (-np.inf, 0): []}
    for seed in range(40):
        rng = np.random.default_rng(1000 + seed)
        X, y, S, t, scores = _setting(seed=1000 + seed, n=40, p=12, pool=160)
        test_X, test_y, _, _ = _gaussian(2000, 12, rng)
        advice = rmtsynth.advise(X, y, S, t, scores=scores, thresholds=[-np.inf, 0.0], m_values=[40, 160], seed=seed)
        for (threshold, m), values in gaps.items():
            row = next(r for r in advice.table.rows if r["m"] == m and (m == 0 or r["threshold"] == threshold))
            values.append(row["predicted_accuracy"] - _measured(X, y, S, t, scores, threshold, m, test_X, test_y, rng))
    for point, values in gaps.items():
        values = np.asarray(values)
        se = values.std(ddof=1) / np.sqrt(values.size)
        assert abs(values.mean()) < 3 * se, (point, values.mean(), se)


def test_the_theory_refuses_scores_it_cannot_read_and_names_the_advisor():
    """A pool's scores without per-row correctness flags are not silently treated as keep-all."""
    X, y, S, t, scores = _setting(seed=7)
    signs = lambda labels: np.where(labels == "pos", 1.0, -1.0)  # noqa: E731
    pool = {"features": S, "labels": signs(t), "score": scores, "threshold": 0.0}
    with pytest.raises(RmtsynthError, match="rmtsynth.advise"):
        rmtsynth.predict_heldout(X, signs(y), synthetic=pool, m_values=[60], gamma=0.1)


def test_every_registered_learner_answers_through_the_advisor():
    """The contract: each learner of the registry gives a table of valid accuracies on the same grid."""
    from rmtsynth.core.learners import LEARNERS

    X, y, S, t, scores = _setting(seed=8, n=30, p=6, pool=60)
    advice = rmtsynth.advise(X, y, S, t, scores=scores, m_values=[60], thresholds=[-np.inf, 0.0],
                             learner=list(LEARNERS), draws=1)
    by_learner = {}
    for row in advice.table.rows:
        by_learner.setdefault(row["learner"], []).append(row)
        assert 0.0 <= row["predicted_accuracy"] <= 1.0 and 0.0 <= row["smoothed_accuracy"] <= 1.0
    assert set(by_learner) == set(LEARNERS)
    assert all(len(rows) == 3 for rows in by_learner.values())
    for name, rows in by_learner.items():
        expected = LEARNERS[name].leave_out_method
        assert {r["method"] for r in rows} == {
            "exact": {"exact leave-one-out"}, "approximate": {"approximate leave-one-out"},
            "cross-fit": {"10-fold cross-fit"}}[expected]


def test_m_beyond_the_pool_is_an_extrapolation_only_when_asked_and_never_recommended():
    X, y, S, t, scores = _setting(seed=3, n=60, p=10, pool=120, flip=0.0)
    with pytest.raises(ParameterError, match="m_values = 480 .*extrapolate=True"):
        rmtsynth.advise(X, y, S, t, m_values=[60, 120, 480])
    advice = rmtsynth.advise(X, y, S, t, m_values=[60, 120, 240, 480], extrapolate=True)
    rows = advice.table.rows
    beyond = [r for r in rows if r["m"] > 120]
    assert [r["m"] for r in beyond] == [240, 480] and all(r["extrapolation"] for r in beyond)
    assert not any(r["extrapolation"] for r in rows if r["m"] <= 120)
    assert all(0.0 <= r["predicted_accuracy"] <= 1.0 for r in rows)
    assert advice.recommendation["m"] <= 120
    assert any("extrapolation" in note for note in advice.notes)
    # Rows of the real rows' own law with correct labels: more of them can only help the theory's curve.
    assert beyond[0]["predicted_accuracy"] <= beyond[1]["predicted_accuracy"]
    assert beyond[0]["predicted_accuracy"] >= [r for r in rows if r["m"] == 120][0]["predicted_accuracy"]
    with pytest.raises(ParameterError, match="beyond the pool"):
        advice.pipeline(m=480)


def test_an_extrapolation_is_refused_for_a_learner_without_the_theory():
    X, y, S, t, scores = _setting(seed=3)
    with pytest.raises(ParameterError, match="learner 'hinge' has no theory to extrapolate"):
        rmtsynth.advise(X, y, S, t, m_values=[60, 120, 480], learner=["ridge", "hinge"], extrapolate=True)
    with pytest.raises(ParameterError, match="at least two m up to the pool"):
        rmtsynth.advise(X, y, S, t, m_values=[120, 480], extrapolate=True)


def test_extrapolation_follows_fresh_pools_on_a_gaussian_with_flipped_labels():
    """The theory's change from the whole pool to four times its size, against pipelines on fresh pools.

    Tolerance: three standard errors of the measured change (16 fresh pools at each size, the
    same 4000 test rows).
    """
    rng = np.random.default_rng(21)
    p, n, pool = 60, 300, 300
    X, y, _, _ = _gaussian(n, p, rng)
    S, _, t, _ = _gaussian(pool, p, rng, flip=0.2)
    advice = rmtsynth.advise(X, y, S, t, m_values=[75, 150, 300, 1200], extrapolate=True, draws=2)
    at = {r["m"]: r["predicted_accuracy"] for r in advice.table.rows}
    test_X, test_y, _, _ = _gaussian(4000, p, rng)

    def measured(m):
        out = []
        for _ in range(16):
            fresh_X, _, fresh_t, _ = _gaussian(m, p, rng, flip=0.2)
            model = make_pipeline(StandardScaler(), RidgeClassifier()).fit(np.vstack([X, fresh_X]), np.r_[y, fresh_t])
            out.append(np.mean(model.predict(test_X) == test_y))
        return np.mean(out), np.std(out, ddof=1) / 4

    (small, se_small), (large, se_large) = measured(pool), measured(4 * pool)
    assert abs((at[1200] - at[300]) - (large - small)) < 3 * np.hypot(se_small, se_large)


def test_flags_are_true_or_false_not_truthy_text():
    X, y, S, t, scores = _setting(seed=3)
    with pytest.raises(ParameterTypeError, match="extrapolate = 'no' must be True or False"):
        rmtsynth.advise(X, y, S, t, m_values=[60], extrapolate="no")


def test_other_n_and_hypothetical_verifiers_are_marked_extrapolations_never_recommended():
    X, y, S, t, scores = _setting(seed=4, n=60, p=10, pool=120, flip=0.3)
    advice = rmtsynth.advise(X, y, S, t, scores=scores, thresholds=[-np.inf, 0.0], m_values=[60, 120],
                             n_values=[60, 240], verifiers=[{"precision": 0.9, "recall": 0.7}, (1.0, 1.0)],
                             pool_label_noise=0.0)
    rows = advice.table.rows
    measured = [r for r in rows if not r["extrapolation"]]
    assert {r["n"] for r in measured} == {60} and {r["verifier"] for r in measured} == {"keep all", "scores"}
    # The user's own n is measured, not extrapolated: only 240 is added.
    assert {r["n"] for r in rows} == {60, 240}
    assert all(0.0 <= r["predicted_accuracy"] <= 1.0 for r in rows)
    assert not advice.recommendation.get("extrapolation", False) and advice.recommendation["m"] <= 120
    keep_all = {r["m"]: r for r in measured if r["verifier"] == "keep all"}
    perfect = [r for r in rows if r["verifier"] == "precision 1, recall 1" and r["n"] == 60]
    # A verifier that keeps every row of a pool without wrong labels is keep-all itself.
    assert [r["m"] for r in perfect] == [60, 120]
    for r in perfect:
        assert r["kept"] == keep_all[r["m"]]["kept"]
        assert r["predicted_accuracy"] == pytest.approx(keep_all[r["m"]]["predicted_accuracy"], abs=1e-12)
        assert np.isnan(r["threshold"]) and r["extrapolation"]
    # Kept share recall x (1 - noise) / precision of the rows drawn.
    partial = [r for r in rows if r["verifier"] == "precision 0.9, recall 0.7" and r["n"] == 60]
    assert [r["kept"] for r in partial] == pytest.approx([0.7 / 0.9 * 60, 0.7 / 0.9 * 120])
    # With four times the real rows, the real rows alone are predicted no worse (the theory's curve in n).
    alone = {r["n"]: r["predicted_accuracy"] for r in rows if r["m"] == 0}
    assert alone[240] >= alone[60]
    assert all(r["gain"] == pytest.approx(r["predicted_accuracy"] - alone[240]) for r in rows if r["n"] == 240)
    assert any("n = 240" in note for note in advice.notes) and any("verifiers" in note for note in advice.notes)


@pytest.mark.parametrize("kwargs, message", [
    ({"verifiers": [(0.5, 0.9)], "pool_label_noise": 0.1}, "would keep 1.62 times the rows drawn"),
    ({"verifiers": [(0.9, 0.8)], "thresholds": [0.0]}, "add -inf"),
    ({"pool_label_noise": 0.2}, "pool_label_noise is used only by hypothetical verifiers"),
    ({"verifiers": [{"precision": 0.9}]}, "each entry is {precision, recall}"),
    ({"verifiers": [(0.0, 0.5)]}, "verifiers precision = 0.0 is out of range"),
    ({"verifiers": [(0.9, 0.5)], "m_values": [120]}, "needs at least two m up to the pool"),
    ({"n_values": [2]}, "n_values = 2 is out of range"),
    ({"n_values": 200}, "n_values = 200 must be a list"),
    ({"n_values": [200], "learner": ["ridge", "hinge"]}, "learner 'hinge' has no theory to extrapolate"),
])
def test_what_the_theory_cannot_answer_is_refused_in_one_sentence(kwargs, message):
    X, y, S, t, scores = _setting(seed=3)
    kwargs = {"scores": scores, "m_values": [60, 120]} | kwargs
    with pytest.raises(RmtsynthError) as info:
        rmtsynth.advise(X, y, S, t, **kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("learner", ["ridge", "logistic"])
def test_other_n_and_a_verifier_not_yet_built_follow_fresh_pipelines_on_a_gaussian(learner):
    """The theory's change from n to 4n real rows, and from keep-all to a verifier of precision 0.95 and
    recall 0.7, against pipelines trained on fresh real rows and fresh verified pools.

    Each seed is a user's setting (its own real rows and pool); the measured change at a seed is the
    mean over 12 fresh pools of accuracies on 4000 test rows. The prediction is for the expected change,
    the measurement for this user's rows: the mean over seeds of their difference must be within three
    standard errors of the seeds' spread, and that error small enough for the test to mean something.
    """
    precision, recall, noise = 0.95, 0.7, 0.3
    keep_wrong = recall * (1 - noise) * (1 - precision) / (precision * noise)
    p, n, pool, bigger = 60, 150, 300, 600
    n_errors, verifier_errors = [], []
    for seed in range(8):
        rng = np.random.default_rng([seed, 17])
        X, y, _, _ = _gaussian(n, p, rng)
        S, _, t, _ = _gaussian(pool, p, rng, flip=noise)
        advice = rmtsynth.advise(X, y, S, t, m_values=[75, 150, 300], n_values=[bigger],
                                 verifiers=[(precision, recall)], pool_label_noise=noise, draws=2, learner=learner)
        estimator = RidgeClassifier() if learner == "ridge" else LogisticRegression()
        at = {(r["n"], r["verifier"], r["m"]): r["predicted_accuracy"] for r in advice.table.rows}
        test_X, test_y, _, _ = _gaussian(4000, p, rng)

        def measured(real_rows, verified):
            out = []
            for _ in range(12):
                real_X, real_y = (X, y) if real_rows == n else _gaussian(real_rows, p, rng)[:2]
                fresh_X, _, fresh_t, wrong = _gaussian(pool, p, rng, flip=noise)
                if verified:
                    keep = rng.random(pool) < np.where(wrong, keep_wrong, recall)
                    fresh_X, fresh_t = fresh_X[keep], fresh_t[keep]
                model = make_pipeline(StandardScaler(), estimator).fit(np.vstack([real_X, fresh_X]),
                                                                       np.r_[real_y, fresh_t])
                out.append(np.mean(model.predict(test_X) == test_y))
            return np.mean(out)

        here = measured(n, False)
        label = f"precision {precision:g}, recall {recall:g}"
        n_errors.append((at[(bigger, "keep all", pool)] - at[(n, "keep all", pool)]) - (measured(bigger, False) - here))
        verifier_errors.append((at[(n, label, pool)] - at[(n, "keep all", pool)]) - (measured(n, True) - here))
    for errors in (np.array(n_errors), np.array(verifier_errors)):
        se = errors.std(ddof=1) / np.sqrt(errors.size)
        assert se < 0.015
        assert abs(errors.mean()) < 3 * se


def test_a_pool_varying_where_the_real_rows_are_constant_is_said_near_the_dip():
    rng = np.random.default_rng(5)
    labels = np.arange(20) % 2
    X = rng.normal(size=(20, 40))
    X[:, 30:] = 0.0
    X[:, 0] += 2 * labels
    S = rng.normal(size=(40, 40))
    pool_labels = np.arange(40) % 2
    S[:, 0] += 2 * pool_labels
    advice = rmtsynth.advise(X, labels, S, pool_labels, m_values=[10, 20, 40, 60], extrapolate=True)
    assert any("varies in 10 features the real rows hold constant" in note for note in advice.notes)
    # The same rows without the pool's extra features: nothing to say.
    plain = rmtsynth.advise(X[:, :30], labels, S[:, :30], pool_labels, m_values=[10, 20, 40, 60], extrapolate=True)
    assert not any("hold constant" in note for note in plain.notes)
