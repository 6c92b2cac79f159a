"""Benchmarks of the self-consuming loop: the theory's cost per loop and the four loop figures' wall time.

Usage::

    .venv/bin/python benchmarks/bench_generations.py --out benchmarks/generations.md [--quick] [--workers 2]

Measures GR (identity generator, noisy labels) and FGR (pseudo-labels) for a K = 8 loop, the
Python entry point, and the four configs ``configs/generations_*.yaml`` end to end (theory,
simulation without a cache, drawing and writing into a temporary directory). Writes one Markdown
report with the targets and the machine's load; the exit code is 0 whatever the numbers are.
"""

from __future__ import annotations

import argparse
import os
import sys

ARGS = None
if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/generations.md", help="Markdown report to write.")
    parser.add_argument("--quick", action="store_true", help="The configs' quick settings (CI's quick mode).")
    parser.add_argument("--workers", type=int, default=2, help="Worker processes for the figures (default 2).")
    parser.add_argument("--no-figures", action="store_true", help="Time the theory only.")
    ARGS = parser.parse_args()
    # Single-threaded BLAS, like the sweep's workers: on a shared machine threads measure the neighbours.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        os.environ[name] = "1"

import datetime as _dt  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SETTING = dict(n=200, m=800, p=200, mu_norm=1.5, label_noise=0.1, rho=1.0, phi=1.0, gamma=0.5)
FIGURES = ("accuracy", "generator", "stability", "pseudo_labels")
TARGETS = {"GR": 0.010, "FGR": 0.5, "figures": 120.0}


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` calls, in seconds (the least disturbed by other processes)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def theory_rows(quick: bool) -> list[tuple[str, float, str]]:
    from rmtsynth.core import loop as loop_theory
    from rmtsynth.engine.loops import predict_loop

    repeats = 5 if quick else 20
    rows = []
    for regime in ("replace", "accumulate"):
        seconds = best_of(lambda: loop_theory.gram_reduction(
            *SETTING.values(), generations=8, regime=regime), repeats)
        rows.append((f"GR, K = 8, {regime}", seconds, "GR"))
    for regime in ("replace", "accumulate"):
        seconds = best_of(lambda: loop_theory.functional_gram_reduction(
            *loop_theory.loop_setting(**SETTING, generations=8, regime=regime, labels="pseudo")), max(2, repeats // 4))
        rows.append((f"FGR, K = 8, {regime}, pseudo-labels", seconds, "FGR"))
    seconds = best_of(lambda: loop_theory.functional_gram_reduction(
        *loop_theory.loop_setting(**SETTING, generations=1, regime="replace", generator_covariance="estimated")), max(2, repeats // 4))
    rows.append(("FGR, estimated generator, generation 1", seconds, "FGR"))
    seconds = best_of(lambda: predict_loop(generations=8, n=200, m=800, p=200, mu_norm=1.5, label_noise=0.1,
                                           verifier="none", gamma=0.5), repeats)
    rows.append(("rmtsynth predict_loop (GR + parameter checks), K = 8", seconds, "GR"))
    return rows


def figure_rows(quick: bool, workers: int) -> list[tuple[str, float, dict]]:
    from rmtsynth.engine.sweep import SweepOptions
    from rmtsynth.runner import check_config, compute, write_outputs
    from rmtsynth.config.figure_config import load_config

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in FIGURES:
            path = ROOT / "configs" / f"generations_{name}.yaml"
            t0 = time.perf_counter()
            cfg = load_config(path, quick=quick)
            check_config(cfg)
            options = SweepOptions(workers=workers, cache_dir=None, progress=False)
            result = compute(cfg, options)
            write_outputs(result, Path(tmp), options, path, time.perf_counter() - t0)
            rows.append((name, time.perf_counter() - t0, dict(result.info)))
    return rows


def load_text() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min)"


def machine() -> str:
    return (f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"load average {load_text()} at the start")


def main() -> int:
    assert ARGS is not None
    start_machine = machine()
    theory = theory_rows(ARGS.quick)
    figures = [] if ARGS.no_figures else figure_rows(ARGS.quick, ARGS.workers)
    lines = [
        "# Benchmarks: self-consuming loops",
        "",
        f"Run {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')} with `benchmarks/bench_generations.py"
        + (" --quick" if ARGS.quick else "") + f" --workers {ARGS.workers}`; BLAS single-threaded.",
        f"Machine: {start_machine}. The machine is shared: a load above its CPU count slows every number here.",
        "",
        "## Theory (fastest of repeated calls)",
        "",
        "| what | seconds | target | |",
        "|---|---|---|---|",
    ]
    for label, seconds, kind in theory:
        target = TARGETS[kind]
        lines.append(f"| {label} | {seconds:.4f} | < {target:g} | {'PASS' if seconds < target else 'FAIL'} |")
    if figures:
        total = sum(s for _, s, _ in figures)
        lines += [
            "",
            f"## The four loop figures{' (quick settings)' if ARGS.quick else ''}: end to end, no cache, "
            f"{ARGS.workers} workers",
            "",
            "| config | seconds | rows | simulated settings | replicates |",
            "|---|---|---|---|---|",
        ]
        for name, seconds, info in figures:
            lines.append(f"| generations_{name} | {seconds:.1f} | {info.get('points')} | "
                         f"{info.get('simulated_settings', 0)} | {info.get('replicates', 0)} |")
        target = TARGETS["figures"]
        lines += ["", f"Total: {total:.1f} s (target < {target:g} s on 2 cores: {'PASS' if total < target else 'FAIL'}; "
                      f"`make figures` budget 600 s for every figure). Load average at the end: {load_text()}."]
    text = "\n".join(lines) + "\n"
    Path(ARGS.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
