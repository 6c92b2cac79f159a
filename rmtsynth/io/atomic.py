"""Writing files so that a reader never sees half of one: a temporary file, then a rename."""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import Iterator

from rmtsynth.errors import RmtsynthError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_dir(path: Path, what: str) -> Path:
    """Check that ``path`` is, or can be created as, a writable directory (creating nothing)."""
    path = Path(path)
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise RmtsynthError(f"{what} {path} cannot be a directory: {probe} is a file.")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise RmtsynthError(f"{what} {path} is not writable (no permission in {probe}).")
    return path


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        # mkstemp makes the file private; the final file gets the usual permissions.
        os.chmod(tmp_path, 0o666 & ~_umask())
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_group(paths: list[Path]) -> Iterator[list[Path]]:
    """Temporary paths beside ``paths``; all are renamed into place only if every one was written."""
    paths = [Path(p) for p in paths]
    tmps: list[Path] = []
    try:
        for path in paths:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            tmps.append(Path(tmp))
            os.chmod(tmp, 0o666 & ~_umask())
        yield tmps
        with deferred_interrupts():
            for tmp, path in zip(tmps, paths):
                os.replace(tmp, path)
    except BaseException:
        for tmp in tmps:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back until the block ends, then deliver them (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[tuple] = []
    held = [s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None)) if s is not None]
    previous = {s: signal.signal(s, lambda *args: received.append(args)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if received:
            signum = received[0][0]
            handler = previous[signum]
            if callable(handler):
                handler(*received[0])
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
