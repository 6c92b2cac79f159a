"""A convex learner's grid is solved from its neighbours; the answers are those of solving each point alone.

Setting ``convex_theory.WARM_MIN`` above the grid's size turns the warm starts off (every point from
the fixed start: the reference). Both meet the same residual, so they agree far below 1e-9.
"""

from __future__ import annotations

import numpy as np
import pytest

from rmtsynth.core import convex_theory
from rmtsynth.core.convex_channels import HingeChannel, LogisticChannel, SquareHingeChannel
from rmtsynth.core.theory import Spectrum
from rmtsynth.errors import ParameterError

ISO = Spectrum.isotropic(120, 1.3, 0.8, 0.4)
_RNG = np.random.default_rng(2)
_MU = _RNG.normal(size=60)
# A diagonal C with 60 distinct eigenvalues; mu and mu_beta in general position.
GROUPED = Spectrum.from_eigen(np.geomspace(0.2, 5.0, 60), 1.1 * _MU / np.linalg.norm(_MU),
                              0.9 * _MU / np.linalg.norm(_MU) + 0.05 * _RNG.normal(size=60))

SWEEPS = {
    "m": dict(n=80.0, m=np.linspace(0.0, 800.0, 60), label_noise=0.2, rho=0.3, phi=0.9, gamma=0.2),
    "label noise": dict(n=60.0, m=300.0, label_noise=np.linspace(0.0, 1.0, 41), rho=0.2, phi=0.8, gamma=0.5),
    "gamma": dict(n=60.0, m=200.0, label_noise=0.1, rho=0.1, phi=0.9, gamma=np.geomspace(1e-3, 10.0, 200)),
    "coarse 2-d": dict(n=60.0, m=200.0, label_noise=np.linspace(0.0, 1.0, 6)[:, None], rho=0.2, phi=0.9,
                       gamma=np.geomspace(1e-3, 10.0, 5)[None, :]),
}
CHANNELS = {"logistic": LogisticChannel(nodes=80), "hinge": HingeChannel(), "square_hinge": SquareHingeChannel()}


