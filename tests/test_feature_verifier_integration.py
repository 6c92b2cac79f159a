"""The feature-aware verifier in configs, the API, the planner and the command line.

The numbers of configs and API calls are compared with :func:`feature_theory` on a verifier whose
direction is built here by hand from the placed model; the feature-blind default is compared with
the committed tables; a config sweep's simulation is held to the theory within 3 SE plus the
finite-size allowance of THEORY.md 15.6 (0.3/p in accuracy).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

import rmtsynth
from clitools import assert_clean_error, invoke
from rmtsynth.core.feature_verifier import feature_theory
from rmtsynth.core.model import Covariance, Mix, ModelSpec
from rmtsynth.core.verifiers import FeatureVerifier
from rmtsynth.sim.geometry import placed_model

ROOT = Path(__file__).resolve().parents[1]
P = 100
SETTING = dict(p=P, mu_norm=1.5, generator_alignment=0.9, generator_shift=0.5, gamma=0.5)


def _by_hand(angle: float, toward: float, seed: int = 0) -> tuple:
    """The placed model and the unit direction at ``angle`` from mu, ``toward`` from the shift."""
    model = placed_model(ModelSpec(P, 1.5, 0.9, 0.5, Covariance("identity")), seed)
    e_mu = model.mu / np.linalg.norm(model.mu)
    shift = model.mean - (model.mean @ e_mu) * e_mu
    e_shift = shift / np.linalg.norm(shift)
    # Any unit vector orthogonal to both serves at toward = 0 or 180; at other angles the test
    # below uses toward = 0.
    a, t = np.deg2rad(angle), np.deg2rad(toward)
    return model, np.cos(a) * e_mu + np.sin(a) * np.cos(t) * e_shift


@pytest.mark.parametrize("rule", [
    dict(verifier_keep="easy", verifier_threshold=0.4, verifier_angle=30.0),
    dict(verifier_keep="hard", verifier_threshold=1.0, verifier_angle=70.0),
    dict(verifier_keep="soft", verifier_threshold=-0.2, verifier_softness=0.6, verifier_angle=90.0),
])
def test_predict_gives_the_theory_of_the_verifier_built_by_hand(rule: dict) -> None:
    n, m, eps = np.array([0, 50, 200]), np.array([300, 300, 100]), np.array([0.1, 0.3, 0.45])
    out = rmtsynth.predict(n=n, m=m, label_noise=eps, rho=0.6, phi=0.9, **SETTING, **rule)
    model, v = _by_hand(rule["verifier_angle"], 0.0)
    verifier = FeatureVerifier(v, rule["verifier_threshold"], rule["verifier_keep"], rule.get("verifier_softness"),
                               q_correct=0.9, q_wrong=0.6)
    expected = feature_theory(model, Mix(n, m, eps, 0.6, 0.9, 0.5), verifier=verifier)
    np.testing.assert_allclose(out["accuracy"], expected.result.accuracy, rtol=0, atol=1e-12)
    shares = expected.shares
    np.testing.assert_allclose(out["kept_correct_share"], shares.kept_correct, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["kept_wrong_share"], shares.kept_wrong, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["verifier_precision"], shares.precision, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["verifier_recall"], shares.recall, rtol=0, atol=1e-12)
    # The kept shares as frequencies: a correct row passes with probability q_correct Z_+ <= 0.9.
    assert np.all(out["verifier_recall"] <= 0.9 + 1e-12) and np.all(np.isnan(out["eps_star"]))


def test_a_config_sweep_gives_the_api_numbers_and_the_feature_columns() -> None:
    config = {
        "name": "feature_sweep", "seed": 0,
        "params": {"n": 50, "m": 300, **SETTING, "label_noise": 0.2, "verifier_threshold": [-0.5, 0.0, 0.5]},
        "x": "verifier_threshold",
        "series": [{"label": "easy", "params": {"verifier_keep": "easy", "verifier_angle": 45}}],
        "simulation": {"enabled": False},
    }
    table = rmtsynth.sweep(config)
    for name in ("verifier_keep", "verifier_angle", "kept_correct_share", "kept_wrong_share"):
        assert name in table.columns
    api = rmtsynth.predict(n=50, m=300, label_noise=0.2, verifier_keep="easy", verifier_angle=45,
                           verifier_threshold=np.array([-0.5, 0.0, 0.5]), **SETTING)
    np.testing.assert_allclose(table.column("theory_accuracy").astype(float), api["accuracy"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(table.column("kept_correct_share").astype(float), api["kept_correct_share"], atol=1e-12)
    np.testing.assert_allclose(table.column("verifier_precision").astype(float), api["verifier_precision"], atol=1e-12)


def test_the_feature_blind_default_keeps_every_number_and_column() -> None:
    names = ("fig3_toy", "fig4_phase_transition", "phase_precision_recall", "gamma_optimum")
    for name in names:
        table = rmtsynth.sweep(ROOT / "configs" / f"{name}.yaml", simulate=False)
        with open(ROOT / "figures" / f"{name}.csv", newline="") as fh:
            committed = list(csv.DictReader(fh))
        assert not any(c.startswith(("verifier_keep", "kept_")) for c in table.columns), name
        theory = [c for c in table.columns if c.startswith("theory_") or c in ("rho", "phi", "verifier_precision", "gain")]
        assert theory and len(committed) == len(table.rows), name
        for column in theory:
            got = np.array([np.nan if r[column] is None else float(r[column]) for r in table.rows])
            want = np.array([float(r[column]) if r[column] != "" else np.nan for r in committed])
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, equal_nan=True, err_msg=f"{name} {column}")


def test_a_config_sweeps_simulation_agrees_with_the_theory() -> None:
    config = {
        "name": "feature_sim", "seed": 3,
        "params": {"m": 300, **SETTING, "label_noise": 0.2, "n": [0, 60]},
        "x": {"param": "n"},
        "series": [
            {"label": "easy", "params": {"verifier_keep": "easy", "verifier_threshold": 0.3, "verifier_angle": 30}},
            {"label": "hard", "params": {"verifier_keep": "hard", "verifier_threshold": 1.0, "verifier_angle": 80}},
            {"label": "soft", "params": {"verifier_keep": "soft", "verifier_threshold": 0.0, "verifier_softness": 0.7,
                                         "verifier_angle": 45, "verifier_toward_shift": 90, "rho": 0.5, "phi": 0.9}},
        ],
        "simulation": {"seeds": 120},
    }
    table = rmtsynth.sweep(config)
    theory = table.column("theory_accuracy").astype(float)
    sim, se = table.column("sim_accuracy_mean").astype(float), table.column("sim_accuracy_se").astype(float)
    assert len(theory) == 6 and np.all(se > 0)
    assert np.all(np.abs(sim - theory) <= 3 * se + 0.3 / P), np.c_[theory, sim, se]


def test_simulate_returns_the_kept_shares_beside_the_accuracy() -> None:
    args = dict(n=0, m=400, label_noise=0.3, verifier_keep="easy", verifier_threshold=0.5, verifier_angle=20, **SETTING)
    sim, theory = rmtsynth.simulate(seeds=200, **args), rmtsynth.predict(**args)
    for key in ("kept_correct_share", "kept_wrong_share", "verifier_precision", "verifier_recall"):
        np.testing.assert_allclose(sim[key], theory[key], rtol=0, atol=1e-12)
    assert abs(float(sim["accuracy_mean"]) - float(theory["accuracy"])) <= 3 * float(sim["accuracy_se"]) + 0.3 / P


def test_the_planner_finds_the_rule_and_says_when_precision_and_recall_do_not_answer() -> None:
    plan = rmtsynth.plan(ROOT / "configs" / "plan" / "feature_verifier.yaml")
    assert plan["best_rule"] in ("easy", "hard")
    best = plan["accuracy_best_threshold"]
    # No threshold of either rule on a coarse grid beats the reported optimum.
    grid = np.linspace(-2, 2, 9)
    for keep in ("easy", "hard"):
        acc = rmtsynth.predict(n=100, m=600, p=200, mu_norm=1.5, generator_alignment=0.9, generator_shift=0.5,
                               label_noise=0.3, gamma=1.0, verifier_keep=keep, verifier_angle=45,
                               verifier_threshold=grid)["accuracy"]
        assert np.nanmax(acc) <= best + 1e-9
    blind = rmtsynth.predict(n=100, m=600, p=200, mu_norm=1.5, generator_alignment=0.9, generator_shift=0.5,
                             label_noise=0.3, gamma=1.0, verifier_precision=plan["verifier_precision"],
                             verifier_recall=plan["verifier_recall"])["accuracy"]
    assert abs(float(blind) - plan["accuracy_feature_blind_same_precision_recall"]) < 1e-9
    assert plan["precision_recall_suffice"] is (abs(float(blind) - plan["accuracy_configured"]) <= 1e-3)
    assert not plan["precision_recall_suffice"]
    assert any("not enough" in line for line in plan["messages"])


BAD = [
    (["verifier_keep=easy", "verifier_softness=0.5"], ["verifier_softness", "soft"]),
    (["verifier_keep=easy", "verifier_angle=200"], ["verifier_angle", "180"]),
    (["verifier_angle=30"], ["verifier_angle", "verifier_keep = none"]),
    (["verifier_keep=easy", "verifier_threshold=40"], ["verifier_threshold", "keeps almost nothing", "share"]),
    (["verifier_keep=soft"], ["verifier_softness"]),
    (["verifier_keep=easy", "covariance=estimated", "n_hat=50"], ["verifier_keep", "estimated"]),
]


@pytest.mark.parametrize("sets, needles", BAD)
def test_bad_input_is_one_sentence_and_exit_2(tmp_path: Path, sets: list[str], needles: list[str]) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("params: {n: 50, m: 300, p: 100, mu_norm: 1.5, label_noise: 0.2, "
                      "verifier_threshold: [0.0, 0.5]}\nx: verifier_threshold\nsimulation: false\n")
    if any(s.startswith("verifier_angle=30") for s in sets):
        config.write_text("params: {n: 50, m: 300, p: 100, mu_norm: 1.5, label_noise: [0.1, 0.2]}\nx: label_noise\n"
                          "simulation: false\n")
    args = []
    for s in sets:
        args += ["--set", f"params.{s}"]
    out = tmp_path / "out"
    assert_clean_error(invoke("sweep", config, "--out", out, "-q", *args), *needles)
    assert not out.exists() or not any(out.iterdir())


def test_a_feature_verifier_in_a_loop_is_refused_naming_what_covers_it(tmp_path: Path) -> None:
    config = tmp_path / "loop.yaml"
    config.write_text(
        "kind: generations\ngenerations: {figure: accuracy, generations: 3, regimes: [replace]}\n"
        "params: {n: 50, m: 100, p: 50, mu_norm: 1.5, label_noise: 0.2, verifier_keep: hard, verifier_threshold: 1}\n"
        "simulation: false\n"
    )
    line = assert_clean_error(invoke("sweep", config, "--out", tmp_path / "out", "-q"), "verifier_keep", "loop")
    assert "theory" in line and "simulation" in line
