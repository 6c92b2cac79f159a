"""A loop's settings from the user's parameters: the keywords a loop takes and the resolved points.

The configs' parameter names are checked with the schema and resolved like the one-generation
model's points (:func:`rmtsynth.config.resolve.resolve_point`), keeping what a loop uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from rmtsynth.core.learners import SELF_CONSUMING_LOOP, get_learner
from rmtsynth.core.loop import LoopSpec
from rmtsynth.core.model import Mix, ModelSpec
from rmtsynth.errors import ConfigError
from rmtsynth.config.feature_point import FEATURE_KEYS
from rmtsynth.config.resolve import broadcast_grid, resolve_point
from rmtsynth.config.schema import ALIASES, MAX_GENERATIONS, PARAMS, Param, unknown_key

# The point parameters a loop takes; the generator is refitted every generation, so the
# one-generation model's generator keys (alignment, shift, covariance, ...) have no meaning here.
LOOP_PARAMS = (
    "n", "m", "m_over_n", "synthetic_proportion", "p", "p_over_n", "p_over_m", "mu_norm", "label_noise",
    "verifier", "rho", "phi", "verifier_precision", "verifier_recall", "gamma",
)
MIN_REAL_ROWS = 3

KEYWORDS: dict[str, Param] = {
    p.name: p
    for p in [
        Param("generations", "int", "K, the last generation", 0, MAX_GENERATIONS),
        Param("regime", "choice", "the training set of generation k", choices=("replace", "accumulate")),
        Param("labels", "choice", "the generated rows' labels", choices=("noisy", "pseudo")),
        Param("generator_covariance", "choice", "the generator's noise covariance", choices=("identity", "estimated")),
        Param("method", "choice", "the theory to use (default: the best one)", choices=("GR", "FGR", "one-generation")),
        Param("seeds", "int", "independent replicates of the loop", 1, 100_000),
        Param("seed", "int", "root seed", 0, 2**63 - 1),
    ]
}


@dataclass(frozen=True)
class LoopPoint:
    """One loop setting in the model's quantities (what the theory and the simulation take)."""

    n: int
    m: int
    p: int
    mu_norm: float
    label_noise: float
    rho: float
    phi: float
    gamma: float
    verifier_precision: float
    verifier_recall: float

    def mix(self) -> Mix:
        """What the classifier trains on: sizes, label noise, verifier and ridge."""
        return Mix(n=self.n, m=self.m, label_noise=self.label_noise, rho=self.rho, phi=self.phi, gamma=self.gamma)

    def model(self) -> ModelSpec:
        """The real distribution: dimension and class-mean norm (the generator is refitted every generation)."""
        return ModelSpec(p=self.p, mu_norm=self.mu_norm)

    def model_args(self) -> dict[str, Any]:
        """The keyword arguments of :func:`rmtsynth.core.loop.predict_loop`."""
        return {k: getattr(self, k) for k in ("n", "m", "p", "mu_norm", "label_noise", "rho", "phi", "gamma")}


def keyword(name: str, value: Any) -> Any:
    """A loop keyword (generations, regime, ...) checked against its declaration."""
    return KEYWORDS[name].check(value, name)


def _check_labels(checked: Mapping[str, Any], where: str, labels: str) -> None:
    if checked.get("label_noise") == "auto":
        raise ConfigError(f"{where}: label_noise = auto is not used by a loop; give a number, or use labels: pseudo.")
    if labels != "pseudo":
        return
    for key in ("verifier_precision", "verifier_recall"):
        if key in checked:
            raise ConfigError(
                f"{where}: {key} needs a fixed label noise, but pseudo-labels are wrong at a rate that changes "
                "every generation; give the verifier as rho and phi, or by name."
            )
    if checked.get("label_noise", 0.0) != 0.0:
        raise ConfigError(
            f"{where}: label_noise is not used with pseudo-labels (the previous classifier labels the rows); remove it."
        )


def _check_loop_learner(learner: str, where: str) -> None:
    """The loop's theory (a recursion of Gram matrices) and its simulation (per-class sufficient
    statistics) hold for a quadratic loss only."""
    if not get_learner(learner).supports(SELF_CONSUMING_LOOP):
        raise ConfigError(
            f"{where}: learner = {learner} is not covered by the loop, whose theory and simulation both rest on "
            "ridge's sufficient statistics; use learner: ridge (the default) for a loop."
        )


def resolve_loop_point(params: Mapping[str, Any], where: str = "params", *, labels: str = "noisy") -> LoopPoint:
    """Check one setting's parameters (config names, single values) and resolve them.

    ``where`` starts every message (``params``, ``series 'weak'``).

    Raises ConfigError (one sentence naming the key) for a parameter the loop does not take, a
    value out of range, an impossible verifier, or sizes the loop cannot run with.
    """
    checked: dict[str, Any] = {}
    for raw_name, value in params.items():
        name = ALIASES.get(raw_name, raw_name)
        if name not in PARAMS:
            raise unknown_key(str(raw_name), f"{where}.", list(LOOP_PARAMS))
        if name == "learner":
            _check_loop_learner(PARAMS[name].check(value, f"{where}.{raw_name}"), where)
            continue
        if name == "verifier_keep" and value == "none":
            continue
        if name in FEATURE_KEYS:
            raise ConfigError(
                f"{where}: {raw_name} = {value} is not available in a loop: the loop's theory (THEORY.md 14) and its "
                "simulation both take a feature-blind verifier (rho, phi), so neither covers a verifier that looks at "
                "the features; one generation (kind curves, rmtsynth.predict, rmtsynth.simulate) has theory and simulation."
            )
        if name not in LOOP_PARAMS:
            raise ConfigError(
                f"{where}: {raw_name} is not used by a loop, whose generator is refitted on the previous training set "
                f"every generation; the parameters are {', '.join(LOOP_PARAMS)}."
            )
        checked[name] = PARAMS[name].check(value, f"{where}.{raw_name}")
    _check_labels(checked, where, labels)
    point = resolve_point(checked, Path.cwd(), where)
    if point.n < MIN_REAL_ROWS:
        raise ConfigError(f"{where}: n = {point.n} is too small; a loop needs n >= {MIN_REAL_ROWS} real rows.")
    return LoopPoint(
        n=point.n, m=point.m, p=point.p, mu_norm=point.mu_norm, label_noise=point.label_noise, rho=point.rho,
        phi=point.phi, gamma=point.gamma, verifier_precision=point.verifier_precision,
        verifier_recall=point.verifier_recall,
    )


def resolve_grid(params: Mapping[str, Any], labels: str) -> tuple[tuple[int, ...], list[LoopPoint]]:
    """The broadcast shape of array parameters and the resolved point of every cell (row-major)."""
    shape, grid = broadcast_grid(dict(params))
    cache: dict[str, LoopPoint] = {}
    points = []
    for values in grid:
        key = repr(sorted(values.items()))
        if key not in cache:
            cache[key] = resolve_loop_point(values, "params", labels=labels)
        points.append(cache[key])
    return shape, points


def loop_spec(generations: Any, regime: Any, labels: Any, generator_covariance: Any) -> LoopSpec:
    """The loop's own settings, each checked against its keyword's declaration."""
    return LoopSpec(
        generations=keyword("generations", generations),
        regime=keyword("regime", regime),
        labels=keyword("labels", labels),
        generator_covariance=keyword("generator_covariance", generator_covariance),
    )
