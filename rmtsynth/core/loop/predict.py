"""The loop's theory for one setting: picks the right variant and says how far it is exact (THEORY 14)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from rmtsynth.core.loop.common import NoTheoryError
from rmtsynth.core.loop.functional import functional_gram_reduction
from rmtsynth.core.loop.gram import gram_reduction, real_only_accuracy
from rmtsynth.core.loop.one_generation import one_generation_theory
from rmtsynth.core.loop.recursion import generator_recursion
from rmtsynth.core.loop.spec import LoopSpec, check_loop, loop_setting
from rmtsynth.core.model import Mix, ModelSpec
from rmtsynth.errors import ParameterError

#: Status of a prediction at one generation.
EXACT = "exact"  # exact in the proportional limit
APPROXIMATE = "approximate"  # one uncontrolled approximation (pseudo-labels under accumulate)
CONDITIONAL = "conditional"  # needs the sampled history: cde_prediction
SIMULATION_ONLY = "simulation-only"  # no theory: simulate
WRONG = "wrong"  # the one-generation formula, kept for comparison

METHODS = (None, "GR", "FGR", "one-generation")


@dataclass(frozen=True, eq=False)
class LoopTheory:
    """The theory of a loop over generations k = 0..K for one setting (see :func:`predict_loop`)."""

    method: str
    accuracy: np.ndarray
    beta: np.ndarray
    tau2: np.ndarray
    flip_rate: np.ndarray
    margin: np.ndarray
    status: np.ndarray
    generation: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def method_problem(loop: LoopSpec, method: str | None) -> str | None:
    """The sentence saying why ``method`` has no version for this loop, or None (None picks the best one)."""
    if method not in METHODS:
        return f"method has an invalid value ({method!r}); it must be GR, FGR or one-generation (or none, the best one)."
    if method is None or method == "FGR" or (loop.labels == "noisy" and loop.generator_covariance == "identity"):
        return None
    if loop.generator_covariance == "estimated":
        return f"method {method} has no version for the estimated generator; use FGR (generation <= 1)."
    return f"method {method} does not handle pseudo-labels; use FGR."


def _theory(K: int, accuracy, beta, tau2, status, method: str, flip_rate=None, margin=None) -> LoopTheory:
    nan = np.full(K + 1, np.nan)
    return LoopTheory(accuracy=accuracy, beta=beta, tau2=tau2, flip_rate=nan.copy() if flip_rate is None else flip_rate,
                      margin=nan.copy() if margin is None else margin, status=status, generation=np.arange(K + 1),
                      method=method)


def _estimated(mix: Mix, model: ModelSpec, loop: LoopSpec, method: str | None, status: np.ndarray) -> LoopTheory:
    """The estimated generator: FGR at generation 1 (noisy labels), no parameter-only theory beyond."""
    K = int(loop.generations)
    accuracy = np.full(K + 1, np.nan)
    accuracy[0] = float(real_only_accuracy(mix.n, model.p, model.mu_norm, mix.gamma))
    if loop.labels == "pseudo":
        status[1:] = SIMULATION_ONLY
        return _theory(K, accuracy, np.full(K + 1, np.nan), np.full(K + 1, np.nan), status, SIMULATION_ONLY)
    recursion = generator_recursion(mix.n, mix.m, model.p, mix.label_noise, mix.rho, mix.phi, generations=K,
                                    regime=loop.regime)
    if K >= 1:
        first = functional_gram_reduction(mix, model, replace(loop, generations=1, labels="noisy"))
        accuracy[1] = first["accuracy"][1]
    status[2:] = CONDITIONAL
    return _theory(K, accuracy, recursion["beta"], recursion["tau2"], status, "FGR")


def _pseudo(mix: Mix, model: ModelSpec, loop: LoopSpec, method: str | None, status: np.ndarray) -> LoopTheory:
    """Pseudo-labels with the identity generator: FGR (exact under replace)."""
    K = int(loop.generations)
    out = functional_gram_reduction(mix, model, loop)
    if loop.regime == "accumulate":
        status[2:] = APPROXIMATE
    return _theory(K, out["accuracy"], out["beta"], out["tau2"], status, "FGR", out["flip_rate"], out["margin"])


def _noisy(mix: Mix, model: ModelSpec, loop: LoopSpec, method: str | None, status: np.ndarray) -> LoopTheory:
    """Noisy labels with the identity generator: GR, or FGR or the one-generation formula on request."""
    K = int(loop.generations)
    if method == "one-generation":
        out = one_generation_theory(mix, model, loop)
        status[1:] = WRONG
    elif method == "FGR":
        out = functional_gram_reduction(mix, model, loop)
    else:
        out = gram_reduction(mix.n, mix.m, model.p, model.mu_norm, mix.label_noise, mix.rho, mix.phi, mix.gamma,
                             generations=K, regime=loop.regime)
    return _theory(K, np.asarray(out["accuracy"]), np.asarray(out["beta"]), np.asarray(out["tau2"]), status,
                   method or "GR")


def theory_of_loop(mix: Mix, model: ModelSpec, loop: LoopSpec, method: str | None = None) -> LoopTheory:
    """:func:`predict_loop` on the package's objects: one setting's mix and model, and the loop.

    Raises NoTheoryError (with :func:`method_problem`'s sentence) if ``method`` does not exist for
    this combination, and ParameterError (a ValueError, with :func:`~rmtsynth.core.loop.loop_problem`'s
    sentence) for a setting outside the loop's domain.
    """
    check_loop(mix, model, loop)
    problem = method_problem(loop, method)
    if problem is not None:
        raise (NoTheoryError if method in METHODS else ParameterError)(problem)
    status = np.full(int(loop.generations) + 1, EXACT, dtype=object)
    if loop.generator_covariance == "estimated":
        return _estimated(mix, model, loop, method, status)
    if loop.labels == "pseudo":
        return _pseudo(mix, model, loop, method, status)
    return _noisy(mix, model, loop, method, status)


def predict_loop(*, method: str | None = None, **setting: Any) -> dict:
    """Theory of the loop at generations k = 0..K for one setting (THEORY 14).

    Parameters
    ----------
    **setting
        The keywords of :func:`rmtsynth.core.loop.loop_setting`: n, m, p, mu_norm, label_noise
        (unused for pseudo-labels), rho, phi, gamma, generations, and optionally regime
        ({"replace", "accumulate"}), labels ({"noisy", "pseudo"}) and generator_covariance
        ({"identity", "estimated"}).
    method : {None, "GR", "FGR", "one-generation"}
        None picks the best variant: GR (identity, noisy), FGR (identity, pseudo; estimated,
        noisy, generation <= 1). "one-generation" is the formula 14.8 shows to be wrong.

    Returns
    -------
    dict with arrays over k = 0..K: ``accuracy`` (nan where there is no theory), ``beta``, ``tau2``
    (the generator's alignment and spurious size; the measured tau^2 is (p-1)/p of this),
    ``flip_rate`` and ``margin`` (pseudo-labels: predicted fraction of flipped labels Phi(-a_k) and
    the previous classifier's margin a_k on the generator; nan otherwise),
    ``status`` (per generation: "exact", "approximate", "conditional", "simulation-only" or
    "wrong"), ``generation``; and ``method`` (str), the variant used.

    Raises
    ------
    NoTheoryError
        If the requested ``method`` does not exist for this combination.
    ParameterError
        (a ValueError) For a setting outside the loop's domain: an unknown regime, label kind or
        generator covariance, or a value out of range.
    """
    return theory_of_loop(*loop_setting(**setting), method).to_dict()
