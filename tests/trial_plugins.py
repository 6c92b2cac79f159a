"""Two plug-ins written as a contributor would, following docs/extending.md: each is one class here
plus one registry entry (made by :func:`registered` for the duration of a test)."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, replace
from typing import Any, Iterator, Mapping

import numpy as np

from rmtsynth.core.learners import LEARNERS, Learner, ridge_weights, ridge_weights_from_data
from rmtsynth.core.verifiers import VERIFIER_RULES, FeatureVerifier, Verifier
from rmtsynth.errors import ParameterError


class UnscaledRidge(Learner):
    """Ridge whose penalty is gamma ||w||^2, not N gamma ||w||^2: ridge at gamma / N."""

    name = "unscaled_ridge"
    quadratic = True

    def fit(self, rows, labels, n_total, gamma):
        return ridge_weights_from_data(rows, labels, n_total, np.asarray(gamma) / n_total)

    def fit_statistics(self, scatter, signal, n_total, gamma):
        return ridge_weights(scatter, signal, n_total, np.asarray(gamma) / n_total)

    def theory(self, model, mix, *, convention="exact"):
        return model.theory(replace(mix, gamma=np.asarray(mix.gamma) / (np.asarray(mix.n) + np.asarray(mix.m))),
                            convention=convention)


@dataclass(frozen=True)
class TopFraction(Verifier):
    """Keeps the top ``fraction`` of the rows by the score label * v'x (v set by angles in the model)."""

    fraction: float
    angle: float = 0.0
    toward_shift: float = 0.0
    direction: tuple[float, ...] | None = None

    feature_aware = True
    name = "top_fraction"
    columns = ("verifier_keep", "verifier_angle", "verifier_fraction")

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, Any]) -> "TopFraction":
        fraction = (settings.get("verifier_options") or {}).get("fraction")
        if not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
            raise ParameterError(f"verifier_options.fraction = {fraction!r} is not allowed; top_fraction needs a number in (0, 1].")
        return cls(float(fraction), float(settings.get("verifier_angle") or 0.0),
                   float(settings.get("verifier_toward_shift") or 0.0))

    def placed(self, model) -> "TopFraction":
        v = FeatureVerifier.from_geometry(model, self.angle, self.toward_shift, threshold=-1e6).direction
        return replace(self, direction=tuple(float(x) for x in v))

    def keep_probability(self, correct, *, features=None, labels=None):
        if self.direction is None or features is None or labels is None:
            raise ParameterError("top_fraction needs a placed direction and the rows' features and labels.")
        scores = np.asarray(labels, dtype=float) * (np.asarray(features, dtype=float) @ np.asarray(self.direction))
        keep = np.zeros(scores.size)
        keep[np.argsort(-scores, kind="stable")[: math.ceil(self.fraction * scores.size)]] = 1.0
        return keep

    def record(self, label_noise, columns=()):
        out = super().record(label_noise, columns)
        out.update(verifier_angle=self.angle, verifier_fraction=self.fraction)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"verifier": self.name, "fraction": self.fraction, "angle": self.angle}


@contextlib.contextmanager
def registered() -> Iterator[None]:
    """Both plug-ins in their registries (one line each), removed afterwards."""
    LEARNERS[UnscaledRidge.name] = UnscaledRidge()
    VERIFIER_RULES[TopFraction.name] = TopFraction.from_settings
    try:
        yield
    finally:
        del LEARNERS[UnscaledRidge.name]
        del VERIFIER_RULES[TopFraction.name]
