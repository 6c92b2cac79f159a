"""A loop's settings from the user's parameters, checked: the point, the loop's own keywords, loop plans.

The configs' parameter names are checked with the schema and resolved like the one-generation
model's points (:func:`rmtsynth.config.resolve.resolve_point`) to a :class:`ResolvedPoint` (its
``mix`` and ``model``), and the loop's own keywords to a :class:`~rmtsynth.core.loop.LoopSpec`;
the loop's domain (:func:`rmtsynth.core.loop.loop_problem`) and the planner's questions are
checked here, so that ``rmtsynth validate`` refuses what a run would refuse, each problem as one
ConfigError sentence naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from rmtsynth.core.learners import SELF_CONSUMING_LOOP, get_learner
from rmtsynth.core.loop import LoopSpec, loop_problem, method_problem
from rmtsynth.errors import ConfigError
from rmtsynth.config.feature_point import FEATURE_KEYS
from rmtsynth.config.resolve import ResolvedPoint, broadcast_grid, resolve_point
from rmtsynth.config.schema import ALIASES, MAX_GENERATIONS, PARAMS, PLAN_SECTIONS, Param, unknown_key

# The point parameters a loop takes; the generator is refitted every generation, so the
# one-generation model's generator keys (alignment, shift, covariance, ...) have no meaning here.
LOOP_PARAMS = (
    "n", "m", "m_over_n", "synthetic_proportion", "p", "p_over_n", "p_over_m", "mu_norm", "label_noise",
    "verifier", "rho", "phi", "verifier_precision", "verifier_recall", "gamma",
)
# The loop's own settings, in LoopSpec's order.
LOOP_KEYWORDS = ("generations", "regime", "labels", "generator_covariance")

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

# The keys of a loop plan are declared with the other plan keys in the schema.
LOOP_PLAN_TOP_LEVEL = ("title", "description", "seed", "params", "loop", "data")
LOOP_PLAN_KEYS = PLAN_SECTIONS["loop"].keys
# Accumulate's theory costs about generations^3 (100: a few seconds; 200: minutes): the planner stops here.
PLAN_ACCUMULATE_MAX = 100
# With data, p and mu_norm come from the rows; these stand in for them while the file is checked.
DATA_PLACEHOLDERS = {"p": 100, "mu_norm": 1.0}


def keyword(name: str, value: Any) -> Any:
    """A loop keyword (generations, regime, ...) checked against its declaration."""
    return KEYWORDS[name].check(value, name)


def loop_spec(generations: Any, regime: Any = "replace", labels: Any = "noisy",
              generator_covariance: Any = "identity") -> LoopSpec:
    """The loop's own settings, each checked against its keyword's declaration."""
    return LoopSpec(
        generations=keyword("generations", generations),
        regime=keyword("regime", regime),
        labels=keyword("labels", labels),
        generator_covariance=keyword("generator_covariance", generator_covariance),
    )


def split_loop_keywords(params: Mapping[str, Any]) -> tuple[LoopSpec, dict[str, Any]]:
    """The loop's own settings (generations required) and the point parameters of a loop function's keywords."""
    if "generations" not in params:
        raise ConfigError("generations is missing: give K, the last generation (a whole number >= 0).")
    loop = loop_spec(**{k: params[k] for k in LOOP_KEYWORDS if k in params})
    return loop, {k: v for k, v in params.items() if k not in LOOP_KEYWORDS}


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


def _checked_params(params: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The point parameters, each checked against its declaration; the keys a loop does not take refused."""
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
    return checked


def resolve_loop_point(params: Mapping[str, Any], loop: LoopSpec, where: str = "params") -> ResolvedPoint:
    """Check one setting's parameters (config names, single values) for ``loop`` and resolve them.

    ``where`` starts every message (``params``, ``series 'weak'``). The point's ``mix`` and
    ``model`` with ``loop`` are the setting the theory and the simulation take.

    Raises ConfigError (one sentence naming the key) for a parameter the loop does not take, a
    value out of range, an impossible verifier, or a setting outside the loop's domain.
    """
    checked = _checked_params(params, where)
    _check_labels(checked, where, loop.labels)
    point = resolve_point(checked, Path.cwd(), where)
    problem = loop_problem(point.mix, point.model, loop)
    if problem is not None:
        raise ConfigError(f"{where}: {problem}")
    return point


def resolve_loop_grid(params: Mapping[str, Any], loop: LoopSpec) -> tuple[tuple[int, ...], list[ResolvedPoint]]:
    """The broadcast shape of array parameters and the resolved point of every cell (row-major)."""
    shape, grid = broadcast_grid(dict(params))
    cache: dict[str, ResolvedPoint] = {}
    points = []
    for values in grid:
        key = repr(sorted(values.items()))
        if key not in cache:
            cache[key] = resolve_loop_point(values, loop)
        points.append(cache[key])
    return shape, points


