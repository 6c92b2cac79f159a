"""Predicting held-out accuracy (THEORY.md 13): estimators, two-covariance theory, prediction."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr

from rmtsynth.core.theory import Spectrum, evaluate
from rmtsynth.core.two_covariance import evaluate_two_covariance, kept_rows_parameters, make_model
from rmtsynth.data.protocols import fit_gaussian
from rmtsynth.data.estimators import (
    SyntheticSource,
    estimate_synthetic,
    g_estimator,
    g_estimator_two_covariance,
    nonlinear_shrinkage,
    shape_corrected_accuracy,
)
from rmtsynth.data.prediction import measure_heldout, predict_heldout
from rmtsynth.errors import RmtsynthError


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(20261128, spawn_key=key))


def _orthogonal(rng: np.random.Generator, p: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((p, p)))
    return q * np.sign(np.diag(r))


# --------------------------------------------------------------------------------------------
# Ledoit-Wolf 2020 nonlinear shrinkage against a known population spectrum
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p, n", [(200, 600), (300, 200)])
def test_nonlinear_shrinkage_recovers_the_oracle_eigenvalues(p, n):
    rng = _rng(1, p, n)
    population = np.concatenate([np.full(p // 2, 1.0), np.full(p - p // 2, 4.0)])
    U = _orthogonal(rng, p)
    sigma = (U * population) @ U.T
    rows = (rng.standard_normal((n, p)) * np.sqrt(population)) @ U.T
    sample = rows.T @ rows / n
    shrunk = nonlinear_shrinkage(sample, n)
    values, vectors = np.linalg.eigh(sample)
    # The best any rotation-equivariant estimator can do: u_i^T Sigma u_i (Ledoit-Wolf's oracle).
    oracle = np.einsum("ij,ij->j", vectors, sigma @ vectors)
    shrunk_values = np.einsum("ij,ij->j", vectors, shrunk @ vectors)
    error = np.linalg.norm(shrunk_values - oracle) / np.linalg.norm(oracle)
    sample_error = np.linalg.norm(values - oracle) / np.linalg.norm(oracle)
    assert error < 0.15
    assert error < 0.25 * sample_error
    loss = np.linalg.norm(shrunk - sigma) ** 2
    oracle_loss = np.linalg.norm((vectors * oracle) @ vectors.T - sigma) ** 2
    sample_loss = np.linalg.norm(sample - sigma) ** 2
    # Percentage relative improvement in average loss (PRIAL) above 95 %.
    assert (sample_loss - loss) / (sample_loss - oracle_loss) > 0.95
    assert np.trace(shrunk) / p == pytest.approx(population.mean(), rel=0.02)
    # The shrunk eigenvalues stay within the population's range.
    assert shrunk_values.min() > 0.5 and shrunk_values.max() < 6.0


def test_nonlinear_shrinkage_refuses_tiny_samples():
    with pytest.raises(RmtsynthError):
        nonlinear_shrinkage(np.eye(5), 8)


# --------------------------------------------------------------------------------------------
# Two-covariance theory
# --------------------------------------------------------------------------------------------


def test_two_covariance_equals_the_eigenbasis_theory_on_commuting_inputs():
    rng = _rng(2)
    p = 50
    U = _orthogonal(rng, p)
    sigma = rng.uniform(0.05, 4.0, p)
    ell = rng.uniform(0.0, 5.0, p)
    ell[:5] = 0.0  # a rank-deficient synthetic covariance
    mu = rng.standard_normal(p) * 0.25
    mu_beta = 0.7 * mu + rng.standard_normal(p) * 0.15
    model = make_model((U * sigma) @ U.T, (U * ell) @ U.T, mu, mu_beta)
    n = np.array([100, 100, 0, 300, 20, 50, 1, 200])
    m = np.array([0, 400, 300, 30, 2000, 50, 0, 200])
    eps = np.array([0.2, 0.3, 0.1, 0.0, 0.45, 0.8, 0.2, 0.2])
    rho = np.array([1.0, 0.0, 0.3, 1.0, 1.0, 0.2, 1.0, 0.0])
    phi = np.array([1.0, 1.0, 0.9, 1.0, 1.0, 0.7, 1.0, 0.0])  # last: nothing kept
    gamma = np.array([0.1, 1.0, 0.01, 3.0, 0.05, 0.5, 0.2, 0.3])
    dense = evaluate_two_covariance(model, n, m, eps, rho, phi, gamma)
    reference = evaluate(Spectrum.from_eigen(ell, U.T @ mu, U.T @ mu_beta, sigma=sigma), n, m, eps, rho, phi, gamma)
    for name in ("accuracy", "mean", "variance", "second_moment", "risk", "delta_real", "delta_synth"):
        np.testing.assert_allclose(getattr(dense, name), getattr(reference, name), rtol=0, atol=1e-12, err_msg=name)


def test_two_covariance_converges_from_poor_starts():
    rng = _rng(3)
    p = 30
    A = rng.standard_normal((p, p))
    B = rng.standard_normal((p, 2 * p))
    model = make_model(A @ A.T / p, B @ B.T / (2 * p), rng.standard_normal(p) * 0.3, rng.standard_normal(p) * 0.3)
    good = evaluate_two_covariance(model, 60, [10, 100, 500], 0.2, 1.0, 1.0, 0.05)
    for start in (np.zeros((3, 2)), np.full((3, 2), 1e6)):
        other = evaluate_two_covariance(model, 60, [10, 100, 500], 0.2, 1.0, 1.0, 0.05, start=start)
        np.testing.assert_allclose(other.accuracy, good.accuracy, rtol=0, atol=1e-11)
    assert np.all(good.residual <= 1e-12)


def _mc_two_covariance(model, Lr, Ls, n, m, eps, rho, phi, gamma, reps, key):
    """Independent simulation of the ridge on real + verified synthetic rows (N = n + m)."""
    p = model.p
    acc, mean, quad = [], [], []
    for r in range(reps):
        rng = _rng(40, key, r)
        y = rng.choice([-1.0, 1.0], n)
        X = y[:, None] * model.real_mean + rng.standard_normal((n, p)) @ Lr.T
        ys = rng.choice([-1.0, 1.0], m)
        Xs = ys[:, None] * model.synth_mean + rng.standard_normal((m, p)) @ Ls.T
        flipped = rng.random(m) < eps
        kept = np.where(flipped, rng.random(m) < rho, rng.random(m) < phi)
        observed = np.where(flipped, -ys, ys)
        N = n + m
        system = (X.T @ X + Xs[kept].T @ Xs[kept]) / N + gamma * np.eye(p)
        w = np.linalg.solve(system, (X.T @ y + Xs[kept].T @ observed[kept]) / N)
        a = w @ model.real_mean
        b = w @ model.real_cov @ w
        acc.append(ndtr(a / np.sqrt(b)))
        mean.append(a)
        quad.append(b)
    return np.array(acc), np.array(mean), np.array(quad)


def test_two_covariance_matches_gaussian_monte_carlo_with_non_commuting_covariances():
    rng = _rng(4)
    p = 100
    Ur, Us = _orthogonal(rng, p), _orthogonal(rng, p)
    sigma = np.linspace(0.5, 2.0, p)
    ell = np.linspace(0.2, 3.0, p)[::-1]
    real_cov, synth_cov = (Ur * sigma) @ Ur.T, (Us * ell) @ Us.T
    mu_r = Ur[:, :5] @ np.array([0.8, 0.5, 0.3, 0.2, 0.1])
    mu_s = 0.8 * mu_r + 0.5 * Us[:, 0]
    commutator = np.linalg.norm(real_cov @ synth_cov - synth_cov @ real_cov) / np.linalg.norm(real_cov @ synth_cov)
    assert commutator > 0.1
    model = make_model(real_cov, synth_cov, mu_r, mu_s)
    Lr, Ls = Ur * np.sqrt(sigma), Us * np.sqrt(ell)
    points = [
        (120, 0, 0.2, 1.0, 1.0, 0.1),
        (120, 240, 0.2, 1.0, 1.0, 0.1),
        (120, 240, 0.2, 0.0, 1.0, 0.1),
        (60, 480, 0.3, 0.2, 0.9, 0.5),
        (240, 120, 0.1, 1.0, 1.0, 1.0),
        (50, 360, 0.45, 1.0, 1.0, 0.2),
        (0, 360, 0.2, 0.0, 1.0, 0.1),
        (150, 300, 0.6, 1.0, 1.0, 0.3),
        (80, 80, 0.2, 0.5, 0.8, 0.05),
    ]
    reps = 250
    z_scores = []
    for k, (n, m, eps, rho, phi, gamma) in enumerate(points):
        theory = evaluate_two_covariance(model, n, m, eps, rho, phi, gamma)
        acc, mean, quad = _mc_two_covariance(model, Lr, Ls, n, m, eps, rho, phi, gamma, reps, k)
        for simulated, predicted in ((acc, theory.accuracy), (mean, theory.mean), (quad, theory.variance)):
            z = (simulated.mean() - float(predicted)) / (simulated.std(ddof=1) / np.sqrt(reps))
            assert abs(z) <= 3.0, (k, z)
            z_scores.append(z)
    z_scores = np.array(z_scores)
    assert abs(z_scores.mean()) <= 3.0 / np.sqrt(z_scores.size)
    assert np.mean(z_scores**2) < 2.0


def test_kept_rows_parameters_describe_n_plus_k_training_rows():
    m, eps, rho, phi = kept_rows_parameters([0.0, 80.0], 0.6)
    np.testing.assert_allclose(m, [0.0, 80.0])
    np.testing.assert_allclose(eps, 0.2)
    np.testing.assert_allclose(rho, 1.0)
    np.testing.assert_allclose(phi, 1.0)


# --------------------------------------------------------------------------------------------
# Estimators
# --------------------------------------------------------------------------------------------


def _gaussian_classes(rng, rows, mu, factor, offset=0.0):
    y = np.where(np.arange(rows) % 2 == 0, 1.0, -1.0)
    p = mu.shape[0]
    return offset + y[:, None] * mu + rng.standard_normal((rows, p)) @ factor.T, y


def test_g_estimator_with_no_synthetic_rows_is_the_real_only_g_estimator():
    rng = _rng(5)
    p, n = 80, 120
    U = _orthogonal(rng, p)
    factor = U * np.sqrt(np.linspace(0.3, 3.0, p))
    X, y = _gaussian_classes(rng, n, U[:, 0] * 1.2, factor)
    y[:3] = 1.0  # unbalanced classes
    stats = fit_gaussian(X, y)
    real_only = g_estimator(stats, 0.2)
    source = SyntheticSource(mu=np.ones(p), covariance=np.eye(p))
    mixed = g_estimator_two_covariance(stats, source, 0.0, 0.2, 1.0, 1.0, 0.2)
    # The 13.2 formula works with gamma-derivatives, the mixed one with derivatives in the real
    # weight mapped by the chain rule; both estimate the same population quantities. The
    # variance's self-term is k N T in 13.2 and T (k N = 1 for balanced classes) in 13.4.
    assert real_only.A > 0
    expected = real_only.A / np.sqrt(real_only.X * (real_only.M + real_only.T))
    assert float(mixed["ratio"]) == pytest.approx(expected, rel=1e-9)
    balanced = fit_gaussian(X[4:], np.where(np.arange(n - 4) % 2 == 0, 1.0, -1.0))
    a = g_estimator(balanced, 0.2).ratio
    b = g_estimator_two_covariance(balanced, source, 0.0, 0.2, 1.0, 1.0, 0.2)["ratio"]
    assert float(b) == pytest.approx(a, rel=1e-9)


def test_estimate_synthetic_reads_flags_and_corrects_label_noise():
    rng = _rng(6)
    p, rows = 20, 40000
    mu = np.zeros(p)
    mu[0] = 1.0
    X, y_true = _gaussian_classes(rng, rows, mu, np.eye(p), offset=2.0)
    flipped = rng.random(rows) < 0.25
    kept = np.where(flipped, rng.random(rows) < 0.3, rng.random(rows) < 0.9)
    observed = np.where(flipped, -y_true, y_true)
    est = estimate_synthetic(X, observed, label_correct=~flipped, kept=kept)
    se = 0.5 / np.sqrt(rows)
    assert abs(est.label_noise - 0.25) < 4 * np.sqrt(0.25 * 0.75 / rows)
    assert abs(est.rho - 0.3) < 4 * np.sqrt(0.3 * 0.7 / flipped.sum())
    assert abs(est.phi - 0.9) < 4 * np.sqrt(0.9 * 0.1 / (~flipped).sum())
    assert abs(est.mu[0] - 1.0) < 4 * 2 * se
    np.testing.assert_allclose(est.centre, 2.0, atol=0.05)
    # Without flags but with the rate: the flipped labels' moments are corrected.
    corrected = estimate_synthetic(X, observed, label_noise=float(flipped.mean()))
    assert abs(corrected.mu[0] - 1.0) < 0.03
    assert abs(corrected.covariance[0, 0] - 1.0) < 0.05
    naive = estimate_synthetic(X, observed)
    assert naive.mu[0] < 0.6  # (1 - 2 eps) mu without the correction
    by_score = estimate_synthetic(X, observed, label_correct=~flipped, score=kept.astype(float), threshold=0.5)
    assert by_score.rho == est.rho and by_score.phi == est.phi


def test_shape_correction_is_phi_for_gaussian_residuals():
    residuals = _rng(7).standard_normal(200000)
    ratio = np.array([-1.0, 0.0, 0.4, 1.5])
    np.testing.assert_allclose(shape_corrected_accuracy(residuals, ratio), ndtr(ratio), atol=4e-3)


# --------------------------------------------------------------------------------------------
# Prediction against held-out measurement on Gaussian data
# --------------------------------------------------------------------------------------------


def _gaussian_problem():
    rng = _rng(8)
    p = 100
    Ur, Us = _orthogonal(rng, p), _orthogonal(rng, p)
    sigma = np.exp(rng.uniform(np.log(0.3), np.log(3.0), p))
    ell = np.exp(rng.uniform(np.log(0.2), np.log(4.0), p))
    mu_r = Ur[:, :3] @ np.array([0.6, 0.4, 0.3])
    mu_s = 0.9 * mu_r + 0.3 * Us[:, 0]
    scales = np.linspace(0.5, 2.0, p)  # unequal feature scales: the standardisation matters
    X, y = _gaussian_classes(rng, 2000, mu_r, Ur * np.sqrt(sigma), offset=3.0)
    Xs, ys = _gaussian_classes(rng, 1500, mu_s, Us * np.sqrt(ell), offset=-1.0)
    return X * scales, y, Xs * scales, ys


def test_g_estimator_predicts_gaussian_held_out_accuracy():
    X, y, Xs, ys = _gaussian_problem()
    result = measure_heldout(
        X, y, n=300, gamma=0.1, synthetic=dict(features=Xs, labels=ys), m_values=[0, 300, 1500],
        label_noise=0.2, verifiers=["none", "oracle"], splits=50, corrections=("none",),
    )
    z = result["gap_mean"]["none"] / result["gap_se"]["none"]
    assert np.all(np.abs(z) <= 3.0), z
    # Unverified rows (eps = 0.2) cost accuracy against the oracle's, and the prediction says so.
    measured = result["measured_mean"]
    predicted = result["predicted_mean"]["none"]
    assert np.all(measured[1, 1:] > measured[0, 1:] + 0.01)
    assert np.all(predicted[1, 1:] > predicted[0, 1:] + 0.01)


def test_predict_heldout_interface():
    X, y, Xs, ys = _gaussian_problem()
    out = predict_heldout(X[:300], y[:300], gamma=0.1)
    assert set(out) >= {"m", "accuracy", "accuracy_gaussian", "ratio", "mean", "variance"}
    assert 0.5 < float(out["accuracy"][0]) < 1.0
    flipped = _rng(9).random(ys.size) < 0.2
    pool = dict(features=Xs, labels=np.where(flipped, -ys, ys), label_correct=~flipped, kept=~flipped)
    est = predict_heldout(X[:300], y[:300], synthetic=pool, gamma=0.1, m_values=[0, 500])
    oracle = predict_heldout(X[:300], y[:300], synthetic=pool, gamma=0.1, m_values=[0, 500], verifier="oracle")
    # Kept flags equal to the correctness flags are an oracle: (rho, phi) = (0, 1).
    assert float(est["rho"][0]) == 0.0 and float(est["phi"][0]) == 1.0
    np.testing.assert_allclose(est["accuracy"], oracle["accuracy"], rtol=0, atol=1e-12)
    for est_name in ("nls", "plugin"):
        for correction in ("none", "score-shape", "cross-fit"):
            got = predict_heldout(X[:300], y[:300], synthetic=pool, gamma=0.1, m_values=[0, 500],
                                  estimator=est_name, correction=correction)
            assert np.all((got["accuracy"] > 0.5) & (got["accuracy"] <= 1.0))
    with pytest.raises(RmtsynthError):
        predict_heldout(X[:300], y[:300], gamma=0.1, m_values=[10])
    with pytest.raises(RmtsynthError):
        predict_heldout(X[:300], y[:300], gamma=0.1, estimator="magic")
    with pytest.raises(RmtsynthError):
        predict_heldout(X[:300], y[:300], gamma=0.1, correction="magic")
