"""The advisor's theory answers (rows marked ``extrapolation``) against brute-force truth on the
scenarios of benchmarks/advise_scenarios.py, for ridge, over split seeds:

* **(a) another n**: advise on the split's n training rows with ``n_values=[2 n]``; the truth is
  the held-out accuracy of ``make_pipeline(StandardScaler(), RidgeClassifier())`` fitted on 2 n real
  rows (the split's n plus n more from a reserve of real rows, stratified like the training rows)
  plus the kept pool rows, at every (threshold, m) of the grid. The reserve comes from rows no part
  of the split uses when there are enough, otherwise from the test rows, which are then measured
  without them (the test set stays disjoint); the n-row truth is measured on the same test rows and
  the same draws, so that the measured change from n to 2 n is paired. Beside the theory, the naive
  answer "the same as at n" (the advisor's own row at n);
* **(b) a verifier not yet built**: a label-only verifier simulated on the pool with the truth of
  which generated labels are wrong: it keeps a rightly labelled row with probability R and a wrongly
  labelled one with the probability that gives precision P at the pool's actual error rate (a
  split where that probability would exceed 1 cannot have that verifier and is skipped). The
  advisor answers with ``verifiers=[...]``, without and with ``pool_label_noise`` = the pool's true
  error rate; the truth is measured at every m of the grid on the same draws as keep-all;
* **(c) m beyond the pool**: advise on the first half of the pool with m up to twice the half
  (``extrapolate=True``); the truth adds the pool's other half: at m = 1.5 x half, the half plus
  draws of the other half; at 2 x half, the whole pool.

Reported: the mean over seeds of predicted - measured accuracy (gap) with its SE, at each point
and over the points; the error of the predicted change (predicted - measured change from the
measured anchor: n to 2 n, keep-all to the verifier, half to the extrapolated m), which is the
theory's own part of the gap; and whether the predicted change has the measured sign where the
measured change is significant (|mean| > 2 SE and > 0.001).

    python benchmarks/bench_extrapolate.py --out benchmarks/extrapolate.md   # full: 7 scenarios, 10 seeds
    python benchmarks/bench_extrapolate.py --quick                            # smoke run: 2 scenarios, 3 seeds
    python benchmarks/bench_extrapolate.py --first-seed 100 --seeds 10 --scenario digits

Seeds are fixed, so runs reproduce. BLAS is held to one thread in every process.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from advise_scenarios import (SCENARIOS, Split, load_dataset, make_split,  # noqa: E402
                              add_run_arguments, parse_run_arguments, run_splits, scenario_by_name)
from bench_advise import (GAP_TARGET, MIN_GAIN, Measurer, _se, _version, advice_frame, grid_for,  # noqa: E402
                          limit_threads, same_threshold)

LEARNER = "ridge"
VERIFIERS = ((0.95, 0.7), (0.9, 0.9))
N_FACTOR = 2
BEYOND_FACTORS = (1.5, 2.0)


def verifier_label(precision: float, recall: float) -> str:
    """The advisor's label of a hypothetical verifier (its ``verifier`` column)."""
    return f"precision {precision:g}, recall {recall:g}"


# ---------------------------------------------------------------- rows and draws