def loop_method(loop: LoopSpec, method: Any) -> str | None:
    """The theory asked for (None: the best one), checked against its declaration and against ``loop``."""
    if method is None:
        return None
    method = keyword("method", method)
    problem = method_problem(loop, method)
    if problem is not None:
        raise ConfigError(f"method = {method} does not exist for labels = {loop.labels} with generator_covariance = "
                          f"{loop.generator_covariance}: {problem}")
    return method


# --------------------------------------------------------------------------------------------
# The loop planner's question
# --------------------------------------------------------------------------------------------


def plan_generations(generations: Any, regime: Any) -> tuple[int | None, str]:
    """The planner's end generation (None: the replace loop's fixed point, or accumulate's default) and regime."""
    regime = keyword("regime", regime)
    if generations is None:
        return None, regime
    generations = keyword("generations", generations)
    if generations < 1:
        raise ConfigError(f"generations = {generations} is out of range; the loop planner needs generations >= 1.")
    if regime == "accumulate" and generations > PLAN_ACCUMULATE_MAX:
        raise ConfigError(f"generations = {generations} is out of range for regime accumulate; the planner follows at "
                          f"most {PLAN_ACCUMULATE_MAX} generations (its cost grows with the cube of their number).")
    return generations, regime


def plan_point(params: Mapping[str, Any], regime: str) -> ResolvedPoint:
    """The planner's setting (noisy labels, identity generator): a loop point that feeds something back."""
    point = resolve_loop_point(params, LoopSpec(generations=1, regime=regime))
    if point.m < 1:
        raise ConfigError("params: m = 0 leaves the loop nothing to feed back; give m >= 1 synthetic rows per generation.")
    if point.label_noise >= 1.0:
        raise ConfigError("params.label_noise = 1 makes every generated label wrong; no verifier precision can be searched.")
    return point


def check_loop_data(raw: Any, params: Mapping[str, Any], base_dir: Path):
    """The ``data`` entry of a loop plan, checked (no file opened); p and mu_norm must not be in params."""
    from rmtsynth.config.data import parse_data_entry

    for key in ("p", "p_over_n", "p_over_m", "mu_norm"):
        if key in params:
            raise ConfigError(f"params.{key} cannot be given with data: it is taken from the data.")
    return parse_data_entry(raw, "data", base_dir, use="plan")


def _plan_params(data: Mapping[str, Any]) -> dict[str, Any]:
    params = data.get("params")
    if not isinstance(params, dict) or not params:
        raise ConfigError("params is missing: give the setting (n, m or m_over_n, p or p_over_n, mu_norm, label_noise, gamma).")
    for key, value in params.items():
        if isinstance(value, (list, dict)):
            raise ConfigError(f"params.{key} must be a single value: the loop planner evaluates one setting.")
    return params


def _plan_loop_section(data: Mapping[str, Any]) -> dict[str, Any]:
    loop = data.get("loop") or {}
    if not isinstance(loop, dict):
        raise ConfigError("loop must be a mapping {regime, generations}.")
    args: dict[str, Any] = {"regime": LOOP_PLAN_KEYS["regime"].default, "generations": None}
    for key, value in loop.items():
        if key not in LOOP_PLAN_KEYS:
            raise unknown_key(str(key), "loop.", list(LOOP_PLAN_KEYS))
        args[key] = LOOP_PLAN_KEYS[key].check(value, f"loop.{key}")
    return args


def parse_loop_plan(data: Mapping[str, Any], base_dir: Path | None = None) -> dict[str, Any]:
    """Check a loop plan mapping (title, description, seed, params, loop, data) as the planner would.

    Returns :func:`rmtsynth.plan_loop`'s arguments, the title and, with ``data`` (relative to
    ``base_dir``), its checked entry (no file opened: p and ||mu|| are checked on placeholders).
    """
    for key in data:
        if not isinstance(key, str) or key not in LOOP_PLAN_TOP_LEVEL:
            raise unknown_key(str(key), "", list(LOOP_PLAN_TOP_LEVEL))
    title = data.get("title", "")
    if not isinstance(title, (str, int, float)) or isinstance(title, bool):
        raise ConfigError("title must be text.")
    params = _plan_params(data)
    args = _plan_loop_section(data)
    spec = None
    if data.get("data") is not None:
        spec = check_loop_data(data["data"], params, Path.cwd() if base_dir is None else base_dir)
    _, regime = plan_generations(args["generations"], args["regime"])
    plan_point(params if spec is None else {**params, **DATA_PLACEHOLDERS}, regime)
    return {"title": str(title), "arguments": {**args, **params}, "data_spec": spec}


__all__ = [
    "KEYWORDS", "LOOP_KEYWORDS", "LOOP_PARAMS", "LOOP_PLAN_KEYS", "LOOP_PLAN_TOP_LEVEL", "PLAN_ACCUMULATE_MAX",
    "check_loop_data", "keyword", "loop_method", "loop_spec", "parse_loop_plan", "plan_generations", "plan_point",
    "resolve_loop_grid", "resolve_loop_point", "split_loop_keywords",
]
