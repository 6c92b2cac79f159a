"""The API resolves a grid's shared setting once; its answers are those of resolving every point alone.

The point-by-point path (``api._grid`` then ``api._resolve_all``) is the reference: every case
compares the resolved points and the predicted outputs of both paths, element by element.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rmtsynth
from rmtsynth import api
from rmtsynth.core.verifiers import LabelVerifier
from rmtsynth.errors import RmtsynthError

SPECTRUM = {"values": list(np.linspace(0.3, 3.0, 40))}

CASES = {
    "diagonal spectrum, m varies": dict(n=30, m=np.arange(0, 60, 3), p=40, mu_norm=1.2, label_noise=0.2, gamma=0.3,
                                        covariance="diagonal", covariance_spectrum=SPECTRUM),
    "diagonal, mu_norm x m": dict(n=30, m=np.array([0, 10, 40])[:, None], p=40, mu_norm=np.array([[0.5, 1.5]]),
                                  covariance="diagonal", covariance_spectrum={"loguniform": [0.2, 5.0]},
                                  generator_shift=0.3, label_noise=0.1, rho=0.2, phi=0.9),
    "precision and recall with varying noise": dict(n=20, m=50, p=30, label_noise=np.linspace(0.05, 0.4, 8),
                                                    verifier_precision=0.95, verifier_recall=0.7),
    "named verifiers x gamma": dict(n=20, m=[10, 80], p=25, label_noise=0.3, verifier=np.array([["none"], ["oracle"]]),
                                    gamma=np.array([[0.1, 1.0]])),
    "rho and phi arrays, repeated points": dict(n=[10, 10, 40], m=100, p=20, label_noise=0.25, rho=[0.1, 0.1, 0.3],
                                                phi=[0.9, 0.9, 0.5]),
    "n varies to zero": dict(n=[0, 5, 50], m=30, p=20, label_noise=0.1),
    "sizes as ratios": dict(n=40, m_over_n=[0.0, 1.0, 4.0], p_over_n=0.5, label_noise=0.1),
    "label noise auto": dict(n=20, m=[10, 40, 160], p=30, label_noise="auto"),
    "estimated covariance": dict(n=20, m=[10, 40], p=30, covariance="estimated", n_hat=[50, 100], label_noise=0.1),
    "scaled covariance, p varies": dict(n=20, m=40, p=[10, 30, 60], covariance="scaled", covariance_scale=2.0),
    "verifier object": dict(n=20, m=[0, 30, 90], p=20, label_noise=0.2, verifier=LabelVerifier(0.2, 0.8)),
    "feature verifier": dict(n=20, m=[30, 90], p=20, label_noise=0.2, verifier_keep="easy", verifier_threshold=0.3),
    "a scalar point": dict(n=20, m=30, p=20, label_noise=0.2),
    "an empty grid": dict(n=20, m=np.array([], dtype=int), p=20, gamma="not checked without points"),
}


def _reference(params: dict, seed: int = 0, learner: str = "ridge") -> tuple[tuple[int, ...], list]:
    shape, grid = api._grid(params)
    return shape, api._resolve_all(grid, seed, learner)


def _same_outputs(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert got.keys() == want.keys()
    for key in want:
        if want[key].dtype == object:
            assert list(got[key]) == list(want[key]), key
        else:
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_grid_path_resolves_every_point_as_the_point_path_does(case: str) -> None:
    params = CASES[case]
    shape, points = api._resolved(params, 3, "ridge")
    want_shape, want = _reference(params, 3)
    assert shape == want_shape
    assert points == want
    _same_outputs(api.predict_points(points, seed=3), api.predict_points(want, seed=3))


def test_predict_with_a_long_spectrum_equals_the_point_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    values = list(np.exp(np.random.default_rng(1).uniform(-1.0, 1.0, 200)))
    params = dict(n=100, m=np.arange(0, 400, 7), p=200, mu_norm=1.5, label_noise=0.15, gamma=0.2,
                  covariance="diagonal", covariance_spectrum={"values": values}, verifier="oracle")
    got = rmtsynth.predict(seed=5, **params)
    shape, want_points = _reference(params, 5)
    want = {k: v.reshape(shape) for k, v in api.predict_points(want_points, seed=5).items()}
    _same_outputs(got, want)
    assert np.all(np.isfinite(got["accuracy"])) and np.ptp(got["accuracy"]) > 0.01


def test_a_covariance_file_is_read_once_per_grid_with_the_same_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(15, 15))
    np.save(tmp_path / "c.npy", a @ a.T / 15 + 0.1 * np.eye(15))
    params = dict(n=20, m=[0, 20, 80], p=15, covariance="file", covariance_file="c.npy", label_noise=0.1)
    points = api._resolved(params, 0, "ridge")[1]
    assert points == _reference(params)[1]
    assert len({id(pt.model) for pt in points}) == 1  # one model object shared by the grid


def test_a_non_default_learner_reaches_every_point() -> None:
    params = dict(n=20, m=[0, 40], p=20, label_noise=0.1, gamma=0.5)
    points = api._resolved(params, 0, "square_hinge")[1]
    assert [pt.learner for pt in points] == ["square_hinge"] * 2
    assert points == _reference(params, 0, "square_hinge")[1]


@pytest.mark.parametrize("params", [
    dict(n=[5, 0, 0], m=[1, 0, 2], p=10),  # n + m = 0 at the second point
    dict(n=10, m=5, p=10, label_noise=[0.1, 0.6], verifier_precision=[0.99, 0.2], verifier_recall=0.5),
    dict(n=[10, -1], m=[5, 7], p=10, gamma=[0.0, 1.0]),  # two bad parameters, at different points
    dict(n=10, m=5, p=[10, 20], covariance="diagonal", covariance_spectrum={"values": [1.0] * 10}),
])
def test_a_bad_grid_raises_the_point_paths_first_error(params: dict) -> None:
    with pytest.raises(RmtsynthError) as want:
        _reference(params)
    with pytest.raises(type(want.value)) as got:
        api._resolved(params, 0, "ridge")
    assert str(got.value) == str(want.value)
