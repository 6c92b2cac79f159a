"""The verifier interface: what decides which synthetic rows are kept.

Every sampler and every figure kind keeps rows through :meth:`Verifier.keep`, the one keep
rule: row j is kept when a uniform number ``u_j`` in [0, 1) falls below the row's keep
probability. Drawing one uniform per row, whatever the verifier, means that verifiers run from
the same generator state share their draws (one with lower probabilities keeps a subset of the
rows another keeps), and that a verifier's internals never reach the samplers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np

from rmtsynth.errors import ParameterError

if TYPE_CHECKING:
    from rmtsynth.core.learners import Learner
    from rmtsynth.core.model import DataModel, Mix
    from rmtsynth.core.theory import TheoryResult

#: Uses a verifier is asked about (:meth:`Verifier.supports`): the deterministic equivalent of a mix
#: (context: ``learner``, ``convention``, ``covariance``), the exact sampler of sufficient
#: statistics, and the protocols on a user's rows (kind real_data, the planner with data or a ROC
#: curve), which keep rows by their labels alone.
THEORY = "theory"
EXACT_SAMPLER = "exact sampler"
LABEL_PROTOCOLS = "real-data protocols"


class Verifier(ABC):
    """Decides, row by row, which synthetic rows enter training.

    Subclasses implement :meth:`keep_probability`; :meth:`keep` is the same for all.
    ``feature_aware`` says whether the probability depends on the row's features (then the
    samplers pass them), ``label_rates`` gives the (rho, phi) pair the feature-blind theory takes.
    """

    #: Whether :meth:`keep_probability` reads the rows' features.
    feature_aware: bool = False
    #: The name tables and messages call the verifier by.
    name: str = "verifier"
    #: The columns this verifier adds to a point's row in the tables (:meth:`record`).
    columns: tuple[str, ...] = ()

    @abstractmethod
    def keep_probability(
        self,
        correct: np.ndarray,
        *,
        features: np.ndarray | None = None,
        labels: np.ndarray | None = None,
    ) -> np.ndarray:
        """P(keep) of each row.

        Parameters
        ----------
        correct : (k,) bool array
            Whether each row's label is the true one.
        features : (k, p) array, optional
            The rows, for a feature-aware verifier.
        labels : (k,) array, optional
            The observed labels (+-1), for a feature-aware verifier.
        """

    def keep(
        self,
        correct: np.ndarray,
        uniforms: np.ndarray,
        *,
        features: np.ndarray | None = None,
        labels: np.ndarray | None = None,
    ) -> np.ndarray:
        """The keep mask: row j is kept when ``uniforms[j] < keep_probability[j]``."""
        return uniforms < self.keep_probability(np.asarray(correct, dtype=bool), features=features, labels=labels)

    def label_rates(self) -> tuple[float, float]:
        """(rho, phi): the probabilities of keeping a wrong and a correct label, whatever the row.

        Raises ``NotImplementedError`` for a verifier whose keep probability depends on more
        than the label's correctness.
        """
        raise NotImplementedError(f"{type(self).__name__} has no feature-blind (rho, phi)")

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The verifier's parameters, for tables and manifests."""

    def label_part(self) -> tuple[Any, Any]:
        """(rho, phi) of the keep rule's label-aware part: its rates for a feature-blind verifier,
        (1, 1) for a rule that looks at the rows only."""
        return self.label_rates() if not self.feature_aware else (1.0, 1.0)

    def with_label_part(self, rho: Any, phi: Any) -> "Verifier":
        """This verifier with the label-aware part (rho, phi) (a mix's rates are its verifier's)."""
        if np.all(np.asarray(rho) == self.label_part()[0]) and np.all(np.asarray(phi) == self.label_part()[1]):
            return self
        raise ParameterError(f"the {self.name} verifier has no label-aware part; leave rho and phi out.")

    def placed(self, model: "DataModel") -> "Verifier":
        """The verifier in the coordinates of a placed model (itself when it needs none)."""
        return self

    def measured(self, model: "DataModel") -> "Verifier":
        """The verifier checked in a placed model, with what it keeps of each label group known.

        Raises ParameterError (one sentence naming the key) where the verifier cannot work in it.
        """
        return self

    def kept_shares(self) -> tuple[float, float] | None:
        """(false-positive rate, recall): the kept shares of the wrong and the correct rows; None if unknown."""
        if self.feature_aware:
            return None
        rho, phi = self.label_rates()
        return float(rho), float(phi)

    def transition(self) -> float:
        """The label noise at which the kept rows carry no label signal (nan when it is no constant)."""
        return float("nan")

    @property
    def has_theory(self) -> bool:
        """Whether :meth:`theory` gives a deterministic equivalent (tables show nan where not)."""
        return not self.feature_aware

    def supports(self, use: str, **context: Any) -> str | None:
        """None when the verifier can serve ``use`` (THEORY, EXACT_SAMPLER, LABEL_PROTOCOLS) in
        ``context``; otherwise the sentence that refuses it."""
        if not self.feature_aware:
            return None
        if use == EXACT_SAMPLER:
            return ("the exact sampler draws the kept counts from the label rates alone, so it needs a verifier that "
                    "does not look at the features; use sampler: naive.")
        if use == THEORY:
            return f"the {self.name} verifier has no theory; turn the theory off and simulate it."
        if use == LABEL_PROTOCOLS:
            return (f"the {self.name} verifier looks at the rows of the Gaussian model, but on a user's rows (kind "
                    "real_data, plan with data or verifier_roc) rows are kept by their labels only; use it without data.")
        return None

    def theory(self, learner: "Learner", model: "DataModel", mix: "Mix", *,
               convention: str = "exact") -> "TheoryResult":
        """The learner's deterministic equivalent at a mix whose verifier this is."""
        refusal = self.supports(THEORY, learner=learner, convention=convention, covariance=model.covariance.kind)
        if refusal is not None:
            raise ParameterError(refusal)
        return learner.theory(model, mix, convention=convention)  # type: ignore[arg-type]

    def record(self, label_noise: float, columns: tuple[str, ...] = ()) -> dict[str, Any]:
        """The verifier's columns of a point's row: its own (:attr:`columns`), and ``columns`` that
        other verifiers add to the same table."""
        out: dict[str, Any] = {name: None for name in (*self.columns, *columns)}
        shares = self.kept_shares()
        if "kept_correct_share" in out and shares is not None:
            out["kept_correct_share"] = (1.0 - label_noise) * shares[1]
        if "kept_wrong_share" in out and shares is not None:
            out["kept_wrong_share"] = label_noise * shares[0]
        if "verifier_keep" in out:
            out["verifier_keep"] = "none" if not self.feature_aware else self.name
        return out
