"""Test-wide settings and fixtures.

BLAS is single-threaded because the test matrices are small and threads only contend on a shared
machine. The SIGINT helpers make the interrupt tests independent of how pytest was launched: a
process started with ``nohup``, as a background job or by some CI runners inherits SIGINT as
ignored, and Python then installs no KeyboardInterrupt handler of its own.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Iterator

import pytest

import scipy.linalg  # noqa: F401  (scipy's own BLAS must be loaded for the limit to reach it)
from threadpoolctl import threadpool_limits

# One BLAS thread in the test process (a run-time limit: the variables stay as the user set them).
threadpool_limits(1)


@pytest.fixture
def sigint_raises_keyboard_interrupt() -> Iterator[None]:
    """Within the test, SIGINT raises KeyboardInterrupt in this process, whatever it inherited."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)



@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing may land in the user's cache or the checkout: the cache and the working directory are in tmp_path."""
    monkeypatch.setenv("RMTSYNTH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
