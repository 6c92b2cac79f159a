"""A verifier that scores each row along a direction v (THEORY.md section 15).

Row j, with features x~_j and observed label y~_j, is kept with probability

    q_s * F(y~_j v'x~_j - t),    q_{+1} = q_correct, q_{-1} = q_wrong,

where s = +1 when the label is correct and F is the keep rule: ``easy`` (F(x) = 1{x > 0}: keep
the rows whose score agrees with their label by more than t), ``hard`` (F(x) = 1{x < 0}) or
``soft`` (F(x) = Phi(x / softness)). With q_correct = phi and q_wrong = rho the label-aware part
is the paper's verifier; its (rho, phi) no longer describe the kept rows, so
:meth:`FeatureVerifier.label_rates` is not defined.

:func:`tilted_normal_moments` is what F does to a standard normal coordinate (the normaliser,
mean and variance of the tilted law, 15.2's table); the theory (``rmtsynth.core.feature_verifier``)
and the fast sampler (``rmtsynth.sim.feature_sampler``) build on it.
"""

from __future__ import annotations

from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import log_ndtr, ndtr

from rmtsynth.core.verifiers.base import EXACT_SAMPLER, LABEL_PROTOCOLS, THEORY, Verifier
from rmtsynth.errors import ParameterError

if TYPE_CHECKING:
    from rmtsynth.core.learners import Learner
    from rmtsynth.core.model import DataModel, Mix
    from rmtsynth.core.theory import TheoryResult

#: The keep rules F.
KEEP_RULES = ("easy", "hard", "soft")

# Below this share of both the correct and the wrong rows, the verifier keeps nothing of use.
_NOTHING_KEPT = 1e-9


def _number(name: str, value: Any, low: float, high: float, unit: str = "") -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not low <= float(value) <= high:
        raise ParameterError(
            f"{name} = {value!r} is out of range; it must be a number between {low:g} and {high:g}{unit}."
        )
    return float(value)


def _check_rule(keep: Any, softness: Any, threshold: Any) -> None:
    if keep not in KEEP_RULES:
        raise ParameterError(f"keep = {keep!r} is unknown; use one of {', '.join(KEEP_RULES)}.")
    if keep != "soft" and softness is not None:
        raise ParameterError(
            f"softness = {softness!r} applies only to keep = 'soft'; leave it out for keep = {keep!r}."
        )
    if keep == "soft" and softness is None:
        raise ParameterError("softness is missing; keep = 'soft' needs a softness > 0.")
    if keep == "soft" and (isinstance(softness, bool) or not isinstance(softness, Real) or not 0 < softness < np.inf):
        raise ParameterError(f"softness = {softness!r} is out of range; keep = 'soft' needs a number > 0.")
    if isinstance(threshold, bool) or not isinstance(threshold, Real) or not np.isfinite(threshold):
        raise ParameterError(f"threshold = {threshold!r} is out of range; it must be a finite number.")


def mills_ratio(a: np.ndarray) -> np.ndarray:
    """M(a) = phi(a) / Phi(a), computed in logs so that it stays accurate far in the left tail."""
    a = np.asarray(a, dtype=float)
    return np.exp(-0.5 * a * a - 0.5 * np.log(2.0 * np.pi) - log_ndtr(a))


