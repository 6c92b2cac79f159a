"""The feature verifier (THEORY.md 15): its theory against the literal simulation, the feature-blind
reduction to the ridge theory, the kept shares, the fast exact sampler, and the validation.

Theory against simulation is held to 3 SE plus the finite-size allowance of THEORY.md 15.6: the
deterministic equivalent carries an O(1/p) bias, about 0.3/p in accuracy, shared by an exactly
Gaussian surrogate.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import ks_2samp

from rmtsynth.core.feature_verifier import evaluate_dense, feature_theory, tilt_geometry
from rmtsynth.core.model import Mix, build_model
from rmtsynth.core.two_covariance import evaluate_two_covariance, make_model
from rmtsynth.core.verifiers import FeatureVerifier, LabelVerifier
from rmtsynth.errors import ParameterError
from rmtsynth.sim.feature_sampler import sample_feature_exact
from rmtsynth.sim.monte_carlo import simulate_point
from rmtsynth.sim.samplers import dense_factor, draw_naive_data, ridge_weights, sample_exact, sample_naive

P = 100
FINITE_SIZE = 0.3 / P


def _rotated_spectrum(p: int, seed: int = 3) -> np.ndarray:
    """C = O diag(linspace(0.5, 1.5)) O' in a random basis (THEORY.md 15.5's shared setting)."""
    basis, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((p, p)))
    return basis @ np.diag(np.linspace(0.5, 1.5, p)) @ basis.T


def _models(p: int = P) -> dict:
    """||mu|| = 1.5 and mu_beta = 0.9 mu + 0.5 u, with C = I, diagonal, or dense in a random basis."""
    common = (p, 1.5, 0.9, 0.5)
    return {
        "identity": build_model(*common, "identity"),
        "scaled": build_model(*common, "scaled", covariance_scale=2.0),
        "diagonal": build_model(*common, "diagonal", eigenvalues=np.linspace(0.5, 1.5, p),
                                rng=np.random.default_rng(1)),
        "file": build_model(*common, "file", matrix=_rotated_spectrum(p), rng=np.random.default_rng(1)),
    }


MODELS = _models()


# ---------------------------------------------------------------------------------------------
# F = 1: the feature-blind verifier gives the ridge theory


@pytest.mark.parametrize("kind", list(MODELS))
def test_feature_blind_verifier_gives_the_ridge_theory(kind: str) -> None:
    model = MODELS[kind]
    mix = Mix(np.array([0.0, 50.0, 100.0]), np.array([300.0, 300.0, 0.0]), np.array([0.1, 0.3, 0.5]),
              0.3, 0.8, np.array([0.5, 0.2, 1.0]))
    expected = model.theory(mix)
    for method in ("commuting", "dense"):
        got = feature_theory(model, mix, method=method).result
        for name in ("accuracy", "mean", "variance", "second_moment", "risk", "delta_real", "delta_synth",
                     "alpha", "lam"):
            np.testing.assert_allclose(getattr(got, name), getattr(expected, name), rtol=0, atol=1e-12,
                                       err_msg=f"{method} {name}")


def test_feature_blind_dense_theory_gives_the_two_covariance_theory() -> None:
    p = 40
    rng = np.random.default_rng(5)
    sigma = _rotated_spectrum(p, seed=8) * 0.8 + 0.2 * np.eye(p)
    cov = _rotated_spectrum(p, seed=9)
    mu, mu_beta = rng.standard_normal(p) / np.sqrt(p) * 1.5, rng.standard_normal(p) / np.sqrt(p)
    grid = dict(n=np.array([20.0, 0.0, 80.0]), m=np.array([100.0, 200.0, 40.0]), label_noise=np.array([0.2, 0.4, 0.0]),
                gamma=np.array([0.5, 0.1, 1.0]))
    verifier = LabelVerifier(0.4, 0.9)
    got = evaluate_dense(mu, mu_beta, cov, verifier, **grid, real_cov=sigma).result
    two = make_model(sigma, cov, mu, mu_beta)
    expected = evaluate_two_covariance(two, grid["n"], grid["m"], grid["label_noise"], 0.4, 0.9, grid["gamma"])
    for name in ("accuracy", "mean", "variance", "delta_real", "delta_synth"):
        np.testing.assert_allclose(getattr(got, name), getattr(expected, name), rtol=0, atol=1e-12, err_msg=name)


# ---------------------------------------------------------------------------------------------
# Theory against the literal simulation

# (model, n, m, label noise, gamma, rule, verifier_angle, verifier_toward_shift)
POINTS = {
    "easy-n0": ("diagonal", 0, 300, 0.3, 0.5, dict(keep="easy", threshold=0.0), 0, 0),
    "easy-real-rows": ("file", 50, 300, 0.5, 0.5, dict(keep="easy", threshold=0.5), 45, 0),
    "easy-orthogonal-to-shift": ("identity", 0, 300, 0.1, 0.5, dict(keep="easy", threshold=0.0), 60, 90),
    "hard-n0": ("identity", 0, 300, 0.1, 0.5, dict(keep="hard", threshold=0.5), 0, 0),
    "hard-real-rows": ("file", 50, 300, 0.3, 0.5, dict(keep="hard", threshold=1.5), 30, 0),
    "soft-n0": ("diagonal", 0, 300, 0.3, 0.5, dict(keep="soft", threshold=0.0, softness=0.5), 60, 0),
    "soft-label-aware-real-rows": ("file", 100, 200, 0.5, 0.5,
                                   dict(keep="soft", threshold=0.5, softness=1.0, q_correct=0.9, q_wrong=0.3), 0, 0),
}


@pytest.mark.parametrize("name", list(POINTS))
def test_theory_matches_the_literal_simulation(name: str) -> None:
    kind, n, m, eps, gamma, rule, angle, toward = POINTS[name]
    model = MODELS[kind]
    verifier = FeatureVerifier.from_geometry(model, angle, toward, **rule)
    mix = Mix(n, m, eps, 1.0, 1.0, gamma)
    theory = feature_theory(model, mix, verifier, method="dense" if kind == "file" else "commuting").result
    sim = simulate_point(model, mix, np.random.SeedSequence(11), 200, sampler="naive", verifier=verifier)
    gap = sim.mean - float(theory.accuracy)
    message = f"{name}: MC {sim.mean:.4f} +- {sim.se:.4f}, theory {float(theory.accuracy):.4f}"
    assert abs(gap) <= 3 * sim.se + FINITE_SIZE, message


def test_theory_matches_the_simulation_with_a_real_noise_covariance() -> None:
    model = MODELS["file"]
    real_sd = np.sqrt(np.geomspace(0.5, 2.0, P))
    verifier = FeatureVerifier.from_geometry(model, 30, 0, keep="soft", threshold=0.3, softness=0.7)
    mix = Mix(100, 400, 0.3, 1.0, 1.0, 0.5)
    theory = feature_theory(model, mix, verifier, method="dense", real_cov=np.diag(real_sd**2)).result
    sim = simulate_point(model, mix, np.random.SeedSequence(12), 100, sampler="naive", verifier=verifier,
                         noise_cov_factor=real_sd)
    assert abs(sim.mean - float(theory.accuracy)) <= 3 * sim.se + FINITE_SIZE


def test_the_commuting_theory_is_close_to_the_dense_one() -> None:
    model = MODELS["diagonal"]
    verifier = FeatureVerifier.from_geometry(model, 45, 30, keep="easy", threshold=0.5)
    mix = Mix(np.array([0.0, 100.0]), 300, np.array([0.3, 0.5]), 1.0, 1.0, np.array([0.5, 0.1]))
    commuting = feature_theory(model, mix, verifier).result.accuracy
    dense = feature_theory(model, mix, verifier, method="dense").result.accuracy
    np.testing.assert_allclose(commuting, dense, atol=1e-3)


def test_keep_hard_is_keep_easy_along_the_opposite_direction() -> None:
    model = MODELS["file"]
    easy = FeatureVerifier.from_geometry(model, 30, 45, keep="easy", threshold=0.4)
    hard = FeatureVerifier(-easy.direction, -0.4, "hard")
    mix = Mix(50, 300, 0.3, 1.0, 1.0, 0.5)
    for method in ("commuting", "dense"):
        a, b = feature_theory(model, mix, easy, method=method), feature_theory(model, mix, hard, method=method)
        np.testing.assert_allclose(a.result.accuracy, b.result.accuracy, rtol=0, atol=1e-12)
        np.testing.assert_allclose(a.shares.recall, b.shares.recall, rtol=0, atol=1e-14)
    rows = np.random.default_rng(2).standard_normal((50, P))
    labels = np.where(np.arange(50) % 2 == 0, 1.0, -1.0)
    correct = np.ones(50, dtype=bool)
    kept_easy = easy.keep_probability(correct, features=rows, labels=labels)
    kept_hard = hard.keep_probability(correct, features=rows, labels=labels)
    assert np.array_equal(kept_easy, kept_hard)


# ---------------------------------------------------------------------------------------------
# Kept shares


@pytest.mark.parametrize("rule", [dict(keep="easy", threshold=0.5), dict(keep="hard", threshold=0.2),
                                  dict(keep="soft", threshold=0.0, softness=0.5, q_correct=0.8, q_wrong=0.4)],
                         ids=["easy", "hard", "soft"])
def test_kept_shares_match_their_frequencies(rule: dict) -> None:
    p, m, eps = 20, 40_000, 0.3
    model = _models(p)["file"]
    verifier = FeatureVerifier.from_geometry(model, 50, 30, **rule)
    shares = feature_theory(model, Mix(0, m, eps, 1.0, 1.0, 0.5), verifier).shares
    rng = np.random.default_rng(4)
    factor = dense_factor(model.covariance.matrix)
    # The rows as the literal sampler draws them, with the verifier applied row by row.
    y_true = 2.0 * rng.integers(0, 2, size=m) - 1.0
    correct = rng.random(m) >= eps
    x = np.outer(y_true, model.mean) + rng.standard_normal((m, factor.shape[1])) @ factor.T
    labels = np.where(correct, y_true, -y_true)
    kept = verifier.keep(correct, rng.random(m), features=x, labels=labels)
    for share, observed, total in (
        (shares.recall, np.count_nonzero(kept & correct), np.count_nonzero(correct)),
        (shares.false_positive_rate, np.count_nonzero(kept & ~correct), np.count_nonzero(~correct)),
        (shares.precision, np.count_nonzero(kept & correct), np.count_nonzero(kept)),
    ):
        se = np.sqrt(share * (1.0 - share) / total)
        assert abs(observed / total - share) < 4 * se, (observed / total, float(share))
    mix = Mix(0, m, eps, 1.0, 1.0, 0.1).with_verifier(verifier)
    a, _ = draw_naive_data(model, mix, np.random.default_rng(5), generator=(model.mean, factor))
    se = np.sqrt(shares.kept * (1.0 - shares.kept) / m)
    assert abs(a.shape[1] / m - shares.kept) < 4 * se
    assert json.dumps(shares.to_dict()) and json.dumps(verifier.to_dict())


# ---------------------------------------------------------------------------------------------
# The fast exact sampler against the literal one


def _draws(sampler, model, factor, verifier, n, m, eps, seed: int, reps: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((reps, 5))
    for i in range(reps):
        s, r = sampler(model, Mix(n, m, eps, 1.0, 1.0, 0.5).with_verifier(verifier), rng, generator=(model.mean, factor))
        w = ridge_weights(s, r, n + m, 0.5)
        out[i] = (w @ model.mu, w @ w, np.trace(s), r @ verifier.direction, s[0, 1])
    return out


@pytest.mark.parametrize("rule", [dict(keep="easy", threshold=0.5), dict(keep="hard", threshold=0.3),
                                  dict(keep="soft", threshold=0.2, softness=0.7, q_correct=0.9, q_wrong=0.4)],
                         ids=["easy", "hard", "soft"])
def test_fast_sampler_matches_the_literal_one(rule: dict) -> None:
    model = _models(15)["file"]
    factor = dense_factor(model.covariance.matrix)
    verifier = FeatureVerifier.from_geometry(model, 40, 30, **rule)
    reps = 1500
    naive = _draws(sample_naive, model, factor, verifier, 20, 60, 0.3, 5, reps)
    fast = _draws(sample_feature_exact, model, factor, verifier, 20, 60, 0.3, 6, reps)
    for j, label in enumerate(("w.mu", "|w|^2", "tr S", "r.v", "S_01")):
        a, b = naive[:, j], fast[:, j]
        z = (a.mean() - b.mean()) / np.sqrt(a.var(ddof=1) / reps + b.var(ddof=1) / reps)
        assert abs(z) < 4, f"{label}: z = {z:.2f}"
        assert abs(b.std() / a.std() - 1.0) < 4 * np.sqrt(1.0 / reps), f"{label}: sd ratio {b.std() / a.std():.3f}"
        assert ks_2samp(a, b).pvalue > 1e-3, label


def test_fast_sampler_edge_counts_and_feature_blind_verifiers() -> None:
    model = _models(8)["identity"]
    verifier = FeatureVerifier.from_geometry(model, 20, 0, keep="easy", threshold=0.0)
    for m in (0, 1, 2, 3):
        mix = Mix(2, m, 0.2, 1.0, 1.0, 0.1).with_verifier(verifier)
        s, r = sample_feature_exact(model, mix, np.random.default_rng(m))
        assert s.shape == (8, 8) and r.shape == (8,) and np.allclose(s, s.T)
    label = LabelVerifier(0.3, 0.8)
    mix = Mix(10, 30, 0.2, 1.0, 1.0, 0.1).with_verifier(label)
    a = sample_feature_exact(model, mix, np.random.default_rng(1), generator=(model.mean, 1.5))
    b = sample_exact(model, mix, np.random.default_rng(1), generator=(model.mean, 1.5))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


# ---------------------------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(keep="easy", softness=0.5), "softness = 0.5 applies only to keep = 'soft'"),
        (dict(keep="soft"), "softness is missing"),
        (dict(keep="soft", softness=0.0), "softness = 0.0 is out of range"),
        (dict(keep="medium"), "keep = 'medium' is unknown"),
        (dict(q_wrong=1.5), "q_wrong = 1.5 is out of range"),
        (dict(threshold=float("nan")), "threshold = nan is out of range"),
        (dict(threshold=12.0), "threshold = 12 is so high that the verifier keeps almost nothing (a share"),
        (dict(keep="hard", threshold=-12.0), "threshold = -12 is so low"),
        (dict(verifier_angle=190), "verifier_angle = 190 is out of range; it must be a number between 0 and 180"),
        (dict(verifier_toward_shift=-5), "verifier_toward_shift = -5 is out of range"),
    ],
)
def test_validation_errors_name_the_parameter(kwargs: dict, words: str) -> None:
    with pytest.raises(ParameterError, match=None) as info:
        FeatureVerifier.from_geometry(MODELS["identity"], **kwargs)
    assert words in str(info.value)


def test_the_theory_refuses_what_it_does_not_cover() -> None:
    verifier = FeatureVerifier(np.ones(P), 20.0)
    with pytest.raises(ParameterError, match="threshold = 20 is so high"):
        feature_theory(MODELS["identity"], Mix(0, 300, 0.1, 1, 1, 0.5), verifier)
    estimated = build_model(P, 1.5, covariance="estimated", n_hat=200)
    with pytest.raises(ParameterError, match="fixed generator covariance"):
        feature_theory(estimated, Mix(0, 300, 0.1, 1, 1, 0.5), FeatureVerifier(np.ones(P)))
    with pytest.raises(ParameterError, match="direction must be a nonzero vector"):
        FeatureVerifier(np.zeros(P))
    geometry = tilt_geometry(LabelVerifier(0.2, 0.7), np.ones(P))
    assert (geometry.recall, geometry.false_positive_rate) == (0.7, 0.2)


def test_directions_from_the_model_geometry() -> None:
    model = MODELS["file"]
    e_mu = model.mu / np.linalg.norm(model.mu)
    shift = model.mean - (model.mean @ e_mu) * e_mu
    e_shift = shift / np.linalg.norm(shift)
    for angle, toward in ((0, 0), (45, 0), (60, 90), (120, 30), (180, 0)):
        v = FeatureVerifier.from_geometry(model, angle, toward).direction
        assert np.isclose(np.linalg.norm(v), 1.0)
        assert np.isclose(v @ e_mu, np.cos(np.radians(angle)))
        assert np.isclose(v @ e_shift, np.sin(np.radians(angle)) * np.cos(np.radians(toward)), atol=1e-12)
