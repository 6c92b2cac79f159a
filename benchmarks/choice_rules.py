"""Offline comparison of recommendation rules for ``rmtsynth.advise``, from bench_advise.py's ``--records``.

Each record holds one advise call's full table, every kept set's held-out decision values of the
real rows, the calibrated theory's curves per threshold and the brute-force measured accuracy at
every grid point. From them each candidate rule below picks a grid point per call without seeing
the truth, and is scored by its regret: the measured accuracy lost at its pick against

* the best fixed point: per scenario and learner, the grid point of highest mean measured accuracy
  over the seeds evaluated together (what bench_advise.py reports as "against the best fixed point");
* each split's own best measured point.

Regrets are averaged over seeds per scenario and learner, then over the scenario x learner cells
(all cells have the same number of seeds); the SE combines the cells' SEs over seeds. The paired
difference against the earlier rule (same calls, same truth) is reported with its SE. Seed ranges
are evaluated separately (e.g. a choosing and a confirming half) and together: a rule is only worth
adopting if it wins on every half.

    python benchmarks/bench_advise.py --first-seed 0 --seeds 15 --skip-timing --advise-draws 6 --records /tmp/a.pkl
    python benchmarks/bench_advise.py --first-seed 15 --seeds 15 --skip-timing --advise-draws 6 --records /tmp/b.pkl
    python benchmarks/choice_rules.py /tmp/a.pkl /tmp/b.pkl --out /tmp/rules.md

The advisor's draws of the pool are nested (draw d is the same permutation whatever the number of
draws), so a run with ``--advise-draws 6`` also gives, exactly, every table of the default 3 draws.
"""

from __future__ import annotations

import argparse
import math
import pickle
import sys
from pathlib import Path
from typing import Callable

import numpy as np
from scipy.special import ndtr

SIGNIFICANCE = 2.0
BOOTSTRAPS = 200


# ---------------------------------------------------------------- recomputing a call's table


