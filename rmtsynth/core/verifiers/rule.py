"""The linear-score verifier as a config writes it: a keep rule and a direction given by angles.

:class:`FeatureRule` is small and hashable (it travels to worker processes inside a point's
:class:`~rmtsynth.core.model.Mix` and keys the caches); :meth:`FeatureRule.placed` builds the
:class:`~rmtsynth.core.verifiers.feature.FeatureVerifier` in any placed model, and
:meth:`FeatureRule.measured` records what it keeps of each label group there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Mapping

from rmtsynth.core.verifiers.base import THEORY, Verifier
from rmtsynth.core.verifiers.feature import FeatureVerifier, check_fixed_covariance, linear_score_supports
from rmtsynth.errors import ParameterError

if TYPE_CHECKING:
    from rmtsynth.core.learners import Learner
    from rmtsynth.core.model import DataModel, Mix
    from rmtsynth.core.theory import TheoryResult

#: The columns a linear-score verifier adds to the tables.
FEATURE_COLUMNS = FeatureVerifier.columns


@dataclass(frozen=True)
class FeatureRule(Verifier):
    """Keep rule ``keep`` (easy, hard, soft) on the score label * v'x, v set by angles in the model."""

    keep: str
    threshold: float = 0.0
    softness: float | None = None
    angle: float = 0.0
    toward_shift: float = 0.0
    q_wrong: float = 1.0
    q_correct: float = 1.0
    # (Z_+, Z_-), the passing shares of each label group, once measured in a placed model.
    passed: tuple[float, float] | None = None

    feature_aware = True
    columns = FEATURE_COLUMNS

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.keep

    @classmethod
    def from_settings(cls, keep: str, settings: Mapping[str, Any]) -> "FeatureRule":
        """The rule a point's keys describe (verifier_threshold, verifier_softness, verifier_angle,
        verifier_toward_shift); ParameterError for a key that does not go with ``keep``."""
        softness = settings.get("verifier_softness")
        if keep != "soft" and softness is not None:
            raise ParameterError(f"verifier_softness applies only to verifier_keep = soft, not {keep}; remove it.")
        if keep == "soft" and softness is None:
            raise ParameterError("verifier_keep = soft needs verifier_softness, a number > 0.")
        if settings.get("verifier_options") is not None:
            raise ParameterError(f"verifier_options is not used by verifier_keep = {keep}; remove it.")
        return cls(keep=keep, threshold=float(settings.get("verifier_threshold") or 0.0),
                   softness=None if softness is None else float(softness),
                   angle=float(settings.get("verifier_angle") or 0.0),
                   toward_shift=float(settings.get("verifier_toward_shift") or 0.0))

    def keep_probability(self, correct, *, features=None, labels=None):
        raise ParameterError("a rule given by angles must be placed in a model (placed(model)) before it keeps rows.")

    def label_part(self) -> tuple[float, float]:
        return self.q_wrong, self.q_correct

    def with_label_part(self, rho: Any, phi: Any) -> "FeatureRule":
        if (rho, phi) == (self.q_wrong, self.q_correct):
            return self
        return replace(self, q_wrong=rho, q_correct=phi)

    def placed(self, model: "DataModel") -> FeatureVerifier:
        verifier = FeatureVerifier.from_geometry(
            model, self.angle, self.toward_shift, threshold=self.threshold, keep=self.keep, softness=self.softness,
            q_correct=float(self.q_correct), q_wrong=float(self.q_wrong),
        )
        verifier.passed = self.passed
        return verifier

    def measured(self, model: "DataModel") -> "FeatureRule":
        check_fixed_covariance(self.keep, model)
        try:
            passed = self.placed(model).passed_shares(model)
        except ParameterError as exc:
            text = str(exc)
            raise ParameterError(f"{'verifier_' if text.startswith('threshold') else ''}{text}") from None
        return replace(self, passed=passed)

    def kept_shares(self) -> tuple[float, float] | None:
        if self.passed is None:
            return None
        return float(self.q_wrong * self.passed[1]), float(self.q_correct * self.passed[0])

    has_theory = True

    def supports(self, use: str, **context: Any) -> str | None:
        return linear_score_supports(self.keep, use, context)

    def theory(self, learner: "Learner", model: "DataModel", mix: "Mix", *,
               convention: str = "exact") -> "TheoryResult":
        refusal = self.supports(THEORY, learner=learner, convention=convention)
        if refusal is not None:
            raise ParameterError(refusal)
        return self.placed(model).theory(learner, model, mix, convention=convention)

    def record(self, label_noise: float, columns: tuple[str, ...] = ()) -> dict[str, Any]:
        out = super().record(label_noise, columns)
        out.update(verifier_keep=self.keep, verifier_threshold=self.threshold, verifier_softness=self.softness,
                   verifier_angle=self.angle, verifier_toward_shift=self.toward_shift)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"verifier": "feature", **self.record(float("nan")), "q_correct": self.q_correct, "q_wrong": self.q_wrong}
