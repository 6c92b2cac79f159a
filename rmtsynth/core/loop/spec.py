"""A loop's setting in one form: the mix and the model of one generation, and the loop's own settings.

The theory (:func:`rmtsynth.core.loop.theory_of_loop`) and the whole-loop simulation
(:mod:`rmtsynth.sim.loop`) both take ``(Mix, ModelSpec, LoopSpec)``; :func:`loop_setting` builds
them from the plain keywords of the functions that take numbers, and :func:`loop_problem` is the
one check of their domain (its sentence is raised as a ParameterError by :func:`check_loop`, and
turned into a ConfigError by the config layer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from rmtsynth.core.model import Mix, ModelSpec
from rmtsynth.errors import ParameterError

Regime = Literal["replace", "accumulate"]
Labels = Literal["noisy", "pseudo"]
GeneratorCovariance = Literal["identity", "estimated"]

REGIMES = ("replace", "accumulate")
LABELS = ("noisy", "pseudo")
GENERATOR_COVARIANCES = ("identity", "estimated")
# The pooled covariance of a refit divides by rows - 2, and a class needs a row of its own.
MIN_REAL_ROWS = 3


@dataclass(frozen=True)
class LoopSpec:
    """What makes a setting a loop: how many generations, what each trains on, labels and generator.

    Attributes
    ----------
    generations : int
        K, the last generation (generation 0 is ridge on the real rows alone).
    regime : {"replace", "accumulate"}
        The training set of generation k: the real rows plus the kept rows of generation k, or of 1..k.
    labels : {"noisy", "pseudo"}
        The generated rows' labels: the generator's label with flips, or the previous classifier's.
    generator_covariance : {"identity", "estimated"}
        The generator's noise covariance: I, or the pooled within-class covariance of the previous
        training set.
    """

    generations: int
    regime: Regime = "replace"
    labels: Labels = "noisy"
    generator_covariance: GeneratorCovariance = "identity"


def loop_setting(
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
) -> tuple[Mix, ModelSpec, LoopSpec]:
    """One loop setting from plain numbers: (mix, model, loop).

    n, m, p are the real rows, the rows generated per generation and the dimension; mu_norm is
    ||mu||; label_noise the generator's flip rate (unused with pseudo-labels); rho, phi the
    verifier's keep probabilities of a wrong and a correct label; gamma the ridge penalty. The
    generator is refitted every generation, so the model holds p and ||mu|| only.
    """
    mix = Mix(n=n, m=m, label_noise=label_noise, rho=rho, phi=phi, gamma=gamma)
    model = ModelSpec(p=p, mu_norm=mu_norm)
    loop = LoopSpec(generations=generations, regime=regime, labels=labels, generator_covariance=generator_covariance)
    return mix, model, loop


def _bad(name: str, value: object, rule: str) -> str:
    shown = f"{value:g}" if isinstance(value, (int, float, np.number)) and not isinstance(value, bool) else repr(value)
    return f"{name} has an invalid value ({shown}); {rule}."


def _number(value: object) -> float | None:
    """The value as a finite float, or None (a string, an array, nan, inf)."""
    if isinstance(value, bool) or np.ndim(value) != 0:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _numeric_rules(whole_counts: bool):
    """(name, lowest allowed, strict, whole number, rule) of every number of a loop setting."""
    counts = "a whole number >= 0" if whole_counts else ">= 0"
    return (
        ("n", MIN_REAL_ROWS, False, whole_counts, f"a loop needs n >= {MIN_REAL_ROWS} real rows"
         + (", a whole number" if whole_counts else "")),
        ("m", 0.0, False, whole_counts, f"it must be {counts}"),
        ("p", 1.0, False, True, "it must be a whole number >= 1"),
        ("mu_norm", 0.0, False, False, "it must be >= 0"),
        ("label_noise", 0.0, False, False, "it must be between 0 and 1"),
        ("rho", 0.0, False, False, "it must be between 0 and 1"),
        ("phi", 0.0, False, False, "it must be between 0 and 1"),
        ("gamma", 0.0, True, False, "it must be > 0"),
        ("generations", 0.0, False, True, "it must be a whole number >= 0"),
    )


def loop_problem(mix: Mix, model: ModelSpec, loop: LoopSpec, *, whole_counts: bool = False) -> str | None:
    """The sentence saying why a loop setting is outside the domain of the theory and simulation, or None.

    The domain: n >= 3 real rows, m >= 0, p a whole number >= 1, ||mu|| >= 0, label_noise, rho
    and phi between 0 and 1, gamma > 0, generations a whole number >= 0, every value a finite
    number, regime, labels and generator_covariance among their choices, and a feature-blind
    verifier (the mix holds no rule that looks at the features). With
    ``whole_counts`` (a simulation draws rows) n and m must also be whole numbers. The first
    problem is reported, in that order, naming the quantity.
    """
    values = {"n": mix.n, "m": mix.m, "p": model.p, "mu_norm": model.mu_norm, "label_noise": mix.label_noise,
              "rho": mix.rho, "phi": mix.phi, "gamma": mix.gamma, "generations": loop.generations}
    for name, lowest, strict, whole, rule in _numeric_rules(whole_counts):
        number = _number(values[name])
        if number is None:
            return _bad(name, values[name], "it must be a finite number")
        too_low = number <= lowest if strict else number < lowest
        too_high = name in ("label_noise", "rho", "phi") and number > 1.0
        if too_low or too_high or (whole and number != round(number)):
            return _bad(name, values[name], rule)
    for name, value, allowed in (("regime", loop.regime, REGIMES), ("labels", loop.labels, LABELS),
                                 ("generator_covariance", loop.generator_covariance, GENERATOR_COVARIANCES)):
        if value not in allowed:
            return _bad(name, value, f"it must be {' or '.join(allowed)}")
    if mix.rule is not None and mix.rule.feature_aware:
        return (f"verifier = {mix.rule.name} looks at the features, but the loop's theory and its simulation both "
                "take a feature-blind verifier (rho, phi); give the verifier as rho and phi, or by name.")
    return None


def check_loop(mix: Mix, model: ModelSpec, loop: LoopSpec, *, whole_counts: bool = False) -> None:
    """Raise :class:`~rmtsynth.errors.ParameterError` with :func:`loop_problem`'s sentence, if any."""
    problem = loop_problem(mix, model, loop, whole_counts=whole_counts)
    if problem is not None:
        raise ParameterError(problem)
