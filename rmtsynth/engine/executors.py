"""Where simulation tasks run: the process pool of this machine, or a Dask cluster.

Both executors take the same list of tasks and give back the same results in the same order;
only where the work runs differs, so a sweep writes the same bytes with either. The Dask executor
groups small tasks into batches of a fraction of a second of work (the scheduler costs about a
millisecond per task, and a round trip more), and hands each batch's results back as soon as it
completes, so they are cached at once and an interrupted run loses only what was in flight.

Failures are classified by type, not by where they happen. A task that fails with one of the
project's input errors (:class:`~rmtsynth.errors.RmtsynthError`: a bad parameter, a solver that
cannot converge) raises :class:`PointError`, itself an input error (exit 2), naming the point.
Anything else (a bug raising ``ValueError`` or ``LinAlgError``, a worker out of memory, a lost
cluster) raises :class:`TaskError` (exit 1): one sentence naming the point and the exception, with
the worker's traceback kept in :attr:`TaskError.traceback_text` for a debugging display.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import re
import traceback
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol, Sequence

from rmtsynth.engine.parallel import BLAS_ENV
from rmtsynth.errors import RmtsynthError

EXECUTORS = ("local", "dask")
DASK_INSTALL = "pip install 'rmtsynth[dask]'"
# Lost workers are rescheduled by Dask itself (distributed.scheduler.allowed-failures); these
# retries are for a batch that raised an unexpected error, which may be transient on a cluster.
DASK_RETRIES = 2
DASK_CONNECT_TIMEOUT = "20s"
# Errors that come from the point's parameters rather than from the code; they are not retried.
# Only the project's own classes: a built-in ValueError or ArithmeticError may as well be a bug.
INPUT_ERRORS: tuple[type[BaseException], ...] = (RmtsynthError,)


def is_input_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a problem with the user's input (exit 2) rather than a defect (exit 1)."""
    return isinstance(exc, INPUT_ERRORS)


def _sentence(text: str) -> str:
    text = text.rstrip()
    return text if text.endswith((".", "?", "!")) else text + "."


class PointError(RmtsynthError):
    """A simulation task failed because of its input; the message names the point.

    Attributes
    ----------
    point : str
        Which point (and replicates) failed.
    cause : str
        The input error's message, on one line.
    """

    is_input_error = True

    def __init__(self, point: str, cause: str) -> None:
        super().__init__(_sentence(f"{point}: the simulation failed: {cause}"))
        self.point = point
        self.cause = cause

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.point, self.cause))


class TaskError(Exception):
    """A simulation task failed for another reason (a bug, a lost cluster); exit code 1.

    ``str(exc)`` is one sentence naming the point and the exception.

    Attributes
    ----------
    point : str
        Which point (and replicates) failed, or where (a cluster that did not start).
    cause : str
        ``Type: message`` of the exception, on one line, with the innermost source line when known.
    traceback_text : str
        The formatted traceback from the process where the exception was raised ('' if none).
    """

    is_input_error = False

    def __init__(self, message: str, *, point: str = "", cause: str = "", traceback_text: str = "") -> None:
        super().__init__(_sentence(message))
        self.point = point
        self.cause = cause
        self.traceback_text = traceback_text

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_task_error, (str(self), self.point, self.cause, self.traceback_text))

    @classmethod
    def unexpected(cls, point: str, cause: str, traceback_text: str = "") -> "TaskError":
        """The sentence for an exception raised while simulating ``point``."""
        return cls(f"{point}: the simulation failed unexpectedly: {cause}", point=point, cause=cause,
                   traceback_text=traceback_text)


OnResult = Callable[[int, Any], None]
Describe = Callable[[int], str]


class Executor(Protocol):
    """Runs ``fn`` over tasks and returns the results in order."""

    name: str
    # Longest a single task should run (estimated seconds); None keeps one task per point.
    split_seconds: float | None

    @property
    def slots(self) -> int:
        """How many tasks can run at once."""
        ...

    def run(
        self,
        fn: Callable[..., Any],
        tasks: Sequence[Any],
        *,
        costs: Sequence[float] | None = None,
        describe: Describe = str,
        on_result: OnResult | None = None,
        progress: bool = True,
        desc: str = "simulating",
        context: Any = None,
    ) -> list[Any]:
        """With a ``context`` (data every task reads, sent once to each worker), tasks run as ``fn(context, task)``."""
        ...

    def close(self) -> None: ...


