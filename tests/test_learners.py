"""The convex-loss learners (THEORY.md 16): their fits, their theory, and the theory's solver."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit

from rmtsynth.core.convex_channels import LogisticChannel, SquareChannel
from rmtsynth.core.convex_theory import SolverSettings, solve_convex
from rmtsynth.core.learners import LEARNERS, Hinge, Logistic, SquareHinge, get_learner
from rmtsynth.core.model import Mix, build_model
from rmtsynth.core.theory import evaluate
from rmtsynth.errors import ConvergenceError, ParameterError
from rmtsynth.sim.monte_carlo import simulate_point

CONVEX = ("logistic", "square_hinge", "hinge")


def _two_level(p: int) -> np.ndarray:
    return np.where(np.arange(p) < p // 2, 0.5, 2.0)


def _model(p: int, covariance: str = "identity", alignment: float = 0.8, shift: float = 0.5):
    eigenvalues = _two_level(p) if covariance == "diagonal" else None
    return build_model(p, 1.5, alignment, shift, covariance, eigenvalues=eigenvalues, rng=np.random.default_rng(7))


def test_the_learners_are_registered_and_not_quadratic():
    for name, cls in zip(CONVEX, (Logistic, SquareHinge, Hinge)):
        assert isinstance(LEARNERS[name], cls) and get_learner(name).name == name
        assert not get_learner(name).quadratic


# (a) The solver with the square loss is the ridge theory.

@pytest.mark.parametrize("covariance", ["identity", "diagonal"])
def test_the_square_loss_solver_reproduces_the_ridge_theory(covariance):
    model = _model(120, covariance)
    grid = dict(
        n=np.array([100.0, 0.0, 150.0, 60.0, 0.0]),
        m=np.array([300.0, 400.0, 0.0, 500.0, 250.0]),
        label_noise=np.array([0.2, 0.3, 0.1, 0.45, 0.0]),
        rho=np.array([0.3, 1.0, 0.0, 0.2, 0.5]),
        phi=np.array([0.9, 1.0, 1.0, 0.8, 0.7]),
        gamma=np.array([0.1, 0.05, 1.0, 0.01, 0.3]),
    )
    values = Mix(**grid).values()
    ridge = evaluate(model.spectrum, *values)
    sol = solve_convex(model.spectrum, SquareChannel(), *values)
    np.testing.assert_allclose(sol.accuracy, ridge.accuracy, rtol=0, atol=1e-10)
    np.testing.assert_allclose(sol.overlap, ridge.mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sol.q_real, ridge.variance, rtol=1e-10)
    np.testing.assert_allclose(sol.v_real, ridge.delta_real, rtol=1e-10)
    np.testing.assert_allclose(sol.v_synth, ridge.delta_synth, rtol=1e-10)
    result = sol.theory_result()
    np.testing.assert_allclose(result.risk, ridge.risk, rtol=1e-10)
    assert np.isnan(result.delta_real).all() and np.isnan(result.delta_gen).all()


# (b) Each scikit-learn fit is the minimiser of the objective.

def _problem(p: int = 6, k: int = 40, seed: int = 3):
    rng = np.random.default_rng(seed)
    mu = np.zeros(p)
    mu[0] = 1.0
    labels = rng.choice([-1.0, 1.0], k)
    rows = np.outer(mu, labels) + rng.standard_normal((p, k))
    return rows, labels


def _direct_smooth(signed, penalty, loss_and_slope):
    """argmin sum L(X w) + penalty/2 |w|^2 for a C^1 loss, by BFGS to a tight gradient."""
    def objective(w):
        value, slope = loss_and_slope(signed @ w)
        return value.sum() + 0.5 * penalty * w @ w, signed.T @ slope + penalty * w
    return minimize(objective, np.zeros(signed.shape[1]), jac=True, method="BFGS", options={"gtol": 1e-12}).x


def _direct_hinge(signed, penalty):
    """The hinge as a quadratic programme in (w, slack), by SLSQP."""
    k, p = signed.shape
    constraints = [
        {"type": "ineq", "fun": lambda v: v[p:] + signed @ v[:p] - 1.0,
         "jac": lambda v: np.hstack([signed, np.eye(k)])},
        {"type": "ineq", "fun": lambda v: v[p:], "jac": lambda v: np.hstack([np.zeros((k, p)), np.eye(k)])},
    ]
    return minimize(lambda v: 0.5 * penalty * v[:p] @ v[:p] + v[p:].sum(), np.zeros(p + k),
                    jac=lambda v: np.concatenate([penalty * v[:p], np.ones(k)]), constraints=constraints,
                    method="SLSQP", options={"ftol": 1e-15, "maxiter": 1000}).x[:p]


def _direct(name, signed, penalty):
    if name == "logistic":
        return _direct_smooth(signed, penalty, lambda h: (np.logaddexp(0.0, -h), -expit(-h)))
    if name == "square_hinge":
        return _direct_smooth(signed, penalty,
                              lambda h: (0.5 * np.maximum(0.0, 1.0 - h) ** 2, -np.maximum(0.0, 1.0 - h)))
    return _direct_hinge(signed, penalty)


@pytest.mark.parametrize("name", CONVEX)
def test_each_fit_is_the_direct_minimiser(name):
    rows, labels = _problem()
    n_total, gamma = 60.0, 0.05
    w = get_learner(name).fit(rows, labels, n_total, gamma)
    expected = _direct(name, (rows * labels).T, n_total * gamma)
    np.testing.assert_allclose(w, expected, rtol=0, atol=1e-6 * np.abs(expected).max())
    both = get_learner(name).fit(rows, labels, n_total, np.array([gamma, 2 * gamma]))
    assert both.shape == (2, rows.shape[0])
    np.testing.assert_allclose(both[0], w, rtol=0, atol=1e-9 * np.abs(w).max())


@pytest.mark.parametrize("name", CONVEX)
def test_a_fit_on_one_row_or_none(name):
    rows, labels = _problem(k=1)
    w = get_learner(name).fit(rows, labels, 10.0, 0.1)
    expected = _direct(name, (rows * labels).T, 1.0)
    np.testing.assert_allclose(w, expected, rtol=0, atol=1e-6 * np.abs(expected).max())
    assert np.array_equal(get_learner(name).fit(rows[:, :0], labels[:0], 10.0, 0.1), np.zeros(rows.shape[0]))


# (c) The theory against simulation: mean accuracy within 3 standard errors.

SIMULATED = [
    ("logistic", 200, "diagonal", dict(n=100, m=300, label_noise=0.2, rho=0.3, phi=0.9, gamma=0.01), 30),
    ("logistic", 200, "identity", dict(n=0, m=400, label_noise=0.2, rho=1.0, phi=1.0, gamma=0.01), 30),
    ("square_hinge", 200, "identity", dict(n=100, m=300, label_noise=0.2, rho=0.3, phi=0.9, gamma=0.01), 30),
    ("square_hinge", 200, "diagonal", dict(n=0, m=600, label_noise=0.3, rho=0.3, phi=0.9, gamma=0.005), 30),
    ("hinge", 200, "diagonal", dict(n=100, m=300, label_noise=0.2, rho=0.3, phi=0.9, gamma=0.01), 30),
    ("hinge", 100, "identity", dict(n=0, m=200, label_noise=0.2, rho=1.0, phi=1.0, gamma=0.02), 30),
]


@pytest.mark.parametrize(("name", "p", "covariance", "point", "replicates"), SIMULATED)
def test_the_theory_is_within_three_standard_errors_of_simulation(name, p, covariance, point, replicates):
    model, mix = _model(p, covariance), Mix(**point)
    theory = float(get_learner(name).theory(model, mix).accuracy)
    sim = simulate_point(model, mix, np.random.SeedSequence(11), replicates, sampler="naive", learner=name)
    assert abs(sim.mean - theory) <= 3.0 * sim.se, (theory, sim.mean, sim.se)


# (d) Without real rows the accuracy crosses 1/2 at eps* = phi / (phi + rho), for every loss.

@pytest.mark.parametrize("name", CONVEX)
@pytest.mark.parametrize(("rho", "phi"), [(1.0, 1.0), (0.3, 0.9)])
def test_eps_star_is_where_the_accuracy_crosses_one_half(name, rho, phi):
    eps_star = phi / (phi + rho)
    noise = np.array([eps_star - 0.03, eps_star, eps_star + 0.03])
    mix = Mix(n=0, m=400, label_noise=noise, rho=rho, phi=phi, gamma=0.05)
    accuracy = get_learner(name).theory(_model(150, "diagonal"), mix).accuracy
    assert accuracy[0] > 0.5 > accuracy[2]
    assert abs(accuracy[1] - 0.5) < 1e-12


# (e) Errors.

def test_an_unknown_learner_name_suggests_the_closest():
    with pytest.raises(ParameterError, match="did you mean 'logistic'"):
        get_learner("logistc")


@pytest.mark.parametrize("name", CONVEX)
@pytest.mark.parametrize("n", [80, 400])
def test_gamma_zero_on_separable_rows_is_refused(name, n):
    # n = 80 < p rows are separable outright; n = 400 > p rows are separable by the signal.
    mix = Mix(n=n, m=0, label_noise=0.0, rho=0.0, phi=1.0, gamma=0.0)
    with pytest.raises(ParameterError, match=f"gamma = 0 at n={n}.*separable"):
        get_learner(name).theory(_model(100), mix)


def test_gamma_zero_on_rows_that_are_not_separable_has_a_theory():
    mix = Mix(n=1000, m=0, label_noise=0.0, rho=0.0, phi=1.0, gamma=np.array([0.0, 1e-6]))
    accuracy = get_learner("logistic").theory(_model(100), mix).accuracy
    assert 0.85 < accuracy[0] < 0.95 and abs(accuracy[0] - accuracy[1]) < 1e-4


def test_a_fit_needs_a_positive_gamma():
    rows, labels = _problem()
    with pytest.raises(ParameterError, match="gamma > 0"):
        get_learner("hinge").fit(rows, labels, 60.0, 0.0)


def test_the_reference_convention_and_an_estimated_covariance_are_refused():
    mix = Mix(n=100, m=100, label_noise=0.1, rho=0.0, phi=1.0, gamma=0.1)
    with pytest.raises(ParameterError, match="ridge only"):
        get_learner("logistic").theory(_model(50), mix, convention="reference")
    with pytest.raises(ParameterError, match="estimated covariance"):
        get_learner("hinge").theory(build_model(50, 1.5, covariance="estimated", n_hat=100), mix)


def test_a_point_that_does_not_converge_is_named():
    values = Mix(n=np.array([100.0, 50.0]), m=300, label_noise=0.2, rho=0.3, phi=0.9, gamma=0.01).values()
    capped = SolverSettings(picard_steps=2, newton_rounds=0, rounds=1)
    with pytest.raises(ConvergenceError, match=r"n=100, m=300, p=80, label_noise=0.2, rho=0.3, phi=0.9, gamma=0.01"):
        solve_convex(_model(80).spectrum, LogisticChannel(), *values, settings=capped)


def test_a_sweep_is_evaluated_point_by_point():
    model = _model(100, "diagonal")
    grid = Mix(n=np.array([0.0, 100.0, 200.0]), m=np.array([300.0, 100.0, 0.0]), label_noise=0.25,
               rho=0.3, phi=0.9, gamma=np.array([0.01, 0.1, 1.0]))
    for name in CONVEX:
        swept = get_learner(name).theory(model, grid)
        assert swept.accuracy.shape == (3,)
        for k in range(3):
            single = Mix(*(np.asarray(v, dtype=float)[k] if np.ndim(v) else v for v in grid.values()))
            np.testing.assert_allclose(get_learner(name).theory(model, single).accuracy, swept.accuracy[k],
                                       rtol=0, atol=1e-12)
