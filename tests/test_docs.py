"""The examples of docs/python.md run, in order, and print what the page says they print."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```python\n(.*?)```\s*```text\n(.*?)```", re.S)


def _examples(page: str) -> list[tuple[str, str]]:
    return BLOCK.findall((ROOT / "docs" / page).read_text())


def test_the_page_has_examples() -> None:
    assert len(_examples("python.md")) >= 5


def test_python_api_examples_print_what_the_page_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    for number, (code, expected) in enumerate(_examples("python.md"), start=1):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            exec(compile(code, f"docs/python.md example {number}", "exec"), namespace)
        assert buffer.getvalue().strip() == expected.strip(), f"example {number}:\n{code}"
