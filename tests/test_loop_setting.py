"""A loop's setting in one form: the domain check, the config's refusals, and validate refusing what plan refuses."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pytest

from clitools import assert_clean_error, invoke, write_file
from rmtsynth.config.loop_config import parse_loop_plan, resolve_loop_point
from rmtsynth.core.loop import (
    LoopSpec, NoTheoryError, check_loop, loop_problem, loop_setting, theory_of_loop,
)
from rmtsynth.core.model import Mix, ModelSpec
from rmtsynth.engine import loops
from rmtsynth.engine.loop_sim import LoopRequest, loop_task
from rmtsynth.errors import ConfigError, DataError, ParameterError, RmtsynthError
from rmtsynth.sim.loop import loop_replicates, simulate_loop

GOOD = dict(n=40, m=80, p=30, mu_norm=1.5, label_noise=0.1, rho=0.3, phi=0.9, gamma=0.5, generations=2)


@pytest.mark.parametrize(
    "change, name",
    [
        ({"n": 2}, "n"),
        ({"m": -1}, "m"),
        ({"p": 0}, "p"),
        ({"p": 10.5}, "p"),
        ({"mu_norm": -0.1}, "mu_norm"),
        ({"label_noise": 1.5}, "label_noise"),
        ({"rho": -0.2}, "rho"),
        ({"phi": float("nan")}, "phi"),
        ({"gamma": 0.0}, "gamma"),
        ({"generations": -1}, "generations"),
        ({"generations": 1.5}, "generations"),
        ({"regime": "sometimes"}, "regime"),
        ({"labels": "guessed"}, "labels"),
        ({"generator_covariance": "diagonal"}, "generator_covariance"),
    ],
)
def test_the_domain_check_names_the_quantity_and_theory_and_simulation_raise_its_sentence(change, name):
    setting = loop_setting(**{**GOOD, **change})
    sentence = loop_problem(*setting)
    assert sentence is not None and sentence.startswith(f"{name} has an invalid value") and sentence.endswith(".")
    with pytest.raises(ParameterError) as theory:
        theory_of_loop(*setting)
    with pytest.raises(ParameterError) as simulation:
        simulate_loop(**{**GOOD, **change}, seeds=2)
    assert str(theory.value) == sentence
    assert str(simulation.value) == loop_problem(*setting, whole_counts=True)
    assert str(simulation.value).startswith(f"{name} has an invalid value")


def test_a_setting_in_the_domain_passes_and_the_simulation_also_wants_whole_rows():
    assert loop_problem(*loop_setting(**GOOD)) is None
    fractional = loop_setting(**{**GOOD, "m": 80.5})
    check_loop(*fractional)  # the theory takes real counts
    with pytest.raises(ParameterError, match="^m has an invalid value"):
        check_loop(*fractional, whole_counts=True)


def test_a_verifier_that_looks_at_the_features_is_outside_the_loop():
    from rmtsynth.core.verifiers import FeatureVerifier

    mix, model, loop = loop_setting(**GOOD)
    direction = np.zeros(int(model.p))
    direction[0] = 1.0
    featured = mix.with_verifier(FeatureVerifier(direction, q_correct=0.9, q_wrong=0.3))
    sentence = loop_problem(featured, model, loop)
    assert sentence is not None and sentence.startswith("verifier = feature looks at the features")
    with pytest.raises(ParameterError, match="feature-blind verifier"):
        theory_of_loop(featured, model, loop)
    assert loop_problem(dataclasses.replace(featured, rule=None), model, loop) is None


def test_a_missing_theory_is_an_input_error_of_one_sentence():
    pseudo = loop_setting(**{**GOOD, "label_noise": 0.0, "labels": "pseudo"})
    with pytest.raises(NoTheoryError) as info:
        theory_of_loop(*pseudo, method="GR")
    assert isinstance(info.value, RmtsynthError) and isinstance(info.value, ArithmeticError)
    assert str(info.value).endswith(".") and "GR" in str(info.value)


def test_the_config_resolves_to_the_mix_and_model_the_theory_takes():
    loop = LoopSpec(generations=3, regime="accumulate")
    point = resolve_loop_point({"n": 200, "m_over_n": 2, "p_over_n": 0.5, "mu_norm": 1.5, "label_noise": 0.1,
                                "verifier_precision": 0.95, "verifier_recall": 0.9, "gamma": 0.5}, loop)
    assert isinstance(point.mix, Mix) and isinstance(point.model, ModelSpec)
    assert (point.mix.n, point.mix.m, point.model.p) == (200, 400, 100)
    # precision = (1 - eps) phi / ((1 - eps) phi + eps rho), recall = phi
    precision = 0.9 * point.mix.phi / (0.9 * point.mix.phi + 0.1 * point.mix.rho)
    assert point.mix.phi == pytest.approx(0.9) and precision == pytest.approx(0.95)
    api = loops.predict_loop(generations=3, regime="accumulate", n=200, m_over_n=2, p_over_n=0.5, mu_norm=1.5,
                             label_noise=0.1, verifier_precision=0.95, verifier_recall=0.9, gamma=0.5)
    np.testing.assert_array_equal(api["accuracy"], theory_of_loop(point.mix, point.model, loop).accuracy)


@pytest.mark.parametrize(
    "params, needle",
    [
        ({"n": 2}, "params: n has an invalid value (2)"),
        ({"label_noise": "auto"}, "label_noise = auto"),
        ({"generator_alignment": 0.5}, "generator_alignment is not used by a loop"),
    ],
)
def test_the_config_refuses_a_setting_with_one_sentence_naming_the_key(params, needle):
    base = {"n": 40, "m": 80, "p": 30, "mu_norm": 1.5, "label_noise": 0.1, "gamma": 0.5}
    with pytest.raises(ConfigError) as info:
        resolve_loop_point({**base, **params}, LoopSpec(generations=2))
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_a_worker_receives_the_setting_objects_and_draws_the_same_replicates():
    point = resolve_loop_point({"n": 40, "m": 80, "p": 30, "mu_norm": 1.5, "label_noise": 0.1, "rho": 0.3,
                                "phi": 0.9, "gamma": 0.5}, LoopSpec(generations=2))
    loop = LoopSpec(generations=2)
    task = LoopRequest(point, loop).task(root_seed=5, start=1, stop=3)
    assert (task.mix, task.model, task.loop) == (point.mix, point.model, loop)
    shipped = loop_task(pickle.loads(pickle.dumps(task)))
    whole = simulate_loop(**GOOD, seeds=3, seed=5)
    np.testing.assert_array_equal(shipped["accuracy"], whole["accuracy"][1:3])
    direct = loop_replicates(point.mix, point.model, loop, root_seed=5, start=0, stop=1)
    np.testing.assert_array_equal(direct[0]["accuracy"], whole["accuracy"][0])


def _plan_file(tmp_path: Path, params: str, loop: str) -> Path:
    return write_file(tmp_path / "plan" / "loop.yaml", f"params: {{{params}}}\nloop: {{{loop}}}\n")


SETTING = "n: 200, m_over_n: 4, p_over_n: 1, mu_norm: 1.5, label_noise: 0.1, gamma: 0.5"


@pytest.mark.parametrize(
    "params, loop, needles",
    [
        (SETTING.replace("m_over_n: 4", "m_over_n: 0"), "regime: replace", ("m = 0", "m >= 1")),
        (SETTING, "regime: accumulate, generations: 150", ("generations = 150", "regime accumulate", "100")),
        (SETTING.replace("n: 200", "n: 2"), "regime: replace", ("n has an invalid value (2)", "n >= 3")),
        (SETTING.replace("label_noise: 0.1", "label_noise: 1.0"), "regime: replace", ("label_noise = 1",)),
    ],
)
def test_validate_refuses_the_loop_plans_that_plan_refuses_with_the_same_sentence(tmp_path, params, loop, needles):
    cfg = _plan_file(tmp_path, params, loop)
    refused = assert_clean_error(invoke("validate", cfg), *needles)
    assert assert_clean_error(invoke("plan", cfg), *needles) == refused


def test_parse_loop_plan_checks_the_planner_question_without_computing():
    with pytest.raises(ConfigError, match="m = 0 leaves the loop nothing to feed back"):
        parse_loop_plan({"params": {"n": 200, "m": 0, "p": 200, "mu_norm": 1.5, "label_noise": 0.1}})


def test_a_valid_loop_plan_validates(tmp_path):
    cfg = _plan_file(tmp_path, SETTING, "regime: accumulate, generations: 100")
    result = invoke("validate", cfg)
    assert result.exit_code == 0, result.output


def test_rows_without_a_varying_feature_are_refused_once_read_as_a_data_error(tmp_path):
    np.savez(tmp_path / "real.npz", X=np.ones((40, 5)), y=np.array([1, -1] * 20))
    cfg = write_file(tmp_path / "loop.yaml", "data: {path: real.npz}\n"
                     "params: {n: 30, m_over_n: 4, label_noise: 0.1, gamma: 0.5}\nloop: {regime: replace}\n")
    assert invoke("validate", cfg).exit_code == 0  # validate opens no file of a loop plan
    assert_clean_error(invoke("plan", cfg), "real.npz", "no feature that varies")
    with pytest.raises(DataError, match="no feature that varies"):
        loops.load_loop_plan(cfg)
