"""The verifier and learner interfaces: one keep rule, one grammar, learners behind a registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rmtsynth.core.learners import LEARNERS, Learner, Ridge, get_learner
from rmtsynth.core.model import Mix, build_model
from rmtsynth.core.verifiers.rates import rho_phi_from_precision_recall
from rmtsynth.core.verifiers import LabelVerifier, RowDecisions, Verifier, as_verifier, verifier_from_params
from rmtsynth.errors import ParameterError
from rmtsynth.sim.monte_carlo import simulate_point
from rmtsynth.sim.samplers import draw_naive_data, sample_exact
from rmtsynth.config.resolve import RESOLVED_COLUMNS, resolve_point


class KeepAlongFirstAxis(Verifier):
    """A feature-aware verifier for the tests: keeps a row when label * x[0] > 0."""

    feature_aware = True

    def keep_probability(self, correct, *, features=None, labels=None):
        return (labels * features[:, 0] > 0).astype(float)

    def to_dict(self):
        return {"verifier": "first-axis"}


class MeanDifference(Learner):
    """A learner for the tests that is not quadratic in the sense of the exact sampler."""

    name = "mean_difference"

    def fit(self, rows, labels, n_total, gamma):
        return rows @ labels / n_total

    def theory(self, model, mix, *, convention="exact"):
        raise NotImplementedError


def test_keep_rule_is_the_uniform_below_the_rate():
    rng = np.random.default_rng(3)
    correct = rng.random(10_000) < 0.7
    uniforms = rng.random(10_000)
    keep = LabelVerifier(0.2, 0.9).keep(correct, uniforms)
    assert np.array_equal(keep, np.where(correct, uniforms < 0.9, uniforms < 0.2))


def test_keep_rates_match_rho_and_phi_within_their_standard_error():
    rng = np.random.default_rng(4)
    correct = rng.random(40_000) < 0.5
    keep = LabelVerifier(0.3, 0.8).keep(correct, rng.random(correct.size))
    for mask, rate in ((correct, 0.8), (~correct, 0.3)):
        share = keep[mask].mean()
        se = np.sqrt(rate * (1 - rate) / mask.sum())
        assert abs(share - rate) < 4 * se


def test_recorded_decisions_replay_and_measure_their_rates():
    kept = np.array([True, False, True, True, False, False])
    correct = np.array([True, True, True, False, False, True])
    verifier = RowDecisions(kept)
    assert np.array_equal(verifier.keep(correct, np.random.default_rng(0).random(6)), kept)
    rho, phi = verifier.rates_on(correct)
    assert rho == pytest.approx(1 / 2) and phi == pytest.approx(2 / 4)
    with pytest.raises(ParameterError, match="decided on 6 rows"):
        verifier.keep(correct[:3], np.zeros(3))


@pytest.mark.parametrize(
    "written",
    [
        "oracle",
        [0.0, 1.0],
        {"rho": 0.0, "phi": 1.0},
        {"verifier": "oracle"},
        {"verifier_roc": [[0.5, 0.9], [0.0, 1.0]], "roc_index": 1},
        LabelVerifier(0.0, 1.0),
    ],
)
def test_every_written_form_of_one_verifier_gives_the_same_rates(written):
    assert as_verifier(written, 0.2).label_rates() == (0.0, 1.0)


def test_precision_and_recall_resolve_to_the_conversion():
    verifier = as_verifier({"verifier_precision": 0.9, "verifier_recall": 0.8}, 0.3)
    assert verifier.label_rates() == pytest.approx(rho_phi_from_precision_recall(0.3, 0.9, 0.8))
    precision, recall = verifier.precision_recall(0.3)
    assert float(precision) == pytest.approx(0.9) and float(recall) == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("written", "needle"),
    [
        ("orcale", "verifier = 'orcale' is unknown"),
        ([0.2, 1.5], "(phi) = 1.5 is out of range"),
        ({"rho": 0.1}, "phi is missing"),
        ({"rho": 0.1, "phi": 0.9, "verifier": "none"}, "given twice"),
        ("given", "needs a synthetic pool"),
        (3.0, "is not a verifier"),
    ],
)
def test_a_wrongly_written_verifier_is_refused_naming_the_key(written, needle):
    with pytest.raises(ParameterError) as info:
        as_verifier(written, 0.2)
    assert needle in str(info.value)


def test_no_verifier_means_keep_everything():
    assert verifier_from_params({}).label_rates() == (1.0, 1.0)


def test_a_feature_aware_verifier_plugs_into_the_literal_sampler_only():
    rng = np.random.default_rng(5)
    mu = np.zeros(6)
    mu[0] = 1.0
    model = build_model(6, 1.0)
    mix = Mix(n=0, m=400, label_noise=0.2, rho=1.0, phi=1.0, gamma=0.1).with_verifier(KeepAlongFirstAxis())
    a, c = draw_naive_data(model, mix, rng)
    assert 0 < c.size < 400
    assert np.all(c * a[0] > 0)
    with pytest.raises(ParameterError, match="does not look at the features"):
        sample_exact(model, mix, rng)


def test_learner_registry_and_did_you_mean():
    assert isinstance(get_learner("ridge"), Ridge) and set(LEARNERS) >= {"ridge"}
    learner = MeanDifference()
    assert get_learner(learner) is learner
    with pytest.raises(ParameterError, match="did you mean 'ridge'"):
        get_learner("rigde")


def test_ridge_fits_the_same_on_rows_and_on_sufficient_statistics():
    rng = np.random.default_rng(6)
    for p, k in ((8, 30), (30, 8)):
        a, c = rng.standard_normal((p, k)), np.sign(rng.standard_normal(k))
        ridge = Ridge()
        np.testing.assert_allclose(ridge.fit(a, c, k, 0.3), ridge.fit_statistics(a @ a.T, a @ c, k, 0.3), rtol=1e-10)


def test_ridge_theory_is_the_data_models():
    model = build_model(50, 1.5)
    mix = Mix(n=40.0, m=80.0, label_noise=0.1, rho=0.2, phi=0.9, gamma=0.5)
    assert Ridge().theory(model, mix).accuracy == model.theory(mix).accuracy


def test_the_exact_sampler_needs_a_quadratic_loss_and_any_learner_runs_on_rows():
    model = build_model(10, 1.0)
    mix = Mix(n=20, m=20, label_noise=0.1, rho=0.2, phi=0.9, gamma=0.5)
    seed = np.random.SeedSequence(7)
    with pytest.raises(ParameterError, match="quadratic"):
        simulate_point(model, mix, seed, 2, learner=MeanDifference())
    res = simulate_point(model, mix, seed, 2, sampler="naive", learner=MeanDifference())
    assert np.all((res.accuracy > 0.5) & (res.accuracy < 1.0))


def test_a_resolved_point_holds_the_model_and_the_mix():
    point = resolve_point({"n": 10, "m": 20, "p": 5, "verifier": "oracle", "label_noise": 0.1}, Path.cwd(), "params")
    assert (point.mix.n, point.mix.m, point.model.p) == (10, 20, 5)
    assert point.verifier.label_rates() == (0.0, 1.0)
    assert list(point.record()) == RESOLVED_COLUMNS
    changed = point.replace(m=0, rho=0.5, generator_shift=0.3, covariance="scaled", covariance_scale=2.0)
    assert (changed.m, changed.rho, changed.generator_shift) == (0, 0.5, 0.3)
    assert (changed.covariance, changed.covariance_scale, changed.n) == ("scaled", 2.0, 10)
    assert point.m == 20 and point.covariance == "identity"
    assert point.replace(learner="other").record()["learner"] == "other"
