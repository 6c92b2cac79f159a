"""The registry of figure kinds: one list of names, and every kind's module has the FigureKind functions."""

from __future__ import annotations

import inspect

import pytest

from rmtsynth.figures.kinds import KIND_MODULES, FigureKind, figure_kind
from rmtsynth.config import figure_config, schema

METHODS = ("check", "compute", "draw")
# Return annotations a kind may give instead of the protocol's own: a check that never counts.
ALSO_RETURNS = {"check": {"int", "None"}}


def _protocol_signature(name: str) -> inspect.Signature:
    signature = inspect.signature(getattr(FigureKind, name))
    return signature.replace(parameters=list(signature.parameters.values())[1:])  # without self


def test_the_kind_names_are_the_schemas() -> None:
    assert list(KIND_MODULES) == list(schema.FIGURE_KINDS)
    assert figure_config.KINDS == tuple(schema.FIGURE_KINDS)


@pytest.mark.parametrize("kind", list(schema.FIGURE_KINDS))
def test_every_kind_satisfies_the_protocol(kind: str) -> None:
    module = figure_kind(kind)
    assert module.__name__ == KIND_MODULES[kind]
    for name in METHODS:
        function = getattr(module, name, None)
        assert callable(function), f"{module.__name__} has no {name}()"
        got, expected = inspect.signature(function), _protocol_signature(name)
        assert [(p.name, p.kind) for p in got.parameters.values()] == [
            (p.name, p.kind) for p in expected.parameters.values()
        ], f"{module.__name__}.{name}{got} does not match FigureKind.{name}{expected}"
        for param in got.parameters.values():
            if param.annotation is not inspect.Parameter.empty:
                assert param.annotation == expected.parameters[param.name].annotation, f"{module.__name__}.{name}: {param.name}"
        if got.return_annotation is not inspect.Signature.empty:
            allowed = {expected.return_annotation} | ALSO_RETURNS.get(name, set())
            assert got.return_annotation in allowed, f"{module.__name__}.{name} returns {got.return_annotation}"


# The kinds whose modules only draw: their settings and rules are in rmtsynth.config, their
# tables computed in rmtsynth.engine.
DRAWING_ONLY = ("advice", "curves", "generations", "generator_samples", "heatmap", "marchenko_pastur", "mnist",
                "prediction", "real_data")


@pytest.mark.parametrize("kind", DRAWING_ONLY)
def test_a_drawing_module_refuses_no_config(kind: str) -> None:
    import ast

    tree = ast.parse(inspect.getsource(figure_kind(kind)))
    named = sorted({node.lineno for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id == "ConfigError"})
    assert not named, f"{KIND_MODULES[kind]} names ConfigError at lines {named}"


@pytest.mark.parametrize("kind", ["advice", "prediction", "real_data"])
def test_kinds_computed_in_the_engine_only_draw(kind: str) -> None:
    # Their settings are checked in config/ and their tables computed in engine/: the module of the
    # kind refuses no config key and runs no task of its own.
    source = inspect.getsource(figure_kind(kind))
    for word in ("ConfigError", "PointCache", "run_cached", "run_on_executor", "content_key"):
        assert word not in source, f"{KIND_MODULES[kind]} uses {word}"
