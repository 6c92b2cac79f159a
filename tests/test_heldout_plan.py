"""The planner on the user's own rows: mixes with a pool on the held-out model, the loop question,
the choice of correction, and bad data refused in one sentence."""

from pathlib import Path

import numpy as np
import pytest

from clitools import assert_clean_error, invoke, snapshot, write_file

from rmtsynth.core.model import Mix
from rmtsynth.data.calibrated import calibrate
from rmtsynth.data.prediction import predict_heldout


def _rows(rows: int, p: int, seed: int, shift: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.where(np.arange(rows) % 2 == 0, 1.0, -1.0)
    scales = np.linspace(0.5, 2.0, p)
    return rng.standard_normal((rows, p)) * scales + shift * y[:, None] * (np.arange(p) < 5), y


def _pool(rows: int, p: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    # Another source: a rotated, rescaled covariance, so the two covariances do not commute.
    rng = np.random.default_rng(seed)
    y = np.where(np.arange(rows) % 2 == 0, 1.0, -1.0)
    mix = np.linalg.qr(rng.standard_normal((p, p)))[0] * np.linspace(0.3, 2.5, p)
    return rng.standard_normal((rows, p)) @ mix.T + 0.5 * y[:, None] * (np.arange(p) < 6), y


def _npz(path: Path, X: np.ndarray, y: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, X=X, y=y)
    return path


def test_pool_mix_is_the_loo_anchored_two_covariance_prediction(tmp_path):
    import rmtsynth

    X, y = _rows(80, 12, seed=1)
    Xs, ys = _pool(400, 12, seed=2)
    ys = np.where(np.random.default_rng(3).random(ys.size) < 0.2, -ys, ys)  # the configured label noise
    _npz(tmp_path / "real.npz", X, y)
    _npz(tmp_path / "pool.npz", Xs, ys)
    cfg = write_file(tmp_path / "plan.yaml", (
        "seed: 0\ndata: {path: real.npz}\nsynthetic_data: {path: pool.npz}\n"
        "params: {label_noise: 0.2, rho: 0.3, phi: 0.9, gamma: 0.1, m: 200, generator_alignment: 1.0}\n"))
    res = rmtsynth.plan(cfg)
    # Every row trains (n = 80): the configured mix is the held-out predictor's own answer with this pool.
    direct = predict_heldout(X, y, synthetic={"features": Xs, "labels": ys}, gamma=0.1, m_values=[200],
                             label_noise=0.2, verifier=(0.3, 0.9), correction="loo")["accuracy"][0]
    assert res["accuracy_configured"] == pytest.approx(direct, abs=1e-6)
    # One estimator: the Python default is the plan's own.
    default = predict_heldout(X, y, synthetic={"features": Xs, "labels": ys}, gamma=0.1, m_values=[200],
                              label_noise=0.2, verifier=(0.3, 0.9))["accuracy"][0]
    assert default == direct
    assert res["accuracy_real_only"] == pytest.approx(calibrate(X, y, 0.1).loo.accuracy, abs=1e-12)
    assert res["uncertainty"]["jackknife_sd"]["accuracy_configured"] > 0
    # The best mix found by the searches is no worse than the configured one on the same model.
    assert res["accuracy_best_mix"] >= res["accuracy_configured"] - 1e-9
    # One estimator answers; the others only on request, labelled as diagnostics.
    assert "heldout_prediction" not in res and "fitted_gaussian" not in res and "diagnostics" not in res


def test_family_interpolation_agrees_with_direct_dense_points():
    from rmtsynth.engine.plan_heldout import pool_source
    from rmtsynth.engine.plan_pool import PoolAccuracy

    X, y = _rows(60, 30, seed=3)
    Xs, ys = _pool(300, 30, seed=4)
    theory = calibrate(X, y, 0.1)
    model = PoolAccuracy(theory, pool_source(X, {"features": Xs, "labels": ys}, 0.1))
    m = np.geomspace(1.0, 5000.0, 200)
    curve = model(Mix(60, m, 0.1, 0.2, 0.9, 0.1))
    probe = m[[17, 101, 163]]
    direct = theory.anchored(model.dense_ratio(60, probe, 0.1, 0.2, 0.9, 0.1))
    assert np.max(np.abs(curve[[17, 101, 163]] - direct)) < 2e-3
    # m = 0 needs no pool: the calibrated real-only theory.
    assert float(model(Mix(60, 0.0, 0.1, 0.2, 0.9, 0.1))) == pytest.approx(theory.loo.accuracy, abs=1e-12)


def test_auto_correction_takes_loo_without_and_cross_fit_with_synthetic_rows():
    X, y = _rows(60, 20, seed=5)
    Xs, ys = _pool(200, 20, seed=6)
    pool = {"features": Xs, "labels": ys}
    got = {c: predict_heldout(X, y, synthetic=pool, gamma=0.1, m_values=[0, 50, 200], correction=c, seed=3)["accuracy"]
           for c in ("loo", "cross-fit", "auto")}
    assert got["auto"][0] == got["loo"][0]
    np.testing.assert_array_equal(got["auto"][1:], got["cross-fit"][1:])
    assert predict_heldout(X, y, gamma=0.1, correction="auto")["accuracy"][0] == got["loo"][0]


def test_loop_plan_with_data_starts_from_the_heldout_prediction(tmp_path):
    import rmtsynth

    X, y = _rows(120, 15, seed=7)
    _npz(tmp_path / "real.npz", X, y)
    cfg = write_file(tmp_path / "loop.yaml", (
        "data: {path: real.npz}\n"
        "params: {n: 60, m_over_n: 2, label_noise: 0.1, verifier_precision: 0.95, verifier_recall: 1.0, gamma: 0.5}\n"
        "loop: {regime: replace}\n"))
    res = rmtsynth.plan(cfg)
    heldout = float(calibrate(X, y, 0.5).real_only(60))
    assert res["accuracy_real_only"] == pytest.approx(heldout, abs=1e-9)
    assert res["setting"]["p"] == 15 and res["data"]["heldout_real_only"] == pytest.approx(heldout)
    assert "held-out prediction" in res["messages"][0]
    bad = write_file(tmp_path / "bad.yaml", cfg.read_text().replace("gamma: 0.5}", "gamma: 0.5, mu_norm: 2}"))
    assert_clean_error(invoke("plan", bad), "params.mu_norm", "data")


def test_plan_refuses_too_few_rows_per_class_and_a_pool_with_other_columns(tmp_path):
    X, y = _rows(40, 6, seed=8)
    y_few = -np.ones(40)
    y_few[:2] = 1.0
    _npz(tmp_path / "few.npz", X, y_few)
    cfg = write_file(tmp_path / "few.yaml", "data: {path: few.npz}\n"
                     "params: {label_noise: 0.1, rho: 0.2, phi: 0.9, gamma: 0.1, m: 40}\n")
    assert_clean_error(invoke("plan", cfg), "data (", "few.npz) has 2 row(s) of its smaller class", "at least 3")
    _npz(tmp_path / "real.npz", X, y)
    _npz(tmp_path / "pool.npz", *_pool(50, 5, seed=9))
    cfg = write_file(tmp_path / "pool.yaml", "data: {path: real.npz}\n"
                     "synthetic_data: {path: pool.npz}\n"
                     "params: {label_noise: 0.1, rho: 0.2, phi: 0.9, gamma: 0.1, m: 40}\n")
    assert_clean_error(invoke("plan", cfg), "synthetic_data", "5 features", "the real rows 6")


def _prediction_config(tmp_path: Path, data: str, n: int, extra: str = "") -> Path:
    return write_file(tmp_path / "predict.yaml", (
        f"kind: prediction\ndata: {{path: {data}}}\n{extra}"
        f"prediction: {{gamma: 0.1, splits: 2, correction: loo, n: [{n}]}}\n"))


@pytest.mark.parametrize("case", ["few rows", "constant features", "pool columns"])
def test_prediction_figure_refuses_bad_data_and_writes_nothing(tmp_path, case):
    X, y = _rows(40, 6, seed=10)
    if case == "few rows":
        y = np.where(np.arange(40) < 8, 1.0, -1.0)
        cfg, needles = _prediction_config(tmp_path, "real.npz", 20), ("prediction.panels[0]", "8 row(s)", "n = 20")
    elif case == "constant features":
        X = np.ones_like(X)
        cfg, needles = _prediction_config(tmp_path, "real.npz", 20), ("data", "every feature", "constant")
    else:
        _npz(tmp_path / "pool.npz", *_pool(50, 4, seed=11))
        cfg = _prediction_config(tmp_path, "real.npz", 20, "synthetic_data: {path: pool.npz}\n")
        needles = ("synthetic_data", "4 features")
    _npz(tmp_path / "real.npz", X, y)
    out = tmp_path / "out"
    out.mkdir()
    before = snapshot(out)
    assert_clean_error(invoke("sweep", cfg, "--out", out, "--no-cache", "--workers", "1", "-q"), *needles)
    assert snapshot(out) == before


def test_plan_shows_diagnostics_only_on_request_and_labels_them(tmp_path):
    X, y = _rows(60, 6, seed=4)
    _npz(tmp_path / "real.npz", X, y)
    cfg = write_file(tmp_path / "plan.yaml", "seed: 0\ndata: {path: real.npz}\n"
                     "params: {label_noise: 0.1, rho: 0.2, phi: 0.9, gamma: 0.1, m: 60}\n")
    plain = invoke("plan", cfg)
    assert plain.exit_code == 0 and "Diagnostic," not in plain.output
    shown = invoke("plan", cfg, "--diagnostics")
    assert shown.exit_code == 0
    assert "Diagnostic, the theory on the Gaussian fitted" in shown.output
    assert "Diagnostic, a second held-out estimator" in shown.output
    # The headline answers are the same with or without the diagnostics.
    assert shown.output.startswith(plain.output.split("\n\n")[0])


def test_plan_searches_stop_at_the_pool_and_say_when_the_configured_m_is_beyond_it(tmp_path):
    X, y = _rows(60, 8, seed=5)
    Xs, ys = _pool(40, 8, seed=6)
    _npz(tmp_path / "real.npz", X, y)
    _npz(tmp_path / "pool.npz", Xs, ys)
    cfg = write_file(tmp_path / "plan.yaml", "seed: 0\ndata: {path: real.npz}\nsynthetic_data: {path: pool.npz}\n"
                     "params: {label_noise: 0.0, rho: 1.0, phi: 1.0, gamma: 0.1, m: 100}\n")
    import rmtsynth

    res = rmtsynth.plan(cfg)
    assert res["search"]["pool_rows"] == 40
    assert res["search"]["max_synthetic_proportion"] == pytest.approx(40 / (60 + 40))
    assert res["best_m"] <= 40
    assert any("exceeds the pool's 40 rows" in msg for msg in res["messages"])


def test_a_label_noise_correction_never_leaves_a_negative_variance():
    from rmtsynth.data.estimators import estimate_synthetic

    rng = np.random.default_rng(7)
    # Few rows for many features: the estimated mean is much longer than the true one, and taking the
    # flipped labels' share of it out of the covariance overshoots.
    X = rng.normal(size=(40, 30)) + np.where(np.arange(40) % 2 == 0, 0.3, -0.3)[:, None]
    y = np.where(np.arange(40) % 2 == 0, 1.0, -1.0)
    est = estimate_synthetic(X, y, label_noise=0.4)
    assert np.linalg.eigvalsh(est.covariance).min() >= -1e-10
    raw = estimate_synthetic(X, y)
    overshoot = raw.covariance - 4 * 0.4 * 0.6 * np.outer(est.mu, est.mu)
    assert np.linalg.eigvalsh(overshoot).min() < 0  # the case the projection is for