# --- running a batch (in the worker) ---------------------------------------------------------


@dataclass(frozen=True)
class Failed:
    """An input error at item ``index`` of a batch, returned rather than raised so it is not retried."""

    index: int
    message: str


def _rebuild_task_error(message: str, point: str, cause: str, traceback_text: str) -> TaskError:
    return TaskError(message, point=point, cause=cause, traceback_text=traceback_text)


class BatchError(Exception):
    """An unexpected error at item ``index`` of a batch (built from plain values, so it pickles)."""

    def __init__(self, index: int, message: str, traceback_text: str = "") -> None:
        super().__init__(index, message, traceback_text)

    @property
    def index(self) -> int:
        return int(self.args[0])

    @property
    def message(self) -> str:
        return str(self.args[1])

    @property
    def traceback_text(self) -> str:
        return str(self.args[2])


def one_line(exc: BaseException, *, where: bool = False) -> str:
    """``Type: message`` on one line, with the innermost source line when ``where``."""
    text = " ".join(str(exc).split())
    if isinstance(exc, RmtsynthError):
        out = text or type(exc).__name__
    else:
        out = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if where and exc.__traceback__ is not None:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        out += f" (at {os.path.basename(frame.filename)}:{frame.lineno})"
    return out


def run_batch(fn: Callable[..., Any], items: Sequence[Any], context: Any = None) -> list[Any]:
    """``[fn(x) for x in items]`` (``fn(context, x)`` with a context); stops at the first input error,
    which ends the list as a :class:`Failed`."""
    call = fn if context is None else functools.partial(fn, context)
    out: list[Any] = []
    for j, item in enumerate(items):
        try:
            out.append(call(item))
        except INPUT_ERRORS as exc:
            out.append(Failed(j, one_line(exc)))
            return out
        except Exception as exc:
            raise BatchError(j, one_line(exc, where=True), traceback.format_exc()) from None
    return out


def run_indexed(fn: Callable[[Any], Any], item: tuple[int, Any]) -> list[Any]:
    """:func:`run_batch` of the one task ``item = (i, task)``; an unexpected error names ``i``."""
    i, task = item
    try:
        return run_batch(fn, [task])
    except BatchError as exc:
        raise BatchError(i, exc.message, exc.traceback_text) from None


def run_indexed_in_context(fn: Callable[..., Any], context: Any, item: tuple[int, Any]) -> list[Any]:
    """:func:`run_indexed` of ``fn(context, task)``."""
    return run_indexed(functools.partial(fn, context), item)


def plan_batches(
    costs: Sequence[float], slots: int, *, min_seconds: float = 0.2, max_seconds: float = 1.0, per_slot: int = 4
) -> list[list[int]]:
    """Consecutive groups of task indices, each about ``target`` seconds of estimated work.

    The target aims at ``per_slot`` batches per slot (so that fast workers can take more), kept
    between ``min_seconds`` (below which the scheduling cost shows) and ``max_seconds`` (above
    which progress and recovery after a lost worker get coarse).
    """
    total = float(sum(costs))
    target = min(max_seconds, max(min_seconds, total / max(1, per_slot * slots)))
    # Even a small sweep is worth one batch per slot.
    target = min(target, total / max(1, slots)) if total > 0 else target
    batches: list[list[int]] = []
    current: list[int] = []
    acc = 0.0
    for i, cost in enumerate(costs):
        if current and acc + cost > target:
            batches.append(current)
            current, acc = [], 0.0
        current.append(i)
        acc += cost
    if current:
        batches.append(current)
    return batches


def _failure(describe: Describe, index: int, message: str) -> PointError:
    return PointError(describe(index), message)


def _unexpected(describe: Describe, index: int, exc: BatchError) -> TaskError:
    return TaskError.unexpected(describe(index), exc.message, exc.traceback_text)


