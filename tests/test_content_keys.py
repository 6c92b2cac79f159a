"""Caches are keyed by what files hold, not by their paths.

A covariance spectrum or matrix read from a file enters the simulation cache key, the seeds and
every in-process cache through its content: editing the file and sweeping again with a warm
cache gives the fresh result, the same one a cold run gives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import rmtsynth
from rmtsynth.core.model import Covariance, ModelSpec

P = 40


def _config(spectrum_file: Path) -> dict:
    return {
        "name": "content",
        "seed": 3,
        "params": {
            "n": 80, "m": 160, "p": P, "mu_norm": 1.5, "gamma": 1.0, "label_noise": 0.1,
            "rho": 0.2, "phi": 0.9, "covariance": "diagonal",
            "covariance_spectrum": {"file": str(spectrum_file)},
            "generator_alignment": [0.5, 1.0],
        },
        "x": "generator_alignment",
        "simulation": {"seeds": 6},
    }


def _sim_and_theory(table) -> tuple[np.ndarray, np.ndarray]:
    return table.column("sim_accuracy_mean").astype(float), table.column("theory_accuracy").astype(float)


def test_editing_a_spectrum_file_gives_the_fresh_result_from_a_warm_cache(tmp_path: Path) -> None:
    spectrum = tmp_path / "spec.txt"
    cache = tmp_path / "cache"
    spectrum.write_text("\n".join(["1.0"] * P))
    first_sim, first_theory = _sim_and_theory(rmtsynth.sweep(_config(spectrum), cache_dir=cache))

    spectrum.write_text("\n".join(["25.0"] * P))
    warm_sim, warm_theory = _sim_and_theory(rmtsynth.sweep(_config(spectrum), cache_dir=cache))
    cold_sim, cold_theory = _sim_and_theory(rmtsynth.sweep(_config(spectrum), cache_dir=None))

    np.testing.assert_array_equal(warm_sim, cold_sim)
    np.testing.assert_array_equal(warm_theory, cold_theory)
    # C = 25 I makes the synthetic samples much noisier: both columns move.
    assert np.all(warm_theory < first_theory - 0.01)
    assert np.all(warm_sim < first_sim - 0.01)


def test_same_content_from_another_path_is_the_same_model(tmp_path: Path) -> None:
    values = np.linspace(0.5, 2.0, P)
    a = tmp_path / "a.txt"
    b = tmp_path / "sub" / "b.txt"
    b.parent.mkdir()
    for path in (a, b):
        path.write_text("\n".join(repr(float(v)) for v in values))
    table_a = rmtsynth.sweep(_config(a), simulate=False)
    table_b = rmtsynth.sweep(_config(b), simulate=False)
    np.testing.assert_array_equal(table_a.column("theory_accuracy"), table_b.column("theory_accuracy"))


def test_model_specs_compare_by_content() -> None:
    ell = np.linspace(1.0, 2.0, P)
    one = ModelSpec(P, 1.0, covariance=Covariance("diagonal", eigenvalues=ell, source="here"))
    same = ModelSpec(P, 1.0, covariance=Covariance("diagonal", eigenvalues=ell.copy(), source="elsewhere"))
    other = ModelSpec(P, 1.0, covariance=Covariance("diagonal", eigenvalues=ell * 1.0000001))
    assert one == same and hash(one) == hash(same)
    assert one != other
    assert one.key() != other.key()
