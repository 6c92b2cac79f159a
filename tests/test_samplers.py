"""The exact sampler of (S, r) against the naive one, the moment formulas, and simulate_point."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp

from rmtsynth.core.model import Covariance, DataModel, Mix, ModelSpec, build_model
from rmtsynth.sim.samplers import (
    dense_factor,
    draw_generator,
    ridge_weights,
    ridge_weights_from_data,
    sample_exact,
    sample_naive,
)
from rmtsynth.sim.monte_carlo import SimulationResult, conditional_accuracy, simulate_point

# ---------------------------------------------------------------------------------------------
# Helpers


def _wishart_cov(p: int, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """C = A A^T / K with A of size p x K, K = ratio * p (rank min(p, K))."""
    k = max(1, int(round(ratio * p)))
    a = rng.standard_normal((p, k))
    return a @ a.T / k


def _log_uniform_diag(p: int, rng: np.random.Generator) -> np.ndarray:
    return np.exp(rng.uniform(np.log(0.2), np.log(5.0), size=p))


def _model(p: int, kind: str, *, seed: int = 7, **kwargs) -> DataModel:
    rng = np.random.default_rng(seed)
    extra: dict = {}
    if kind == "file":
        extra["matrix"] = _wishart_cov(p, kwargs.pop("ratio", 2.0), rng)
    elif kind == "diagonal":
        extra["eigenvalues"] = _log_uniform_diag(p, rng)
    return build_model(
        p,
        kwargs.pop("mu_norm", 1.5),
        kwargs.pop("alignment", 0.8),
        kwargs.pop("shift", 0.5),
        kind,  # type: ignore[arg-type]
        rng=rng,
        **extra,
        **kwargs,
    )


def _compare(a: np.ndarray, b: np.ndarray, label: str) -> None:
    """Means (z-test), standard deviations (ratio vs its SE) and a two-sample KS test."""
    ra, rb = len(a), len(b)
    se = np.sqrt(a.var(ddof=1) / ra + b.var(ddof=1) / rb)
    z = (a.mean() - b.mean()) / se if se > 0 else 0.0
    assert abs(z) < 4, f"{label}: mean {a.mean():.6g} vs {b.mean():.6g}, z = {z:.2f}"
    sd_a, sd_b = a.std(ddof=1), b.std(ddof=1)
    if sd_a > 0 or sd_b > 0:
        ratio = sd_b / sd_a
        bound = 4 * np.sqrt(1 / (2 * min(ra, rb))) * np.sqrt(2)
        assert abs(ratio - 1) < bound, f"{label}: sd ratio {ratio:.3f} (bound {bound:.3f})"
    ks = ks_2samp(a, b)
    assert ks.pvalue > 1e-3, f"{label}: KS D = {ks.statistic:.4f}, p = {ks.pvalue:.2e}"


# (model, n, m, eps, rho, phi, gamma, replicates, real noise factor)
def _configs() -> dict[str, tuple]:
    p30 = 30
    real_diag = np.sqrt(_log_uniform_diag(20, np.random.default_rng(11)))
    return {
        "dense-full": (_model(p30, "file", ratio=2.0), 60, 400, 0.3, 0.4, 0.7, 0.5, 2500, None),
        "moderate-dense": (_model(60, "file", ratio=2.0), 100, 500, 0.3, 0.4, 0.7, 0.5, 800, None),
        "dense-rank-half": (_model(20, "file", ratio=0.5), 30, 200, 0.4, 0.3, 0.8, 0.2, 2500, None),
        "diagonal": (_model(p30, "diagonal"), 40, 300, 0.1, 0.3, 0.8, 1.0, 2500, None),
        "estimated-q<p-mean": (_model(p30, "estimated", n_hat=15, estimate_mean=True), 50, 300, 0.2, 0.5, 0.9, 0.5,
                               2500, None),
        "estimated-q>p": (_model(p30, "estimated", n_hat=80), 30, 250, 0.2, 0.5, 0.9, 0.5, 2500, None),
        "rho0": (_model(p30, "identity"), 60, 400, 0.3, 0.0, 0.7, 0.5, 2500, None),
        "tiny": (_model(5, "identity"), 4, 3, 0.4, 0.5, 0.6, 1.0, 6000, None),
        "n0": (_model(20, "file", ratio=2.0), 0, 200, 0.3, 0.4, 0.7, 0.5, 2500, None),
        "n1": (_model(20, "scaled", covariance_scale=2.0), 1, 150, 0.25, 0.4, 0.7, 0.5, 2500, None),
        "kept<p": (_model(40, "diagonal"), 50, 30, 0.3, 0.5, 0.6, 0.5, 2500, None),
        "m0": (_model(10, "identity"), 30, 0, 0.3, 0.5, 0.6, 0.5, 2500, None),
        "real-noise": (_model(20, "scaled", covariance_scale=0.5), 40, 150, 0.2, 0.3, 0.9, 0.5, 2500, real_diag),
    }


CONFIGS = _configs()


# ---------------------------------------------------------------------------------------------
# Exact vs naive, in distribution


@pytest.mark.parametrize("name", list(CONFIGS))
def test_exact_matches_naive_in_distribution(name: str) -> None:
    model, n, m, eps, rho, phi, gamma, reps, real_factor = CONFIGS[name]
    common = dict(replicates=reps, noise_cov_factor=real_factor)
    naive = simulate_point(model, Mix(n, m, eps, rho, phi, gamma), np.random.SeedSequence(1001), sampler="naive", **common)
    exact = simulate_point(model, Mix(n, m, eps, rho, phi, gamma), np.random.SeedSequence(2002), sampler="exact", **common)
    _compare(naive.w_dot_mu, exact.w_dot_mu, f"{name} w.mu")
    _compare(naive.w_norm2, exact.w_norm2, f"{name} |w|^2")
    _compare(naive.accuracy, exact.accuracy, f"{name} acc")
    if real_factor is not None:
        _compare(naive.w_sigma_w, exact.w_sigma_w, f"{name} w'Sigma w")


# ---------------------------------------------------------------------------------------------
# Exact first moments of S and r


def _expected_moments(mu, mu_beta, cov, real_cov, n, m, eps, rho, phi):
    alpha = phi * (1 - eps) + rho * eps
    lam = phi * (1 - eps) - rho * eps
    e_s = n * (np.outer(mu, mu) + real_cov) + m * alpha * (np.outer(mu_beta, mu_beta) + cov)
    e_r = n * mu + m * lam * mu_beta
    return e_s, e_r


@pytest.mark.parametrize("sampler", [sample_naive, sample_exact], ids=["naive", "exact"])
@pytest.mark.parametrize("case", ["dense", "diag-real-noise", "scaled-rho0-n0", "estimated-factor"])
def test_first_moments(sampler, case: str) -> None:
    p = 4
    rng = np.random.default_rng(5)
    mu = rng.normal(size=p)
    mu_beta = 0.7 * mu + 0.4 * rng.normal(size=p)
    real_factor = None
    real_cov = np.eye(p)
    if case == "dense":
        cov = _wishart_cov(p, 0.75, rng)  # rank 3 < p
        factor = dense_factor(cov)
        n, m, eps, rho, phi = 3, 10, 0.3, 0.4, 0.7
    elif case == "diag-real-noise":
        diag = _log_uniform_diag(p, rng)
        cov, factor = np.diag(diag), np.sqrt(diag)
        real_factor = rng.normal(size=(p, 6)) / np.sqrt(6)
        real_cov = real_factor @ real_factor.T
        n, m, eps, rho, phi = 1, 5, 0.2, 0.6, 0.9
    elif case == "scaled-rho0-n0":
        cov, factor = 2.25 * np.eye(p), 1.5
        n, m, eps, rho, phi = 0, 7, 0.3, 0.0, 0.8
    else:
        factor = rng.normal(size=(p, 9)) / 3.0  # p x q with q > p
        cov = factor @ factor.T
        n, m, eps, rho, phi = 6, 12, 0.45, 0.5, 0.5
    reps = 4000
    iu = np.triu_indices(p)
    s_draws = np.empty((reps, len(iu[0])))
    r_draws = np.empty((reps, p))
    draw_rng = np.random.default_rng(99)
    model = DataModel(ModelSpec(p, float(np.linalg.norm(mu))), mu=mu, mean=mu_beta)
    mix = Mix(n, m, eps, rho, phi, 0.1)
    for i in range(reps):
        s, r = sampler(model, mix, draw_rng, generator=(mu_beta, factor), real_factor=real_factor)
        s_draws[i] = s[iu]
        r_draws[i] = r
    e_s, e_r = _expected_moments(mu, mu_beta, cov, real_cov, n, m, eps, rho, phi)
    for draws, target, label in ((s_draws, e_s[iu], "S"), (r_draws, e_r, "r")):
        se = draws.std(axis=0, ddof=1) / np.sqrt(reps)
        z = (draws.mean(axis=0) - target) / se
        assert np.max(np.abs(z)) < 5, f"E[{label}]: z = {np.round(z, 2)}"


def _moment_variances(mu, mu_beta, cov, real_cov, n, m, eps, rho, phi):
    """Var(S) entrywise and Var(r), from the per-sample laws (sums of independent samples).

    For x ~ N(a, K): Var(x_i x_j) = K_ii K_jj + K_ij^2 + a_i^2 K_jj + a_j^2 K_ii + 2 a_i a_j K_ij
    (the label's sign does not change it). A synthetic sample enters S as B x x^T and r as B s y x
    with (B, s) independent of x: B ~ Bernoulli(alpha) keeps it, s = -1 if its label was flipped;
    E[B] = E[B^2] = alpha and E[B s] = lambda.
    """
    alpha = phi * (1 - eps) + rho * eps
    lam = phi * (1 - eps) - rho * eps

    def var_xx(a, k):
        d = np.diag(k)
        return np.outer(d, d) + k**2 + np.outer(a**2, d) + np.outer(d, a**2) + 2 * np.outer(a, a) * k

    mean_syn = np.outer(mu_beta, mu_beta) + cov
    var_s = n * var_xx(mu, real_cov) + m * (alpha * (var_xx(mu_beta, cov) + mean_syn**2) - alpha**2 * mean_syn**2)
    var_r = n * np.diag(real_cov) + m * (alpha * (mu_beta**2 + np.diag(cov)) - lam**2 * mu_beta**2)
    return var_s, var_r


def test_exact_sampler_law_of_large_numbers_at_huge_sizes() -> None:
    # Sizes far beyond what the naive sampler could draw: the exact one's cost is free of n, m.
    # One draw of (S, r) sits within a few of its own standard deviations of the mean, which at
    # N = 1.1e10 is about 1e-5 of N: a bound on that scale, not a loose relative one.
    p, n, m, eps, rho, phi = 6, 10**9, 10**10, 0.2, 0.1, 0.9
    rng = np.random.default_rng(3)
    mu = rng.normal(size=p)
    mu_beta = 0.5 * mu + rng.normal(size=p)
    diag = _log_uniform_diag(p, rng)
    model = DataModel(ModelSpec(p, float(np.linalg.norm(mu))), mu=mu, mean=mu_beta)
    mix = Mix(n, m, eps, rho, phi, 0.1)
    s, r = sample_exact(model, mix, rng, generator=(mu_beta, np.sqrt(diag)))
    e_s, e_r = _expected_moments(mu, mu_beta, np.diag(diag), np.eye(p), n, m, eps, rho, phi)
    var_s, var_r = _moment_variances(mu, mu_beta, np.diag(diag), np.eye(p), n, m, eps, rho, phi)
    iu = np.triu_indices(p)
    z_s = (s - e_s)[iu] / np.sqrt(var_s[iu])
    z_r = (r - e_r) / np.sqrt(var_r)
    assert np.max(np.abs(z_s)) < 5, f"S: z = {np.round(z_s, 2)}"
    assert np.max(np.abs(z_r)) < 5, f"r: z = {np.round(z_r, 2)}"
    assert np.allclose(s, s.T)


# ---------------------------------------------------------------------------------------------
# Generators, ridge, accuracy


def _as_matrix(factor, p: int) -> np.ndarray:
    if factor is None:
        return np.eye(p)
    if np.ndim(factor) == 0:
        return float(factor) * np.eye(p)
    return np.diag(factor) if np.ndim(factor) == 1 else np.asarray(factor)


def _ones_model(p: int, cov: Covariance) -> DataModel:
    return DataModel(spec=ModelSpec(p, np.sqrt(p), 1.0, 0.0, cov), mu=np.ones(p), mean=np.ones(p))


def test_draw_generator_factors_reproduce_covariance() -> None:
    p = 12
    rng = np.random.default_rng(1)
    for kind, extra, cov in [
        ("identity", {}, np.eye(p)),
        ("scaled", {"scale": 3.0}, 3.0 * np.eye(p)),
        ("diagonal", {"eigenvalues": np.arange(1.0, p + 1)}, np.diag(np.arange(1.0, p + 1))),
    ]:
        model = _ones_model(p, Covariance(kind, **extra))
        mean, factor = draw_generator(model, rng)
        assert np.array_equal(mean, np.ones(p))
        f = _as_matrix(factor, p)
        np.testing.assert_allclose(f @ f.T, cov, atol=1e-12)

    singular = _wishart_cov(p, 0.5, rng)  # rank 6
    model = _ones_model(p, Covariance("file", matrix=singular))
    _, f1 = draw_generator(model, rng)
    _, f2 = draw_generator(model, rng)
    assert f1 is f2, "the dense factor is computed once per matrix"
    assert f1.shape == (p, 6)
    np.testing.assert_allclose(f1 @ f1.T, singular, atol=1e-12)

    est = _ones_model(p, Covariance("estimated", n_hat=5, estimate_mean=True))
    mean_a, fa = draw_generator(est, np.random.default_rng(4))
    mean_b, fb = draw_generator(est, np.random.default_rng(5))
    assert fa.shape == (p, 5) and not np.allclose(fa, fb), "a fresh C per draw"
    assert not np.allclose(mean_a, np.ones(p))
    # The mean error is Z v / n_hat with the same Z that gives C = Z Z^T / n_hat.
    z = fa * np.sqrt(5)
    signs = np.linalg.pinv(z) @ (mean_a - 1.0) * 5
    np.testing.assert_allclose(np.abs(signs), 1.0, atol=1e-8)


def test_ridge_weights_gamma_array_matches_scalar() -> None:
    p, n, m = 30, 20, 25  # N < p, so S is singular
    rng = np.random.default_rng(8)
    mu = np.zeros(p)
    mu[0] = 1.0
    s, r = sample_exact(DataModel(ModelSpec(p, 1.0), mu=mu, mean=mu), Mix(n, m, 0.2, 0.3, 0.9, 0.1), rng)
    gammas = np.array([1e-2, 0.1, 1.0, 10.0])
    batch = ridge_weights(s, r, n + m, gammas)
    assert batch.shape == (len(gammas), p)
    for g, w in zip(gammas, batch):
        np.testing.assert_allclose(w, ridge_weights(s, r, n + m, float(g)), rtol=1e-10, atol=1e-12)
    w = ridge_weights(s, r, n + m, 0.5)
    np.testing.assert_allclose((s / (n + m) + 0.5 * np.eye(p)) @ w, r / (n + m), atol=1e-12)


def test_conditional_accuracy() -> None:
    mu = np.array([1.0, 0.0, 0.0])
    assert conditional_accuracy(np.zeros(3), mu) == 0.5
    assert conditional_accuracy(mu, mu) == pytest.approx(0.8413447460685429)
    assert conditional_accuracy(-mu, mu) == pytest.approx(1 - 0.8413447460685429)
    both = conditional_accuracy(np.array([mu, -mu, np.zeros(3)]), mu)
    np.testing.assert_allclose(both, [0.8413447460685429, 0.15865525393145707, 0.5])
    # With real noise covariance Sigma the score variance is w' Sigma w.
    assert conditional_accuracy(mu, mu, np.array([2.0, 1.0, 1.0])) == pytest.approx(0.6914624612740131)


# ---------------------------------------------------------------------------------------------
# simulate_point


@pytest.mark.parametrize("sampler", ["exact", "naive"])
def test_replicates_do_not_depend_on_how_many_are_run(sampler: str) -> None:
    model = _model(8, "estimated", n_hat=6, estimate_mean=True)
    seed = np.random.SeedSequence(123, spawn_key=(4, 5))
    gammas = np.array([0.1, 1.0])
    args = (model, Mix(20, 40, 0.2, 0.3, 0.8, gammas), seed)
    few = simulate_point(*args, 5, sampler=sampler, test_size=50)
    many = simulate_point(*args, 12, sampler=sampler, test_size=50)
    assert few.accuracy.shape == (5, 2) and many.n_replicates == 12
    for field in ("accuracy", "w_dot_mu", "w_norm2", "test_accuracy"):
        np.testing.assert_array_equal(getattr(few, field), getattr(many, field)[:5])
    assert not np.allclose(many.accuracy[0], many.accuracy[1])
    # A later batch reproduces the same replicates as one long run.
    batch = simulate_point(*args, 4, first_replicate=7, sampler=sampler, test_size=50)
    for field in ("accuracy", "w_dot_mu", "w_norm2", "test_accuracy"):
        np.testing.assert_array_equal(getattr(batch, field), getattr(many, field)[7:11])


def test_simulate_point_edge_sizes() -> None:
    model = _model(6, "identity")
    seed = np.random.SeedSequence(9)
    for sampler in ("exact", "naive"):
        with pytest.raises(ValueError):
            simulate_point(model, Mix(0, 0, 0.1, 0.5, 0.9, 1.0), seed, 2, sampler=sampler)
        assert simulate_point(model, Mix(0, 10, 0.1, 0.5, 0.9, 1.0), seed, 2, sampler=sampler).n_replicates == 2
        assert simulate_point(model, Mix(10, 0, 0.1, 0.5, 0.9, 1.0), seed, 2, sampler=sampler).n_replicates == 2
        # A verifier that keeps nothing, with no real data: w = 0 and the accuracy is 1/2.
        res = simulate_point(model, Mix(0, 10, 0.1, 0.0, 0.0, 1.0), seed, 3, sampler=sampler, test_size=7)
        np.testing.assert_array_equal(res.accuracy, 0.5)
        np.testing.assert_array_equal(res.w_norm2, 0.0)
        np.testing.assert_array_equal(res.test_accuracy, 0.5)
    with pytest.raises(ValueError):
        simulate_point(model, Mix(5, 5, 0.1, 0.5, 0.9, 1.0), seed, 2, sampler="fast")  # type: ignore[arg-type]


def test_simulation_result_statistics() -> None:
    one = SimulationResult(accuracy=np.array([0.7]), w_dot_mu=np.array([1.0]), w_norm2=np.array([2.0]))
    assert one.mean == 0.7 and one.se == 0.0 and one.n_replicates == 1
    res = SimulationResult(accuracy=np.array([[0.6, 0.8], [0.7, 0.9]]), w_dot_mu=np.zeros((2, 2)),
                           w_norm2=np.ones((2, 2)))
    np.testing.assert_allclose(res.mean, [0.65, 0.85])
    np.testing.assert_allclose(res.se, [0.05, 0.05])
    np.testing.assert_allclose(res.mean_of("w_norm2"), [1.0, 1.0])
    with pytest.raises(KeyError):
        res.mean_of("test_accuracy")


def test_test_set_accuracy_agrees_with_conditional_accuracy() -> None:
    model = _model(10, "diagonal")
    size = 20000
    res = simulate_point(model, Mix(30, 60, 0.2, 0.3, 0.9, 0.5), np.random.SeedSequence(77), 3, test_size=size,
                         noise_cov_factor=np.linspace(0.5, 1.5, 10))
    tol = 4.5 * np.sqrt(res.accuracy * (1 - res.accuracy) / size)
    assert np.all(np.abs(res.test_accuracy - res.accuracy) < tol)
    assert np.all(res.w_sigma_w != res.w_norm2)


@pytest.mark.parametrize("k", [0, 3, 40, 90])
def test_dual_ridge_equals_primal(k):
    # Fewer samples than dimensions use the k x k dual system; it must give the primal's weights.
    rng = np.random.default_rng(k)
    p = 60
    a = rng.standard_normal((p, k))
    c = np.sign(rng.standard_normal(k))
    for gamma in (1e-3, 1.0, np.array([1e-2, 0.5, 10.0])):
        dual = ridge_weights_from_data(a, c, 100.0, gamma)
        primal = ridge_weights(a @ a.T, a @ c, 100.0, gamma)
        np.testing.assert_allclose(dual, primal, rtol=1e-9, atol=1e-12)
