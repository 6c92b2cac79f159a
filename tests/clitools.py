"""Helpers shared by the command-line tests."""

from __future__ import annotations

import signal
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
