"""Benchmarks of rmtsynth: theory throughput, simulation draws, and the toy figure's wall time.

Usage::

    .venv/bin/python benchmarks/run.py --out benchmarks/results.md [--quick] [--blas-threads 1]

Writes one Markdown report (tables, targets with PASS/FAIL, machine information) and prints a
summary. Benchmarks report; they do not gate: the exit code is 0 whatever the numbers are.
Nothing is written except the report and files in a temporary directory.

BLAS runs single-threaded by default, like the sweep's worker processes: on a shared 2-core
machine a multi-threaded BLAS spinning against other processes can make small products many
times slower, which would measure the neighbours rather than the code.
"""

from __future__ import annotations

import argparse
import os
import sys


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results.md", help="Markdown report to write.")
    parser.add_argument("--quick", action="store_true", help="A fast smoke run: fewer sizes and repeats.")
    parser.add_argument("--blas-threads", type=int, default=1, help="BLAS threads (default 1).")
    return parser.parse_args(argv)


ARGS = _parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    # Must be set before numpy loads its BLAS.
    from rmtsynth.engine.parallel import BLAS_ENV  # imports no numpy

    for _var in BLAS_ENV:
        os.environ[_var] = str(ARGS.blas_threads)

import datetime as _dt  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402

from rmtsynth.core.dense_oracle import evaluate_dense  # noqa: E402
from rmtsynth.core.model import DataModel, build_model  # noqa: E402
from rmtsynth.sim.samplers import draw_generator, sample_exact, sample_naive  # noqa: E402
from rmtsynth.core.theory import Spectrum, evaluate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# The dense baseline's convergence tolerance (relative change of both deltas).
DENSE_TOL = 1e-12

# Targets (the claims the report checks).
GRID_P1000_MAX_S = 0.5  # "a 1000-point grid at p = 1000 in well under a second"
SPEEDUP_P500_MIN = 300.0  # theory vs the per-point dense solve at p = 500
SAMPLER_SPEEDUP_MIN = 8.0  # exact vs naive at p = 500, n = 1000, m = 19 000
FIG3_MAX_S = 60.0


# ---------------------------------------------------------------------------------------------
# Timing helpers


