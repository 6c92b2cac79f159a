"""The examples of the documentation pages run, in order, and print what each page says they print."""

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


PAGES = {"python.md": 5, "generations.md": 3, "prediction.md": 5, "extending.md": 4}


@pytest.mark.parametrize(("page", "at_least"), PAGES.items())
def test_examples_print_what_the_page_shows(page: str, at_least: int, monkeypatch: pytest.MonkeyPatch) -> None:
    examples = _examples(page)
    assert len(examples) >= at_least
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    for number, (code, expected) in enumerate(examples, start=1):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            exec(compile(code, f"docs/{page} example {number}", "exec"), namespace)
        assert buffer.getvalue().strip() == expected.strip(), f"{page} example {number}:\n{code}"
