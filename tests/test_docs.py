"""The documentation holds: the examples of the pages run, in order, and print what each page says
they print, and every ``rmtsynth.x.y`` the package's docstrings and comments name exists."""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```python\n(.*?)```\s*```text\n(.*?)```", re.S)
DOTTED = re.compile(r"\brmtsynth(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def _examples(page: str) -> list[tuple[str, str]]:
    return BLOCK.findall((ROOT / "docs" / page).read_text())


PAGES = {"python.md": 5, "generations.md": 3, "prediction.md": 5, "extending.md": 4, "advise.md": 1}


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


def _docstrings_and_comments(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every docstring and comment of a source file."""
    source = path.read_text(encoding="utf-8")
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                found.append((node.body[0].lineno, doc))
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            found.append((token.start[0], token.string))
    return found


def _resolves(dotted: str) -> bool:
    """Whether ``a.b.c`` is a module, or an attribute (chain) of the longest importable prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def test_dotted_references_in_docstrings_resolve() -> None:
    stale = [
        f"{path.relative_to(ROOT)}:{line}: {ref}"
        for path in sorted((ROOT / "rmtsynth").rglob("*.py"))
        for line, text in _docstrings_and_comments(path)
        for ref in DOTTED.findall(text)
        if not _resolves(ref)
    ]
    assert not stale, "references to modules or names that do not exist:\n" + "\n".join(stale)
