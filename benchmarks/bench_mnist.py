"""The cost of the MNIST figure (configs/fig7_mnist.yaml): one training run, the full figure, the quick mode.

Measured, with no cache:

* one training run (784-128-10 network, 3000 steps) at m = 0 and m = 750 per class, in this
  process with single-threaded BLAS: wall and CPU seconds, the median of a few runs;
* the full figure (every point and seed of the config) on ``--workers`` processes;
* the quick mode (``--quick``) on the same workers.

The targets are 1-2 s of CPU per run, at most 6 minutes for the full figure and at most 90 s for
the quick mode on 2 workers. Wall-clock numbers depend on what else runs on the machine: the
report records the load average before and after, and the CPU seconds of the workers.

    python benchmarks/bench_mnist.py --out benchmarks/mnist.md [--workers 2] [--skip-full]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "fig7_mnist.yaml"
FULL_TARGET = 360.0
QUICK_TARGET = 90.0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_runs(repeats: int) -> list[tuple[str, float, float, float]]:
    """(label, median wall, median CPU, accuracy of the last run) of single training runs."""
    from rmtsynth.data.mnist import HeldOutProtocol, NetworkSettings, SyntheticPoint, load_mnist, run_point

    images = load_mnist()
    out = []
    for label, point in (("m = 0 (real only)", SyntheticPoint()),
                         ("m = 750, label noise 0.3, strong verifier", SyntheticPoint(750, 0.3, 0.1, 0.9))):
        walls, cpus = [], []
        accuracy = float("nan")
        for k in range(repeats):
            # A fresh seed each time, so that the split and the generator are fitted inside the timing.
            w0, c0 = time.perf_counter(), time.process_time()
            accuracy = run_point(images, HeldOutProtocol(), point, NetworkSettings(), root_seed=12345, seed_index=k).accuracy
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        out.append((label, statistics.median(walls), statistics.median(cpus), accuracy))
    return out


def time_figure(quick: bool, workers: int) -> tuple[float, float, dict, list[dict]]:
    """Wall seconds, worker CPU seconds, the result's info and its rows for the config, uncached."""
    from rmtsynth.engine.sweep import SweepOptions
    from rmtsynth.figures import mnist
    from rmtsynth.config.figure_config import load_config

    cfg = load_config(CONFIG, quick=quick)
    cpu0 = _children_cpu() + time.process_time()
    t0 = time.perf_counter()
    result = mnist.compute(cfg, SweepOptions(workers=workers, cache_dir=None, progress=False))
    fig = mnist.draw(cfg, result)
    wall = time.perf_counter() - t0
    del fig
    return wall, _children_cpu() + time.process_time() - cpu0, result.info, result.rows


def _accuracy_table(rows: list[dict]) -> list[str]:
    lines = ["| panel | series | m per class | accuracy | SE | seeds |", "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        if r["m_per_class"] in (0, 750) and (r["m_per_class"] > 0 or r is rows[0]):
            lines.append(f"| {r['panel']} | {r['series']} | {r['m_per_class']} | {r['accuracy_mean']:.4f} | "
                         f"{r['accuracy_se']:.4f} | {r['seeds']} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "mnist.md")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-full", action="store_true", help="time only single runs and the quick mode")
    args = parser.parse_args()

    load_before = os.getloadavg()
    runs = time_runs(args.repeats)
    quick_wall, quick_cpu, quick_info, _ = time_figure(True, args.workers)
    full = None if args.skip_full else time_figure(False, args.workers)
    load_after = os.getloadavg()

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    lines = [
        "# MNIST figure benchmark",
        "",
        f"`python benchmarks/bench_mnist.py --workers {args.workers}` on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; BLAS single-threaded; no cache.",
        f"Load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (the machine may be shared: "
        "wall times above CPU / workers mean other work competed).",
        "",
        "## One training run (784-128-10, 3000 steps, batch 64, float32)",
        "",
        "| run | wall s (median) | CPU s (median) | accuracy |",
        "|---|---:|---:|---:|",
    ]
    for label, wall, cpu, accuracy in runs:
        lines.append(f"| {label} | {wall:.2f} | {cpu:.2f} | {accuracy:.4f} |")
    lines += [
        "",
        "The cost does not grow with m: the steps are fixed, and only the generator's draws scale with m.",
        "",
        f"## Figure on {args.workers} workers",
        "",
        "| mode | training runs | wall s | CPU s | target | |",
        "|---|---:|---:|---:|---:|---|",
        f"| quick (`--quick`) | {quick_info['training_runs']} | {quick_wall:.1f} | {quick_cpu:.1f} | {QUICK_TARGET:.0f} | "
        f"{verdict(quick_wall <= QUICK_TARGET)} |",
    ]
    if full is not None:
        wall, cpu, info, rows = full
        lines.append(f"| full | {info['training_runs']} | {wall:.1f} | {cpu:.1f} | {FULL_TARGET:.0f} | "
                     f"{verdict(wall <= FULL_TARGET)} |")
        lines += ["", "## Accuracies of the full figure (m = 0 and m = 750 per class)", ""] + _accuracy_table(rows)
    text = "\n".join(lines) + "\n"
    args.out.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