def _formatted(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


# --- the executors ----------------------------------------------------------------------------


class LocalExecutor:
    """The process pool of this machine (see :mod:`rmtsynth.engine.parallel`)."""

    name = "local"
    split_seconds: float | None = None

    def __init__(self, workers: int) -> None:
        self.workers = max(1, int(workers))

    @property
    def slots(self) -> int:
        return self.workers

    def run(
        self,
        fn: Callable[..., Any],
        tasks: Sequence[Any],
        *,
        costs: Sequence[float] | None = None,
        describe: Describe = str,
        on_result: OnResult | None = None,
        progress: bool = True,
        desc: str = "simulating",
        context: Any = None,
    ) -> list[Any]:
        from rmtsynth.engine.parallel import run_tasks

        results: list[Any] = [None] * len(tasks)

        def unwrap(i: int, out: list[Any]) -> None:
            if isinstance(out[0], Failed):
                raise _failure(describe, i, out[0].message)
            results[i] = out[0]
            if on_result is not None:
                on_result(i, out[0])

        # One task per call: the pool's own per-task cost is small, and its scheduling stays as it was.
        indexed = run_indexed if context is None else run_indexed_in_context
        try:
            run_tasks(
                functools.partial(indexed, fn),
                list(enumerate(tasks)),
                workers=self.workers,
                progress=progress,
                desc=desc,
                on_result=unwrap,
                context=context,
            )
        except BatchError as exc:
            raise _unexpected(describe, exc.index, exc) from None
        return results

    def close(self) -> None:
        pass


def _batch_values(fut: Any, batch: list[int], describe: Describe) -> list[Any]:
    """The values of one finished Dask batch; a failure is raised as one sentence naming its point."""
    from distributed.scheduler import KilledWorker

    try:
        return fut.result()
    except BatchError as exc:
        raise _unexpected(describe, batch[exc.index], exc) from None
    except KilledWorker as exc:
        raise TaskError(
            f"{describe(batch[0])}: Dask workers died repeatedly while simulating this point "
            "(short of memory?); give the workers more memory or use fewer seeds per point.",
            point=describe(batch[0]), cause=one_line(exc), traceback_text=_formatted(exc),
        ) from None
    except Exception as exc:
        hint = " (is rmtsynth installed on every worker?)" if isinstance(exc, ImportError) else ""
        raise TaskError(
            f"{describe(batch[0])}: the Dask task failed: {one_line(exc)}{hint}",
            point=describe(batch[0]), cause=one_line(exc), traceback_text=_formatted(exc),
        ) from None


def require_dask() -> Any:
    """Import ``distributed``, or say in one line how to install it."""
    try:
        import dask  # noqa: F401
        import distributed
    except ImportError:
        raise RmtsynthError(f"--executor dask needs Dask, an optional extra; install it with: {DASK_INSTALL}") from None
    return distributed


class DaskExecutor:
    """A Dask cluster: the scheduler at ``scheduler``, or a ``LocalCluster`` of ``workers`` processes."""

    name = "dask"
    split_seconds: float | None = 1.0

    def __init__(self, scheduler: str | None, workers: int) -> None:
        distributed = require_dask()
        self.workers = max(1, int(workers))
        self.cluster: Any = None
        self.client: Any = None
        if scheduler:
            probe_scheduler(scheduler)
            try:
                self.client = distributed.Client(scheduler, timeout=DASK_CONNECT_TIMEOUT, set_as_default=False)
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                raise RmtsynthError(f"--scheduler {scheduler}: could not connect to a Dask scheduler ({one_line(exc)}).") from None
        else:
            try:
                self.cluster = _local_cluster(distributed, self.workers)
                self.client = distributed.Client(self.cluster, set_as_default=False)
            except (OSError, RuntimeError, TimeoutError) as exc:
                self.close()
                raise TaskError(
                    f"Could not start a local Dask cluster of {self.workers} workers ({one_line(exc)}).",
                    point="the local Dask cluster", cause=one_line(exc), traceback_text=_formatted(exc),
                ) from None

    @property
    def slots(self) -> int:
        # A remote cluster may still be scaling up; plan for at least what was asked for.
        try:
            threads = sum(self.client.nthreads().values())
        except Exception:
            threads = 0
        return max(threads, 1 if self.cluster is None else self.workers)

    def run(
        self,
        fn: Callable[..., Any],
        tasks: Sequence[Any],
        *,
        costs: Sequence[float] | None = None,
        describe: Describe = str,
        on_result: OnResult | None = None,
        progress: bool = True,
        desc: str = "simulating",
        context: Any = None,
    ) -> list[Any]:
        from distributed import as_completed

        from rmtsynth.engine.parallel import progress_bar

        results: list[Any] = [None] * len(tasks)
        if not tasks:
            return results
        batches = plan_batches(list(costs) if costs is not None else [1.0] * len(tasks), self.slots)
        futures, shared = self._submit(fn, [[tasks[i] for i in batch] for batch in batches], context)
        which = {fut.key: b for b, fut in enumerate(futures)}
        bar = progress_bar(len(tasks), desc, progress)
        try:
            for fut in as_completed(futures, loop=self.client.loop):
                batch = batches[which[fut.key]]
                for j, value in enumerate(_batch_values(fut, batch, describe)):
                    if isinstance(value, Failed):
                        raise _failure(describe, batch[j], value.message)
                    results[batch[j]] = value
                    if on_result is not None:
                        on_result(batch[j], value)
                bar.update(len(batch))
                fut.release()
        except BaseException:
            with contextlib.suppress(Exception):
                self.client.cancel(futures)
            raise
        finally:
            bar.close()
            if shared is not None:
                with contextlib.suppress(Exception):
                    shared.release()
        return results

    def _submit(self, fn: Callable[..., Any], batches: list[list[Any]], context: Any) -> tuple[list[Any], Any]:
        """One Dask task per batch, and the context's future (None without one), sent once to every worker."""
        run_id = uuid.uuid4().hex[:8]
        args: list[list[Any]] = [[fn] * len(batches), batches]
        shared = None
        if context is not None:
            shared = self.client.scatter(context, broadcast=True, hash=False)
            args.append([shared] * len(batches))
        # Explicit unique keys: identical inputs must still run (and show by name on the dashboard).
        futures = self.client.map(
            run_batch,
            *args,
            key=[f"rmtsynth-simulate-{run_id}-{b}" for b in range(len(batches))],
            retries=DASK_RETRIES,
            pure=False,
        )
        return futures, shared

    def close(self) -> None:
        if getattr(self, "client", None) is not None:
            with contextlib.suppress(Exception):
                self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()


def _local_cluster(distributed: Any, workers: int) -> Any:
    """A LocalCluster of single-threaded worker processes with single-threaded BLAS."""
    import dask

    from rmtsynth.engine.parallel import _single_threaded_blas

    blas = {k: "1" for k in BLAS_ENV}
    # BLAS reads these when numpy is imported, so they must be in the environment before a worker
    # process starts: Dask's pre-spawn environment, which also covers workers restarted later.
    pre_spawn = {**(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}), **blas}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": pre_spawn}), _single_threaded_blas():
        return distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            # The scheduler serves HTTP even without a dashboard; any free port, not a clash on 8787.
            dashboard_address=":0",
            silence_logs=logging.ERROR,
            env=blas,
            # Runs dask_setup below in each worker process.
            preload=[__name__],
        )