class Call:
    """One advise call rebuilt from its record, its table recomputable from any number of draws."""

    def __init__(self, record: dict):
        a = record["advice"]
        self.record = record
        self.scenario, self.seed, self.learner = record["scenario"], record["seed"], record["learner"]
        self.table = a["table"]
        self.labels, self.groups, self.decisions = a["labels"], a["groups"], a["decisions"]
        self.cells, self.draws, self.theory = a["cells"], a["draws"], a["theory"]
        self.noise_grid = a["noise_grid"]
        self.m = np.array([r["m"] for r in self.table], int)
        self.kept = np.array([r["kept"] for r in self.table], float)
        self.threshold = np.array([r["threshold"] for r in self.table], float)
        self.point = [self._label(r) for r in self.table]
        measured = {(p["threshold"], p["m"]): p["measured"] for p in record["points"]}
        self.measured = np.array([measured[key] for key in self.point])
        self.best = max(measured.values())
        self.real_only = int(np.flatnonzero(self.m == 0)[0])
        self._tables: dict[int, dict[str, np.ndarray]] = {}

    def _label(self, row: dict) -> tuple[str, int]:
        if row["m"] == 0:
            return "all", 0
        for label, t in zip(self.record["advice"]["threshold_labels"], self.record["advice"]["thresholds"]):
            if (math.isinf(t) and math.isinf(row["threshold"])) or np.isclose(t, row["threshold"], rtol=1e-9, atol=1e-12):
                return label, int(row["m"])
        raise KeyError(row["threshold"])

    def table_of(self, draws: int) -> dict[str, np.ndarray]:
        """counted, gain, gain_se, smoothed and kept of every row from the first ``draws`` draws (as grid_row)."""
        if draws not in self._tables:
            y, d = self.labels, self.decisions
            correct = (np.where(d > 0, 1.0, -1.0) == y).astype(float)          # sets x rows
            smooth = gaussian_accuracy(d, y)                                     # sets
            kernel = kernel_accuracy(d, y)
            cells = self.cells[:, :draws]
            per_row = correct[cells].mean(axis=1)                                # table rows x real rows
            baseline = correct[self.cells[self.real_only, 0]]
            diff = group_means(per_row - baseline, self.groups)
            self._tables[draws] = dict(
                counted=per_row.mean(axis=1), gain=per_row.mean(axis=1) - baseline.mean(),
                gain_se=diff.std(axis=1, ddof=1) / np.sqrt(diff.shape[1]),
                # Kept counts only break ties (rows whose kept sets are the same): those of all the draws do.
                smoothed=smooth[cells].mean(axis=1), kernel=kernel[cells].mean(axis=1), kept=self.kept)
        return self._tables[draws]

    def theory_smoothed(self, values: np.ndarray, draws: int, raw_zero: bool = False) -> np.ndarray | None:
        """Per threshold, the theory's curve (noise fitted, free offset) through ``values``; the real rows alone
        get the mean of their fitted values over the thresholds (or their own value: ``raw_zero``)."""
        if not self.theory:
            return None
        out = np.full(len(values), np.nan)
        at_zero = []
        for label, t in self.theory.items():
            rows = np.array(t["rows"])
            curves = np.asarray(t["curves"][draws], float)                       # noise x rows
            residual = curves - values[rows][None, :]
            centred = residual - residual.mean(axis=1, keepdims=True)
            j = int(np.argmin((centred ** 2).sum(axis=1)))
            fitted = np.clip(curves[j] - residual[j].mean(), 0.0, 1.0)
            for r, v in zip(rows, fitted):
                if self.m[r] == 0:
                    at_zero.append(v)
                else:
                    out[r] = v
        out[self.real_only] = values[self.real_only] if raw_zero else np.mean(at_zero)
        return out

    def bootstrap(self, draws: int, rng: np.random.Generator, count: int = BOOTSTRAPS) -> dict[str, np.ndarray]:
        """Smoothed and counted accuracy of every row on ``count`` resamples of the real rows (count x rows)."""
        n = self.labels.size
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=count).astype(float)   # B x n
        y, d = self.labels, self.decisions
        margins = y[None, :] * d
        correct = (np.where(d > 0, 1.0, -1.0) == y).astype(float)
        smooth = np.zeros((count, d.shape[0]))
        for c in (-1.0, 1.0):
            w = weights[:, y == c]
            mc = margins[:, y == c]
            nc = w.sum(axis=1, keepdims=True)
            s1, s2 = w @ mc.T, w @ (mc ** 2).T
            mean = s1 / nc
            var = np.maximum(s2 - s1 ** 2 / nc, 0.0) / np.maximum(nc - 1.0, 1.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(var > 0, mean / np.sqrt(var), np.sign(mean) * np.inf)
            smooth += nc / n * ndtr(ratio)
        counted = weights @ correct.T / n
        cells = self.cells[:, :draws]
        return dict(smoothed=smooth[:, cells].mean(axis=2), counted=counted[:, cells].mean(axis=2))


def gaussian_accuracy(decisions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """sum_c pi_c Phi(mean_c / sd_c) of the signed decision values, per kept set (rows of ``decisions``)."""
    total = np.zeros(decisions.shape[0])
    for c in (-1.0, 1.0):
        margins = labels[labels == c] * decisions[:, labels == c]
        sd = margins.std(axis=1, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(sd > 0, margins.mean(axis=1) / sd, np.sign(margins.mean(axis=1)) * np.inf)
        total += margins.shape[1] / labels.size * ndtr(ratio)
    return total


def kernel_accuracy(decisions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The count smoothed by a Gaussian kernel: mean of Phi(y d / h_c), h_c Silverman's bandwidth of class c."""
    total = np.zeros(decisions.shape[0])
    for c in (-1.0, 1.0):
        margins = labels[labels == c] * decisions[:, labels == c]
        h = 1.06 * margins.std(axis=1, ddof=1, keepdims=True) * margins.shape[1] ** -0.2
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(h > 0, ndtr(margins / h), (margins > 0).astype(float))
        total += values.sum(axis=1) / labels.size
    return total


def group_means(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    out = np.zeros((values.shape[0], counts.size))
    for k in range(values.shape[0]):
        out[k] = np.bincount(inverse, weights=values[k]) / counts
    return out


# ---------------------------------------------------------------- the rules


def pick(call: Call, score: np.ndarray, allowed: np.ndarray, kept: np.ndarray) -> int:
    """The allowed row of highest score; ties: fewer synthetic rows, then the stricter threshold (as the advisor)."""
    keys = [(-score[i], call.m[i] > 0, kept[i], -call.threshold[i]) for i in np.flatnonzero(allowed)]
    return int(np.flatnonzero(allowed)[min(range(len(keys)), key=keys.__getitem__)])


def not_negative(call: Call, t: dict) -> np.ndarray:
    return (call.m == 0) | (t["gain"] >= 0.0)


def everything(call: Call, t: dict) -> np.ndarray:
    return np.ones(len(call.m), bool)


def not_significantly_negative(call: Call, t: dict) -> np.ndarray:
    return (call.m == 0) | (t["gain"] >= -SIGNIFICANCE * t["gain_se"])


def rule_score(score_of: Callable[[Call, dict, int], np.ndarray], draws: int = 3,
               allowed_of: Callable[[Call, dict], np.ndarray] = not_negative) -> Callable[[Call], int]:
    def rule(call: Call) -> int:
        t = call.table_of(draws)
        return pick(call, score_of(call, t, draws), allowed_of(call, t), t["kept"])
    return rule


def smoothed(call, t, draws):
    return t["smoothed"]


def counted(call, t, draws):
    return t["counted"]


def count_and_smoothed(call, t, draws):
    return (t["counted"] + t["smoothed"]) / 2


def theory_of(key: str, raw_zero: bool = False):
    def score(call, t, draws):
        out = call.theory_smoothed(t[key], draws, raw_zero)
        return t[key] if out is None else out
    return score


def raw_and_theory(key: str, through: str | None = None):
    def score(call, t, draws):
        out = call.theory_smoothed(t[through or key], draws)
        return t[key] if out is None else (t[key] + out) / 2
    return score


def bootstrap_rule(kind: str, draws: int = 3, seed: int = 0) -> Callable[[Call], int]:
    """Rules reading the choice's stability over resamples of the real rows (the fits are not redone)."""
    def rule(call: Call) -> int:
        t = call.table_of(draws)
        allowed = not_negative(call, t)
        rng = np.random.default_rng([seed, call.seed, len(call.labels), int(call.learner == "ridge")])
        b = call.bootstrap(draws, rng)
        s = b["counted" if kind == "mode-counted" else "smoothed"]
        if kind == "mean":
            return pick(call, s.mean(axis=0), allowed, t["kept"])
        if kind in ("mode", "mode-counted"):
            masked = np.where(allowed[None, :], s, -np.inf)
            wins = np.bincount(masked.argmax(axis=1), minlength=s.shape[1]).astype(float)
            return pick(call, wins + 1e-9 * t["smoothed"], allowed, t["kept"])
        if kind == "lower":
            # The smoothed accuracy less one bootstrap SD of its difference from the real rows alone.
            diff = s - s[:, [call.real_only]]
            return pick(call, t["smoothed"] - diff.std(axis=0, ddof=1), allowed, t["kept"])
        raise ValueError(kind)
    return rule


def one_se_rule(call: Call, draws: int = 3) -> int:
    """Fewest kept rows among the points whose smoothed accuracy is within one gain SE of the best."""
    t = call.table_of(draws)
    allowed = not_negative(call, t)
    best = pick(call, t["smoothed"], allowed, t["kept"])
    near = allowed & (t["smoothed"] >= t["smoothed"][best] - t["gain_se"][best])
    return pick(call, -t["kept"], near, t["kept"])


def significant_rule(z: float, draws: int = 3) -> Callable[[Call], int]:
    """The earlier rule's choice where its counted gain is beyond z SE; else the real rows alone."""
    def rule(call: Call) -> int:
        t = call.table_of(draws)
        best = pick(call, t["smoothed"], not_negative(call, t), t["kept"])
        return best if call.m[best] == 0 or t["gain"][best] > z * t["gain_se"][best] else call.real_only
    return rule


def lower_bound_rule(z: float, draws: int = 3) -> Callable[[Call], int]:
    """Highest smoothed accuracy less z counted gain SEs (a pessimistic reading of each mix)."""
    return rule_score(lambda call, t, d: t["smoothed"] - z * t["gain_se"], draws)


CURRENT = "smoothed, gain >= 0 (the earlier rule)"
ADOPTED = "smoothed, gain >= -2 SE (the rule)"
#: The rules the advisor has followed, as functions of the draws its table averages: the report says
#: which one the records' own recommendations follow (a check of the rebuild).
ADVISOR_RULES = {CURRENT: lambda draws: rule_score(smoothed, draws),
                 ADOPTED: lambda draws: rule_score(smoothed, draws, allowed_of=not_significantly_negative)}


def rules(max_draws: int) -> dict[str, Callable[[Call], int]]:
    out = {
        CURRENT: rule_score(smoothed),
        ADOPTED: rule_score(smoothed, allowed_of=not_significantly_negative),
        "counted, gain >= 0": rule_score(counted),
        "mean of counted and smoothed": rule_score(count_and_smoothed),
        "smoothed, no gain filter": rule_score(smoothed, allowed_of=everything),
        "theory through smoothed": rule_score(theory_of("smoothed")),
        "theory through smoothed, real only as is": rule_score(theory_of("smoothed", True)),
        "theory through counted": rule_score(theory_of("counted")),
        "mean of smoothed and theory through it": rule_score(raw_and_theory("smoothed")),
        "mean of smoothed and theory through it, no gain filter":
            rule_score(raw_and_theory("smoothed"), allowed_of=everything),
        "mean of smoothed and theory through it, gain >= -2 SE":
            rule_score(raw_and_theory("smoothed"), allowed_of=not_significantly_negative),
        "mean of counted and theory through it": rule_score(raw_and_theory("counted")),
        "mean of smoothed and theory through counted": rule_score(raw_and_theory("smoothed", "counted")),
        "mean of smoothed and theory through counted, no gain filter":
            rule_score(raw_and_theory("smoothed", "counted"), allowed_of=everything),
        "bootstrap: mean smoothed": bootstrap_rule("mean"),
        "bootstrap: most frequent argmax": bootstrap_rule("mode"),
        "bootstrap: most frequent argmax of counted": bootstrap_rule("mode-counted"),
        "bootstrap: smoothed - 1 SD of gain": bootstrap_rule("lower"),
        "kernel-smoothed count, gain >= -2 SE":
            rule_score(lambda c, t, d: t["kernel"], allowed_of=not_significantly_negative),
        "mean of kernel-smoothed count and smoothed, gain >= -2 SE":
            rule_score(lambda c, t, d: (t["kernel"] + t["smoothed"]) / 2, allowed_of=not_significantly_negative),
        "one-SE: fewest kept within 1 gain SE": one_se_rule,
        "smoothed - 1 gain SE": lower_bound_rule(1.0),
        "smoothed - 0.5 gain SE": lower_bound_rule(0.5),
        "real only unless gain > 1 SE": significant_rule(1.0),
    }
    if max_draws >= 6:
        out.update({
            "smoothed, gain >= 0, 6 draws": rule_score(smoothed, 6),
            "theory through smoothed, 6 draws": rule_score(theory_of("smoothed"), 6),
            "mean of smoothed and theory, 6 draws": rule_score(raw_and_theory("smoothed"), 6),
            "bootstrap: most frequent argmax, 6 draws": bootstrap_rule("mode", 6),
            "smoothed, no gain filter, 6 draws": rule_score(smoothed, 6, allowed_of=everything),
            "smoothed, gain >= -2 SE, 6 draws": rule_score(smoothed, 6, allowed_of=not_significantly_negative),
            "mean of smoothed and theory through counted, 6 draws":
                rule_score(raw_and_theory("smoothed", "counted"), 6),
            "mean of smoothed and theory through counted, no gain filter, 6 draws":
                rule_score(raw_and_theory("smoothed", "counted"), 6, allowed_of=everything),
        })
    return out


# ---------------------------------------------------------------- scoring


def load(paths: list[Path]) -> list[Call]:
    calls = []
    for path in paths:
        with open(path, "rb") as f:
            data = pickle.load(f)
        for record in data["records"]:
            if record.get("error") is None and "advice" in record:
                calls.append(Call(record))
            else:
                print(f"skipped {record['scenario']} seed {record['seed']} {record['learner']}: {record.get('error')}",
                      file=sys.stderr)
    return calls


def check_rebuild(calls: list[Call]) -> tuple[float, str]:
    """Largest difference between the stored tables (all draws) and their recomputation, and the rule of
    :data:`ADVISOR_RULES` that every stored recommendation follows ("none" if none does)."""
    worst = 0.0
    for call in calls:
        t = call.table_of(call.draws)
        for key, column in (("counted", "predicted_accuracy"), ("gain", "gain"), ("smoothed", "smoothed_accuracy"),
                            ("gain_se", "gain_se")):
            stored = np.array([r[column] for r in call.table], float)
            worst = max(worst, float(np.max(np.abs(stored - t[key]))))
    followed = [name for name, rule_of in ADVISOR_RULES.items()
                if all(call.point[rule_of(call.draws)(call)] == (call.record["rec_threshold"], call.record["rec_m"])
                       for call in calls)]
    return worst, " and ".join(followed) or "none"


def regrets(calls: list[Call], choices: dict[str, list[int]]) -> dict[str, dict[str, np.ndarray]]:
    """Per rule, the per-call regret against the best fixed point and against the split's best, and cell ids."""
    cells: dict[tuple[str, str], list[int]] = {}
    for k, call in enumerate(calls):
        cells.setdefault((call.scenario, call.learner), []).append(k)
    fixed = np.zeros(len(calls))
    for members in cells.values():
        points = calls[members[0]].point
        means = {p: np.mean([calls[k].measured[calls[k].point.index(p)] for k in members]) for p in points}
        best = max(means, key=means.get)
        for k in members:
            fixed[k] = calls[k].measured[calls[k].point.index(best)]
    cell_of = np.zeros(len(calls), int)
    for c, members in enumerate(cells.values()):
        cell_of[members] = c
    out = {}
    for name, chosen in choices.items():
        got = np.array([call.measured[i] for call, i in zip(calls, chosen)])
        out[name] = dict(fixed=fixed - got, split=np.array([c.best for c in calls]) - got)
    return dict(rules=out, cell=cell_of)


def cell_mean(values: np.ndarray, cell: np.ndarray) -> tuple[float, float]:
    """Mean over cells of the per-cell mean, and its SE from the per-cell SEs over seeds."""
    ids = np.unique(cell)
    means = np.array([values[cell == c].mean() for c in ids])
    variances = np.array([values[cell == c].var(ddof=1) / (cell == c).sum() for c in ids])
    return float(means.mean()), float(np.sqrt(variances.sum()) / len(ids))


def evaluate(calls: list[Call], rule_set: dict[str, Callable[[Call], int]]) -> dict:
    choices = {name: [rule(call) for call in calls] for name, rule in rule_set.items()}
    return regrets(calls, choices)


def table_lines(halves: dict[str, dict], names: list[str], reference: str, against: str) -> list[str]:
    """One row per rule: per seed range, its mean regret +- SE and (in brackets) its paired difference from
    ``reference`` +- SE."""
    lines = ["| rule | " + " | ".join(halves) + " |", "|---|" + "---|" * len(halves)]
    for name in names:
        cells = []
        for result in halves.values():
            r, cell, ref = result["rules"][name][against], result["cell"], result["rules"][reference][against]
            m, se = cell_mean(r, cell)
            dm, dse = cell_mean(r - ref, cell)
            cells.append(f"{m:.4f} +- {se:.4f}" + ("" if name == reference else f" ({dm:+.4f} +- {dse:.4f})"))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def winners(halves: dict[str, dict], names: list[str], reference: str) -> list[str]:
    """Rules whose paired regret against the best fixed point is below the reference's on every seed range."""
    parts = [h for h in halves if h != "all"]
    return [name for name in names if name != reference and all(
        cell_mean(halves[h]["rules"][name]["fixed"] - halves[h]["rules"][reference]["fixed"], halves[h]["cell"])[0] < 0
        for h in parts)]


def prediction_lines(halves: dict[str, list[Call]], draws: int = 3) -> list[str]:
    """Does the theory lower the error of the predicted accuracy inside the pool? Per seed range: the mean
    absolute error over calls and points of the count (the advisor's prediction), of the theory's curve
    through it (noise fitted per threshold, free offset; the real rows alone as counted), and of their mean;
    the paired difference from the count; the points whose mean gap over seeds exceeds 0.015; and the
    points whose mean predicted gain has the sign of a significant mean measured gain (as bench_advise.py)."""
    lines = ["| seed range | prediction | mean abs error | paired vs count | points with mean gap > 0.015 | "
             "gain's sign where significant |", "|---|---|---|---|---:|---:|"]
    for name, calls in halves.items():
        errors: dict[str, list[float]] = {"count": [], "theory through the count": [], "mean of both": []}
        gaps: dict[str, dict[tuple, list[float]]] = {k: {} for k in errors}
        gains: dict[str, dict[tuple, list[float]]] = {k: {} for k in errors}
        measured_gains: dict[tuple, list[float]] = {}
        for call in calls:
            counted = call.table_of(draws)["counted"]
            theory = call.theory_smoothed(counted, draws, raw_zero=True)
            if theory is None:
                continue
            for key, values in (("count", counted), ("theory through the count", theory),
                                ("mean of both", (counted + theory) / 2)):
                error = values - call.measured
                errors[key].append(float(np.abs(error).mean()))
                for point, e, g in zip(call.point, error, values - values[call.real_only]):
                    gaps[key].setdefault((call.scenario, call.learner, point), []).append(float(e))
                    gains[key].setdefault((call.scenario, call.learner, point), []).append(float(g))
            for point, g in zip(call.point, call.measured - call.measured[call.real_only]):
                measured_gains.setdefault((call.scenario, call.learner, point), []).append(float(g))
        base = np.array(errors["count"])
        for key, values in errors.items():
            a = np.array(values)
            d = a - base
            over = sum(abs(np.mean(v)) > 0.015 for v in gaps[key].values())
            paired = "" if key == "count" else f"{d.mean():+.4f} +- {d.std(ddof=1) / np.sqrt(d.size):.4f}"
            agree, significant = sign_agreement(gains[key], measured_gains)
            lines.append(f"| {name} | {key} | {a.mean():.4f} +- {a.std(ddof=1) / np.sqrt(a.size):.4f} | {paired} | "
                         f"{over}/{len(gaps[key])} | {agree}/{significant} |")
    return lines


def sign_agreement(predicted: dict[tuple, list[float]], measured: dict[tuple, list[float]]) -> tuple[int, int]:
    """(points whose mean predicted gain has the measured mean gain's sign, points where that gain is
    significant: |mean| > 2 SE over seeds and > 0.001)."""
    agree = significant = 0
    for cell, values in measured.items():
        gains = np.array(values)
        se = gains.std(ddof=1) / np.sqrt(gains.size) if gains.size > 1 else np.inf
        if abs(gains.mean()) > max(2 * se, 0.001):
            significant += 1
            agree += int(np.sign(np.mean(predicted[cell])) == np.sign(gains.mean()))
    return agree, significant


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", type=Path, nargs="+", help="pickles written by bench_advise.py --records")
    parser.add_argument("--out", type=Path, default=None, help="markdown report (default: print only)")
    args = parser.parse_args(argv)
    halves = {}
    all_calls = []
    for path in args.records:
        calls = load([path])
        seeds = sorted({c.seed for c in calls})
        halves[f"seeds {seeds[0]}-{seeds[-1]}"] = calls
        all_calls += calls
    if len(args.records) > 1:
        halves["all"] = all_calls
    max_draws = min(c.draws for c in all_calls)
    rule_set = rules(max_draws)
    worst, followed = check_rebuild(all_calls)
    results = {h: evaluate(calls, rule_set) for h, calls in halves.items()}
    reference = next(iter(rule_set))
    lines = ["# Recommendation rules for the advisor, offline from the benchmark's records", "",
             f"`python benchmarks/choice_rules.py {' '.join(str(p) for p in args.records)}`", "",
             f"{len(all_calls)} advise calls ({', '.join(f'{h}: {len(c)}' for h, c in halves.items())}); "
             f"the stored tables rebuilt from the decision values within {worst:.1e}, the stored recommendations "
             f"those of the rule: {followed}. Regret: measured accuracy "
             "lost at the rule's pick, mean over the scenario x learner cells of the mean over seeds, +- SE; "
             f"in brackets the paired difference from the first rule ({reference}), +- SE (negative is better).", ""]
    lines += ["## Against the best fixed point", ""]
    lines += table_lines(results, list(rule_set), reference, "fixed")
    lines += ["", "## Against each split's best measured point", ""]
    lines += table_lines(results, list(rule_set), reference, "split")
    wins = winners(results, list(rule_set), reference)
    lines += ["", f"Below the first rule against the best fixed point on every seed range: "
              f"{'; '.join(wins) if wins else 'none'}."]
    lines += ["", "## The predicted accuracy: the count, or the theory's curve through it", ""]
    lines += prediction_lines(halves)
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
