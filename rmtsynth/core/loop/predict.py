"""The loop's theory for one setting: picks the right variant and says how far it is exact (THEORY 14)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from rmtsynth.core.loop.common import (
    GENERATOR_COVARIANCES, LABELS, REGIMES, GeneratorCovariance, Labels, LoopSpec, NoTheoryError, Regime,
)
from rmtsynth.core.loop.functional import functional_gram_reduction
from rmtsynth.core.loop.gram import gram_reduction, real_only_accuracy
from rmtsynth.core.loop.one_generation import one_generation_loop
from rmtsynth.core.loop.recursion import generator_recursion
from rmtsynth.core.model import Mix, ModelSpec

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

    accuracy: np.ndarray
    beta: np.ndarray
    tau2: np.ndarray
    flip_rate: np.ndarray
    margin: np.ndarray
    status: np.ndarray
    generation: np.ndarray
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _check(mix: Mix, model: ModelSpec, loop: LoopSpec, method: str | None) -> None:
    for name, value, allowed in (
        ("regime", loop.regime, REGIMES),
        ("labels", loop.labels, LABELS),
        ("generator_covariance", loop.generator_covariance, GENERATOR_COVARIANCES),
        ("method", method, METHODS),
    ):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    n, m, p, gamma, mu_norm, generations = mix.n, mix.m, model.p, mix.gamma, model.mu_norm, loop.generations
    if not (n >= 3 and m >= 0 and p >= 1 and gamma > 0 and mu_norm >= 0 and generations >= 0):
        raise ValueError(f"need n >= 3, m >= 0, p >= 1, gamma > 0, mu_norm >= 0 and generations >= 0 "
                         f"(got n={n}, m={m}, p={p}, gamma={gamma}, mu_norm={mu_norm}, generations={generations})")
    for name, value in (("label_noise", mix.label_noise), ("rho", mix.rho), ("phi", mix.phi)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {value}")


def _setting(mix: Mix, model: ModelSpec) -> dict[str, Any]:
    """The keyword arguments of the one-setting theories."""
    return dict(n=mix.n, m=mix.m, p=model.p, mu_norm=model.mu_norm, label_noise=mix.label_noise, rho=mix.rho,
                phi=mix.phi, gamma=mix.gamma)


def _theory(K: int, accuracy, beta, tau2, status, method: str, flip_rate=None, margin=None) -> LoopTheory:
    nan = np.full(K + 1, np.nan)
    return LoopTheory(accuracy=accuracy, beta=beta, tau2=tau2, flip_rate=nan.copy() if flip_rate is None else flip_rate,
                      margin=nan.copy() if margin is None else margin, status=status, generation=np.arange(K + 1),
                      method=method)


def _estimated(mix: Mix, model: ModelSpec, loop: LoopSpec, method: str | None, status: np.ndarray) -> LoopTheory:
    """The estimated generator: FGR at generation 1 (noisy labels), no parameter-only theory beyond."""
    if method not in (None, "FGR"):
        raise NoTheoryError(
            f"method {method!r} has no version for the estimated generator; use FGR (generation <= 1)")
    K = int(loop.generations)
    accuracy = np.full(K + 1, np.nan)
    accuracy[0] = float(real_only_accuracy(mix.n, model.p, model.mu_norm, mix.gamma))
    if loop.labels == "pseudo":
        status[1:] = SIMULATION_ONLY
        return _theory(K, accuracy, np.full(K + 1, np.nan), np.full(K + 1, np.nan), status, SIMULATION_ONLY)
    recursion = generator_recursion(mix.n, mix.m, model.p, mix.label_noise, mix.rho, mix.phi, generations=K,
                                    regime=loop.regime)
    if K >= 1:
        first = functional_gram_reduction(**_setting(mix, model), generations=1, regime=loop.regime, labels="noisy",
                                          generator_covariance="estimated")
        accuracy[1] = first["accuracy"][1]
    status[2:] = CONDITIONAL
    return _theory(K, accuracy, recursion["beta"], recursion["tau2"], status, "FGR")


def _pseudo(mix: Mix, model: ModelSpec, loop: LoopSpec, method: str | None, status: np.ndarray) -> LoopTheory:
    """Pseudo-labels with the identity generator: FGR (exact under replace)."""
    if method not in (None, "FGR"):
        raise NoTheoryError(f"method {method!r} does not handle pseudo-labels; use FGR")
    K = int(loop.generations)
    out = functional_gram_reduction(**_setting(mix, model), generations=K, regime=loop.regime, labels="pseudo")
    if loop.regime == "accumulate":
        status[2:] = APPROXIMATE
    return _theory(K, out["accuracy"], out["beta"], out["tau2"], status, "FGR", out["flip_rate"], out["margin"])


def _noisy(mix: Mix, model: ModelSpec, loop: LoopSpec, method: str | None, status: np.ndarray) -> LoopTheory:
    """Noisy labels with the identity generator: GR, or FGR or the one-generation formula on request."""
    K = int(loop.generations)
    if method == "one-generation":
        out = one_generation_loop(**_setting(mix, model), generations=K, regime=loop.regime)
        status[1:] = WRONG
    elif method == "FGR":
        out = functional_gram_reduction(**_setting(mix, model), generations=K, regime=loop.regime, labels="noisy")
    else:
        out = gram_reduction(mix.n, mix.m, model.p, model.mu_norm, mix.label_noise, mix.rho, mix.phi, mix.gamma,
                             generations=K, regime=loop.regime)
    return _theory(K, np.asarray(out["accuracy"]), np.asarray(out["beta"]), np.asarray(out["tau2"]), status,
                   method or "GR")


def theory_of_loop(mix: Mix, model: ModelSpec, loop: LoopSpec, method: str | None = None) -> LoopTheory:
    """:func:`predict_loop` on the package's objects: one setting's mix and model, and the loop.

    Raises NoTheoryError if ``method`` does not exist for this combination, ValueError for an
    unknown regime, label kind, generator covariance or method, or values out of range.
    """
    _check(mix, model, loop, method)
    status = np.full(int(loop.generations) + 1, EXACT, dtype=object)
    if loop.generator_covariance == "estimated":
        return _estimated(mix, model, loop, method, status)
    if loop.labels == "pseudo":
        return _pseudo(mix, model, loop, method, status)
    return _noisy(mix, model, loop, method, status)


def predict_loop(
    *,
    n: float,
    m: float,
    p: float,
    mu_norm: float,
    label_noise: float,
    rho: float,
    phi: float,
    gamma: float,
    generations: int,
    regime: Regime = "replace",
    labels: Labels = "noisy",
    generator_covariance: GeneratorCovariance = "identity",
    method: str | None = None,
) -> dict:
    """Theory of the loop at generations k = 0..K for one setting (THEORY 14).

    Parameters
    ----------
    n, m, p, mu_norm, label_noise, rho, phi, gamma : float
        As in :func:`rmtsynth.sim.loop.simulate_loop` (label_noise is unused for pseudo-labels).
    generations : int
    regime : {"replace", "accumulate"}
    labels : {"noisy", "pseudo"}
    generator_covariance : {"identity", "estimated"}
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
    ValueError
        For an unknown regime, label kind, generator covariance or method.
    """
    mix = Mix(n=n, m=m, label_noise=label_noise, rho=rho, phi=phi, gamma=gamma)
    model = ModelSpec(p=p, mu_norm=mu_norm)
    loop = LoopSpec(generations=generations, regime=regime, labels=labels, generator_covariance=generator_covariance)
    return theory_of_loop(mix, model, loop, method).to_dict()