def dask_setup(worker: Any) -> None:
    """Worker preload: Ctrl-C reaches the whole process group, but only the client should act on
    it (cancel, close the cluster); workers that also caught it would print tracebacks."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def make_executor(name: str, scheduler: str | None = None, workers: int = 1) -> Executor:
    """The executor called ``name`` (``local`` or ``dask``)."""
    check_executor(name, scheduler)
    if name == "local":
        return LocalExecutor(workers)
    return DaskExecutor(scheduler, workers)


# --- sharing one executor across several sweeps -------------------------------------------------

_Key = tuple[str, "str | None", int]


class _Lazy:
    """An executor made on first use, so a run with nothing to simulate starts no cluster."""

    def __init__(self, key: _Key) -> None:
        self.key = key
        self.executor: Executor | None = None

    def get(self) -> Executor:
        if self.executor is None:
            self.executor = make_executor(*self.key)
        return self.executor

    def close(self) -> None:
        if self.executor is not None:
            self.executor.close()
            self.executor = None


_open: dict[_Key, _Lazy] = {}


@contextlib.contextmanager
def session(name: str, scheduler: str | None = None, workers: int = 1) -> Iterator[None]:
    """Within this block, sweeps with these settings share one executor (one cluster start)."""
    key: _Key = (name, scheduler, workers)
    if key in _open:
        yield
        return
    check_executor(name, scheduler)
    _open[key] = lazy = _Lazy(key)
    try:
        yield
    finally:
        _open.pop(key, None)
        lazy.close()


def replicate_batches(
    start: int, stop: int, *, points: int, slots: int, seconds_per_replicate: float, split_seconds: float | None
) -> list[tuple[int, int]]:
    """How to split replicates [start, stop) of one point into tasks; it changes no result.

    A point's replicates are split when there are few points, so that every worker has work,
    and, for a cluster, when one point is long work, so that it spreads and a lost worker costs
    little.
    """
    todo = stop - start
    chunks = 1
    if points < 2 * slots:
        chunks = max(1, min(todo, math.ceil(2 * slots / max(1, points))))
    if split_seconds:
        chunks = max(chunks, min(todo, math.ceil(todo * seconds_per_replicate / split_seconds)))
    bounds = [start + round(i * todo / chunks) for i in range(chunks + 1)]
    return [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]


def check_executor(name: str, scheduler: str | None) -> None:
    """Fail now, before any work, on settings that :func:`make_executor` would refuse."""
    if name not in EXECUTORS:
        raise RmtsynthError(f"--executor = '{name}' is not allowed; it must be local or dask.")
    if name == "local" and scheduler:
        raise RmtsynthError("--scheduler goes with --executor dask.")
    if name == "dask":
        require_dask()
        if scheduler:
            probe_scheduler(scheduler)


_SCHEDULER_ADDRESS = re.compile(r"^(?:(?P<scheme>tcp|tls)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(?P<port>[0-9]{1,5})/?$")
# How long a scheduler may take to greet a new connection; a Dask scheduler does at once.
SCHEDULER_PROBE_SECONDS = 10.0


def scheduler_endpoint(scheduler: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a scheduler address, or one sentence saying what is allowed."""
    match = _SCHEDULER_ADDRESS.match(scheduler.strip())
    port = int(match.group("port")) if match else 0
    if match is None or not 1 <= port <= 65535:
        raise RmtsynthError(
            f"--scheduler = '{scheduler}' is not a scheduler address; give tcp://HOST:PORT (or tls://HOST:PORT), "
            "with a port from 1 to 65535."
        )
    return match.group("scheme") or "tcp", match.group("host").strip("[]"), port


