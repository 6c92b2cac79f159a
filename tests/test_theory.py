"""Deterministic checks of the theory: closed forms, the dense oracle, the solver's residual."""

from __future__ import annotations

import numpy as np
import pytest

from rmtsynth.core.closed_forms import (
    infinite_sample_accuracy,
    marchenko_pastur_atom,
    marchenko_pastur_density,
    marchenko_pastur_support,
    slope_at_eps_star,
    synthetic_only,
)
from rmtsynth.errors import ConvergenceError, ParameterError, RmtsynthError
from rmtsynth.core.domain import check_point
from rmtsynth.core.two_covariance import evaluate_two_covariance, make_model
from rmtsynth.core.fixed_point import monotone_newton
from rmtsynth.core.theory import Spectrum, _mp_traces, evaluate, evaluate_estimated, signed_accuracy
from rmtsynth.core.dense_oracle import evaluate_dense
from rmtsynth.core.verifiers.rates import eps_star


def _random_problem(rng, p, rank=None, noise=False):
    A = rng.standard_normal((p, rank or 2 * p))
    cov = A @ A.T / A.shape[1]
    mu = rng.standard_normal(p)
    mu *= rng.uniform(0.5, 2.0) / np.linalg.norm(mu)
    mu_beta = rng.uniform(0.3, 1.2) * mu + 0.4 * rng.standard_normal(p) / np.sqrt(p)
    sigma = None
    if noise:
        # A covariance that commutes with C: same eigenvectors, another spectrum.
        ell, U = np.linalg.eigh(cov)
        sig = rng.uniform(0.3, 3.0, p)
        sigma = (U * sig) @ U.T
    return cov, mu, mu_beta, sigma


