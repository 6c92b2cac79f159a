"""Theory of ridge trained with a verifier that looks at the features (THEORY.md section 15).

* :mod:`.groups` (15.2): the verifier's tilt in a model (:func:`tilt_geometry`), the kept shares
  (:class:`KeptShares`: recall, false-positive rate, precision, f_+ and f_-) and the kept
  groups' moments, all in closed form;
* :mod:`.dense` (15.3): the K-group deterministic equivalent for any covariances, O(p^3) a point
  (:func:`evaluate_dense`);
* :mod:`.commuting` (15.4): the O(p) version when Sigma and C share an eigenbasis
  (:func:`tilted_spectrum`, then :func:`evaluate_commuting` on a whole grid).

Each returns a :class:`FeatureTheory`: the package's :class:`~rmtsynth.core.theory.TheoryResult`
and the :class:`KeptShares`. A feature-blind verifier (F = 1) gives the numbers of
:func:`rmtsynth.core.theory.evaluate` and of 13.4's two-covariance theory.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from rmtsynth.core.feature_verifier.commuting import (
    TiltedSpectrum,
    evaluate_commuting,
    tilted_spectrum,
    tilted_spectrum_from_eigen,
)
from rmtsynth.core.feature_verifier.dense import evaluate_dense, model_covariance
from rmtsynth.core.feature_verifier.groups import FeatureTheory, KeptShares, TiltGeometry, kept_shares, tilt_geometry
from rmtsynth.core.model import DataModel, Mix
from rmtsynth.core.verifiers import Verifier
from rmtsynth.errors import ParameterError

__all__ = [
    "FeatureTheory",
    "KeptShares",
    "TiltGeometry",
    "TiltedSpectrum",
    "evaluate_commuting",
    "evaluate_dense",
    "feature_theory",
    "kept_shares",
    "model_covariance",
    "tilt_geometry",
    "tilted_spectrum",
    "tilted_spectrum_from_eigen",
]


def feature_theory(
    model: DataModel,
    mix: Mix,
    verifier: Verifier | None = None,
    *,
    method: Literal["commuting", "dense"] = "commuting",
    real_cov: np.ndarray | None = None,
) -> FeatureTheory:
    """The theory at a mix (a point or a broadcast grid) for a verifier in the model.

    ``verifier`` replaces the mix's (rho, phi) (which are then not read), as in
    :func:`rmtsynth.sim.monte_carlo.simulate_point`; by default the mix's own. ``method``
    ``commuting`` is the O(p) version (Sigma = I), ``dense`` the K-group one, which also takes a
    real noise covariance ``real_cov``.
    """
    verifier = mix.verifier if verifier is None else verifier
    if method == "dense":
        return evaluate_dense(
            model.mu, model.mean, model_covariance(model), verifier, mix.n, mix.m, mix.label_noise, mix.gamma,
            real_cov=real_cov,
        )
    if method != "commuting":
        raise ParameterError(f"method = {method!r} is unknown; use commuting or dense.")
    if real_cov is not None:
        raise ParameterError("real_cov needs method = 'dense': the O(p) version takes Sigma = I from the model.")
    return evaluate_commuting(tilted_spectrum(model, verifier), mix.n, mix.m, mix.label_noise, mix.gamma)
