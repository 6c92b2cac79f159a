"""Helpers shared by the command-line tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from rmtsynth.cli import app

# The console script of the environment running the tests.
RMTSYNTH = Path(sys.executable).with_name("rmtsynth")


def invoke(*args: object):
    """Run the CLI in-process with string arguments."""
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_clean_error(result, *needles: str) -> str:
    """Exit 2, one sentence on stderr starting with 'error:', naming every needle; no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("error: ") and line.endswith("."), line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


def default_sigint_in_child() -> None:
    """``preexec_fn`` for a child process: SIGINT back to its default disposition before exec.

    An ignored disposition survives exec, and a Python child that starts with SIGINT ignored never
    raises KeyboardInterrupt; with the default one the child's interpreter installs its handler.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def write_file(path: Path, text: str) -> Path:
    """Write text to path, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file below root (relative path -> bytes), to compare a folder before and after."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def kill_process_group(proc: subprocess.Popen) -> None:
    """Kill a child started with ``start_new_session`` and its workers, if it is still running, and reap it."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