@pytest.mark.parametrize("noise", [False, True])
def test_eigenbasis_formula_equals_dense_oracle(noise):
    rng = np.random.default_rng(1)
    worst = 0.0
    for trial in range(12):
        p = int(rng.integers(5, 40))
        cov, mu, mu_beta, sigma = _random_problem(rng, p, rank=int(rng.integers(p // 2, 3 * p)), noise=noise)
        ell, U = np.linalg.eigh(cov)
        sig = None if sigma is None else np.einsum("ij,jk,ki->i", U.T, sigma, U)
        spec = Spectrum.from_eigen(ell, U.T @ mu, U.T @ mu_beta, sigma=sig)
        n = float(rng.integers(0, 80))
        m = float(rng.integers(1, 200))
        eps, rho, phi = rng.uniform(0, 1, 3)
        gamma = float(10 ** rng.uniform(-1, 1))
        fast = evaluate(spec, n, m, eps, rho, phi, gamma)
        slow = evaluate_dense(cov, mu, mu_beta, n, m, eps, rho, phi, gamma, noise_cov=sigma)
        for key in ("mean", "second_moment", "variance", "risk", "delta_real", "delta_synth", "accuracy"):
            a, b = float(getattr(fast, key)), slow[key]
            worst = max(worst, abs(a - b) / max(abs(b), 1e-3))
    assert worst < 1e-9


def test_dense_oracle_raises_when_its_iteration_does_not_converge():
    rng = np.random.default_rng(4)
    cov, mu, mu_beta, _ = _random_problem(rng, 20)
    converged = evaluate_dense(cov, mu, mu_beta, 30, 60, 0.2, 0.3, 0.9, 0.01)
    assert converged["iterations"] > 2
    with pytest.raises(ConvergenceError, match="did not converge in 2 steps"):
        evaluate_dense(cov, mu, mu_beta, 30, 60, 0.2, 0.3, 0.9, 0.01, max_iter=2)
    with pytest.raises(ConvergenceError, match="non-finite"):
        evaluate_dense(cov, mu, mu_beta, 30, 60, 0.2, 0.3, 0.9, float("nan"))
    # A solver failure is an input error to the command line and an ArithmeticError to numerical code.
    assert issubclass(ConvergenceError, RmtsynthError) and issubclass(ConvergenceError, ArithmeticError)


def test_dense_oracle_keeps_the_sign_of_the_accuracy():
    p = 30
    mu = np.zeros(p)
    mu[0] = 1.0
    # Synthetic data only, eps above eps* = 0.727: lambda < 0 and the classifier points the wrong way.
    wrong = evaluate_dense(np.eye(p), mu, mu, 0, 300, 0.9, 0.3, 0.8, 1.0)
    closed = synthetic_only(p, 300, 1.0, 0.9, 0.3, 0.8, 1.0)
    assert wrong["mean"] < 0 and wrong["accuracy"] < 0.5
    assert wrong["accuracy"] == pytest.approx(float(closed["accuracy"]), abs=1e-9)
    # Nothing kept and no real data: the null classifier, exactly 1/2.
    null = evaluate_dense(np.eye(p), mu, mu, 0, 300, 0.4, 0.0, 0.0, 1.0)
    assert null["mean"] == 0.0 and null["variance"] == 0.0 and null["accuracy"] == 0.5
    for res in (wrong, null, evaluate_dense(np.eye(p), mu, mu, 10, 300, 0.1, 0.3, 0.8, 1.0)):
        assert res["accuracy"] == float(signed_accuracy(res["mean"], res["variance"]))


def test_synthetic_only_closed_form_equals_general():
    rng = np.random.default_rng(2)
    K = 500
    p = 200
    m = rng.integers(10, 5000, K).astype(float)
    mu = rng.uniform(0.1, 3, K)
    eps, rho, phi = rng.uniform(0, 1, (3, K))
    gamma = 10 ** rng.uniform(-3, 2, K)
    closed = synthetic_only(p, m, mu, eps, rho, phi, gamma)
    worst = 0.0
    for k in range(K):
        gen = evaluate(Spectrum.isotropic(p, mu[k]), 0, m[k], eps[k], rho[k], phi[k], gamma[k])
        for key in ("mean", "second_moment", "accuracy"):
            worst = max(worst, abs(float(getattr(gen, key)) - closed[key][k]) / max(abs(closed[key][k]), 1e-3))
        worst = max(worst, abs(float(gen.delta_synth) - closed["delta_synth"][k]) / closed["delta_synth"][k])
    assert worst < 1e-10


def _toy_closed_form_by_hand(p, n_hat, mu_norm, n, m, eps, rho, phi, gamma, delta, delta_s):
    """Section 7's own closed form (mu_beta = mu), written out from the text, at a given fixed point."""
    N = n + m
    pi, eta, cH = n / N, p / N, p / n_hat
    alpha = phi * (1 - eps) + rho * eps
    lam = phi * (1 - eps) - rho * eps
    c = alpha * (1 - pi)
    u, us = 1 / (1 + delta), 1 / (1 + delta_s)
    s, k = gamma + pi * u, c * us
    B = s + k - k * cH
    b = (B + np.sqrt(B**2 + 4 * s * k * cH)) / 2
    db = k * cH / b
    hb = 1 - cH * k**2 / ((1 + db) ** 2 * b**2)
    t1 = eta / (b**2 * hb)
    t3 = eta / (b**2 * hb * (1 + db) ** 2)
    t2 = eta * (1 + s**2 * cH / (b**2 * hb)) / (b**2 * (1 + db) ** 2)
    a1, a2, b1, b2 = pi * u**2 * t1, pi * u**2 * t3, c * us**2 * t3, c * us**2 * t2
    h = (1 - a1) * (1 - b2) - a2 * b1
    X, Y = (1 - b2) / h, b1 / h
    Y_lam = lam * (1 - pi) * us**2 * t3 / h
    mu2 = mu_norm**2
    S = pi * u + c * us
    E = b + S * mu2
    xi = pi * u + (1 - pi) * lam * us
    P = xi * mu2 / E
    q2 = xi**2 * mu2 / (hb * E**2)
    qC = xi**2 * mu2 / (hb * (1 + db) ** 2 * E**2)
    m2 = (X - 1) + Y + X * (P**2 + q2) + Y * (P**2 + qC) - 2 * (X - 1) * P - 2 * Y_lam * P
    return P, m2, delta, eta / b, eta / (b * (1 + db))


def test_estimated_closed_form_matches_section_7_by_hand():
    rng = np.random.default_rng(3)
    worst = 0.0
    for _ in range(300):
        p = int(rng.integers(10, 2000))
        n_hat = float(rng.integers(10, 5000))
        n = float(rng.integers(0, 3000))
        m = float(rng.integers(1, 20000))
        mu_norm = rng.uniform(0.1, 2.5)
        eps, rho, phi = rng.uniform(0, 1, 3)
        gamma = float(10 ** rng.uniform(-2, 1))
        r = evaluate_estimated(p, n_hat, mu_norm, n, m, eps, rho, phi, gamma)
        P, m2, delta, fp_delta, fp_delta_s = _toy_closed_form_by_hand(
            p, n_hat, mu_norm, n, m, eps, rho, phi, gamma, float(r.delta_real), float(r.delta_synth)
        )
        worst = max(
            worst,
            abs(float(r.mean) - P) / max(abs(P), 1e-3),
            abs(float(r.second_moment) - m2) / m2,
            abs(fp_delta - float(r.delta_real)) / float(r.delta_real),
            abs(fp_delta_s - float(r.delta_synth)) / float(r.delta_synth),
        )
    assert worst < 1e-10


def test_mp_jacobian_is_the_derivative_of_the_map():
    """The traces used as the Jacobian of the estimated-covariance fixed point match finite differences."""
    rng = np.random.default_rng(4)
    for _ in range(50):
        cH = 10 ** rng.uniform(-2, 1)
        eta, pi, c, gamma = 10 ** rng.uniform(-2, 1), rng.uniform(0, 1), rng.uniform(0.01, 1), 10 ** rng.uniform(-2, 1)

        def F(x):
            u, us = 1 / (1 + x[0]), 1 / (1 + x[1])
            b, db, hb, tr, *_ = _mp_traces(np.array([gamma + pi * u]), np.array([c * us]), cH)
            return np.array([eta * tr[0], eta * tr[0] / (1 + db[0])])

        x = rng.uniform(0.1, 3, 2)
        u, us = 1 / (1 + x[0]), 1 / (1 + x[1])
        b, db, hb, tr, tr2, trc2, trcc2 = _mp_traces(np.array([gamma + pi * u]), np.array([c * us]), cH)
        J = np.array(
            [
                [pi * u**2 * eta * tr2[0], c * us**2 * eta * trc2[0]],
                [pi * u**2 * eta * trc2[0], c * us**2 * eta * trcc2[0]],
            ]
        )
        h = 1e-6
        Jn = np.column_stack([(F(x + h * e) - F(x - h * e)) / (2 * h) for e in np.eye(2)])
        np.testing.assert_allclose(J, Jn, rtol=1e-6, atol=1e-9)


def _independent_residual(spec, n, m, eps, rho, phi, gamma, delta, delta_s):
    N = n + m
    pi = n / N
    alpha = phi * (1 - eps) + rho * eps
    c = alpha * (1 - pi)
    d = gamma[:, None] + (pi / (1 + delta))[:, None] * spec.sigma + (c / (1 + delta_s))[:, None] * spec.ell
    F0 = (spec.mult * spec.sigma / d).sum(1) / N
    F1 = (spec.mult * spec.ell / d).sum(1) / N
    scale = np.maximum(np.abs(delta), np.abs(delta_s))
    return np.maximum(np.abs(F0 - delta), np.abs(F1 - delta_s)) / scale


def test_fixed_point_residual_on_random_grid():
    rng = np.random.default_rng(5)
    p = 200
    A = rng.standard_normal((p, p // 2))
    ell, U = np.linalg.eigh(A @ A.T / (p // 2))  # rank-deficient C
    mu = rng.standard_normal(p)
    spec = Spectrum.from_eigen(ell, U.T @ mu, U.T @ (0.7 * mu + rng.standard_normal(p) * 0.1))
    K = 12_000
    N = p / 10 ** rng.uniform(-3, 1, K)  # p/N up to 10
    pi = rng.uniform(0, 1, K)
    pi[:200] = 0.0
    pi[200:400] = 1.0
    n = pi * N
    m = N - n
    eps, rho, phi = rng.uniform(0, 1, (3, K))
    rho[400:600] = 0.0
    phi[400:600] = 0.0  # alpha = 0: everything pruned
    gamma = 10 ** rng.uniform(-8, 3, K)
    r = evaluate(spec, n, m, eps, rho, phi, gamma)
    res = _independent_residual(spec, n, m, eps, rho, phi, gamma, r.delta_real, r.delta_synth)
    assert np.all(np.isfinite(r.accuracy))
    assert res.max() <= 1e-12
    assert np.all(r.variance >= 0)
    assert r.newton_rounds.max() <= 60


def test_estimated_fixed_point_residual_on_random_grid():
    rng = np.random.default_rng(6)
    K = 10_000
    p = 300
    N = p / 10 ** rng.uniform(-3, 1, K)
    pi = rng.uniform(0, 1, K)
    n, m = pi * N, (1 - pi) * N
    n_hat = p / 10 ** rng.uniform(-2, 1, K)
    eps, rho, phi = rng.uniform(0, 1, (3, K))
    gamma = 10 ** rng.uniform(-8, 3, K)
    r = evaluate_estimated(p, n_hat, 1.0, n, m, eps, rho, phi, gamma)
    # Recompute the map from the closed form of section 7.
    d, ds = r.delta_real, r.delta_synth
    alpha = phi * (1 - eps) + rho * eps
    c = alpha * (1 - n / N)
    b, db, *_ = _mp_traces(gamma + (n / N) / (1 + d), c / (1 + ds), p / n_hat)
    eta = p / N
    res = np.maximum(np.abs(eta / b - d), np.abs(eta / (b * (1 + db)) - ds)) / np.maximum(d, ds)
    assert res.max() <= 1e-12
    assert np.all(np.isfinite(r.accuracy))


def test_identity_grouping_equals_per_direction_spectrum():
    p = 64
    mu = np.zeros(p)
    mu[0] = 1.3
    mu_beta = 0.8 * mu
    mu_beta[1] = 0.5
    grouped = Spectrum.isotropic(p, 1.3, alignment=0.8, shift=0.5, scale=1.7)
    full = Spectrum.from_eigen(np.full(p, 1.7), mu, mu_beta)
    args = (np.array([0, 50, 300]), 400, 0.3, 0.2, 0.9, np.array([[0.01], [1.0]]))
    a, b = evaluate(grouped, *args), evaluate(full, *args)
    np.testing.assert_allclose(a.accuracy, b.accuracy, rtol=1e-12)
    np.testing.assert_allclose(a.second_moment, b.second_moment, rtol=1e-12)
    assert a.accuracy.shape == (2, 3)


def test_accuracy_is_half_at_eps_star_for_synthetic_only():
    rho, phi = 0.3, 0.8
    e_star = float(eps_star(rho, phi))
    r = evaluate(Spectrum.isotropic(100, 1.0), 0, np.array([10, 100, 1e4, 1e6]), e_star, rho, phi, 1.0)
    np.testing.assert_allclose(r.accuracy, 0.5, atol=1e-12)
    below = evaluate(Spectrum.isotropic(100, 1.0), 0, 1000, e_star - 0.05, rho, phi, 1.0)
    above = evaluate(Spectrum.isotropic(100, 1.0), 0, 1000, e_star + 0.05, rho, phi, 1.0)
    assert below.accuracy > 0.5 > above.accuracy


def test_phase_transition_sharpens_to_the_infinite_sample_step():
    rho, phi, mu = 0.3, 0.8, 1.0
    e_star = float(eps_star(rho, phi))
    spec = Spectrum.isotropic(100, mu)
    phi_mu = 0.8413447460685429  # Phi(|mu|) for |mu| = 1
    for delta, target in ((-0.01, phi_mu), (0.01, 1 - phi_mu)):
        limit = infinite_sample_accuracy(spec, e_star + delta, rho, phi, 1.0)
        assert abs(limit - target) < 1e-12
        gaps = [abs(float(evaluate(spec, 0, 100 / r, e_star + delta, rho, phi, 1.0).accuracy) - limit) for r in (1e-6, 1e-8)]
        # The finite-m correction is of order p/m: it shrinks a hundredfold with p/m.
        assert gaps[1] < 1e-4
        assert gaps[1] < gaps[0] / 50


def test_slope_formula_matches_numerical_derivative():
    rho, phi, gamma = 0.3, 0.8, 1.0
    e_star = float(eps_star(rho, phi))
    for ratio in (1e-2, 1e-3, 1e-4):
        m = 100 / ratio
        h = 1e-7
        acc = synthetic_only(100, m, 1.0, [e_star - h, e_star + h], rho, phi, gamma)["accuracy"]
        numeric = (acc[1] - acc[0]) / (2 * h)
        assert numeric == pytest.approx(float(slope_at_eps_star(ratio, 1.0, rho, phi, gamma)), rel=0.02)


def test_marchenko_pastur_density_mass():
    from scipy.integrate import quad

    for ratio in (0.01, 0.1, 1.0, 2.0, 5.0):
        lo, hi = marchenko_pastur_support(ratio)
        mass, _ = quad(lambda x: float(marchenko_pastur_density(x, ratio)), lo, hi, limit=500, points=[1.0])
        assert mass + marchenko_pastur_atom(ratio) == pytest.approx(1.0, abs=1e-6)


def test_signed_accuracy_edges():
    assert signed_accuracy(0.0, 0.0) == 0.5
    assert signed_accuracy(1.0, 0.0) == 1.0
    assert signed_accuracy(-1.0, 0.0) == 0.0
    assert signed_accuracy(-1.0, 1.0) < 0.5


def test_everything_pruned_is_finite():
    r = evaluate(Spectrum.isotropic(50, 1.0), 100, 400, 0.3, 0.0, 0.0, 1.0)
    ref = evaluate(Spectrum.isotropic(50, 1.0), 100, 400, 0.3, 0.0, 1e-300, 1.0)
    assert np.isfinite(r.accuracy) and r.accuracy == pytest.approx(float(ref.accuracy), abs=1e-12)
    nothing = evaluate(Spectrum.isotropic(50, 1.0), 0, 400, 0.3, 0.0, 0.0, 1.0)
    assert nothing.accuracy == 0.5


def test_invalid_grid_values_name_the_parameter():
    with pytest.raises(RmtsynthError, match="gamma"):
        evaluate(Spectrum.isotropic(5, 1.0), 10, 10, 0.1, 0.1, 0.9, 0.0)
    with pytest.raises(RmtsynthError, match="label_noise"):
        evaluate(Spectrum.isotropic(5, 1.0), 10, 10, 1.5, 0.1, 0.9, 1.0)
    with pytest.raises(RmtsynthError, match="n \\+ m"):
        evaluate(Spectrum.isotropic(5, 1.0), 0, 0, 0.1, 0.1, 0.9, 1.0)


def test_one_domain_check_names_the_parameter_and_its_range():
    check_point(np.array([0.0, 3.0]), 2, 0.0, 1.0, 0.5, 1e-3)
    cases = (
        (dict(n=-1), "n has an invalid value (-1); n must be >= 0."),
        (dict(n=0, m=0), "n + m has an invalid value (0); n + m must be > 0."),
        (dict(rho=1.5), "rho has an invalid value (1.5); it must be between 0 and 1."),
        (dict(gamma=np.array([1.0, np.inf, -1.0])), "gamma has an invalid value (inf); it must be > 0."),
        (dict(m=2.5, whole_counts=True), "m has an invalid value (2.5); m must be a whole number >= 0."),
        (dict(p=0), "p has an invalid value (0); it must be a whole number > 0."),
    )
    for change, message in cases:
        point = dict(n=10, m=5, label_noise=0.1, rho=0.2, phi=0.9, gamma=1.0) | change
        with pytest.raises(ParameterError) as info:
            check_point(**point)
        assert str(info.value) == message
        assert isinstance(info.value, ValueError)


def test_both_theories_refuse_a_point_outside_the_domain_alike():
    p = 4
    model = make_model(np.eye(p), np.eye(p), np.ones(p), np.ones(p))
    for evaluate_one in (
        lambda phi: evaluate(Spectrum.isotropic(p, 1.0), 10, 10, 0.1, 0.1, phi, 1.0),
        lambda phi: evaluate_two_covariance(model, 10, 10, 0.1, 0.1, phi, 1.0),
    ):
        with pytest.raises(ParameterError, match=r"^phi has an invalid value \(-0.5\); it must be between 0 and 1\.$"):
            evaluate_one(-0.5)


def test_solver_raises_a_named_error_instead_of_hanging():
    def bad_map(x, idx):
        # Not a standard interference function: x -> x + 1 has no fixed point.
        return x + 1.0, np.zeros((x.shape[0], 2, 2))

    with pytest.raises(ConvergenceError, match="point 0"):
        monotone_newton(bad_map, np.ones((1, 2)), 1e-14, lambda k: f"point {k}")
