"""A verifier given as its decisions: one keep flag per row of a user's synthetic pool."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rmtsynth.core.verifiers.base import Verifier
from rmtsynth.errors import ParameterError


@dataclass(frozen=True, eq=False)
class RowDecisions(Verifier):
    """The verifier's recorded decisions on a pool: row j is kept exactly when ``kept[j]``.

    The keep probability is 1 or 0, so the shared keep rule reproduces the flags whatever the
    uniforms. It applies to the whole pool, in the pool's row order.
    """

    kept: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        kept = np.asarray(self.kept)
        if kept.ndim != 1 or kept.dtype != bool:
            raise ParameterError("the verifier's decisions must be one boolean flag per synthetic row.")

    def keep_probability(self, correct, *, features=None, labels=None) -> np.ndarray:
        if np.shape(correct) != self.kept.shape:
            raise ParameterError(
                f"the verifier decided on {self.kept.size} rows but {np.size(correct)} rows are to be verified."
            )
        return self.kept.astype(float)

    def label_rates(self) -> tuple[float, float]:
        raise NotImplementedError("recorded decisions have no rates of their own; use rates_on(correct)")

    def rates_on(self, correct: np.ndarray) -> tuple[float, float]:
        """(rho, phi) as measured on the pool: the kept shares of its wrong and its correct rows.

        A share with no row to measure it on is 1 (nothing was rejected).
        """
        correct = np.asarray(correct, dtype=bool)
        wrong = ~correct
        rho = float(np.count_nonzero(self.kept & wrong) / np.count_nonzero(wrong)) if wrong.any() else 1.0
        phi = float(np.count_nonzero(self.kept & correct) / np.count_nonzero(correct)) if correct.any() else 1.0
        return rho, phi

    def to_dict(self) -> dict[str, Any]:
        return {"verifier": "given", "rows": int(self.kept.size), "kept": int(np.count_nonzero(self.kept))}