def probe_scheduler(scheduler: str, seconds: float | None = None) -> None:
    """Check, within ``seconds``, that a Dask scheduler answers at a tcp:// address.

    A Dask scheduler sends a short handshake as soon as a connection opens. Anything that stays
    silent (a port that accepts and never answers) or greets with something else (an HTTP
    server, whose bytes Dask would read as a frame length) is refused here, in one sentence,
    instead of hanging or allocating what the bytes claim.
    """
    import socket
    import struct

    seconds = SCHEDULER_PROBE_SECONDS if seconds is None else seconds
    scheme, host, port = scheduler_endpoint(scheduler)
    if scheme != "tcp":
        return  # a TLS handshake comes first; the client's own timeout applies
    try:
        with socket.create_connection((host, port), timeout=seconds) as conn:
            conn.settimeout(seconds)
            head = b""
            while len(head) < 8:
                chunk = conn.recv(8 - len(head))
                if not chunk:
                    break
                head += chunk
    except socket.timeout:
        raise RmtsynthError(
            f"--scheduler {scheduler}: the server accepted the connection but sent nothing for {seconds:g} s; "
            "it is not a Dask scheduler."
        ) from None
    except OSError as exc:
        raise RmtsynthError(f"--scheduler {scheduler}: could not connect ({exc.strerror or exc}).") from None
    if not head:
        raise RmtsynthError(f"--scheduler {scheduler}: the server closed the connection without a word; it is not a Dask scheduler.")
    length = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
    if not 0 < length < 2**20:
        raise RmtsynthError(f"--scheduler {scheduler}: the server there does not speak Dask's protocol; it is not a Dask scheduler.")


@contextlib.contextmanager
def executor_for(name: str, scheduler: str | None = None, workers: int = 1) -> Iterator[Executor]:
    """The session's executor for these settings, or a new one closed on exit."""
    key: _Key = (name, scheduler, workers)
    if key in _open:
        yield _open[key].get()
        return
    executor = make_executor(name, scheduler, workers)
    try:
        yield executor
    finally:
        executor.close()
