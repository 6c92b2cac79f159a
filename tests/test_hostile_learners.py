"""What a user out to break the learners, the feature verifiers and the data plans tries: the
right numbers (checked against limits derived by hand or brute force), or one sentence naming
the key or the file with exit 2 (a TypeError/ValueError subclass naming the parameter in the
API), and no outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import ndtr

import rmtsynth
from clitools import assert_clean_error, invoke, write_file
from rmtsynth.errors import ConfigError, ParameterError

pytestmark = pytest.mark.usefixtures("isolated")


def _gaussian_rows(rows: int, p: int, seed: int, shift: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.where(np.arange(rows) % 2 == 0, -1.0, 1.0)
    mu = np.zeros(p)
    mu[:3] = shift
    return y[:, None] * mu + rng.standard_normal((rows, p)), y


# ----------------------------------------------------------------------------- large gamma


def _mean_difference_accuracy(n, m, p, mu_norm, alpha, lam):
    """The gamma -> infinity limit for C = I and mu_beta = mu, by hand.

    w is then proportional to sum_i y_i x_i over the real and the kept rows: its mean is
    (n + lam m) mu, its noise has covariance (n + alpha m) I, so mu'w concentrates on
    (n + lam m) |mu|^2 and |w|^2 on (n + lam m)^2 |mu|^2 + p (n + alpha m).
    """
    signal = (n + lam * m) * mu_norm**2
    norm2 = (n + lam * m) ** 2 * mu_norm**2 + p * (n + alpha * m)
    return ndtr(signal / np.sqrt(norm2))


@pytest.mark.parametrize("m", [0, 200])
def test_ridge_theory_reaches_the_mean_difference_limit_as_gamma_grows(m: int) -> None:
    gammas = np.array([1e6, 1e8, 1e10, 1e12])
    params = dict(n=100, m=m, p=50, mu_norm=1.5, label_noise=0.2, verifier_precision=0.9, verifier_recall=0.8)
    got = rmtsynth.predict(gamma=gammas, **params)
    expected = _mean_difference_accuracy(100, m, 50, 1.5, got["alpha"][0], got["lambda"][0])
    # The distance to the limit is O(1/gamma), below 1e-5 from gamma = 1e6 on.
    np.testing.assert_allclose(got["accuracy"], expected, atol=1e-5)
    if m == 0:
        assert abs(float(rmtsynth.predict(n=100, m=0, p=50, mu_norm=1.5, gamma=1e8)["accuracy"]) - 0.91258) < 1e-4


def test_ridge_theory_at_huge_gamma_agrees_with_a_brute_force_simulation() -> None:
    params = dict(n=100, m=200, p=50, mu_norm=1.5, label_noise=0.2, verifier_precision=0.9, verifier_recall=0.8,
                  gamma=1e12)
    sim = rmtsynth.simulate(seeds=400, **params)
    theory = rmtsynth.predict(**params)
    assert abs(float(sim["accuracy_mean"]) - float(theory["accuracy"])) < 4.0 * float(sim["accuracy_se"]) + 1e-3


@pytest.mark.parametrize("learner", ["ridge", "logistic"])
def test_theory_cli_at_gamma_1e12_equals_gamma_1e6(learner: str) -> None:
    def accuracy(gamma: str) -> float:
        result = invoke("theory", "--n", 100, "--m", 200, "--p", 50, "--gamma", gamma, "--learner", learner, "--json")
        assert result.exit_code == 0, result.output
        return float(json.loads(result.stdout)["accuracy"])

    assert abs(accuracy("1e12") - accuracy("1e6")) < 1e-5


def test_the_planners_gamma_search_never_beats_the_large_gamma_limit(tmp_path: Path) -> None:
    # Real data only with C = I: the accuracy rises with gamma towards the mean-difference limit,
    # so no gamma of the search may report more than that limit.
    cfg = write_file(tmp_path / "plan.yaml", "seed: 0\nparams: {n: 100, p: 50, mu_norm: 1.5, label_noise: 0.2, "
                     "verifier_precision: 0.9, verifier_recall: 0.8, gamma: 1.0, m: 200}\n"
                     "search: {gamma_range: [1.0e-4, 1.0e+12]}\n")
    got = rmtsynth.plan(cfg)
    limit = float(_mean_difference_accuracy(100, 0, 50, 1.5, 1.0, 1.0))
    assert got["accuracy_real_only_best_gamma"] <= limit + 1e-9
    assert got["accuracy_real_only_best_gamma"] > limit - 1e-4


@pytest.mark.parametrize("correction", ["cross-fit", "loo", "none", "score-shape", "auto"])
def test_predict_heldout_at_huge_gamma_is_the_large_gamma_value_and_a_probability(correction: str) -> None:
    X, y = _gaussian_rows(120, 20, 0)
    Xs, ys = _gaussian_rows(300, 20, 1, shift=0.4)
    pool = {"features": Xs, "labels": ys}

    def accuracy(gamma: float) -> np.ndarray:
        got = rmtsynth.predict_heldout(X, y, synthetic=pool, gamma=gamma, m_values=[0, 100, 300],
                                       correction=correction, folds=3)
        return np.asarray(got["accuracy"])

    huge, large = accuracy(1e12), accuracy(1e7)
    assert np.all((huge >= 0.0) & (huge <= 1.0))
    np.testing.assert_allclose(huge, large, atol=1e-4)


def test_an_anchored_accuracy_never_leaves_the_unit_interval() -> None:
    # 30 rows that the folds classify without an error: the cross-fit correction adds the theory's
    # (positive) change from the fold size to n to a measured 1.0, which unbounded passes 1.
    X, y = _gaussian_rows(30, 10, 2, shift=1.0)
    Xs, ys = _gaussian_rows(200, 10, 102, shift=1.0)
    got = rmtsynth.predict_heldout(X, y, synthetic={"features": Xs, "labels": ys}, gamma=1.0,
                                   m_values=[0, 200], correction="cross-fit", folds=3)
    accuracy = np.asarray(got["accuracy"])
    assert np.all((accuracy >= 0.0) & (accuracy <= 1.0))
    assert accuracy[0] > 0.99  # the case really sits at the bound


# ----------------------------------------------------------------------------- learners


def _plan_with(tmp_path: Path, source: Path, extra_param: str) -> Path:
    text = source.read_text().replace("params:\n", f"params:\n{extra_param}", 1)
    return write_file(tmp_path / "plan" / source.name, text)


def test_a_data_plan_refuses_a_learner_without_a_leave_one_out(tmp_path: Path) -> None:
    X, y = _gaussian_rows(40, 6, 7)
    np.savez(tmp_path / "real.npz", X=X, y=y)
    cfg = write_file(tmp_path / "plan.yaml", "seed: 0\ndata: {path: real.npz}\n"
                     "params: {label_noise: 0.1, rho: 0.2, phi: 0.9, gamma: 0.1, m: 40, learner: hinge}\n")
    assert_clean_error(invoke("plan", cfg), "params.learner", "hinge", "data")


def test_a_pool_plan_refuses_a_convex_learner(tmp_path: Path) -> None:
    X, y = _gaussian_rows(40, 6, 7)
    Xs, ys = _gaussian_rows(80, 6, 8)
    np.savez(tmp_path / "real.npz", X=X, y=y)
    np.savez(tmp_path / "pool.npz", X=Xs, y=ys)
    cfg = write_file(tmp_path / "plan.yaml", "seed: 0\ndata: {path: real.npz}\nsynthetic_data: {path: pool.npz}\n"
                     "params: {label_noise: 0.1, rho: 0.2, phi: 0.9, gamma: 0.1, m: 40, learner: logistic}\n")
    assert_clean_error(invoke("plan", cfg), "params.learner", "logistic", "synthetic_data")


def test_a_feature_verifier_plan_refuses_a_learner_other_than_ridge(tmp_path: Path) -> None:
    cfg = _plan_with(tmp_path, Path(__file__).parents[1] / "configs" / "plan" / "feature_verifier.yaml",
                     "  learner: logistic\n")
    assert_clean_error(invoke("plan", cfg), "params.learner", "logistic", "verifier_keep")


def test_a_prediction_figure_records_its_learner_and_says_its_prediction_is_ridges(tmp_path: Path) -> None:
    X, y = _gaussian_rows(60, 4, 4)
    np.savez(tmp_path / "real.npz", X=X, y=y)
    cfg = write_file(tmp_path / "pred.yaml", "kind: prediction\nseed: 0\ndata: {path: real.npz}\nprediction:\n"
                     "  gamma: 0.1\n  splits: 2\n  folds: 3\n  n: [30]\n  learner: logistic\n")
    result = invoke("sweep", cfg, "--out", tmp_path / "out", "-q", "--workers", 1, "--no-cache")
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "out" / "pred.csv").read_text().splitlines()
    row = dict(zip(lines[0].split(","), lines[1].split(",")))
    assert row["learner"] == "logistic"
    assert row["predicted_accuracy"] in ("", "nan", "NaN")
    run = json.loads((tmp_path / "out" / "pred.json").read_text())["run"]
    assert run["learner"] == "logistic" and "ridge only" in run["prediction_note"]


# ----------------------------------------------------------------------------- the verifier given twice


@pytest.mark.parametrize(("decisions", "verifier", "named"), [
    ("kept_key: kept", "  verifier_precision: 0.9\n  verifier_recall: 0.8\n", "params.verifier_precision"),
    ("score_key: score, threshold: 0.5", "  rho: 0.2\n  phi: 0.9\n", "params.rho"),
])
def test_a_pools_own_decisions_and_a_verifier_in_params_are_refused(tmp_path: Path, decisions, verifier, named) -> None:
    X, y = _gaussian_rows(60, 6, 5)
    Xs, ys = _gaussian_rows(120, 6, 6)
    np.savez(tmp_path / "real.npz", X=X, y=y)
    correct = np.arange(ys.size) % 5 != 0
    np.savez(tmp_path / "pool.npz", X=Xs, y=np.where(correct, ys, -ys), ok=correct, kept=correct,
             score=correct.astype(float))
    cfg = write_file(tmp_path / "plan.yaml", (
        "seed: 0\ndata: {path: real.npz}\n"
        f"synthetic_data: {{path: pool.npz, label_correct_key: ok, {decisions}}}\n"
        f"params:\n  label_noise: 0.2\n  gamma: 0.1\n  m: 60\n{verifier}"))
    assert_clean_error(invoke("plan", cfg), "synthetic_data." + decisions.split(":")[0], named)


# ----------------------------------------------------------------------------- copies of rows


def _copied_rows(distinct: int, copies, p: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.where(np.arange(distinct) % 2 == 0, -1.0, 1.0)
    X = rng.standard_normal((distinct, p)) + 0.3 * y[:, None]
    copies = np.broadcast_to(np.asarray(copies), (distinct,))
    return np.repeat(X, copies, axis=0), np.repeat(y, copies), np.repeat(np.arange(distinct), copies)


def _refit_without_each_group(X, y, groups, gamma):
    """Brute force: y times the score of each row by the pipeline refitted without all its copies."""
    from rmtsynth.data.estimators import fit_pipeline

    margins = np.empty(y.size)
    for g in np.unique(groups):
        out = groups == g
        margins[out] = y[out] * fit_pipeline(X[~out], y[~out], gamma).scores(X[out])
    return margins


@pytest.mark.parametrize("gamma", [0.05, 1.0])
def test_the_exact_leave_one_out_leaves_the_copies_of_a_row_out_together(gamma: float) -> None:
    from rmtsynth.data.loo import exact_loo

    X, y, groups = _copied_rows(14, np.arange(14) % 4 + 1, 8, 1)
    loo = exact_loo(X, y, gamma)
    brute = _refit_without_each_group(X, y, groups, gamma)
    # The margins are defined up to a positive factor per refit; here that factor is 1.
    np.testing.assert_allclose(loo.margins, brute, rtol=1e-8)
    assert loo.accuracy == pytest.approx(float(np.mean(brute >= 0.0)))


def test_rows_repeated_thirty_times_do_not_predict_a_perfect_held_out_accuracy(tmp_path: Path) -> None:
    X, y, groups = _copied_rows(10, 30, 5, 0)
    expected = float(np.mean(_refit_without_each_group(X, y, groups, 0.1) >= 0.0))
    assert expected < 1.0
    for correction in ("loo", "auto"):
        got = rmtsynth.predict_heldout(X, y, gamma=0.1, correction=correction)
        assert float(got["accuracy"][0]) == pytest.approx(expected, abs=1e-12)
    # The plan's real-only answer is the same leave-out (fewer copies keep its jackknife quick).
    X, y, groups = _copied_rows(10, 6, 5, 0)
    expected = float(np.mean(_refit_without_each_group(X, y, groups, 0.1) >= 0.0))
    np.savez(tmp_path / "real.npz", X=X, y=y)
    cfg = write_file(tmp_path / "plan.yaml", "seed: 0\ndata: {path: real.npz}\n"
                     "params: {label_noise: 0.1, rho: 0.2, phi: 0.9, gamma: 0.1, m: 60}\n")
    assert rmtsynth.plan(cfg)["accuracy_real_only"] == pytest.approx(expected, abs=1e-12)


def test_cross_fit_folds_keep_the_copies_of_a_row_together() -> None:
    from rmtsynth.data.protocols import copy_groups, group_folds

    X, y, groups = _copied_rows(20, np.arange(20) % 7 + 1, 4, 2)
    found = copy_groups(X, y)
    fold_of = group_folds(found, y, 5, np.random.default_rng(0))
    for g in np.unique(groups):
        assert np.unique(found[groups == g]).size == 1 and np.unique(fold_of[groups == g]).size == 1
    # Without copies the folds are the usual stratified round robin: sizes differ by at most one.
    Xd, yd, _ = _copied_rows(23, 1, 4, 3)
    folds = group_folds(copy_groups(Xd, yd), yd, 5, np.random.default_rng(0))
    for cls in (-1.0, 1.0):
        sizes = np.bincount(folds[yd == cls], minlength=5)
        assert sizes.max() - sizes.min() <= 1
    got = rmtsynth.predict_heldout(*_copied_rows(10, 30, 5, 0)[:2], gamma=0.1, correction="cross-fit")
    assert float(got["accuracy"][0]) < 0.9


# ----------------------------------------------------------------------------- constant features


def _with_constant_columns(X: np.ndarray, count: int) -> np.ndarray:
    return np.hstack([X, np.tile(np.linspace(-3.0, 7.0, count), (X.shape[0], 1))])


@pytest.mark.parametrize("correction", ["loo", "cross-fit", "none"])
def test_constant_columns_leave_the_held_out_prediction_unchanged(correction: str) -> None:
    X, y = _gaussian_rows(80, 10, 0)
    Xs, ys = _gaussian_rows(300, 10, 1, shift=0.4)

    def accuracy(count: int) -> np.ndarray:
        pool = {"features": _with_constant_columns(Xs, count), "labels": ys}
        return np.asarray(rmtsynth.predict_heldout(_with_constant_columns(X, count), y, synthetic=pool, gamma=0.1,
                                                   m_values=[0, 100], correction=correction, label_noise=0.0)["accuracy"])

    plain = accuracy(0)
    for count in (1, 40):
        np.testing.assert_allclose(accuracy(count), plain, atol=1e-9)


def test_constant_columns_leave_the_data_plans_unchanged(tmp_path: Path) -> None:
    X, y = _gaussian_rows(40, 6, 8)
    answers = []
    for count in (0, 40):
        np.savez(tmp_path / f"real{count}.npz", X=_with_constant_columns(X, count), y=y)
        plan = write_file(tmp_path / f"plan{count}.yaml", f"seed: 0\ndata: {{path: real{count}.npz}}\n"
                          "params: {label_noise: 0.1, rho: 0.2, phi: 0.9, gamma: 0.1, m: 80}\n")
        loop = write_file(tmp_path / "plan" / f"loop{count}.yaml", f"data: {{path: ../real{count}.npz}}\n"
                          "params: {n: 40, m_over_n: 2, label_noise: 0.1, verifier_precision: 0.95, verifier_recall: 1.0, "
                          "gamma: 0.5}\n"
                          "loop: {regime: replace}\n")
        got = rmtsynth.plan(plan)
        looped = rmtsynth.plan(loop)
        answers.append([got["max_label_noise"], got["accuracy_real_only"], got["data"]["p"],
                        looped["accuracy_end"], looped["accuracy_real_only"]])
    for other in answers[1:]:
        np.testing.assert_allclose(other, answers[0], atol=1e-9)


# ----------------------------------------------------------------------------- heatmap of a feature verifier


def test_a_heatmap_over_a_feature_verifiers_keys_carries_its_columns() -> None:
    params = dict(n=50, m=150, p=40, mu_norm=1.5, label_noise=0.3, gamma=1.0, verifier_keep="easy",
                  generator_alignment=0.9, generator_shift=0.5)
    table = rmtsynth.sweep({
        "title": "t", "kind": "heatmap", "seed": 0,
        "params": {**params, "verifier_threshold": [-0.5, 0.5], "verifier_angle": [0.0, 45.0]},
        "x": {"param": "verifier_threshold"}, "y": {"param": "verifier_angle"},
    })
    for column in ("verifier_keep", "verifier_threshold", "verifier_angle", "kept_correct_share", "kept_wrong_share"):
        assert column in table.columns
    for row in table.rows:
        assert row["verifier_keep"] == "easy"
        assert row["verifier_threshold"] == row["x"] and row["verifier_angle"] == row["y"]
        # The verifier keeps some rows and drops others: shares strictly between none and all.
        assert 0.0 < row["kept_correct_share"] < 0.7 and 0.0 < row["kept_wrong_share"] < 0.3
        assert np.isnan(row["eps_star"])
        # Each cell is the feature verifier's theory, as the API gives it.
        expected = rmtsynth.predict(**params, verifier_threshold=row["x"], verifier_angle=row["y"])["accuracy"]
        assert row["theory_accuracy"] == pytest.approx(float(expected), abs=1e-12)


# ----------------------------------------------------------------------------- wide data


def _dual_refit_margins(X: np.ndarray, y: np.ndarray, gamma: float) -> np.ndarray:
    """Brute force in the rows: standardise, centre and fit the ridge without each row, w = Z'(ZZ' + N gamma)^-1 y."""
    from rmtsynth.data.estimators import fit_standardisation

    margins = np.empty(y.size)
    for i in range(y.size):
        keep = np.arange(y.size) != i
        loc, scale = fit_standardisation(X[keep])
        Z = (X[keep] - loc) / scale
        yk = y[keep]
        Z = Z - (Z[yk > 0].mean(axis=0) + Z[yk < 0].mean(axis=0)) / 2.0
        w = Z.T @ np.linalg.solve(Z @ Z.T + yk.size * gamma * np.eye(yk.size), yk)
        centre_free = (X[i] - loc) / scale - ((X[keep][yk > 0].mean(axis=0) + X[keep][yk < 0].mean(axis=0)) / 2.0
                                              - loc) / scale
        margins[i] = y[i] * float(centre_free @ w)
    return margins


def test_the_leave_one_out_of_few_rows_in_many_features_is_exact_and_quick(tmp_path: Path) -> None:
    from rmtsynth.data.loo import exact_loo

    X, y = _gaussian_rows(20, 1000, 9, shift=0.4)
    brute = _dual_refit_margins(X, y, 0.1)
    loo = exact_loo(X, y, 0.1)
    # The margins are defined up to a positive factor per refit; here that factor is 1.
    np.testing.assert_allclose(loo.margins, brute, rtol=1e-8)
    np.savez(tmp_path / "wide.npz", X=X, y=y)
    cfg = write_file(tmp_path / "plan.yaml", "seed: 0\ndata: {path: wide.npz}\n"
                     "params: {label_noise: 0.1, rho: 0.2, phi: 0.9, gamma: 0.1, m: 40}\n")
    assert rmtsynth.plan(cfg)["accuracy_real_only"] == pytest.approx(float(np.mean(brute >= 0)), abs=1e-12)


def test_wide_data_where_the_prediction_needs_p_x_p_matrices_is_refused_before_any_work(tmp_path: Path) -> None:
    X, y = _gaussian_rows(30, 2500, 10)
    np.savez(tmp_path / "wide.npz", X=X, y=y)
    cfg = write_file(tmp_path / "pred.yaml", "kind: prediction\nseed: 0\ndata: {path: wide.npz}\nprediction:\n"
                     "  gamma: 0.1\n  splits: 2\n  folds: 3\n  n: [20]\n")
    result = invoke("sweep", cfg, "--out", tmp_path / "out", "-q", "--workers", 1, "--no-cache")
    assert_clean_error(result, "wide.npz", "2500 features")
    assert not (tmp_path / "out").exists()
    plan = write_file(tmp_path / "plan.yaml", "seed: 0\ndata: {path: wide.npz}\nsynthetic_data: {path: wide.npz}\n"
                      "params: {label_noise: 0.1, rho: 0.2, phi: 0.9, gamma: 0.1, m: 20}\n")
    assert_clean_error(invoke("plan", plan), "synthetic_data", "2500 features")


# ----------------------------------------------------------------------------- internal errors and messages


@pytest.mark.parametrize("real_labels", [(-1.0, 1.0), (3, 8)])
def test_a_synthetic_pool_with_one_class_is_refused_naming_its_file(tmp_path: Path, real_labels) -> None:
    X, y = _gaussian_rows(40, 5, 11)
    np.savez(tmp_path / "real.npz", X=X, y=np.where(y > 0, real_labels[1], real_labels[0]))
    np.savez(tmp_path / "pool.npz", X=_gaussian_rows(50, 5, 12)[0], y=np.full(50, real_labels[1]))
    plan = write_file(tmp_path / "plan.yaml", "seed: 0\ndata: {path: real.npz}\nsynthetic_data: {path: pool.npz}\n"
                      "params: {label_noise: 0.1, rho: 0.2, phi: 0.9, gamma: 0.1, m: 20}\n")
    assert_clean_error(invoke("plan", plan), "pool.npz", "only one class", "two are needed")
    with pytest.raises(ParameterError, match=r"synthetic\['labels'\] has only the class"):
        rmtsynth.predict_heldout(X, y, synthetic={"features": X, "labels": np.ones(y.size)}, gamma=0.1, m_values=[10])


def test_an_mnist_file_with_an_empty_test_split_is_named(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "mnist.npz", x_train=rng.integers(0, 255, (100, 28, 28)).astype(np.uint8),
             y_train=np.arange(100) % 10, x_test=np.zeros((0, 28, 28), np.uint8), y_test=np.zeros(0, int))
    cfg = write_file(tmp_path / "mnist.yaml", "kind: mnist\nseed: 0\ndata: {path: mnist.npz}\nsimulation: {seeds: 1}\n"
                     "mnist:\n  n_per_class: 5\n  m_per_class: [0]\n  pool_per_class: 5\n  test_per_class: 5\n"
                     "  panels:\n    - title: a\n      series:\n        - {label: x}\n")
    result = invoke("sweep", cfg, "--out", tmp_path / "out", "-q", "--workers", 1, "--no-cache")
    assert_clean_error(result, "mnist.npz", "test images", "empty")
    assert not (tmp_path / "out").exists()


def test_simulate_loop_names_a_cache_dir_that_is_a_file(tmp_path: Path) -> None:
    blocker = write_file(tmp_path / "a_file", "")
    with pytest.raises(ParameterError, match="cache_dir"):
        rmtsynth.simulate_loop(n=20, m=20, p=10, generations=1, seeds=2, cache_dir=blocker)


def test_a_list_of_learners_broadcasts_in_predict_and_is_named_in_measure_heldout() -> None:
    point = dict(n=100, m=200, p=50, gamma=0.1, label_noise=0.2)
    both = rmtsynth.predict(learner=["ridge", "logistic"], **point)["accuracy"]
    alone = [float(rmtsynth.predict(learner=name, **point)["accuracy"]) for name in ("ridge", "logistic")]
    np.testing.assert_allclose(both, alone, rtol=1e-12)
    X, y = _gaussian_rows(40, 3, 13)
    with pytest.raises(TypeError, match="learner"):
        rmtsynth.measure_heldout(X, y, n=20, gamma=0.1, learner=["ridge", "logistic"])


def test_a_six_row_plan_works_and_with_a_pool_names_the_file_and_the_rows_per_class(tmp_path: Path) -> None:
    X, y = _gaussian_rows(6, 4, 14, shift=1.5)
    np.savez(tmp_path / "six.npz", X=X, y=y)
    np.savez(tmp_path / "pool.npz", X=_gaussian_rows(40, 4, 15)[0], y=_gaussian_rows(40, 4, 15)[1])
    params = "params: {label_noise: 0.1, rho: 0.2, phi: 0.9, gamma: 0.1, m: 6}\n"
    alone = write_file(tmp_path / "alone.yaml", "seed: 0\ndata: {path: six.npz}\n" + params)
    assert invoke("plan", alone).exit_code == 0
    mixed = write_file(tmp_path / "mixed.yaml", "seed: 0\ndata: {path: six.npz}\nsynthetic_data: {path: pool.npz}\n" + params)
    line = assert_clean_error(invoke("plan", mixed), "six.npz", "5 rows per class")
    assert "real_labels" not in line and "correction" not in line


def test_a_feature_verifier_too_wide_for_its_dimension_names_the_key_set_and_the_true_minimum() -> None:
    common = dict(n=50, m=100, label_noise=0.2, verifier_keep="easy")
    with pytest.raises(ConfigError) as raised:
        rmtsynth.predict(p=1, verifier_angle=45, **common)
    assert "verifier_angle" in str(raised.value) and "p >= 2" in str(raised.value)
    assert "verifier_toward_shift" not in str(raised.value)
    assert 0.5 < float(rmtsynth.predict(p=2, verifier_angle=45, **common)["accuracy"]) < 1.0
    with pytest.raises(ConfigError, match=r"verifier_toward_shift = 90.*p >= 3"):
        rmtsynth.predict(p=2, verifier_angle=45, verifier_toward_shift=90, **common)
