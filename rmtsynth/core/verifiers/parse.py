"""One grammar for writing a verifier, shared by every config section and API call.

A verifier is written as

* a name: ``none`` (keep every row) or ``oracle`` (keep exactly the correct labels);
* ``[rho, phi]``: the probabilities of keeping a wrong and a correct label;
* a mapping with one of the forms ``{verifier: NAME}``, ``{rho, phi}``,
  ``{verifier_precision, verifier_recall}`` (at a given label noise) or
  ``{verifier_roc: [[fpr, tpr], ...], roc_index: k}`` (one threshold of a ROC curve);
* ``given``: the keep flags recorded on a user's synthetic pool (:class:`RowDecisions`);
* a :class:`Verifier` object, used as it is.

Problems raise :class:`~rmtsynth.errors.ParameterError` naming the key; the config layer adds
where the key sits.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real
from typing import Any

import numpy as np

from rmtsynth.core.verifiers.rates import NAMED_VERIFIERS
from rmtsynth.core.verifiers.base import Verifier
from rmtsynth.core.verifiers.decisions import RowDecisions
from rmtsynth.core.verifiers.label import LabelVerifier
from rmtsynth.errors import ParameterError

#: The names a verifier can be given by, beside ``given`` (recorded decisions on a pool).
VERIFIER_NAMES = tuple(NAMED_VERIFIERS)

_FORMS = (
    ("verifier", ("verifier",)),
    ("rho/phi", ("rho", "phi")),
    ("verifier_precision/verifier_recall", ("verifier_precision", "verifier_recall")),
    ("verifier_roc", ("verifier_roc", "roc_index")),
)


def _probability(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= float(value) <= 1.0:
        raise ParameterError(f"{name} = {value!r} is out of range; it must be a number between 0 and 1.")
    return float(value)


def _from_mapping(params: Mapping[str, Any], label_noise: float | None) -> LabelVerifier:
    chosen = [(form, keys) for form, keys in _FORMS if any(k in params for k in keys)]
    if len(chosen) > 1:
        raise ParameterError(
            f"the verifier is given twice ({' and '.join(form for form, _ in chosen)}); give only one form."
        )
    if not chosen:
        return LabelVerifier.named("none")
    form, keys = chosen[0]
    missing = [k for k in keys if k not in params]
    if missing:
        raise ParameterError(f"{missing[0]} is missing; {' and '.join(keys)} go together.")
    if form == "verifier":
        return LabelVerifier.named(params["verifier"])
    if form == "rho/phi":
        return LabelVerifier(_probability("rho", params["rho"]), _probability("phi", params["phi"]))
    if form == "verifier_roc":
        roc = np.asarray(params["verifier_roc"], dtype=float)
        return LabelVerifier.from_roc(roc, int(params["roc_index"]))
    if label_noise is None:
        raise ParameterError("verifier_precision and verifier_recall need the label noise to define a verifier.")
    return LabelVerifier.from_precision_recall(label_noise, params["verifier_precision"], params["verifier_recall"])


def verifier_from_params(params: Mapping[str, Any], label_noise: float | None = None) -> LabelVerifier:
    """The verifier a point's parameters describe (``none`` when they name none)."""
    return _from_mapping(params, label_noise)


def as_verifier(
    value: Any,
    label_noise: float | None = None,
    *,
    decisions: np.ndarray | None = None,
    name: str = "verifier",
) -> Verifier:
    """A :class:`Verifier` from any of the written forms (see the module docstring).

    ``decisions`` are the keep flags of a synthetic pool, which ``given`` refers to.
    """
    if isinstance(value, Verifier):
        return value
    if isinstance(value, str):
        if value == "given":
            if decisions is None:
                raise ParameterError(f"{name} = 'given' needs a synthetic pool with the verifier's keep decisions.")
            return RowDecisions(np.asarray(decisions, dtype=bool))
        if value not in NAMED_VERIFIERS:
            raise ParameterError(
                f"{name} = {value!r} is unknown; use one of {', '.join(VERIFIER_NAMES)}, given, or [rho, phi]."
            )
        return LabelVerifier.named(value)
    if isinstance(value, Mapping):
        return _from_mapping(value, label_noise)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return LabelVerifier(_probability(f"{name}[0] (rho)", value[0]), _probability(f"{name}[1] (phi)", value[1]))
    raise ParameterError(
        f"{name} = {value!r} is not a verifier; use one of {', '.join(VERIFIER_NAMES)}, given, [rho, phi], "
        "or a mapping of rho and phi or of verifier_precision and verifier_recall."
    )
