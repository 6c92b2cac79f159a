"""The loop planner: the smallest verifier precision for which a loop does not end below real data alone.

Identity generator and noisy labels, by the Gram reduction (THEORY.md 14.9); plan files are read
here and checked by :mod:`rmtsynth.config.loop_config`, and :mod:`rmtsynth.engine.loop_report`
writes the answer as text.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Sequence

from rmtsynth.config.loop_config import parse_loop_plan, plan_generations, plan_point, resolve_loop_point
from rmtsynth.config.resolve import ResolvedPoint
from rmtsynth.core import loop as loop_theory
from rmtsynth.core.loop import LoopSpec
from rmtsynth.core.verifiers.rates import min_precision
from rmtsynth.io.output import json_ready

# How far the replace loop is followed to find its first drop when the end is its fixed point.
PLAN_HORIZON = 100
# The accumulate loop has no fixed point at finite generations; its end defaults to this one.
PLAN_ACCUMULATE_GENERATIONS = 50
ACCUMULATE_THRESHOLD = 0.75
# The quantities of the setting a plan reports, in this order.
SETTING_KEYS = ("n", "m", "p", "mu_norm", "label_noise", "rho", "phi", "gamma", "verifier_precision", "verifier_recall")


@dataclass(frozen=True)
class FixedPoint:
    """The replace loop's fixed point: the generator's alignment, spurious size, rate and the accuracy."""

    beta: float
    tau2: float
    rate: float
    accuracy: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class LoopPlan:
    """The loop planner's answer for one setting (fields as in :func:`plan_loop`'s mapping)."""

    regime: str
    generations: int | None
    setting: ResolvedPoint
    accuracy_real_only: float
    min_verifier_precision: float
    min_verifier_precision_status: str
    lowest_valid_precision: float
    accuracy_end: float
    gain_end: float
    accuracy_by_generation: tuple[float, ...]
    first_drop_generation: int | None
    horizon: int
    fixed_point: FixedPoint | None
    accumulate_stable: bool | None
    messages: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["setting"] = {key: getattr(self.setting, key) for key in SETTING_KEYS}
        out["accuracy_by_generation"] = list(self.accuracy_by_generation)
        out["fixed_point"] = None if self.fixed_point is None else self.fixed_point.to_dict()
        out["messages"] = list(self.messages)
        return out


def _fixed_point(point: ResolvedPoint) -> FixedPoint:
    fp = loop_theory.replace_fixed_point(point.n, point.m, point.p, point.label_noise, point.rho, point.phi)
    accuracy = loop_theory.replace_step_accuracy(point.n, point.m, point.p, point.mu_norm, point.label_noise,
                                                 point.rho, point.phi, point.gamma, fp["beta"], fp["spurious_energy"])
    return FixedPoint(beta=float(fp["beta"]), tau2=float(fp["tau2"]), rate=float(fp["rate"]), accuracy=float(accuracy))


def _threshold_status(threshold: float, lowest: float) -> str:
    if math.isnan(threshold):
        return "unreachable"
    return "any" if threshold <= lowest else "found"


def _messages(plan: LoopPlan) -> tuple[str, ...]:
    """The planner's answer in sentences."""
    regime, recall, precision = plan.regime, plan.setting.verifier_recall, plan.setting.verifier_precision
    end_text = "the loop's fixed point" if plan.generations is None else f"generation {plan.generations}"
    status = plan.min_verifier_precision_status
    if status == "found":
        first = (f"The {regime} loop does not end below real data alone ({end_text}) when the verifier's precision is "
                 f"at least {plan.min_verifier_precision:.4f} (at recall {recall:.4g}).")
    elif status == "any":
        first = f"The {regime} loop does not end below real data alone ({end_text}) even without a useful verifier."
    else:
        first = (f"The {regime} loop ends below real data alone ({end_text}) even with a perfect precision at recall "
                 f"{recall:.4g}.")
    messages = [first, (
        f"With the verifier in use (precision {precision:.4g}), {end_text} reaches {plan.accuracy_end:.4f} "
        f"against {plan.accuracy_real_only:.4f} for real data alone ({plan.gain_end:+.4f})."
    )]
    if plan.first_drop_generation is not None:
        messages.append(f"Its accuracy first drops below real data alone at generation {plan.first_drop_generation}.")
    else:
        messages.append(f"Its accuracy does not drop below real data alone up to generation {plan.horizon}.")
    if regime == "accumulate":
        messages.append(
            "Under accumulate the loop stabilises only when the precision exceeds 3/4; with precision "
            f"{precision:.4g} it {'does' if plan.accumulate_stable else 'does not: its accuracy decays towards 1/2'}."
        )
    return tuple(messages)


