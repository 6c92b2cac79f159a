"""The exact part of a feature verifier's theory: kept shares and group moments (THEORY.md 15.2).

For a verifier with unit direction v the margin of a synthetic row is sigma_v (a_s + zeta) with
zeta ~ N(0, 1), so the kept rows of label group s (s = +1 correct, -1 flipped) are Gaussian but
for one tilted coordinate along g = Cv / sigma_v. Everything here is closed form: the tilted
law's (Z, e, w) from :func:`rmtsynth.core.verifiers.feature.tilted_normal_moments`, then

* kept shares of the m synthetic rows: f_+ = (1 - eps) q_correct Z_+, f_- = eps q_wrong Z_-;
* group means s mu_beta + e_s g, covariances C - (1 - w_s) g g' and weights (1 - pi) f_s.

A feature-blind verifier (``label_rates()``) is the case F = 1: Z = 1, e = 0, w = 1, g = 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from rmtsynth.core.theory import TheoryResult, signed_accuracy
from rmtsynth.core.verifiers.rates import keep_rate, label_signal, precision_recall
from rmtsynth.core.verifiers import THEORY, Verifier
from rmtsynth.errors import ParameterError

#: Label groups, in the order every array here uses: correct labels (s = +1), then flipped ones.
SIGNS = np.array([1.0, -1.0])


@dataclass(frozen=True)
class TiltGeometry:
    """A verifier in one model: what section 15.2 needs of it.

    Attributes
    ----------
    label_part : (2,) array
        (q_correct, q_wrong).
    passed, mean_shift, variance : (2,) arrays
        (Z_s, e_s, w_s) of the correct and the wrong group.
    direction : (p,) array
        g = C v / sigma_v, along which the kept rows are tilted (zero for F = 1 or sigma_v = 0).
    """

    label_part: np.ndarray
    passed: np.ndarray
    mean_shift: np.ndarray
    variance: np.ndarray
    direction: np.ndarray

    @property
    def recall(self) -> float:
        """The kept share of the correct rows, q_correct Z_+."""
        return float(self.label_part[0] * self.passed[0])

    @property
    def false_positive_rate(self) -> float:
        """The kept share of the wrong rows, q_wrong Z_-."""
        return float(self.label_part[1] * self.passed[1])

    @property
    def variance_loss(self) -> np.ndarray:
        """beta_s = 1 - w_s, the variance the kept rows lose along g."""
        return 1.0 - self.variance


def score_direction(verifier: Verifier) -> np.ndarray | None:
    """The unit direction v a verifier scores rows along (None for a feature-blind one).

    Raises ParameterError, with the verifier's own sentence, for one that has no theory.
    """
    if not verifier.feature_aware:
        return None
    refusal = verifier.supports(THEORY)
    if refusal is not None:
        raise ParameterError(refusal)
    return np.asarray(verifier.direction, dtype=float)  # type: ignore[attr-defined]


def tilt_geometry(verifier: Verifier, mu_beta: np.ndarray, cov_times_v: np.ndarray | None = None) -> TiltGeometry:
    """The verifier's :class:`TiltGeometry` for a generator with mean mu_beta and covariance C.

    ``cov_times_v`` is C v for the verifier's (unit) direction v; a feature-blind verifier needs
    none. Raises ParameterError when the threshold leaves almost nothing to keep.
    """
    p = np.shape(mu_beta)[0]
    if score_direction(verifier) is None:
        rho, phi = verifier.label_rates()
        ones = np.ones(2)
        return TiltGeometry(np.array([phi, rho], dtype=float), ones, np.zeros(2), ones, np.zeros(p))
    v = verifier.direction
    cov_v = np.asarray(cov_times_v, dtype=float)
    score_mean = float(v @ np.asarray(mu_beta, dtype=float))
    score_sd = float(np.sqrt(max(v @ cov_v, 0.0)))
    verifier.check_keeps_something(score_mean, score_sd)
    passed, shift, variance = verifier.group_tilts(score_mean, score_sd)
    direction = cov_v / score_sd if score_sd > 0 else np.zeros(p)
    return TiltGeometry(np.array([verifier.q_correct, verifier.q_wrong]), passed, shift, variance, direction)


@dataclass(frozen=True)
class KeptShares:
    """What the verifier keeps, at every grid point (arrays of the grid's shape).

    ``kept_correct`` and ``kept_wrong`` are f_+ and f_-, shares of all m synthetic rows;
    ``recall`` and ``false_positive_rate`` the kept shares of the correct and of the wrong rows;
    ``precision`` the share of correct labels among the kept rows (1 - eps when nothing is kept).
    """

    kept_correct: np.ndarray
    kept_wrong: np.ndarray
    recall: np.ndarray
    false_positive_rate: np.ndarray
    precision: np.ndarray

    @property
    def kept(self) -> np.ndarray:
        """alpha = f_+ + f_-, the kept share of the m synthetic rows."""
        return self.kept_correct + self.kept_wrong

    def to_dict(self) -> dict[str, Any]:
        """Every share, as floats at a single point and as arrays on a grid."""
        names = ("kept_correct", "kept_wrong", "recall", "false_positive_rate", "precision")
        out = {name: getattr(self, name) for name in names}
        out["kept"] = self.kept
        return {k: float(v) if np.ndim(v) == 0 else np.asarray(v) for k, v in out.items()}


def kept_shares(geometry: TiltGeometry, label_noise) -> KeptShares:
    """The kept shares at each label noise (an array of any shape)."""
    eps = np.asarray(label_noise, dtype=float)
    recall = geometry.recall + 0.0 * eps
    fpr = geometry.false_positive_rate + 0.0 * eps
    precision, _ = precision_recall(eps, fpr, recall)
    return KeptShares((1.0 - eps) * recall, eps * fpr, recall, fpr, precision)


def group_means(geometry: TiltGeometry, mu_beta: np.ndarray) -> np.ndarray:
    """(2, p): the kept groups' means in xi-space, s mu_beta + e_s g."""
    return SIGNS[:, None] * np.asarray(mu_beta, dtype=float) + geometry.mean_shift[:, None] * geometry.direction


def group_covariances(geometry: TiltGeometry, cov: np.ndarray) -> list[np.ndarray]:
    """The kept groups' covariances C - beta_s g g' (dense)."""
    g = geometry.direction
    return [cov - beta * np.outer(g, g) for beta in geometry.variance_loss]


class FeatureTheory(NamedTuple):
    """The deterministic equivalents and what the verifier keeps, at every grid point."""

    result: TheoryResult
    shares: KeptShares


def collect_result(shape: tuple[int, ...], mean: np.ndarray, variance: np.ndarray, **rest: np.ndarray) -> TheoryResult:
    """A TheoryResult of the grid's shape from the score's mean and variance and the other fields."""
    second = mean**2 + variance
    fields = dict(
        rest, mean=mean, variance=variance, accuracy=signed_accuracy(mean, variance), second_moment=second,
        risk=second + 1.0 - 2.0 * mean,
    )
    return TheoryResult(**{key: np.asarray(v).reshape(shape) for key, v in fields.items()})


def effective_rates(geometry: TiltGeometry) -> tuple[float, float]:
    """(rho, phi) of the feature-blind verifier with the same kept shares: (FPR, recall)."""
    return geometry.false_positive_rate, geometry.recall


def keep_signal(geometry: TiltGeometry, label_noise) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, lambda): the kept share f_+ + f_- and the kept rows' label signal f_+ - f_-."""
    rho, phi = effective_rates(geometry)
    return keep_rate(label_noise, rho, phi), label_signal(label_noise, rho, phi)


