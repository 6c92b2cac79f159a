"""The planner for a verifier that looks at the features (THEORY.md 15): rule, threshold, precision.

For the configured direction v and label-aware part (q_wrong, q_correct) = (rho, phi), the plan
reports

* the best threshold of each hard rule (keep-easy and keep-hard; the soft rule too when it is
  the configured one), which rule wins, and the accuracy there (a grid over the score's range,
  refined by bounded scalar maximisation between the neighbours of the best grid point);
* the precision at which the mix stops beating the real data alone at that rule and threshold:
  the label-aware part's q_wrong is raised from 0 to 1, which lowers the kept rows' precision,
  and the gain's root is found by ``brentq``;
* whether precision and recall answer the question at all: the feature-blind verifier with the
  same precision and recall (rho = the rule's false-positive rate, phi = its recall) is evaluated
  too, and when its accuracy differs the plan says so.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from rmtsynth.config.plan_config import PlanConfig
from rmtsynth.core.feature_verifier import feature_theory, tilt_geometry
from rmtsynth.core.model import DataModel, Mix
from rmtsynth.core.verifiers.rates import precision_recall
from rmtsynth.core.verifiers.feature import _times_covariance
from rmtsynth.errors import ParameterError
from rmtsynth.io.output import json_ready
from rmtsynth.sim.geometry import placed_model

GRID = 81
THRESHOLD_TOL = 1e-4
PRECISION_TOL = 1e-6
# Accuracies closer than this are "the same" when precision and recall are compared.
SAME_ACCURACY = 1e-3
NO_GAIN = 1e-12


class _Setting:
    """The plan's model, mix and verifier, with the accuracy as a function of the rule's choices."""

    def __init__(self, cfg: PlanConfig):
        point = cfg.point
        self.point, self.feature = point, point.mix.rule
        self.model: DataModel = placed_model(point.generator, cfg.seed)
        self.mix = Mix(point.n, point.m, point.label_noise, point.rho, point.phi, point.gamma)
        self.real = float(self.model.theory(Mix(point.n, 0, point.label_noise, point.rho, point.phi, point.gamma)).accuracy)

    def verifier(self, keep: str, threshold: float, q_wrong: float | None = None):
        softness = self.feature.softness if keep == "soft" else None
        rule = replace(self.feature, keep=keep, threshold=threshold, softness=softness, passed=None)
        return rule.with_label_part(self.point.rho if q_wrong is None else q_wrong, self.point.phi).placed(self.model)

    def accuracy(self, keep: str, threshold: float, q_wrong: float | None = None) -> float:
        """The theory's accuracy; nan where the threshold keeps almost nothing."""
        try:
            verifier = self.verifier(keep, threshold, q_wrong)
        except ParameterError:
            return float("nan")
        return float(feature_theory(self.model, self.mix, verifier=verifier).result.accuracy)

    def shares(self, keep: str, threshold: float, q_wrong: float | None = None) -> tuple[float, float]:
        """(false-positive rate, recall) of the rule: the kept shares of the wrong and the correct rows."""
        verifier = self.verifier(keep, threshold, q_wrong)
        geometry = tilt_geometry(verifier, self.model.mean, _times_covariance(self.model, verifier.direction))
        return geometry.false_positive_rate, geometry.recall

    def precision(self, keep: str, threshold: float, q_wrong: float | None = None) -> float:
        fpr, recall = self.shares(keep, threshold, q_wrong)
        return float(precision_recall(self.point.label_noise, fpr, recall)[0])

    def score_range(self) -> tuple[float, float]:
        """Thresholds over the score's range: its mean (either sign) plus or minus four sd."""
        v = self.verifier("easy", -1e6).direction
        mean = abs(float(v @ self.model.mean))
        sd = float(np.sqrt(max(v @ _times_covariance(self.model, v), 0.0)))
        return -mean - 4.0 * sd, mean + 4.0 * sd


def best_threshold(setting: _Setting, keep: str) -> tuple[float, float]:
    """(threshold, accuracy) of the rule's best threshold; (nan, nan) when every threshold keeps nothing."""
    low, high = setting.score_range()
    grid = np.linspace(low, high, GRID)
    acc = np.array([setting.accuracy(keep, t) for t in grid])
    if not np.any(np.isfinite(acc)):
        return float("nan"), float("nan")
    k = int(np.nanargmax(acc))
    a, b = grid[max(k - 1, 0)], grid[min(k + 1, GRID - 1)]
    res = minimize_scalar(lambda t: -np.nan_to_num(setting.accuracy(keep, t), nan=-1.0), bounds=(a, b),
                          method="bounded", options={"xatol": THRESHOLD_TOL})
    if -res.fun >= acc[k]:
        return float(res.x), float(-res.fun)
    return float(grid[k]), float(acc[k])