def _plan(point: ResolvedPoint, regime: str, end_k: int | None) -> LoopPlan:
    """The planner's numbers for one resolved setting; ``end_k`` None is the replace loop's fixed point."""
    recall = point.verifier_recall
    baseline = float(loop_theory.real_only_accuracy(point.n, point.p, point.mu_norm, point.gamma))
    threshold = float(loop_theory.min_precision_for_loop(
        n=point.n, m=point.m, p=point.p, mu_norm=point.mu_norm, label_noise=point.label_noise, gamma=point.gamma,
        recall=recall, generations=end_k, regime=regime))
    lowest = float(min_precision(point.label_noise, recall))
    horizon = end_k if end_k is not None else PLAN_HORIZON
    trajectory = loop_theory.gram_reduction(point.n, point.m, point.p, point.mu_norm, point.label_noise, point.rho,
                                            point.phi, point.gamma, generations=horizon, regime=regime)["accuracy"]
    drop = int(loop_theory.first_drop_generation(trajectory, baseline=baseline))
    fixed = _fixed_point(point) if regime == "replace" else None
    accuracy_end = fixed.accuracy if (fixed is not None and end_k is None) else float(trajectory[end_k])
    plan = LoopPlan(
        regime=regime, generations=end_k, setting=point, accuracy_real_only=baseline,
        min_verifier_precision=threshold, min_verifier_precision_status=_threshold_status(threshold, lowest),
        lowest_valid_precision=lowest, accuracy_end=accuracy_end, gain_end=accuracy_end - baseline,
        accuracy_by_generation=tuple(float(a) for a in trajectory), first_drop_generation=drop if drop > 0 else None,
        horizon=horizon, fixed_point=fixed,
        accumulate_stable=bool(point.verifier_precision > ACCUMULATE_THRESHOLD) if regime == "accumulate" else None,
        messages=(),
    )
    return replace(plan, messages=_messages(plan))


def plan_loop(*, generations: int | None = None, regime: str = "replace", **params: Any) -> dict[str, Any]:
    """Does a loop fed its own verified synthetic data end below real data alone? (THEORY.md 14.9)

    Identity generator and noisy labels (the Gram reduction, exact in the proportional limit).

    Parameters
    ----------
    generations : int, optional
        The generation K whose accuracy is compared with real data alone. None: under replace,
        the loop's fixed point (closed form); under accumulate, K = 50.
    regime : {"replace", "accumulate"}
    **params
        One setting, config names: ``n``, ``m`` (or ``m_over_n``), ``p`` (or ``p_over_n``),
        ``mu_norm``, ``label_noise``, ``gamma`` and, optionally, the verifier in use (any form;
        its recall is kept while the precision is searched; default: no verifier).

    Returns
    -------
    dict (JSON-ready: NaN as None)
        ``regime``; ``generations`` (None for the fixed point); ``setting`` (the resolved n, m,
        p, mu_norm, label_noise, rho, phi, gamma, verifier_precision, verifier_recall);
        ``accuracy_real_only``; ``min_verifier_precision`` (the smallest precision, at the
        verifier's recall, whose end accuracy is not below real data alone; None when even
        precision 1 falls below) and ``min_verifier_precision_status`` ("found", "any" when
        even the lowest possible precision does not fall below, "unreachable");
        ``lowest_valid_precision``; ``accuracy_end`` (the verifier in use, at the end),
        ``gain_end``; ``accuracy_by_generation`` (k = 0..horizon); ``first_drop_generation``
        (the first k >= 1 below real data alone, None if none up to the horizon);
        ``horizon``; ``fixed_point`` (replace: beta, tau2, rate, accuracy; else None);
        ``accumulate_stable`` (precision > 3/4, accumulate only); ``messages``.
    """
    generations, regime = plan_generations(generations, regime)
    point = plan_point(params, regime)
    end_k = generations if generations is not None else (None if regime == "replace" else PLAN_ACCUMULATE_GENERATIONS)
    return json_ready(_plan(point, regime, end_k).to_dict())


def load_loop_plan(path: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Read a loop plan file (with ``key=value`` overrides) and answer it: :func:`plan_loop`'s mapping plus ``title``."""
    from rmtsynth.config.plan_config import read_plan_file

    _, data = read_plan_file(Path(path), overrides)
    parsed = parse_loop_plan(data, Path(path).resolve().parent)
    if parsed["data_spec"] is None:
        return {"title": parsed["title"], **plan_loop(**parsed["arguments"])}
    from rmtsynth.engine.loop_data import loop_params_from_data

    loop = LoopSpec(generations=1, regime=parsed["arguments"]["regime"])
    arguments, info = loop_params_from_data(parsed["data_spec"], parsed["arguments"],
                                            lambda q: resolve_loop_point(
                                                {k: v for k, v in q.items() if k not in ("regime", "generations")}, loop))
    result = plan_loop(**arguments)
    result["messages"] = [info["sentence"]] + list(result["messages"])
    return {"title": parsed["title"], **result, "data": info}
