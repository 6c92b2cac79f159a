"""A figure's tasks, run through the point cache on the executor the options name.

Any figure kind computes this way: it turns its work into tasks (each a function of its own
inputs and seeds, so that its result is the same wherever it runs), keys every task's result by
:func:`~rmtsynth.engine.cache.content_key`, and runs what the cache lacks on the local process
pool or a Dask cluster. Data that every task reads goes in a context, sent once to each worker.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from rmtsynth.engine.cache import PointCache
from rmtsynth.engine.executors import Describe, OnResult, executor_for

Arrays = dict[str, np.ndarray]


def run_on_executor(
    fn: Callable[..., Any],
    tasks: Sequence[Any],
    options: Any,
    *,
    costs: Sequence[float] | None = None,
    describe: Describe = str,
    on_result: OnResult | None = None,
    desc: str = "simulating",
    context: Any = None,
) -> list[Any]:
    """``fn`` over ``tasks`` on the executor of ``options`` (a :class:`~rmtsynth.engine.sweep.SweepOptions`).

    With nothing to run no executor (and no cluster) is started.
    """
    if not tasks:
        return []
    with executor_for(options.executor, options.scheduler, options.workers) as executor:
        return executor.run(fn, tasks, costs=costs, describe=describe, on_result=on_result,
                            progress=options.progress, desc=desc, context=context)


def run_cached(
    fn: Callable[..., Arrays],
    tasks: Sequence[Any],
    keys: Sequence[str],
    options: Any,
    *,
    usable: Callable[[Any, Arrays], bool] = lambda task, entry: True,
    storable: Callable[[Arrays], bool] = lambda result: True,
    costs: Sequence[float] | None = None,
    describe: Describe = str,
    desc: str = "simulating",
    context: Any = None,
) -> tuple[list[Arrays], int]:
    """Each task's arrays, read from the cache under its key or computed; also how many were read.

    ``usable(task, entry)`` says whether a cached entry fits the task; a computed result is stored
    as soon as it arrives when ``storable(result)``, so an interrupted run keeps what it finished.
    """
    cache = PointCache(options.cache_dir)
    results: list[Arrays | None] = [None] * len(tasks)
    todo: list[int] = []
    for i, key in enumerate(keys):
        entry = cache.load(key)
        if entry is not None and usable(tasks[i], entry):
            results[i] = entry
        else:
            todo.append(i)

    def on_result(j: int, result: Arrays) -> None:
        results[todo[j]] = result
        if storable(result):
            cache.store(keys[todo[j]], result)

    run_on_executor(fn, [tasks[i] for i in todo], options, costs=None if costs is None else [costs[i] for i in todo],
                    describe=lambda j: describe(todo[j]), on_result=on_result, desc=desc, context=context)
    return results, len(tasks) - len(todo)  # type: ignore[return-value]
