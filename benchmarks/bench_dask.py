"""The cost of the Dask executor against the local process pool on a mid-size sweep.

Both run the same curves config (200 points x 20 seeds at p = 100 by default) with 2 workers and
no cache; the Dask executor starts its own LocalCluster. Reported: the wall time of each, with the
cluster's start-up apart, and their ratio; the two tables are checked to be identical.

    python benchmarks/bench_dask.py --out benchmarks/dask.md [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

CONFIG = """\
title: dask benchmark
seed: 11
params:
  n: 200
  p: {p}
  mu_norm: 1.0
  gamma: 1.0
  rho: 0.2
  phi: 0.9
  m_over_n: {{linspace: [0.1, 5, {x_points}]}}
  label_noise: [0.1, 0.3]
x: {{param: m_over_n, label: "m/n"}}
series: {{param: label_noise, label: "noise {{value}}"}}
panels:
  - {{title: "bench"}}
simulation:
  seeds: {seeds}
"""


def _config_text(points: int, seeds: int, p: int) -> str:
    return CONFIG.format(p=p, x_points=points // 2, seeds=seeds)


def _worker_cpu() -> float:
    """CPU seconds of this process's children: live ones (Dask workers) and reaped ones (the pool)."""
    import resource

    import psutil  # a dependency of distributed

    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return total + reaped.ru_utime + reaped.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="Write the Markdown report here (default: print it).")
    parser.add_argument("--quick", action="store_true", help="A small sweep, for a smoke test.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=None, help="Runs per executor, alternating (median reported).")
    args = parser.parse_args(argv)

    from distributed import get_task_stream

    from rmtsynth.config.figure_config import load_config
    from rmtsynth.engine.executors import executor_for, session
    from rmtsynth.io.output import table_csv
    from rmtsynth.engine.sweep import SweepOptions, SweepResult, run_curves

    points, seeds, p = (40, 5, 100) if args.quick else (200, 20, 100)
    repeat = args.repeat or (1 if args.quick else 3)
    runs: dict[str, list[tuple[float, float, float]]] = {"local": [], "dask": []}
    results: dict[str, SweepResult] = {}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(_config_text(points, seeds, p))
        cfg = load_config(path)

        def timed(executor: str) -> None:
            opts = SweepOptions(workers=args.workers, cache_dir=None, progress=False, executor=executor)
            cpu0, t0 = _worker_cpu(), time.perf_counter()
            results[executor] = res = run_curves(cfg, opts)
            runs[executor].append((time.perf_counter() - t0, res.info["simulation_seconds"], _worker_cpu() - cpu0))

        with session("dask", None, args.workers):
            t0 = time.perf_counter()
            with executor_for("dask", None, args.workers) as executor:
                startup = time.perf_counter() - t0
                # The scheduler's task stream names every Dask task that ran: count the batches.
                with get_task_stream(client=executor.client) as stream:  # type: ignore[attr-defined]
                    # Alternate, so that a change in the machine's load hits both alike.
                    for _ in range(repeat):
                        timed("local")
                        timed("dask")
                keys = {str(record["key"]) for record in stream.data}
                batches = sum(1 for key in keys if key.startswith("rmtsynth-simulate-")) // repeat

    local, dask = results["local"], results["dask"]
    same = table_csv(local.columns, local.rows) == table_csv(dask.columns, dask.rows)
    med = {k: [statistics.median(r[i] for r in v) for i in range(3)] for k, v in runs.items()}
    (t_local, s_local, c_local), (t_dask, s_dask, c_dask) = med["local"], med["dask"]
    n_sim = sum(1 for r in local.rows if r.get("sim_seeds"))
    lines = [
        "# Dask executor overhead",
        "",
        f"Sweep: {len(local.rows)} points ({n_sim} simulated) x {seeds} seeds at p = {p}, n = 200; "
        f"{args.workers} workers; cache disabled; median of {repeat} alternating run(s) each.",
        f"Python {platform.python_version()}, {os.cpu_count()} cores, load average {load_before:.1f} "
        f"before / {os.getloadavg()[0]:.1f} after (other work on the machine inflates the wall times).",
        "",
        "| executor | sweep wall (s) | simulation wall (s) | worker CPU (s) | notes |",
        "|---|---:|---:|---:|---|",
        f"| local (process pool) | {t_local:.2f} | {s_local:.2f} | {c_local:.2f} | includes starting {args.workers} "
        f"worker processes; {local.info['tasks']} tasks |",
        f"| dask (LocalCluster) | {t_dask:.2f} | {s_dask:.2f} | {c_dask:.2f} | cluster already running; "
        f"{dask.info['tasks']} point tasks in {batches} Dask tasks |",
        f"| dask cluster start-up | {startup:.2f} | | | once per `rmtsynth sweep` invocation |",
        "",
        f"Ratio dask / local: sweep wall **{t_dask / t_local:.2f}**, worker CPU **{c_dask / c_local:.2f}**, "
        f"sweep wall plus cluster start-up **{(t_dask + startup) / t_local:.2f}**.",
        f"Tables identical: {'yes' if same else 'NO'}.",
        "",
    ]
    report = "\n".join(lines)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
    print(report)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