def reserve_rows(split: Split, scenario_index: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(reserve row indices, the test rows kept for measuring, where the reserve came from).

    As many reserve rows of each class as the training rows have; from rows no part of the split
    uses when every class has enough of them, otherwise from the test rows."""
    scenario = SCENARIOS[scenario_index]
    _, labels = load_dataset(scenario.dataset)
    rows = split.info["rows"]
    used = np.zeros(len(labels), dtype=bool)
    for part in rows.values():
        used[part] = True
    unused = np.flatnonzero(~used)
    classes, counts = np.unique(split.train_y, return_counts=True)
    enough = all(np.sum(labels[unused] == c) >= k for c, k in zip(classes, counts))
    source, origin = (unused, "unused rows") if enough else (rows["test"], "test rows")
    rng = np.random.default_rng([seed, scenario_index, 31])
    reserve = np.concatenate([rng.choice(source[labels[source] == c], k, replace=False)
                              for c, k in zip(classes, counts)])
    test = rows["test"] if enough else np.setdiff1d(rows["test"], reserve)
    return reserve, test, origin


def measure_sets(measurer: Measurer, sets: list[np.ndarray]) -> float:
    """Mean held-out accuracy over kept sets (indices into the pool)."""
    return float(np.mean([measurer.accuracy_of(kept) for kept in sets]))


def drawn_sets(measurer: Measurer, m: int, keep: np.ndarray) -> list[np.ndarray]:
    """The kept rows of each draw of m pool rows (the measurer's draws), ``keep`` a mask over the pool."""
    pool = len(keep)
    perms = measurer.permutations if 0 < m < pool else measurer.permutations[:1]
    return [perm[:m][keep[perm[:m]]] for perm in perms]


def simulated_verifier(wrong: np.ndarray, precision: float, recall: float,
                       rng: np.random.Generator) -> np.ndarray | None:
    """A keep mask of a label-only verifier of (precision, recall) at the pool's own error rate;
    None if no such verifier exists (it would keep wrong rows with a probability above 1)."""
    eps = float(np.mean(wrong))
    if eps <= 0.0:
        return None
    q = recall * (1.0 - eps) * (1.0 - precision) / (precision * eps)
    if q > 1.0:
        return None
    u = rng.random(len(wrong))
    return np.where(wrong, u < q, u < recall)


def fitted_noise(notes: list[str]) -> float:
    """The keep-all rows' effective label noise the advisor reports in its notes."""
    for note in notes:
        hit = (re.search(r"taken as ([0-9.eE+-]+), the keep-all rows' effective noise", note)
               or re.search(r"keep-all rows' effective noise fitted by the theory is ([0-9.eE+-]+?)\.?$", note))
        if hit:
            return float(hit.group(1).rstrip("."))
    return math.nan


def row_at(frame: pd.DataFrame, m: int, threshold: float | None = None, n: int | None = None,
           verifier: str | None = None) -> float:
    """The predicted accuracy of the table row at (n, threshold or verifier, m); NaN if absent."""
    rows = frame[np.isclose(frame["m"].astype(float), m)]
    if n is not None:
        rows = rows[rows["n"].astype(int) == n]
    if verifier is not None:
        rows = rows[rows["verifier"] == verifier]
    else:
        rows = rows[rows["threshold"].notna()]
        if m > 0:
            rows = rows[[same_threshold(float(t), threshold) for t in rows["threshold"]]]
    return float(rows["predicted_accuracy"].iloc[0]) if len(rows) else math.nan


# ---------------------------------------------------------------- one split seed


def run_task(scenario_index: int, seed: int, draws: int) -> list[dict]:
    """Point records of the three parts for one scenario and split seed."""
    limit_threads()
    import rmtsynth

    scenario = SCENARIOS[scenario_index]
    split = make_split(scenario, seed, scenario_index)
    base = dict(scenario=scenario.name, seed=seed, pool_label_error=split.pool_label_error)
    records: list[dict] = []
    for name, part in (("a", part_n), ("b", part_verifier), ("c", part_beyond)):
        start = time.perf_counter()
        try:
            out = part(rmtsynth.advise, split, scenario_index, seed, draws)
        except Exception as exc:  # a failing call is a finding, reported, not a crash of the benchmark
            out = [dict(error=f"{type(exc).__name__}: {exc}".splitlines()[0][:300],
                        traceback=traceback.format_exc(limit=6))]
        seconds = time.perf_counter() - start
        records += [base | dict(part=name, seconds=seconds, error=None) | r for r in out]
    return records


def _measurer(split: Split, seed: int, scenario_index: int, draws: int) -> Measurer:
    # The same seed for every measurer of a split: their draws are the same, so differences are paired.
    return Measurer(split, LEARNER, draws, np.random.default_rng([seed, scenario_index, 0, 7]))


def part_n(advise, split: Split, scenario_index: int, seed: int, draws: int) -> list[dict]:
    """(a): the rows at 2 n against pipelines trained on 2 n real rows."""
    n = len(split.train_y)
    n2 = N_FACTOR * n
    X, y = load_dataset(SCENARIOS[scenario_index].dataset)
    reserve, test, origin = reserve_rows(split, scenario_index, seed)
    at_n = replace(split, test_X=X[test], test_y=y[test])
    at_2n = replace(at_n, train_X=np.vstack([split.train_X, X[reserve]]),
                    train_y=np.concatenate([split.train_y, y[reserve]]))
    grid = grid_for(split.scores)
    advice = advise(split.train_X, split.train_y, split.pool_X, split.pool_y, scores=split.scores,
                    thresholds=list(grid.thresholds), m_values=list(grid.m_values), learner=LEARNER, seed=seed,
                    n_values=[n2])
    frame = advice_frame(advice)
    small, large = (_measurer(s, seed, scenario_index, draws) for s in (at_n, at_2n))
    out = []
    for label, t, m in grid.points():
        keep = split.scores >= t
        sets = drawn_sets(small, m, keep)
        out.append(dict(point=f"{label}/{m}", threshold=label, m=m, n=n, n2=n2, reserve=origin, test_rows=len(test),
                        pred_n=row_at(frame, m, t, n=n), pred_2n=row_at(frame, m, t, n=n2),
                        meas_n=measure_sets(small, sets), meas_2n=measure_sets(large, sets)))
    return out


def part_verifier(advise, split: Split, scenario_index: int, seed: int, draws: int) -> list[dict]:
    """(b): hypothetical verifiers against simulated label-only verifiers of the same precision and recall."""
    grid = grid_for(split.scores)
    rng = np.random.default_rng([seed, scenario_index, 41])
    masks = {verifier_label(p, r): (p, r, simulated_verifier(split.pool_label_wrong, p, r, rng)) for p, r in VERIFIERS}
    feasible = [(p, r) for p, r, mask in masks.values() if mask is not None]
    eps = split.pool_label_error
    out = [dict(point=f"{verifier_label(p, r)}", verifier=verifier_label(p, r), skipped=True, eps=eps)
           for p, r, mask in masks.values() if mask is None]
    call = dict(scores=split.scores, thresholds=list(grid.thresholds), m_values=list(grid.m_values), learner=LEARNER,
                seed=seed, verifiers=[{"precision": p, "recall": r} for p, r in feasible])
    fit_noise = math.nan
    frames = {}
    if feasible:
        plain = advise(split.train_X, split.train_y, split.pool_X, split.pool_y, **call)
        given = advise(split.train_X, split.train_y, split.pool_X, split.pool_y, pool_label_noise=eps, **call)
        fit_noise = fitted_noise(plain.notes)
        frames = {"fitted": advice_frame(plain), "given": advice_frame(given)}
    measurer = _measurer(split, seed, scenario_index, draws)
    everything = np.ones(len(split.pool_y), dtype=bool)
    for label, (p, r, mask) in masks.items():
        if mask is None:
            continue
        wrong = split.pool_label_wrong
        for m in (m for m in grid.m_values if m > 0):
            record = dict(point=f"{label}/{m}", verifier=label, m=m, skipped=False, eps=eps, fit_noise=fit_noise,
                          kept_share=float(mask.mean()), precision=float(1 - wrong[mask].mean()),
                          recall=float(mask[~wrong].mean()),
                          meas_all=measure_sets(measurer, drawn_sets(measurer, m, everything)),
                          meas=measure_sets(measurer, drawn_sets(measurer, m, mask)))
            for how, frame in frames.items():
                record[f"pred_{how}"] = row_at(frame, m, verifier=label)
                record[f"pred_all_{how}"] = row_at(frame, m, -math.inf)
            out.append(record)
    return out


def part_beyond(advise, split: Split, scenario_index: int, seed: int, draws: int) -> list[dict]:
    """(c): advice on half the pool extrapolated to 1.5 and 2 halves, against the whole pool's rows."""
    half = len(split.pool_y) // 2
    first = replace(split, pool_X=split.pool_X[:half], pool_y=split.pool_y[:half], scores=split.scores[:half])
    grid = grid_for(first.scores)
    beyond = [int(round(f * half)) for f in BEYOND_FACTORS]
    advice = advise(first.train_X, first.train_y, first.pool_X, first.pool_y, scores=first.scores,
                    thresholds=list(grid.thresholds), m_values=list(grid.m_values) + beyond, learner=LEARNER,
                    seed=seed, extrapolate=True)
    frame = advice_frame(advice)
    measurer = _measurer(split, seed, scenario_index, draws)
    rng = np.random.default_rng([seed, scenario_index, 53])
    # The user's pool grows: its first half stays, more rows of the generator (the other half) join it.
    others = [half + rng.permutation(len(split.pool_y) - half) for _ in range(draws)]
    out = []
    for label, t in zip(grid.threshold_labels, grid.thresholds):
        keep = split.scores >= t
        anchor = np.flatnonzero(keep[:half])
        meas_half = measure_sets(measurer, [anchor])
        for m in beyond:
            extra = [o[: m - half] for o in others] if m - half < len(split.pool_y) - half else [others[0]]
            sets = [np.concatenate([anchor, e[keep[e]]]) for e in extra]
            out.append(dict(point=f"{label}/{m}", threshold=label, m=m, half=half,
                            pred_half=row_at(frame, half, t), pred=row_at(frame, m, t),
                            meas_half=meas_half, meas=measure_sets(measurer, sets)))
    return out


# ---------------------------------------------------------------- running every task


def run_all(scenario_indices: list[int], seeds: list[int], draws: int, workers: int) -> list[dict]:
    return run_splits(run_task, scenario_indices, seeds, workers, limit_threads, draws)


# ---------------------------------------------------------------- aggregation


def mean_se(values) -> tuple[float, float]:
    series = pd.Series(values, dtype=float).dropna()
    return (float(series.mean()) if len(series) else math.nan), _se(series)


def significant(mean: float, se: float) -> bool:
    return bool(abs(mean) > max(2 * se, MIN_GAIN)) if math.isfinite(se) else False


def point_rows(frame: pd.DataFrame, keys: list[str], pred: str, meas: str, pred_anchor: str, meas_anchor: str,
               naive: str | None = None) -> list[dict]:
    """Per scenario and point: gap, error of the predicted change, sign agreement (seeds as replicates)."""
    rows = []
    for key, g in frame.groupby(["scenario", *keys], sort=False):
        gap, gap_se = mean_se(g[pred] - g[meas])
        p_change, p_change_se = mean_se(g[pred] - g[pred_anchor])
        m_change, m_change_se = mean_se(g[meas] - g[meas_anchor])
        err, err_se = mean_se((g[pred] - g[pred_anchor]) - (g[meas] - g[meas_anchor]))
        sig = significant(m_change, m_change_se)
        row = dict(scenario=key[0], **dict(zip(keys, key[1:])), seeds=int(g[pred].notna().sum()),
                   pred=g[pred].mean(), meas=g[meas].mean(), gap=gap, gap_se=gap_se, abs_gap=(g[pred] - g[meas]).abs().mean(),
                   pred_change=p_change, pred_change_se=p_change_se, meas_change=m_change, meas_change_se=m_change_se,
                   change_error=err, change_error_se=err_se, significant=sig,
                   sign_ok=(bool(np.sign(p_change) == np.sign(m_change)) if sig else None),
                   sign_noise=sig and np.sign(p_change) != np.sign(m_change) and abs(p_change) <= 2 * p_change_se)
        if naive is not None:
            row["naive_gap"], row["naive_gap_se"] = mean_se(g[naive] - g[meas])
            row["naive_abs_gap"] = (g[naive] - g[meas]).abs().mean()
        rows.append(row)
    return rows


def scenario_overall(frame: pd.DataFrame, pred: str, meas: str, pred_anchor: str, meas_anchor: str,
                     naive: str | None = None, keys: tuple[str, ...] = ()) -> list[dict]:
    """Per scenario (and keys): the per-seed mean over points, then mean and SE over seeds."""
    rows = []
    for key, g in frame.groupby(["scenario", *keys], sort=False):
        g = g.assign(gap=g[pred] - g[meas], err=(g[pred] - g[pred_anchor]) - (g[meas] - g[meas_anchor]),
                     pc=g[pred] - g[pred_anchor], mc=g[meas] - g[meas_anchor])
        if naive is not None:
            g = g.assign(naive=g[naive] - g[meas])
        per_seed = g.groupby("seed").mean(numeric_only=True)
        row = dict(scenario=key[0], **dict(zip(keys, key[1:])), seeds=len(per_seed))
        for column in ("gap", "err", "pc", "mc", *(("naive",) if naive else ())):
            row[column], row[f"{column}_se"] = mean_se(per_seed[column])
        rows.append(row)
    return rows


def overall_table(overall: list[dict], label: str | None = None, header: str | None = None) -> list[str]:
    """Per scenario: gap, predicted and measured change and the change error, over the points."""
    head = "| scenario |" + (f" {header or label} |" if label else "") + " seeds | gap | pred change | meas change | change error |"
    lines = [head, "|---|" + ("---|" if label else "") + "---:|---|---|---|---|"]
    for o in overall:
        lines.append(f"| {o['scenario']} |" + (f" {o[label]} |" if label else "") + f" {o['seeds']} | "
                     f"{pm(o['gap'], o['gap_se'], bold_over=GAP_TARGET)} | {pm(o['pc'], o['pc_se'])} | "
                     f"{pm(o['mc'], o['mc_se'])} | {pm(o['err'], o['err_se'], bold_over=GAP_TARGET)} |")
    return lines


# ---------------------------------------------------------------- the report


def pm(mean: float, se: float, digits: int = 3, bold_over: float | None = None) -> str:
    if not math.isfinite(mean):
        return "n/a"
    text = f"{mean:+.{digits}f} +- {se:.{digits}f}" if math.isfinite(se) else f"{mean:+.{digits}f}"
    return f"**{text}**" if bold_over is not None and abs(mean) > bold_over else text


def sign_text(p: dict) -> str:
    if p["sign_ok"] is None:
        return ""
    return "ok" if p["sign_ok"] else ("**WRONG** (pred. within 2 SE of 0)" if p["sign_noise"] else "**WRONG**")


def verdict_rows(name: str, points: list[dict]) -> list[tuple[str, str, str]]:
    done = [p for p in points if math.isfinite(p["gap"])]
    misses = [p for p in done if abs(p["gap"]) > GAP_TARGET]
    noise = [p for p in misses if abs(p["gap"]) - 2 * p["gap_se"] <= GAP_TARGET]
    worst = max(done, key=lambda p: abs(p["gap"])) if done else None
    sig = [p for p in done if p["significant"]]
    ok = [p for p in sig if p["sign_ok"]]
    wrong_noise = [p for p in sig if not p["sign_ok"] and p["sign_noise"]]
    gap_detail = (f"{len(done) - len(misses)}/{len(done)} points; {len(noise)} of the misses within 2 SE of the target"
                  + (f"; worst {pm(worst['gap'], worst['gap_se'])} ({worst['scenario']}, {worst['point']})" if worst else ""))
    err_misses = [p for p in done if abs(p["change_error"]) > GAP_TARGET]
    err_noise = [p for p in err_misses if abs(p["change_error"]) - 2 * p["change_error_se"] <= GAP_TARGET]
    err_worst = max(done, key=lambda p: abs(p["change_error"])) if done else None
    err_detail = (f"{len(done) - len(err_misses)}/{len(done)} points; {len(err_noise)} of the misses within 2 SE"
                  + (f"; worst {pm(err_worst['change_error'], err_worst['change_error_se'])} ({err_worst['scenario']}, "
                     f"{err_worst['point']})" if err_worst else ""))
    return [(f"{name}: mean gap <= {GAP_TARGET} at every point", "PASS" if done and not misses else "FAIL", gap_detail),
            (f"{name} (diagnostic): mean error of the predicted change <= {GAP_TARGET} at every point",
             "PASS" if done and not err_misses else "FAIL", err_detail),
            (f"{name}: predicted change has the measured sign where significant",
             "PASS" if ok == sig else "FAIL",
             f"{len(ok)}/{len(sig)} points" + (f"; {len(wrong_noise)} of the misses with a predicted change within 2 SE of 0"
                                                if len(ok) < len(sig) else ""))]


def write_report(path: Path | None, args, records: list[dict], meta: dict) -> str:
    failed = [r for r in records if r.get("error")]
    ok = pd.DataFrame([r for r in records if not r.get("error")])
    a = ok[ok.part == "a"].copy() if len(ok) else pd.DataFrame()
    b = ok[(ok.part == "b") & (~ok.get("skipped", pd.Series(False, index=ok.index)).fillna(False).astype(bool))].copy() \
        if len(ok) else pd.DataFrame()
    c = ok[ok.part == "c"].copy() if len(ok) else pd.DataFrame()
    a_points = point_rows(a, ["point"], "pred_2n", "meas_2n", "pred_n", "meas_n", naive="pred_n") if len(a) else []
    a_all = scenario_overall(a, "pred_2n", "meas_2n", "pred_n", "meas_n", naive="pred_n") if len(a) else []
    b_points = {how: point_rows(b, ["point"], f"pred_{how}", "meas", f"pred_all_{how}", "meas_all")
                for how in ("fitted", "given")} if len(b) else {"fitted": [], "given": []}
    c_points = point_rows(c, ["point"], "pred", "meas", "pred_half", "meas_half") if len(c) else []
    b_all = {how: scenario_overall(b, f"pred_{how}", "meas", f"pred_all_{how}", "meas_all", keys=("verifier",))
             for how in ("fitted", "given")} if len(b) else {"fitted": [], "given": []}
    c_all = scenario_overall(c.assign(m_over_half=(c["m"] / c["half"]).map(lambda x: f"{x:g} x half")), "pred", "meas", "pred_half",
                             "meas_half", keys=("m_over_half",)) if len(c) else []

    lines = ["# The advisor's extrapolations against real generators and verifiers", "",
             f"`{meta['command']}`", "",
             f"{meta['date']}; {meta['machine']}; rmtsynth {meta['version']}; learner ridge; {args.seeds} split seeds "
             f"from {args.first_seed}; {args.draws} draws of the pool per point below the pool size; the advisor's "
             f"default draws; BLAS on one thread per process, {args.workers} worker processes; total "
             f"{meta['total']:.0f} s; load average {meta['load_before']:.1f} before, {meta['load_after']:.1f} after.", "",
             "## Verdict", "", "| target | result | detail |", "|---|---|---|",
             f"| every advise call answers | {'PASS' if not failed else 'FAIL'} | {len(failed)} failed parts"
             + (": " + "; ".join(sorted({r['error'] for r in failed})[:3]) if failed else "") + " |"]
    parts = [("(a) n to 2 n", a_points), ("(b) verifier, noise fitted", b_points["fitted"]),
             ("(b) verifier, noise given", b_points["given"]), ("(c) m beyond the pool", c_points)]
    for name, points in parts:
        lines += [f"| {x} | {y} | {z} |" for x, y, z in verdict_rows(name, points)]
    if a_points:
        theory = np.mean([p["abs_gap"] for p in a_points])
        naive = np.mean([p["naive_abs_gap"] for p in a_points])
        lines.append(f"| (a) the theory closer than the naive answer \"same as at n\" (mean abs gap over seeds and points) | "
                     f"{'PASS' if theory < naive else 'FAIL'} | theory {theory:.4f}, naive {naive:.4f} |")
    lines += section_a(a, a_points, a_all) + section_b(b, b_points, ok, b_all) + section_c(c_points, c_all)
    lines += definitions()
    text = "\n".join(lines) + "\n"
    if path is not None:
        path.write_text(text)
    return text


def section_a(a: pd.DataFrame, points: list[dict], overall: list[dict]) -> list[str]:
    lines = ["", "## (a) Another number of real rows: n to 2 n", "",
             "Per scenario, the mean over the grid's points (per seed, then mean +- SE over seeds): gap of the theory "
             "at 2 n; gap of the naive answer (the advisor's row at n, unchanged); predicted and measured change from "
             "n to 2 n, and the predicted change's error (the theory's own part of the gap). Captured: mean predicted "
             "/ mean measured change.", "",
             "| scenario | n -> 2 n (reserve from; test rows) | gap at 2 n | naive gap | predicted change | measured change "
             "| change error | captured |", "|---|---|---|---|---|---|---|---:|"]
    for o in overall:
        spec = scenario_by_name(o["scenario"])
        mine = a[a.scenario == o["scenario"]]
        origin, test_rows = mine["reserve"].iloc[0], mine.groupby("seed")["test_rows"].first().mean()
        captured = o["pc"] / o["mc"] if abs(o["mc"]) > 1e-12 else math.nan
        lines.append(f"| {o['scenario']} | {spec.n_train} -> {N_FACTOR * spec.n_train} ({origin}; "
                     f"{test_rows:.0f}) | {pm(o['gap'], o['gap_se'], bold_over=GAP_TARGET)} | "
                     f"{pm(o['naive'], o['naive_se'], bold_over=GAP_TARGET)} | {pm(o['pc'], o['pc_se'])} | "
                     f"{pm(o['mc'], o['mc_se'])} | {pm(o['err'], o['err_se'])} | {captured:.2f} |")
    lines += ["", "Per point (threshold/m):", "",
              "| scenario | point | predicted 2 n | measured 2 n | gap +- SE | naive gap | pred change | meas change +- SE "
              "| change error | sign |", "|---|---|---:|---:|---|---|---|---|---|---|"]
    for p in points:
        lines.append(f"| {p['scenario']} | {p['point']} | {p['pred']:.3f} | {p['meas']:.3f} | "
                     f"{pm(p['gap'], p['gap_se'], bold_over=GAP_TARGET)} | {pm(p['naive_gap'], p['naive_gap_se'])} | "
                     f"{p['pred_change']:+.3f} | {pm(p['meas_change'], p['meas_change_se'])}{' *' if p['significant'] else ''} "
                     f"| {pm(p['change_error'], p['change_error_se'])} | {sign_text(p)} |")
    return lines


def section_b(b: pd.DataFrame, points: dict[str, list[dict]], ok: pd.DataFrame,
              overall: dict[str, list[dict]]) -> list[str]:
    lines = ["", "## (b) A verifier not yet built", "",
             "The pool's true label error against the keep-all rows' effective noise the advisor fitted (its notes), "
             "mean +- SE over seeds, and the simulated verifiers' realised precision and recall. A verifier is "
             "skipped on a split whose pool error is too low for that precision at that recall.", "",
             "| scenario | true pool label error | fitted effective noise | fitted - true | verifier | splits run / skipped "
             "| realised precision | realised recall |", "|---|---|---|---|---|---|---|---|"]
    bb = ok[ok.part == "b"] if len(ok) else ok
    for scenario, g in bb.groupby("scenario", sort=False):
        per_seed = g.groupby("seed").agg(eps=("eps", "first"), fit=("fit_noise", "first"))
        eps, eps_se = mean_se(per_seed["eps"])
        fit, fit_se = mean_se(per_seed["fit"])
        diff, diff_se = mean_se(per_seed["fit"] - per_seed["eps"])
        for k, (p, r) in enumerate(VERIFIERS):
            label = verifier_label(p, r)
            run = g[(g.verifier == label) & (~g.skipped.astype(bool))]
            skipped = g[(g.verifier == label) & (g.skipped.astype(bool))]
            head = (f"| {scenario} | {eps:.3f} +- {eps_se:.3f} | {fit:.3f} +- {fit_se:.3f} | {pm(diff, diff_se)} "
                    if k == 0 else "| | | | ")
            realised = run.groupby("seed").first()
            lines.append(head + f"| {label} | {realised.shape[0]} / {skipped.seed.nunique()} | "
                         + (f"{realised.precision.mean():.3f} | {realised.recall.mean():.3f} |" if len(realised)
                            else "- | - |"))
    for how, title in (("fitted", "pool label noise not given (the fitted keep-all noise stands for it)"),
                       ("given", "pool_label_noise = the pool's true label error")):
        lines += ["", f"### {title}", "",
                  "Change: from keep-all to the verifier at the same m. Over the m of the grid (per seed, then mean +- "
                  "SE over seeds):", "", *overall_table(overall[how], "verifier"), "", "Per m:", "",
                  "| scenario | verifier/m | seeds | predicted | measured | gap +- SE | pred change | meas change +- SE "
                  "| change error | sign |", "|---|---|---:|---:|---:|---|---|---|---|---|"]
        for p in points[how]:
            lines.append(f"| {p['scenario']} | {p['point']} | {p['seeds']} | {p['pred']:.3f} | {p['meas']:.3f} | "
                         f"{pm(p['gap'], p['gap_se'], bold_over=GAP_TARGET)} | {p['pred_change']:+.3f} | "
                         f"{pm(p['meas_change'], p['meas_change_se'])}{' *' if p['significant'] else ''} | "
                         f"{pm(p['change_error'], p['change_error_se'])} | {sign_text(p)} |")
    return lines


def section_c(points: list[dict], overall: list[dict]) -> list[str]:
    lines = ["", "## (c) m beyond the pool", "",
             "Advice on the first half of the pool; change: from m = half (measured by the advisor, the truth on "
             "the half itself) to the extrapolated m. Over the thresholds (per seed, then mean +- SE over seeds):", "",
             *overall_table(overall, "m_over_half", "m"), "", "Per threshold and m:", "",
             "| scenario | threshold/m | predicted | measured | gap +- SE | pred change | meas change +- SE "
             "| change error | sign |", "|---|---|---:|---:|---|---|---|---|---|"]
    for p in points:
        lines.append(f"| {p['scenario']} | {p['point']} | {p['pred']:.3f} | {p['meas']:.3f} | "
                     f"{pm(p['gap'], p['gap_se'], bold_over=GAP_TARGET)} | {p['pred_change']:+.3f} | "
                     f"{pm(p['meas_change'], p['meas_change_se'])}{' *' if p['significant'] else ''} | "
                     f"{pm(p['change_error'], p['change_error_se'])} | {sign_text(p)} |")
    return lines


def definitions() -> list[str]:
    return ["", "## How the truth is measured", "",
            "The splits are those of benchmarks/bench_advise.py (same rows for the same seeds). Measured accuracy: "
            "`make_pipeline(StandardScaler(), RidgeClassifier(alpha=1.0))` fitted on the real training rows plus the "
            "kept pool rows, accuracy on the held-out real test rows, averaged over draws of the m pool rows (the same "
            "draws for every threshold, verifier and n, so that changes are paired; at m = pool size the pool). "
            "Gap = predicted - measured, mean over seeds +- SE over seeds; a measured change is significant when "
            f"|mean| > 2 SE and > {MIN_GAIN} (marked *). The target of {GAP_TARGET} on the mean gap is the in-pool "
            "target of the advisor's acceptance benchmark; the gap at an extrapolated point carries the in-pool gap "
            "of the measured row it starts from plus the change error.", ""]


# ---------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser, draws=10, quick_draws=4)
    parser.add_argument("--records", type=Path, default=None, help="also write every per-seed record to this CSV")
    return parse_run_arguments(parser, argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    start, load_before = time.perf_counter(), os.getloadavg()[0]
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    records = run_all(args.scenarios, seeds, args.draws, args.workers)
    for r in records:
        if r.get("error"):
            print(f"failed: {r['scenario']} seed {r['seed']} part {r['part']}: {r['error']}\n{r.get('traceback', '')}",
                  file=sys.stderr)
    if args.records is not None:
        pd.DataFrame([{k: v for k, v in r.items() if k != "traceback"} for r in records]).to_csv(args.records, index=False)
    meta = dict(command="python benchmarks/bench_extrapolate.py " + " ".join(sys.argv[1:] if argv is None else argv),
                date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                machine=f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                version=_version(), total=time.perf_counter() - start, load_before=load_before,
                load_after=os.getloadavg()[0])
    print(write_report(args.out, args, records, meta))


if __name__ == "__main__":
    main()
