"""Benchmark of the convex learners' theory (THEORY.md 16): a 50-point curve at p = 400.

Usage::

    .venv/bin/python benchmarks/bench_learners.py [--points 50] [--p 400] [--repeats 3]

For each loss (logistic, square hinge, hinge; ridge's closed theory alongside) and each covariance
(C = I, one eigenvalue level; a two-level diagonal C, p groups), it times one call of the learner's
theory on a curve over the synthetic count m (n = p, eps = 0.2, verifier (0.3, 0.9), gamma = 0.05,
away from separability) and prints a Markdown table with the best of ``--repeats`` wall times, the
most damped and Newton steps a point took, and the target (the logistic curve under 10 s on one
core). Not a test: it prints and exits 0.
"""

from __future__ import annotations

import argparse
import os

if __name__ == "__main__":
    # Single-threaded BLAS, like the sweep's workers: on a shared machine threads measure the neighbours.
    for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        os.environ[_name] = "1"

import time  # noqa: E402

import numpy as np  # noqa: E402

from rmtsynth.core.convex_theory import solve_convex  # noqa: E402
from rmtsynth.core.learners import get_learner  # noqa: E402
from rmtsynth.core.model import Mix, build_model  # noqa: E402

TARGET_SECONDS = 10.0


def _model(p: int, covariance: str):
    eigenvalues = np.where(np.arange(p) < p // 2, 0.5, 2.0) if covariance == "diagonal" else None
    return build_model(p, 1.5, 0.8, 0.5, covariance, eigenvalues=eigenvalues, rng=np.random.default_rng(0))


def _time(call, repeats: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = call()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=50)
    parser.add_argument("--p", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    p = args.p
    mix = Mix(n=p, m=np.linspace(0.0, 5.0 * p, args.points), label_noise=0.2, rho=0.3, phi=0.9, gamma=0.05)
    print(f"{args.points}-point curve over m in [0, {5 * p}], n = p = {p}, eps = 0.2, (rho, phi) = (0.3, 0.9), "
          f"gamma = 0.05; best of {args.repeats}; load average {os.getloadavg()[0]:.1f}\n")
    print("| learner | C | seconds | max damped steps | max Newton rounds | max residual | target |")
    print("|---|---|---|---|---|---|---|")
    for covariance in ("identity", "diagonal"):
        model = _model(p, covariance)
        for name in ("logistic", "square_hinge", "hinge", "ridge"):
            learner = get_learner(name)
            seconds, _ = _time(lambda: learner.theory(model, mix), args.repeats)
            if name == "ridge":
                steps = rounds = residual = "-"
            else:
                sol = solve_convex(model.spectrum, learner.channel, *mix.values())
                steps, rounds = int(sol.picard_steps.max()), int(sol.newton_rounds.max())
                residual = f"{sol.residual.max():.1e}"
            target = ("PASS" if seconds < TARGET_SECONDS else "FAIL") + " (< 10 s)" if name == "logistic" else ""
            print(f"| {name} | {covariance} | {seconds:.3f} | {steps} | {rounds} | {residual} | {target} |")


if __name__ == "__main__":
    main()
