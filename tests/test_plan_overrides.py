"""``rmtsynth plan --set`` and ``rmtsynth.plan(overrides=...)`` answer the overridden config."""

from __future__ import annotations

import json
from pathlib import Path

import rmtsynth
from clitools import assert_clean_error, invoke

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = "configs/plan/example.yaml"


def test_an_override_changes_the_plan_as_editing_the_file_would(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    edited = tmp_path / "plan" / "example.yaml"
    edited.parent.mkdir()
    text = open(EXAMPLE).read()
    lines = [("  gamma: 0.5" if line.strip().startswith("gamma:") else line) for line in text.splitlines()]
    edited.write_text("\n".join(lines) + "\n")
    by_file = rmtsynth.plan(edited)
    by_override = rmtsynth.plan(EXAMPLE, overrides=["gamma=0.5"])
    assert by_override["setting"] == by_file["setting"]
    assert by_override["setting"]["gamma"] == 0.5
    result = invoke("plan", EXAMPLE, "--set", "gamma=0.5", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["setting"]["gamma"] == 0.5


def test_a_misspelt_override_is_one_sentence(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert_clean_error(invoke("plan", EXAMPLE, "--set", "gama=0.5"), "gama", "gamma")


def test_show_prints_a_plan_config_after_its_overrides(monkeypatch):
    monkeypatch.chdir(ROOT)
    import yaml

    for config in ("configs/plan/roc.yaml", "configs/plan/example.yaml"):
        result = invoke("show", config, "--set", "gamma=0.25")
        assert result.exit_code == 0, result.output
        shown = yaml.safe_load(result.stdout)
        assert shown["config"]["params"]["gamma"] == 0.25
        assert shown["resolved_point"]["gamma"] == 0.25