def tilted_normal_moments(rule: str, a, ratio: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Z, e, w): normaliser, mean and variance of the law phi(z) F(sigma_v (a + z)) / Z.

    ``ratio`` is k = sigma_v / softness (only for ``soft``); the hard rules do not depend on
    sigma_v. ``a`` may be an array (THEORY.md 15.2's table).
    """
    a = np.asarray(a, dtype=float)
    if rule == "easy":
        mills = mills_ratio(a)
        return ndtr(a), mills, 1.0 - mills * (a + mills)
    if rule == "hard":
        mills = mills_ratio(-a)
        return ndtr(-a), -mills, 1.0 - mills * (mills - a)
    if rule == "soft":
        d = ratio / np.sqrt(1.0 + ratio * ratio)
        tau = d * a
        mills = mills_ratio(tau)
        return ndtr(tau), d * mills, 1.0 - d * d * mills * (tau + mills)
    raise ParameterError(f"keep = {rule!r} is unknown; use one of {', '.join(KEEP_RULES)}.")


# sin of 180 degrees in floating point is 1.2e-16, not 0.
_ROUND_OFF = 1e-12


def _check_room(p: int, angle: float, toward_shift: float, *, tilted: bool, out_of_plane: bool) -> None:
    """The dimension the verifier's direction needs: p >= 2 to leave mu's line, p >= 3 to leave the plane of the shift."""
    if tilted and p < 2:
        raise ParameterError(f"verifier_angle = {angle!r} tilts v away from mu, which needs a second dimension (p >= 2, "
                             f"here p = {p}); use verifier_angle 0 or 180.")
    if tilted and out_of_plane:
        raise ParameterError(f"verifier_toward_shift = {toward_shift!r} turns v out of the plane of mu and the generator's "
                             f"shift, which needs a third dimension (p >= 3, here p = {p}); use 0 or 180.")


def _geometry_directions(mu: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors: mu's direction, the generator's shift direction and one orthogonal to both.

    Where the generator has no shift (or for the third vector), the coordinate axis that lies
    furthest from the span found so far is orthogonalised, so the choice is deterministic.
    """
    e_mu = mu / np.linalg.norm(mu)
    found = [e_mu]
    shift = mean - (mean @ e_mu) * e_mu
    norm = np.linalg.norm(shift)
    if norm > 1e-12 * max(np.linalg.norm(mean), 1.0):
        found.append(shift / norm)
    while len(found) < 3 and len(found) < mu.size:
        basis = np.stack(found, axis=1)
        axis = int(np.argmin(np.sum(basis * basis, axis=1)))
        residual = -basis @ basis[axis]
        residual[axis] += 1.0
        found.append(residual / np.linalg.norm(residual))
    while len(found) < 3:
        found.append(np.zeros(mu.size))
    return found[0], found[1], found[2]


def _times_covariance(model: "DataModel", v: np.ndarray) -> np.ndarray:
    """C v for the model's generator (its mean E[C] = I for an ``estimated`` covariance)."""
    cov = model.covariance
    if cov.kind == "scaled":
        return cov.scale * v
    if cov.kind == "diagonal":
        return np.asarray(cov.eigenvalues, dtype=float) * v
    if cov.kind == "file":
        return np.asarray(cov.matrix, dtype=float) @ v
    return v


class FeatureVerifier(Verifier):
    """Keeps a row with probability q_s F(label * v'x - threshold) (THEORY.md 15.1).

    Parameters
    ----------
    direction : (p,) array
        The score's direction v, in the data's coordinates; normalised to unit length.
    threshold : float
        t, in units of the score v'x.
    keep : {"easy", "hard", "soft"}
        The keep rule F, held as :attr:`rule` (:meth:`keep` is the shared keep rule of every
        verifier).
    softness : float, optional
        s_F > 0, with ``keep = "soft"`` only.
    q_correct, q_wrong : float
        The label-aware part: the probabilities of keeping a correct and a wrong label whose
        score passes (the paper's phi and rho).
    angle, toward_shift : float, optional
        The angles the direction was built from (:meth:`from_geometry`), for tables.
    """

    feature_aware = True
    name = "feature"

    def __init__(
        self,
        direction: np.ndarray,
        threshold: float = 0.0,
        keep: str = "easy",
        softness: float | None = None,
        q_correct: float = 1.0,
        q_wrong: float = 1.0,
        *,
        angle: float | None = None,
        toward_shift: float | None = None,
    ):
        v = np.asarray(direction, dtype=float)
        norm = float(np.linalg.norm(v)) if v.ndim == 1 else 0.0
        if v.ndim != 1 or not np.all(np.isfinite(v)) or norm == 0.0:
            raise ParameterError("the verifier's direction must be a nonzero vector of finite numbers.")
        _check_rule(keep, softness, threshold)
        self.direction = v / norm
        self.direction.setflags(write=False)
        self.threshold = float(threshold)
        self.rule = keep
        self.softness = None if softness is None else float(softness)
        self.q_correct = _number("q_correct", q_correct, 0.0, 1.0)
        self.q_wrong = _number("q_wrong", q_wrong, 0.0, 1.0)
        self.angle = angle
        self.toward_shift = toward_shift
        # (Z_+, Z_-) once measured in a placed model (:meth:`measured`).
        self.passed: tuple[float, float] | None = None

    def label_part(self) -> tuple[float, float]:
        return self.q_wrong, self.q_correct

    def with_label_part(self, rho: Any, phi: Any) -> "FeatureVerifier":
        if (rho, phi) == (self.q_wrong, self.q_correct):
            return self
        return FeatureVerifier(self.direction, self.threshold, self.rule, self.softness, q_correct=phi, q_wrong=rho,
                               angle=self.angle, toward_shift=self.toward_shift)

    def measured(self, model: "DataModel") -> "FeatureVerifier":
        if self.direction.size != model.p:
            raise ParameterError(f"the verifier's direction has {self.direction.size} coordinates, but p = {model.p}.")
        out = self.with_label_part(self.q_wrong, self.q_correct)
        out.passed = self.passed_shares(model)
        return out

    def kept_shares(self) -> tuple[float, float] | None:
        if self.passed is None:
            return None
        return float(self.q_wrong * self.passed[1]), float(self.q_correct * self.passed[0])

    columns = ("verifier_keep", "verifier_threshold", "verifier_softness", "verifier_angle", "verifier_toward_shift",
               "kept_correct_share", "kept_wrong_share")

    def record(self, label_noise: float, columns: tuple[str, ...] = ()) -> dict[str, Any]:
        out = super().record(label_noise, columns)
        out.update(verifier_keep=self.rule, verifier_threshold=self.threshold, verifier_softness=self.softness,
                   verifier_angle=self.angle, verifier_toward_shift=self.toward_shift)
        return out

    def passed_shares(self, model: "DataModel") -> tuple[float, float]:
        """(Z_+, Z_-): the shares of the correct and the wrong rows whose score passes, in a placed model."""
        from rmtsynth.core.feature_verifier import tilt_geometry

        check_fixed_covariance(self.rule, model)
        passed = tilt_geometry(self, model.mean, _times_covariance(model, self.direction)).passed
        return float(passed[0]), float(passed[1])

    has_theory = True

    def supports(self, use: str, **context: Any) -> str | None:
        """The linear score has a theory (learners that support it, exact convention) and an exact sampler."""
        return linear_score_supports(self.rule, use, context)

    def theory(self, learner: "Learner", model: "DataModel", mix: "Mix", *,
               convention: str = "exact") -> "TheoryResult":
        """THEORY.md 15 (the O(p) version) at every point of the mix; the mix's (rho, phi) are not read."""
        from rmtsynth.core.feature_verifier import feature_theory

        refusal = self.supports(THEORY, learner=learner, convention=convention)
        if refusal is not None:
            raise ParameterError(refusal)
        return feature_theory(model, mix, verifier=self.placed(model)).result

    def __repr__(self) -> str:
        soft = f", softness={self.softness:g}" if self.softness is not None else ""
        return (
            f"FeatureVerifier(p={self.direction.size}, keep={self.rule!r}, threshold={self.threshold:g}{soft}, "
            f"q_correct={self.q_correct:g}, q_wrong={self.q_wrong:g})"
        )

    @classmethod
    def from_geometry(
        cls,
        model: "DataModel",
        verifier_angle: float = 0.0,
        verifier_toward_shift: float = 0.0,
        **rule: Any,
    ) -> "FeatureVerifier":
        """The verifier whose direction is set by angles in the model's geometry.

        ``verifier_angle`` is the angle in degrees between v and mu (0 to 180);
        ``verifier_toward_shift`` says where v's part orthogonal to mu points, in degrees from
        the generator's shift direction (0) towards a direction orthogonal to mu and the shift
        (90), up to 180. ``rule`` holds the other fields (threshold, keep, softness, q_correct,
        q_wrong). Raises ParameterError when the verifier would keep almost nothing.
        """
        angle = np.deg2rad(_number("verifier_angle", verifier_angle, 0.0, 180.0, " degrees"))
        toward = np.deg2rad(_number("verifier_toward_shift", verifier_toward_shift, 0.0, 180.0, " degrees"))
        mu = np.asarray(model.mu, dtype=float)
        e_mu, e_shift, e_third = _geometry_directions(mu, np.asarray(model.mean, dtype=float))
        _check_room(mu.size, verifier_angle, verifier_toward_shift, tilted=abs(np.sin(angle)) > _ROUND_OFF,
                    out_of_plane=abs(np.sin(toward)) > _ROUND_OFF and not np.any(e_third))
        side = np.cos(toward) * e_shift + np.sin(toward) * e_third
        direction = np.cos(angle) * e_mu + np.sin(angle) * side
        verifier = cls(direction, angle=float(verifier_angle), toward_shift=float(verifier_toward_shift), **rule)
        v = verifier.direction
        verifier.check_keeps_something(float(v @ model.mean), float(np.sqrt(max(v @ _times_covariance(model, v), 0.0))))
        return verifier

    def group_tilts(self, score_mean: float, score_sd: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Z, e, w) of the correct-label group (index 0) and the wrong-label group (index 1).

        ``score_mean`` is m_v = v'mu_beta and ``score_sd`` is sigma_v = sqrt(v'Cv). With
        sigma_v = 0 the score is a constant: Z = F(s m_v - t), e = 0, w = 1.
        """
        margins = np.array([score_mean, -score_mean]) - self.threshold
        if score_sd <= 0.0:
            return self.passes(margins), np.zeros(2), np.ones(2)
        ratio = score_sd / self.softness if self.rule == "soft" else None
        return tilted_normal_moments(self.rule, margins / score_sd, ratio)

    def check_keeps_something(self, score_mean: float, score_sd: float) -> None:
        """Raise ParameterError when the verifier keeps almost no row of either label."""
        label_part = np.array([self.q_correct, self.q_wrong])
        tilt = self.group_tilts(score_mean, score_sd)[0]
        # Rows the label-aware part already refuses are not the threshold's doing.
        if np.any(label_part > 0) and np.max(tilt[label_part > 0]) < _NOTHING_KEPT:
            passed = tilt * label_part
            where, fix = ("low", "higher") if self.rule == "hard" else ("high", "lower")
            raise ParameterError(
                f"threshold = {self.threshold:g} is so {where} that the verifier keeps almost nothing (a share "
                f"{passed[0]:.3g} of the correct rows and {passed[1]:.3g} of the wrong ones); make it {fix}."
            )

    def passes(self, scores: np.ndarray) -> np.ndarray:
        """F(margin) for margins ``label * v'x - threshold`` already computed."""
        if self.rule == "easy":
            return (scores > 0).astype(float)
        if self.rule == "hard":
            return (scores < 0).astype(float)
        return ndtr(scores / self.softness)

    def keep_probability(self, correct, *, features=None, labels=None) -> np.ndarray:
        if features is None or labels is None:
            raise ParameterError("a feature verifier needs the rows' features and observed labels.")
        margins = np.asarray(labels, dtype=float) * (np.asarray(features, dtype=float) @ self.direction)
        label_part = np.where(correct, self.q_correct, self.q_wrong)
        return label_part * self.passes(margins - self.threshold)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"verifier": "feature", "keep": self.rule, "threshold": self.threshold}
        if self.softness is not None:
            out["softness"] = float(self.softness)
        out.update(q_correct=self.q_correct, q_wrong=self.q_wrong)
        if self.angle is not None:
            out.update(verifier_angle=self.angle, verifier_toward_shift=self.toward_shift)
        else:
            out["direction"] = [float(x) for x in self.direction]
        return out


