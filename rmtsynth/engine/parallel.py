"""Running independent tasks on a pool of processes, with results delivered in order.

Workers are started with the ``spawn`` method and single-threaded BLAS, so that n workers use n
cores and results never depend on thread scheduling. Every task's randomness comes from its own
seed, so the results are the same for any number of workers.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing as mp
import os
import signal
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Callable, Iterator, Sequence

from tqdm import tqdm

# The environment variables through which BLAS libraries (and numexpr) take their thread count.
BLAS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    # Children inherit the environment when they are spawned, before they import numpy.
    saved = {k: os.environ.get(k) for k in BLAS_ENV}
    os.environ.update({k: "1" for k in BLAS_ENV})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def progress_bar(total: int, desc: str, enabled: bool) -> tqdm:
    """A tqdm bar that stays quiet when disabled or when stderr is not a terminal."""
    import sys

    return tqdm(total=total, desc=desc, disable=not enabled or not sys.stderr.isatty(), leave=False, unit="task")


def run_tasks(
    fn: Callable[..., Any],
    tasks: Sequence[Any],
    *,
    workers: int = 1,
    progress: bool = True,
    desc: str = "simulating",
    on_result: Callable[[int, Any], None] | None = None,
    context: Any = None,
) -> list[Any]:
    """``[fn(t) for t in tasks]``, on ``workers`` processes; ``on_result(i, r)`` runs as each task ends.

    With a ``context`` (data every task reads), each task runs as ``fn(context, t)``, and the
    context goes to each worker process once rather than with every task.
    """
    results: list[Any] = [None] * len(tasks)
    bar = progress_bar(len(tasks), desc, progress)

    def deliver(i: int, result: Any) -> None:
        results[i] = result
        if on_result is not None:
            on_result(i, result)
        bar.update(1)

    try:
        if workers <= 1 or len(tasks) <= 1:
            call = fn if context is None else functools.partial(fn, context)
            for i, task in enumerate(tasks):
                deliver(i, call(task))
        else:
            _run_on_pool(fn, tasks, min(workers, len(tasks)), context, deliver)
        return results
    finally:
        bar.close()


def _run_on_pool(fn: Callable[..., Any], tasks: Sequence[Any], workers: int, context: Any,
                 deliver: Callable[[int, Any], None]) -> None:
    """Run ``tasks`` on a pool of ``workers`` spawned processes, delivering each result as it ends."""
    call = fn if context is None else functools.partial(_in_worker_context, fn)
    with _single_threaded_blas():
        executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_start_worker, initargs=(context,)
        )
        try:
            pending: dict[Future, int] = {executor.submit(call, t): i for i, t in enumerate(tasks)}
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                deliver(pending.pop(fut), fut.result())
    except BaseException:
        for fut in pending:
            fut.cancel()
        _terminate(executor)
        raise
    executor.shutdown(wait=True)


# The context of the pool this worker process belongs to (see run_tasks).
_worker_context: list[Any] = [None]


def _start_worker(context: Any) -> None:
    _ignore_interrupts()
    _worker_context[0] = context


def _in_worker_context(fn: Callable[..., Any], task: Any) -> Any:
    return fn(_worker_context[0], task)


def _ignore_interrupts() -> None:
    # Ctrl-C reaches the whole process group; the parent alone handles it and stops the
    # workers, so they do not print tracebacks of their own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _terminate(executor: ProcessPoolExecutor) -> None:
    processes = list(getattr(executor, "_processes", {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.terminate()
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.join(timeout=2)