def require_fixed_covariance(kind: str) -> None:
    """ParameterError for a generator covariance the theory cannot place the tilt in."""
    if kind == "estimated":
        raise ParameterError(
            "the feature verifier's theory needs a fixed generator covariance; covariance = 'estimated' draws a "
            "new one per replicate (use sampler: naive for its Monte-Carlo)."
        )


def grid(n, m, label_noise, gamma) -> tuple[tuple[int, ...], list[np.ndarray]]:
    """The broadcast shape of (n, m, label_noise, gamma) and the four flattened arrays, checked."""
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (n, m, label_noise, gamma)))
    flat = [a.ravel() for a in arrays]
    check_grid(*flat)
    return arrays[0].shape, flat


def check_grid(n, m, label_noise, gamma) -> None:
    """ParameterError naming the first quantity outside its domain somewhere on the grid."""
    checks = (
        ("n", n >= 0, "n must be >= 0"),
        ("m", m >= 0, "m must be >= 0"),
        ("n + m", n + m > 0, "n + m must be > 0"),
        ("label_noise", (label_noise >= 0) & (label_noise <= 1), "it must be between 0 and 1"),
        ("gamma", gamma > 0, "it must be > 0"),
    )
    for name, ok, rule in checks:
        if not np.all(ok):
            raise ParameterError(f"{name} has an invalid value at some point of the grid; {rule}.")


__all__ = [
    "SIGNS",
    "TiltGeometry",
    "tilt_geometry",
    "KeptShares",
    "kept_shares",
    "group_means",
    "group_covariances",
    "FeatureTheory",
    "collect_result",
    "effective_rates",
    "keep_signal",
    "check_grid",
    "grid",
    "require_fixed_covariance",
]