def _solve(spectrum: Spectrum, channel, params: dict, warm: bool, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(convex_theory, "WARM_MIN", 16 if warm else 10**9)
    keys = ("n", "m", "label_noise", "rho", "phi", "gamma")
    return convex_theory.solve_convex(spectrum, channel, *(params[k] for k in keys))


@pytest.mark.parametrize("sweep", sorted(SWEEPS))
@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_warm_started_grids_equal_point_by_point_solves(sweep: str, channel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for spectrum in (ISO, GROUPED):
        got = _solve(spectrum, CHANNELS[channel], SWEEPS[sweep], True, monkeypatch)
        want = _solve(spectrum, CHANNELS[channel], SWEEPS[sweep], False, monkeypatch)
        for field in ("overlap", "overlap_beta", "q_real", "q_synth", "v_real", "v_synth"):
            a, b = getattr(got, field), getattr(want, field)
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=field)
        np.testing.assert_allclose(got.accuracy, want.accuracy, rtol=0, atol=1e-11)
        assert np.all(got.residual <= 1e-9)
        if sweep != "coarse 2-d":
            # Most points were settled by the borrowed Jacobian, without damped steps of their own.
            assert np.mean(got.picard_steps == 0) > 0.5
            assert np.all(want.picard_steps > 0)


def test_a_grid_with_a_separable_point_raises_as_the_point_by_point_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    params = dict(SWEEPS["m"])
    # p = 120 is above every point's n + m, so the gamma = 0 point's rows are separable.
    params["gamma"] = np.where(np.arange(60) == 37, 0.0, 0.2)
    params["n"], params["m"] = 10.0, np.linspace(0.0, 100.0, 60)
    with pytest.raises(ParameterError) as want:
        _solve(ISO, CHANNELS["hinge"], params, False, monkeypatch)
    with pytest.raises(ParameterError) as got:
        _solve(ISO, CHANNELS["hinge"], params, True, monkeypatch)
    assert str(got.value) == str(want.value)
    assert "gamma = 0" in str(got.value)


def _prox_by_bisection(omega: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The logistic prox by 200 plain bisections of h - V sigma(-h) - omega on [omega, omega + V]."""
    lo, hi = omega.astype(float).copy(), (omega + v).astype(float)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        positive = mid - v / (1.0 + np.exp(mid)) - omega > 0
        hi, lo = np.where(positive, mid, hi), np.where(positive, lo, mid)
    return 0.5 * (lo + hi)


def test_the_prox_solves_its_equation_with_and_without_a_start() -> None:
    from rmtsynth.core.convex_channels import logistic_prox

    rng = np.random.default_rng(7)
    omega = np.concatenate([rng.normal(0.0, 5.0, 4000), [-40.0, -1.0, 0.0, 3.0, 40.0]])
    v = np.concatenate([rng.uniform(0.0, 30.0, 4000), [0.0, 1e-12, 50.0, 1e3, 2.0]])
    want = _prox_by_bisection(omega, v)
    cold = logistic_prox(omega, v)
    np.testing.assert_allclose(cold, want, rtol=1e-13, atol=1e-13)
    nearby = want * (1.0 + 1e-4 * rng.normal(size=want.size)) + 1e-3 * rng.normal(size=want.size)
    start = np.where(np.arange(want.size) % 5 == 0, np.nan, nearby)  # NaN: no guess there
    np.testing.assert_allclose(logistic_prox(omega, v, start), want, rtol=1e-13, atol=1e-13)
    far = np.full(want.size, 1e6)  # a useless guess is clipped into the bracket and still converges
    np.testing.assert_allclose(logistic_prox(omega, v, far), want, rtol=1e-13, atol=1e-13)


def test_the_fast_prox_gives_the_safeguarded_root() -> None:
    from rmtsynth.core.convex_channels import logistic_prox, safeguarded_prox

    rng = np.random.default_rng(11)
    omega = rng.normal(0.0, 8.0, 50_000)
    # Up to V = 1e7, the separable regime, where plain Newton from a poor start overshoots.
    v = 10.0 ** rng.uniform(-6.0, 7.0, omega.size)
    want = safeguarded_prox(omega, v)
    for start in (None, want * (1.0 + 1e-3 * rng.normal(size=want.size)), rng.normal(0.0, 50.0, want.size)):
        got = logistic_prox(omega, v, start)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


def test_the_logistic_channel_matches_its_quadrature_with_the_safeguarded_prox() -> None:
    from rmtsynth.core.convex_channels import safeguarded_prox, significant_nodes

    rng = np.random.default_rng(5)
    omega_bar, q, v = rng.normal(0.0, 2.0, 300), rng.uniform(0.0, 400.0, 300), 10.0 ** rng.uniform(-3.0, 4.0, 300)
    channel = LogisticChannel(nodes=200)
    xi, weight = significant_nodes(200)
    h = safeguarded_prox(omega_bar[:, None] + np.sqrt(q)[:, None] * xi, v[:, None])
    s = 1.0 / (1.0 + np.exp(h))
    curv = s * (1.0 - s)
    want = (s @ weight, (s * s) @ weight, (curv / (1.0 + v[:, None] * curv)) @ weight)
    got, roots = channel.expectations_from(omega_bar, q, v, None)
    np.testing.assert_allclose(roots, h, rtol=1e-13, atol=1e-13)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_the_stencils_reproduce_a_cubic_and_fall_back_to_the_line_across_a_jump() -> None:
    seeds = np.array([0, 8, 16, 24, 32, 39])
    warm = np.setdiff1d(np.arange(40), seeds)
    right = np.searchsorted(seeds, warm)

    def cubic(t):
        return 0.3 + 0.02 * t - 1e-3 * t**2 + 2e-5 * t**3

    x = np.zeros((40, 6))
    x[:, 0] = cubic(np.arange(40.0))
    x[:, 2:] = 1.0  # the positive components, taken in logs: 0
    z_seed = convex_theory._to_z(x[seeds])
    near, weights = convex_theory._stencils(seeds, warm, right, z_seed, x[seeds])
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=0, atol=1e-13)
    np.testing.assert_allclose(np.einsum("ks,ks->k", weights, z_seed[near, 0]), cubic(warm.astype(float)),
                               rtol=1e-12, atol=1e-13)
    # A jump between seeds 24 and 32: points whose four seeds straddle it use the line instead.
    x[32:, 0] += 1e3
    z_seed = convex_theory._to_z(x[seeds])
    near, weights = convex_theory._stencils(seeds, warm, right, z_seed, x[seeds])
    straddle = (seeds[near[:, 0]] <= 24) & (seeds[near[:, 3]] >= 32)
    assert straddle.any()
    assert np.all(np.count_nonzero(weights[straddle], axis=1) <= 2)
    line = (warm - seeds[right - 1]) / (seeds[right] - seeds[right - 1])
    want = (1.0 - line) * z_seed[right - 1, 0] + line * z_seed[right, 0]
    got = np.einsum("ks,ks->k", weights, z_seed[near, 0])
    np.testing.assert_allclose(got[straddle], want[straddle], rtol=1e-13)