def linear_score_supports(keep: str, use: str, context: dict[str, Any]) -> str | None:
    """What a linear-score verifier with keep rule ``keep`` refuses (see :meth:`Verifier.supports`)."""
    if use == THEORY:
        from rmtsynth.core.learners import FEATURE_VERIFIER_THEORY

        learner = context.get("learner")
        if learner is not None and not learner.supports(FEATURE_VERIFIER_THEORY):
            return f"verifier_keep = {keep} has a theory for ridge only, not learner = {learner.name!r}."
        if context.get("convention", "exact") != "exact":
            return f"verifier_keep = {keep} has a theory in the exact convention only, not convention = {context['convention']!r}."
        return None
    if use == LABEL_PROTOCOLS:
        return (f"verifier_keep = {keep} looks at the rows of the Gaussian model, but on a user's rows (kind real_data, "
                "plan with data or verifier_roc) rows are kept by their labels only; use it without data.")
    return None


def check_fixed_covariance(keep: str, model: "DataModel") -> None:
    """ParameterError unless the model's generator covariance is fixed (a direction needs one C)."""
    if model.covariance.kind == "estimated":
        raise ParameterError(
            f"verifier_keep = {keep} needs a fixed generator covariance (identity, scaled, diagonal or file), "
            "not estimated, which draws a new C per replicate.")
