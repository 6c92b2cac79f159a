"""The package stays in small pieces: no function over 100 lines, at most 8 over 80."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rmtsynth"
HARD_LIMIT = 100
SOFT_LIMIT = 80
SOFT_ALLOWANCE = 8


def _function_sizes() -> list[tuple[int, str]]:
    sizes = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}"
                sizes.append((node.end_lineno - node.lineno + 1, where))
    return sizes


def test_the_size_check_sees_the_package():
    assert len(_function_sizes()) > 300


def test_no_function_is_over_the_hard_limit():
    over = [f"{where} ({size} lines)" for size, where in _function_sizes() if size > HARD_LIMIT]
    assert not over, over


def test_few_functions_are_over_the_soft_limit():
    over = sorted((f"{where} ({size} lines)" for size, where in _function_sizes() if size > SOFT_LIMIT))
    assert len(over) <= SOFT_ALLOWANCE, over
