"""The learner as a parameter: sweeps, the simulation, the planner and the bad inputs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq

import rmtsynth
from rmtsynth.config.plan_config import parse_plan
from rmtsynth.core.model import Mix
from rmtsynth.engine.planner import max_label_noise, setting_of
from tests.clitools import assert_clean_error, invoke, write_file

# THEORY.md 16.7's model: n = p = 200, ||mu|| = 1.5, C = I, beta = 0.8, tau = 0.5.
MODEL = {"p": 200, "mu_norm": 1.5, "generator_alignment": 0.8, "generator_shift": 0.5}


def test_a_learner_series_gives_the_theory_of_each_learner_and_a_learner_column():
    config = {
        "params": {"n": 200, **MODEL, "label_noise": 0.2, "verifier": "none", "gamma": 0.1,
                   "synthetic_proportion": [0.0, 0.5, 0.9], "learner": ["ridge", "logistic"]},
        "x": "synthetic_proportion",
        "series": {"param": "learner"},
        "simulation": {"enabled": False},
    }
    table = rmtsynth.sweep(config)
    assert "learner" in table.columns
    assert [row["learner"] for row in table.rows] == ["ridge"] * 3 + ["logistic"] * 3
    for learner in ("ridge", "logistic"):
        rows = [row for row in table.rows if row["learner"] == learner]
        expected = rmtsynth.predict(learner=learner, n=200, m=[row["m"] for row in rows], **MODEL, label_noise=0.2,
                                    verifier="none", gamma=0.1)["accuracy"]
        np.testing.assert_allclose([row["theory_accuracy"] for row in rows], expected, rtol=0, atol=1e-12)
    # The two learners answer differently here (THEORY.md 16.7: logistic is several points better).
    assert rows[1]["theory_accuracy"] - table.rows[1]["theory_accuracy"] > 0.02


def test_a_ridge_sweep_has_no_learner_column():
    config = {"params": {"n": 50, "m": [0, 50], "p": 40}, "x": "m", "simulation": {"enabled": False}}
    assert "learner" not in rmtsynth.sweep(config).columns


@pytest.mark.parametrize("n", [0, 100])
def test_simulated_logistic_point_agrees_with_the_theory(n):
    point = {"n": n, "m": 200, "p": 100, "mu_norm": 1.5, "label_noise": 0.2, "rho": 0.3, "phi": 0.9, "gamma": 0.1}
    theory = float(rmtsynth.predict(learner="logistic", **point)["accuracy"])
    sim = rmtsynth.simulate(learner="logistic", sampler="naive", seeds=40, seed=5, **point)
    se = float(sim["accuracy_se"])
    assert 0 < se < 0.005
    assert abs(float(sim["accuracy_mean"]) - theory) < 3 * se


def _direct_break_even(learner: str, gamma: float) -> float:
    """The largest eps at which the mix beats the real rows alone, from rmtsynth.predict and a root."""
    common = dict(learner=learner, n=200, **MODEL, verifier="none", gamma=gamma)
    real = float(rmtsynth.predict(m=0, label_noise=0.0, **common)["accuracy"])

    def gain(eps: float) -> float:
        return float(rmtsynth.predict(m=800, label_noise=eps, **common)["accuracy"]) - real

    return brentq(gain, 0.0, 0.5, xtol=1e-9)


def test_the_planners_break_even_label_noise_per_learner():
    found = {}
    for learner in ("ridge", "logistic"):
        plan = parse_plan({"params": {"n": 200, "m": 800, **MODEL, "label_noise": 0.2, "verifier": "none",
                                      "gamma": 0.1, "learner": learner}}, base_dir=Path.cwd())
        assert plan.point.learner == learner
        found[learner] = max_label_noise(plan.model, setting_of(plan.point)).value
        assert math.isclose(found[learner], _direct_break_even(learner, 0.1), abs_tol=1e-6)
    # THEORY.md 16.7: at gamma = 0.1 logistic breaks even at about half ridge's label noise.
    assert found["logistic"] < 0.7 * found["ridge"]


def test_a_plan_model_is_the_learners_theory():
    plan = parse_plan({"params": {"n": 100, "m": 100, "p": 80, "label_noise": 0.1, "gamma": 0.5,
                                  "learner": "square_hinge"}}, base_dir=Path.cwd())
    mix = Mix(n=100.0, m=np.array([0.0, 100.0]), label_noise=0.1, rho=1.0, phi=1.0, gamma=0.5)
    direct = rmtsynth.predict(learner="square_hinge", n=100, m=[0, 100], p=80, label_noise=0.1, gamma=0.5)["accuracy"]
    np.testing.assert_allclose(plan.model(mix), direct, rtol=0, atol=1e-12)


def test_an_unknown_learner_is_one_sentence_with_a_suggestion(tmp_path):
    assert_clean_error(invoke("theory", "--n", 10, "--m", 10, "--p", 5, "--learner", "logistc"),
                       "--learner", "logistic", "ridge")
    cfg = write_file(tmp_path / "bad.yaml", "params: {n: 10, m: [0, 10], p: 5, learner: hinje}\nx: m\n")
    assert_clean_error(invoke("sweep", cfg, "--out", tmp_path / "out", "--no-sim"), "learner", "hinge")
    assert not (tmp_path / "out" / "bad.csv").exists()


def test_a_convex_learner_with_the_exact_sampler_is_one_sentence(tmp_path):
    cfg = write_file(tmp_path / "exact.yaml",
                     "params: {n: 10, m: [0, 10], p: 5, learner: logistic}\nx: m\nsimulation: {seeds: 2, sampler: exact}\n")
    assert_clean_error(invoke("sweep", cfg, "--out", tmp_path / "out", "--no-cache", "--workers", 1, "-q"),
                       "sampler", "exact", "logistic", "naive")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert_clean_error(invoke("theory", "--n", 10, "--m", 10, "--p", 5, "--learner", "hinge", "--simulate", 2),
                       "--sampler", "hinge", "naive")


def test_gamma_zero_has_no_minimiser_and_is_one_sentence(tmp_path):
    # At gamma = 0 a convex loss on separable rows (p >= rows) has no minimiser; the range says gamma > 0.
    assert_clean_error(invoke("theory", "--n", 0, "--m", 10, "--p", 50, "--learner", "logistic", "--gamma", 0),
                       "--gamma", "1e-08")
    cfg = write_file(tmp_path / "g.yaml", "params: {n: 0, m: [10, 20], p: 50, learner: hinge, gamma: 0}\nx: m\n")
    assert_clean_error(invoke("sweep", cfg, "--out", tmp_path / "out", "--no-sim"), "gamma", "1e-08")


def test_a_loop_says_it_covers_ridge_only():
    import rmtsynth
    from rmtsynth.errors import ConfigError

    with pytest.raises(ConfigError, match="learner = logistic is not covered by the loop"):
        rmtsynth.predict_loop(n=100, m=100, p=50, generations=2, learner="logistic")
    ridge = rmtsynth.predict_loop(n=100, m=100, p=50, generations=2, learner="ridge")["accuracy"]
    assert np.array_equal(ridge, rmtsynth.predict_loop(n=100, m=100, p=50, generations=2)["accuracy"])


def test_the_held_out_measurement_trains_the_chosen_learner_and_says_the_prediction_is_ridge_only():
    from rmtsynth.data.prediction import measure_heldout

    rng = np.random.default_rng(0)
    p = 20
    y = np.where(rng.random(300) < 0.5, 1.0, -1.0)
    X = y[:, None] * np.r_[1.0, np.zeros(p - 1)] + rng.standard_normal((300, p))
    ys = np.where(rng.random(200) < 0.5, 1.0, -1.0)
    pool = {"features": ys[:, None] * np.r_[0.8, np.zeros(p - 1)] + rng.standard_normal((200, p)), "labels": ys}
    common = dict(n=60, gamma=0.1, synthetic=pool, m_values=[0, 100], label_noise=0.2, verifiers=["oracle"], splits=3)
    ridge = measure_heldout(X, y, **common)
    logistic = measure_heldout(X, y, **common, learner="logistic")
    assert "prediction_note" not in ridge and np.all(np.isfinite(ridge["predicted"]["cross-fit"]))
    assert "ridge only" in logistic["prediction_note"]
    assert np.all(np.isnan(logistic["predicted"]["cross-fit"]))
    assert np.all((logistic["measured"] > 0.5) & (logistic["measured"] <= 1.0))
    assert not np.array_equal(logistic["measured"], ridge["measured"])