def best_of(fn: Callable[[], Any], repeats: int) -> float:
    """Best wall time of ``repeats`` calls (the least disturbed by other processes)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


# ---------------------------------------------------------------------------------------------
# a. Theory: O(p) eigenbasis evaluation against a per-point dense solve


@dataclass(frozen=True)
class Grid:
    """A 1000-point (eps x gamma) grid at fixed n, m and verifier."""

    n: float = 1000.0
    m: float = 4000.0
    rho: float = 0.1
    phi: float = 0.9
    eps: np.ndarray = field(default_factory=lambda: np.linspace(0.0, 0.9, 25))
    gamma: np.ndarray = field(default_factory=lambda: np.logspace(-2, 1, 40))

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        e, g = np.meshgrid(self.eps, self.gamma, indexing="ij")
        return e.ravel(), g.ravel()


def diagonal_problem(p: int) -> tuple[np.ndarray, DataModel]:
    """A diagonal C with log-uniform spectrum on [0.2, 5] and a random direction for mu."""
    rng = np.random.default_rng(p)
    diag = np.exp(rng.uniform(np.log(0.2), np.log(5.0), size=p))
    model = build_model(p, 1.5, 0.8, 0.5, "diagonal", eigenvalues=diag, rng=rng)
    return diag, model


def plain_iteration_counts(ell: np.ndarray, grid: Grid, tol: float = DENSE_TOL) -> np.ndarray:
    """Iterations the dense baseline's plain iteration needs at every grid point.

    The same recurrence written in C's eigenbasis (O(p) per step), vectorised over the grid; used
    to extrapolate the baseline where timing every point densely would take too long.
    """
    eps, gamma = grid.points()
    N = grid.n + grid.m
    pi = grid.n / N
    c = (grid.phi * (1 - eps) + grid.rho * eps) * (1 - pi)
    delta = np.zeros_like(eps)
    delta_s = np.zeros_like(eps)
    count = np.zeros(eps.shape, dtype=int)
    active = np.ones(eps.shape, dtype=bool)
    it = 0
    while active.any() and it < 1_000_000:
        it += 1
        idx = np.flatnonzero(active)
        d = (gamma[idx] + pi / (1 + delta[idx]))[:, None] + (c[idx] / (1 + delta_s[idx]))[:, None] * ell
        inv = 1.0 / d
        new0 = inv.sum(axis=1) / N
        new1 = (inv * ell).sum(axis=1) / N
        done = (np.abs(new0 - delta[idx]) <= tol * new0) & (np.abs(new1 - delta_s[idx]) <= tol * np.maximum(new1, 1e-300))
        delta[idx], delta_s[idx] = new0, new1
        count[idx] = it
        active[idx[done]] = False
    return count


@dataclass
class TheoryRow:
    p: int
    grid_seconds: float
    points_per_second: float
    baseline_points: int
    baseline_raw_per_point: float | None
    subset_mean_iterations: float | None
    baseline_measured_per_point: float | None
    baseline_model_per_point: float
    mean_iterations: float
    max_abs_diff: float | None

    @property
    def baseline_per_point(self) -> float:
        return self.baseline_measured_per_point if self.baseline_measured_per_point is not None else self.baseline_model_per_point

    @property
    def speedup(self) -> float:
        return self.baseline_per_point / (self.grid_seconds / 1000.0)


def bench_theory(ps: list[int], direct_subset: dict[int, int], repeats: int) -> list[TheoryRow]:
    """Theory grid time per p, and the dense per-point baseline (timed on a subset, modelled for all)."""
    grid = Grid()
    eps, gamma = grid.points()
    rows = []
    for p in ps:
        diag, model = diagonal_problem(p)
        spectrum = Spectrum.from_eigen(diag, model.mu, model.mean)
        run = lambda: evaluate(spectrum, grid.n, grid.m, eps, grid.rho, grid.phi, gamma)  # noqa: E731
        fast = run()
        t_grid = best_of(run, repeats)

        # Baseline cost model: (iterations at each point) x (one dense inverse) + the final step.
        cov = np.diag(diag)
        eye = np.eye(p)
        iters = plain_iteration_counts(diag, grid)
        t_inv = median_time(lambda: np.linalg.inv(2.0 * eye + cov), 3 if p < 2000 else 1)
        t_final = t_inv * 2 + median_time(lambda: cov @ eye, 3 if p < 2000 else 1)
        model_per_point = float(iters.mean()) * t_inv + t_final

        k = direct_subset.get(p, 0)
        measured = raw = sub_iters = None
        max_diff = None
        if k:
            # A stratified subset: evenly spaced through the grid, so it spans eps and gamma.
            picks = np.linspace(0, eps.size - 1, k).round().astype(int)
            t0 = time.perf_counter()
            diffs = []
            for i in picks:
                dense = evaluate_dense(cov, model.mu, model.mean, grid.n, grid.m, eps[i], grid.rho, grid.phi,
                                       gamma[i], tol=DENSE_TOL)
                diffs.append(abs(dense["accuracy"] - float(fast.accuracy[i])))
            raw = (time.perf_counter() - t0) / k
            sub_iters = float(iters[picks].mean())
            # Rescale from the subset's iteration counts to the whole grid's.
            measured = float(raw * (iters.mean() * t_inv + t_final) / (sub_iters * t_inv + t_final))
            max_diff = float(max(diffs))
        rows.append(TheoryRow(p, t_grid, 1000.0 / t_grid, k, raw, sub_iters, measured, model_per_point,
                              float(iters.mean()), max_diff))
        print(f"  theory p={p}: grid {t_grid * 1e3:.1f} ms, baseline {rows[-1].baseline_per_point * 1e3:.1f} ms/point "
              f"({'measured on ' + str(k) + ' points' if k else 'modelled'}), speed-up {rows[-1].speedup:.0f}x",
              flush=True)
    return rows


# ---------------------------------------------------------------------------------------------
# b. Simulation: exact sampler against naive sampler


@dataclass
class SamplerRow:
    m: int
    sampler: str
    draws: int
    ms_per_draw: float

    @property
    def draws_per_second(self) -> float:
        return 1000.0 / self.ms_per_draw


def sampler_model(p: int = 500) -> DataModel:
    rng = np.random.default_rng(500)
    diag = np.exp(rng.uniform(np.log(0.2), np.log(5.0), size=p))
    return build_model(p, 1.5, 0.8, 0.5, "diagonal", eigenvalues=diag, rng=rng)


def time_sampler(model: DataModel, sampler: str, n: int, m: int, draws: int) -> float:
    """Median milliseconds per draw of (S, r), generator draw included."""
    draw = sample_exact if sampler == "exact" else sample_naive
    rng = np.random.default_rng(12345)

    def one() -> None:
        mu_beta, factor = draw_generator(model, rng)
        draw(model.mu, mu_beta, factor, n, m, 0.2, 0.1, 0.9, rng)

    one()  # warm-up (imports, caches)
    return 1e3 * median_time(one, draws)


def bench_samplers(ms: list[int], draws: dict[str, Callable[[int], int]], headline_m: int) -> tuple[list[SamplerRow], dict[str, float]]:
    model = sampler_model()
    rows = []
    for m in ms:
        for sampler in ("exact", "naive"):
            k = draws[sampler](m)
            if k == 0:
                continue
            t = time_sampler(model, sampler, 1000, m, k)
            rows.append(SamplerRow(m, sampler, k, t))
            print(f"  sampler {sampler:5s} m={m:>6d}: {t:8.1f} ms/draw ({k} draws)", flush=True)
    head = {s: time_sampler(model, s, 1000, headline_m, draws[s](headline_m) + 2) for s in ("exact", "naive")}
    print(f"  headline m={headline_m}: exact {head['exact']:.1f} ms, naive {head['naive']:.1f} ms, "
          f"ratio {head['naive'] / head['exact']:.1f}x", flush=True)
    return rows, head


# ---------------------------------------------------------------------------------------------
# c. The toy figure end to end


def bench_fig3(quick: bool) -> tuple[float | None, str]:
    config = ROOT / "configs" / "fig3_toy.yaml"
    if quick:
        return None, "skipped (--quick)"
    if not config.exists():
        return None, "skipped: configs/fig3_toy.yaml does not exist"
    exe = Path(sys.executable).parent / "rmtsynth"
    cmd = [str(exe) if exe.exists() else (shutil.which("rmtsynth") or "rmtsynth")]
    with tempfile.TemporaryDirectory(prefix="rmtsynth-bench-") as tmp:
        cmd += ["sweep", str(config), "--out", str(Path(tmp) / "out"), "--no-cache", "-q"]
        # Keep matplotlib's font cache in the temporary directory too.
        env = dict(os.environ, MPLCONFIGDIR=str(Path(tmp) / "mpl"))
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
        elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        return None, f"failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"
    return elapsed, f"`rmtsynth sweep configs/fig3_toy.yaml --no-cache -q` ({os.cpu_count()} cores)"


# ---------------------------------------------------------------------------------------------
# Report


def machine_info(blas_threads: int) -> list[tuple[str, str]]:
    info = [
        ("date", _dt.datetime.now().astimezone().isoformat(timespec="seconds")),
        ("host", f"{platform.system()} {platform.release()} {platform.machine()}"),
        ("CPU", _cpu_model()),
        ("CPU count", str(os.cpu_count())),
        ("python", platform.python_version()),
        ("numpy", np.__version__),
        ("scipy", scipy.__version__),
        ("BLAS", _blas_description()),
        ("BLAS threads used", str(blas_threads)),
    ]
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _blas_description() -> str:
    try:
        from threadpoolctl import threadpool_info

        libs = [f"{d.get('internal_api')} {d.get('version')} ({d.get('threading_layer')}, {d.get('architecture')}, "
                f"{d.get('num_threads')} threads)" for d in threadpool_info() if d.get("user_api") == "blas"]
        if libs:
            return "; ".join(libs)
    except Exception:  # threadpoolctl is optional
        pass
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:
        return "unknown"


def _load() -> str:
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def write_report(path: Path, args: argparse.Namespace, info: list[tuple[str, str]], load_before: str, load_after: str,
                 theory: list[TheoryRow], samplers: list[SamplerRow], head: dict[str, float],
                 fig3: tuple[float | None, str], targets: list[tuple[str, str, str]], seconds: float) -> None:
    grid = Grid()
    lines = [
        "# rmtsynth benchmarks",
        "",
        f"Generated by `benchmarks/run.py{' --quick' if args.quick else ''}` in {seconds:.0f} s. "
        "Wall-clock times on a possibly shared machine: compare the columns of one run, not runs on different days.",
        "",
        "## Targets",
        "",
        "| claim | measured | result |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in targets],
        "",
        "## a. Theory points per second against p",
        "",
        f"A 1000-point grid (25 label-noise values in [0, 0.9] x 40 ridge penalties in [1e-2, 10]), n = {grid.n:g}, "
        f"m = {grid.m:g}, rho = {grid.rho}, phi = {grid.phi}; diagonal C with a log-uniform spectrum on [0.2, 5], "
        "mu_beta = 0.8 mu + 0.5 e_perp. The theory is one vectorised `evaluate` call on `Spectrum.from_eigen` "
        "(best of several runs). The baseline, `rmtsynth.core.dense_oracle.evaluate_dense`, solves each point "
        "separately: plain fixed-point iteration from 0 with a dense p x p inverse per step (relative tolerance "
        f"{DENSE_TOL:g}), then the dense resolvent with its rank-2 part and the quadratic forms. Where it is timed "
        "on a subset of grid points (evenly spaced through the grid) the time is rescaled to the whole grid's mean iteration count; elsewhere "
        "it is modelled as (mean iterations) x (one dense inverse) + the final step.",
        "",
        "| p | theory, 1000 points (ms) | theory points/s | baseline per point (ms) | how | "
        "grid mean iterations | subset: ms/point raw (mean iterations) | model (ms/point) | speed-up | "
        "max abs. acc. diff (subset) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in theory:
        how = f"timed on {r.baseline_points} points" if r.baseline_measured_per_point is not None else "modelled"
        diff = f"{r.max_abs_diff:.1e}" if r.max_abs_diff is not None else "-"
        sub = (f"{r.baseline_raw_per_point * 1e3:.1f} ({r.subset_mean_iterations:.0f})"
               if r.baseline_raw_per_point is not None else "-")
        lines.append(f"| {r.p} | {r.grid_seconds * 1e3:.1f} | {r.points_per_second:,.0f} | "
                     f"{r.baseline_per_point * 1e3:.1f} | {how} | {r.mean_iterations:.0f} | {sub} | "
                     f"{r.baseline_model_per_point * 1e3:.1f} | {r.speedup:,.0f}x | {diff} |")
    lines += [
        "",
        "## b. Simulation draws of (S, r) per second against m",
        "",
        "p = 500, n = 1000, eps = 0.2, rho = 0.1, phi = 0.9, diagonal C (log-uniform on [0.2, 5]); one draw is "
        "`draw_generator` + `sample_exact` / `sample_naive` (median over draws; the ridge fit is not included).",
        "",
        "| m | exact (ms/draw) | exact draws/s | naive (ms/draw) | naive draws/s | naive / exact |",
        "|---|---|---|---|---|---|",
    ]
    for m in sorted({r.m for r in samplers}):
        ex = next((r for r in samplers if r.m == m and r.sampler == "exact"), None)
        nv = next((r for r in samplers if r.m == m and r.sampler == "naive"), None)
        lines.append(
            f"| {m:,} | {ex.ms_per_draw:.1f} | {ex.draws_per_second:.1f} | "
            + (f"{nv.ms_per_draw:.1f} | {nv.draws_per_second:.2f} | {nv.ms_per_draw / ex.ms_per_draw:.1f}x |" if nv and ex
               else "- | - | - |")
        )
    lines += [
        "",
        f"Headline, m = 19 000: exact {head['exact']:.1f} ms, naive {head['naive']:.1f} ms per draw "
        f"({head['naive'] / head['exact']:.1f}x).",
        "",
        "## c. The toy figure end to end",
        "",
        "FIGURES.md 3: p in {50, 200, 500} x 50 points x 2 verifiers x 10 seeds, theory and simulation.",
        "",
        f"* wall time: {'%.1f s' % fig3[0] if fig3[0] is not None else '-'} ({fig3[1]})",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in info],
        f"| load average (1/5/15 min) before | {load_before} |",
        f"| load average (1/5/15 min) after | {load_after} |",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def main(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    load_before = _load()
    info = machine_info(args.blas_threads)
    print(f"rmtsynth benchmarks ({'quick' if args.quick else 'full'}); load {load_before}", flush=True)

    if args.quick:
        ps = [100, 300, 500, 1000]
        subset = {100: 5, 300: 3, 500: 2}
        repeats = 2
        ms = [1000, 10000]
        draws = {"exact": lambda m: 3, "naive": lambda m: 2}
    else:
        ps = [100, 300, 500, 1000, 3000]
        subset = {100: 20, 300: 10, 500: 8, 1000: 3}
        repeats = 5
        ms = [1000, 10000, 20000, 100000]
        draws = {"exact": lambda m: 10, "naive": lambda m: 5 if m <= 20000 else 2}

    print("a. theory", flush=True)
    theory = bench_theory(ps, subset, repeats)
    print("b. samplers", flush=True)
    samplers, head = bench_samplers(ms, draws, 19000)
    print("c. toy figure", flush=True)
    fig3 = bench_fig3(args.quick)
    print(f"  {fig3[1]}: {fig3[0] if fig3[0] is None else round(fig3[0], 1)} s", flush=True)

    by_p = {r.p: r for r in theory}
    targets = []
    if 1000 in by_p:
        t = by_p[1000].grid_seconds
        targets.append(("1000-point grid, p = 1000, diagonal C: well under a second "
                        f"(< {GRID_P1000_MAX_S} s)", f"{t * 1e3:.0f} ms", verdict(t < GRID_P1000_MAX_S)))
    if 500 in by_p:
        s = by_p[500].speedup
        targets.append((f"theory vs per-point dense solve at p = 500: >= {SPEEDUP_P500_MIN:.0f}x", f"{s:,.0f}x",
                        verdict(s >= SPEEDUP_P500_MIN)))
    ratio = head["naive"] / head["exact"]
    targets.append((f"exact vs naive sampler, p = 500, n = 1000, m = 19 000: >= {SAMPLER_SPEEDUP_MIN:.0f}x",
                    f"{ratio:.1f}x", verdict(ratio >= SAMPLER_SPEEDUP_MIN)))
    targets.append((f"toy figure (FIGURES.md 3) end to end: < {FIG3_MAX_S:.0f} s",
                    "-" if fig3[0] is None else f"{fig3[0]:.1f} s",
                    verdict(None if fig3[0] is None else fig3[0] < FIG3_MAX_S)))

    load_after = _load()
    out = Path(args.out)
    write_report(out, args, info, load_before, load_after, theory, samplers, head, fig3, targets,
                 time.perf_counter() - t_start)
    print("\nSummary")
    for claim, measured, result in targets:
        print(f"  [{result}] {claim}: {measured}")
    print(f"load average before {load_before}, after {load_after}; report written to {out}")
    return 0


if __name__ == "__main__":
    assert ARGS is not None
    sys.exit(main(ARGS))