def precision_where_gain_ends(setting: _Setting, keep: str, threshold: float) -> tuple[float | None, str]:
    """The kept rows' precision below which the mix stops gaining over real data alone, and a status.

    ``always``: the mix gains at every q_wrong (the value is the lowest precision the rule reaches,
    q_wrong = 1); ``never``: not even with q_wrong = 0; ``found``: the root.
    """
    def gain(q: float) -> float:
        return setting.accuracy(keep, threshold, q) - setting.real

    if gain(1.0) > NO_GAIN:
        return setting.precision(keep, threshold, 1.0), "always"
    if not gain(0.0) > NO_GAIN:
        return None, "never"
    root = brentq(gain, 0.0, 1.0, xtol=PRECISION_TOL)
    return setting.precision(keep, threshold, root), "found"


def run_feature_plan(cfg: PlanConfig) -> dict[str, Any]:
    """Every number of the plan of a feature-aware verifier, as a JSON-ready mapping."""
    if cfg.roc is not None or cfg.data_spec is not None:
        raise ParameterError("verifier_keep is not supported by plan together with verifier_roc or data: the plan of a "
                             "feature-aware verifier is on the Gaussian model of params.")
    setting = _Setting(cfg)
    point, feature = setting.point, setting.feature
    configured = setting.accuracy(feature.keep, feature.threshold)
    fpr, recall = setting.shares(feature.keep, feature.threshold)
    blind = float(setting.model.theory(Mix(point.n, point.m, point.label_noise, fpr, recall, point.gamma)).accuracy)
    rules = ["easy", "hard"] + (["soft"] if feature.keep == "soft" else [])
    best = {keep: best_threshold(setting, keep) for keep in rules}
    winner = max((k for k in rules if np.isfinite(best[k][1])), key=lambda k: best[k][1])
    threshold, accuracy = best[winner]
    precision, status = precision_where_gain_ends(setting, winner, threshold)
    suffice = abs(configured - blind) <= SAME_ACCURACY
    out = {
        "title": cfg.title,
        "feature_verifier": True,
        "setting": point.record(),
        "accuracy_real_only": setting.real,
        "accuracy_configured": configured,
        "gain_configured": configured - setting.real,
        "verifier_precision": point.verifier_precision,
        "verifier_recall": point.verifier_recall,
        "accuracy_feature_blind_same_precision_recall": blind,
        "precision_recall_suffice": bool(suffice),
        **{f"best_threshold_{k}": best[k][0] for k in rules},
        **{f"accuracy_best_threshold_{k}": best[k][1] for k in rules},
        "best_rule": winner,
        "best_threshold": threshold,
        "accuracy_best_threshold": accuracy,
        "gain_best_threshold": accuracy - setting.real,
        "verifier_precision_best_threshold": setting.precision(winner, threshold),
        "min_verifier_precision": precision,
        "min_verifier_precision_status": status,
        "tolerance": {"threshold": THRESHOLD_TOL, "verifier_precision": PRECISION_TOL, "grid_points": GRID},
    }
    out["messages"] = feature_plan_messages(out)
    return json_ready(out)


def feature_plan_messages(res: dict[str, Any]) -> list[str]:
    """The plan's conclusions in sentences."""
    lines = []
    if not res["precision_recall_suffice"]:
        lines.append(
            f"Precision and recall are not enough to answer here: the feature-blind verifier with the same precision "
            f"{res['verifier_precision']:.3f} and recall {res['verifier_recall']:.3f} gives accuracy "
            f"{res['accuracy_feature_blind_same_precision_recall']:.4f}, this rule {res['accuracy_configured']:.4f}; "
            "which rows are kept (the rule and the direction v) decides."
        )
    other = "hard" if res["best_rule"] != "hard" else "easy"
    lines.append(
        f"Best rule: keep-{res['best_rule']} with threshold {res['best_threshold']:.3f} (accuracy "
        f"{res['accuracy_best_threshold']:.4f}, gain {res['gain_best_threshold']:+.4f} over real data alone; keep-{other} "
        f"at its best threshold: {res[f'accuracy_best_threshold_{other}']:.4f})."
    )
    status, value = res["min_verifier_precision_status"], res["min_verifier_precision"]
    if status == "always":
        lines.append(f"At that rule the mix beats real data alone at every precision it can have (down to {value:.3f}).")
    elif status == "never":
        lines.append("At that rule the mix does not beat real data alone, even when the verifier refuses every wrong label.")
    else:
        lines.append(f"At that rule the mix stops beating real data alone below precision {value:.3f}.")
    return lines


def format_feature_plan(res: dict[str, Any]) -> str:
    """The plan of a feature-aware verifier as readable text."""
    s = res["setting"]
    lines = [res["title"], ""] if res.get("title") else []
    lines.append(
        f"Setting: n = {s['n']}, m = {s['m']}, p = {s['p']}, label noise {s['label_noise']:g}; verifier keep-"
        f"{s['verifier_keep']}, threshold {s['verifier_threshold']:g}, angle {s['verifier_angle']:g} degrees from mu"
    )
    keys = [k for k in res if k.startswith(("accuracy", "gain", "best", "verifier_precision", "verifier_recall",
                                             "min_verifier", "precision_recall"))]
    width = max(len(k) for k in keys)
    lines += [f"  {k:<{width}}  {res[k] if isinstance(res[k], str) else _fmt(res[k])}" for k in keys]
    lines += ["", *res["messages"], "(theory only, THEORY.md 15)"]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:.4f}" if isinstance(value, float) else str(value)
