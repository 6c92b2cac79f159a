"""The verifier's two parametrisations, (rho, phi) and (precision, recall), and their limits."""

from __future__ import annotations

import numpy as np
import pytest

from rmtsynth.errors import ParameterError
from rmtsynth.core.verifiers.rates import (
    NAMED_VERIFIERS,
    eps_star,
    keep_rate,
    label_signal,
    min_precision,
    precision_recall,
    rho_phi_from_precision_recall,
)


def test_round_trip_through_precision_and_recall():
    rng = np.random.default_rng(7)
    eps = rng.uniform(0.01, 0.99, 5000)
    rho = rng.uniform(0.0, 1.0, 5000)
    phi = rng.uniform(0.01, 1.0, 5000)
    precision, recall = precision_recall(eps, rho, phi)
    back = np.array([rho_phi_from_precision_recall(e, p, r) for e, p, r in zip(eps, precision, recall)])
    np.testing.assert_allclose(back[:, 0], rho, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(back[:, 1], phi, rtol=0, atol=0)  # recall is phi itself


def test_signal_per_kept_sample_is_twice_the_precision_minus_one():
    rng = np.random.default_rng(8)
    eps, rho, phi = rng.uniform(0.01, 0.99, (3, 1000))
    precision, _ = precision_recall(eps, rho, phi)
    np.testing.assert_allclose(label_signal(eps, rho, phi) / keep_rate(eps, rho, phi), 2 * precision - 1, atol=1e-12)


def test_precision_crosses_one_half_at_eps_star():
    for rho, phi in ((0.3, 0.8), (1.0, 1.0), (0.05, 0.5)):
        star = float(eps_star(rho, phi))
        precision, _ = precision_recall(star, rho, phi)
        assert precision == pytest.approx(0.5, abs=1e-12)
        assert label_signal(star, rho, phi) == 0.0


def test_minimal_precision_is_keeping_every_wrong_label():
    eps, recall = 0.3, 0.9
    p_min = float(min_precision(eps, recall))
    rho, phi = rho_phi_from_precision_recall(eps, p_min, recall)
    assert rho == pytest.approx(1.0, abs=1e-12) and phi == recall
    with pytest.raises(ParameterError, match=r"at least 0\.677419"):
        rho_phi_from_precision_recall(eps, p_min - 0.01, recall)


def test_edge_cases_of_the_conversion():
    assert rho_phi_from_precision_recall(0.0, 1.0, 0.7) == (0.0, 0.7)
    with pytest.raises(ParameterError, match="must be 1"):
        rho_phi_from_precision_recall(0.0, 0.9, 0.7)
    with pytest.raises(ParameterError, match="verifier_recall"):
        rho_phi_from_precision_recall(0.2, 0.0, 0.0)
    with pytest.raises(ParameterError, match="between 0 and 1"):
        rho_phi_from_precision_recall(0.2, 1.2, 0.5)


def test_at_label_noise_one_only_precision_zero_is_possible_and_it_does_not_fix_rho():
    # Every label is wrong, so a verifier that keeps anything has precision 0.
    assert precision_recall(1.0, 0.3, 0.9)[0] == 0.0
    with pytest.raises(ParameterError, match="impossible at label_noise = 1"):
        rho_phi_from_precision_recall(1.0, 1.0, 0.5)
    with pytest.raises(ParameterError, match="does not determine"):
        rho_phi_from_precision_recall(1.0, 0.0, 0.5)


def test_named_verifiers():
    eps = 0.35
    p_none, r_none = precision_recall(eps, *NAMED_VERIFIERS["none"])
    p_oracle, r_oracle = precision_recall(eps, *NAMED_VERIFIERS["oracle"])
    assert p_none == pytest.approx(1 - eps) and r_none == 1.0
    assert p_oracle == 1.0 and r_oracle == 1.0
