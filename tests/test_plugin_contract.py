"""The plug-in contract: every registered learner and verifier rule, and the two trial plug-ins of
``trial_plugins.py``, through the figure kinds that take them, the planner and ``validate``.

Each combination either validates and then runs (exit 0), or ``validate`` refuses it (exit 2, one
sentence) with a sentence the plug-in gives itself (:meth:`Learner.refusal`,
:meth:`Verifier.supports`); a run never fails after ``validate`` said ok. Settings are tiny, and
the simulation uses few seeds.
"""

from __future__ import annotations

import csv
import itertools
import math
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from clitools import invoke  # noqa: E402
from trial_plugins import TopFraction, UnscaledRidge, registered  # noqa: E402

from rmtsynth.core import learners as learner_registry  # noqa: E402
from rmtsynth.core.learners import base as learner_base  # noqa: E402
from rmtsynth.core.model import build_model  # noqa: E402
from rmtsynth.core.verifiers import EXACT_SAMPLER, LABEL_PROTOCOLS, THEORY, VERIFIER_RULES, verifier_rule  # noqa: E402

# A point's keys for each verifier rule (none: the feature-blind verifier). A rule registered
# without an entry here fails test_every_rule_has_settings: the contract then does not cover it.
RULE_SETTINGS: dict[str, dict[str, Any]] = {
    "none": {"verifier_precision": 0.9, "verifier_recall": 0.8},
    "easy": {"verifier_keep": "easy", "verifier_angle": 30},
    "hard": {"verifier_keep": "hard", "verifier_threshold": 1.0, "verifier_angle": 30},
    "soft": {"verifier_keep": "soft", "verifier_softness": 1.0, "verifier_angle": 30},
    "top_fraction": {"verifier_keep": "top_fraction", "verifier_options": {"fraction": 0.5}, "verifier_angle": 30},
}
MODEL = {"p": 20, "mu_norm": 1.5, "label_noise": 0.3, "gamma": 0.5, "generator_alignment": 0.9, "generator_shift": 0.3}
USES = [v for k, v in vars(learner_base).items() if k.isupper() and isinstance(v, str)]


@pytest.fixture(autouse=True)
def plugins() -> Iterator[None]:
    with registered():
        yield


def _names() -> list[tuple[str, str]]:
    with registered():
        return list(itertools.product(learner_registry.LEARNERS, ["none", *VERIFIER_RULES]))


def _own_sentences(learner: str, rule: str) -> list[str]:
    """Every refusal the learner and the rule give for themselves."""
    chosen = learner_registry.get_learner(learner)
    out = [chosen.refusal(use) for use in USES]
    if rule != "none":
        verifier = verifier_rule(rule, RULE_SETTINGS[rule])
        out += [verifier.supports(use, learner=chosen) for use in (THEORY, EXACT_SAMPLER, LABEL_PROTOCOLS)]
        out += [verifier.supports(THEORY)]
    return [s for s in out if s]


def _write(tmp_path: Path, name: str, config: dict[str, Any]) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _works_or_is_refused(learner: str, rule: str, validate: list[str], run: list[str]) -> str:
    """'works' or 'refused', after checking the contract on the two commands' results."""
    checked = invoke("validate", *validate)
    if checked.exit_code == 2:
        line = checked.stderr.strip()
        assert len(line.splitlines()) == 1 and "Traceback" not in checked.output, checked.output
        assert any(sentence.rstrip(".") in line for sentence in _own_sentences(learner, rule)), line
        return "refused"
    assert checked.exit_code == 0, (checked.exit_code, checked.output, checked.exception)
    result = invoke(*run)
    assert result.exit_code == 0, (learner, rule, result.exit_code, result.output, result.exception)
    return "works"


def _table(out: Path) -> list[dict[str, str]]:
    (path,) = out.glob("*.csv")
    with path.open() as f:
        return list(csv.DictReader(f))


def test_every_rule_has_settings() -> None:
    assert set(VERIFIER_RULES) | {"none"} <= set(RULE_SETTINGS)


@pytest.mark.parametrize("learner,rule", _names())
def test_curves(tmp_path: Path, learner: str, rule: str) -> None:
    params = {**MODEL, "n": 40, "m": [0, 40], "learner": learner, **RULE_SETTINGS[rule]}
    config = {"kind": "curves", "title": "contract", "seed": 3, "params": params, "x": {"param": "m"},
              "simulation": {"seeds": 3, "sampler": "naive"}}
    path = _write(tmp_path, "curves", config)
    out = tmp_path / "out"
    outcome = _works_or_is_refused(learner, rule, [path], ["sweep", path, "--out", out, "--no-cache", "-q",
                                                          "--workers", "1"])
    if outcome == "works":
        rows = _table(out)
        assert all(math.isfinite(float(r["sim_accuracy_mean"])) for r in rows)
        # A verifier that does not know what it keeps leaves its precision blank, never the label rates'.
        if rule == "top_fraction":
            assert all(r["verifier_precision"] == "nan" for r in rows)
    exact = _write(tmp_path, "exact", {**config, "simulation": {"seeds": 2, "sampler": "exact"}})
    _works_or_is_refused(learner, rule, [exact], ["sweep", exact, "--out", tmp_path / "exact", "--no-cache", "-q",
                                                   "--workers", "1", "--no-sim"])


@pytest.mark.parametrize("learner,rule", _names())
def test_heatmap(tmp_path: Path, learner: str, rule: str) -> None:
    params = {**MODEL, "n": 40, "learner": learner, **RULE_SETTINGS[rule], "label_noise": [0.1, 0.4],
              "synthetic_proportion": [0.2, 0.6]}
    config = {"kind": "heatmap", "title": "contract", "seed": 3, "params": params,
              "x": {"param": "label_noise"}, "y": {"param": "synthetic_proportion"}}
    path = _write(tmp_path, "heatmap", config)
    _works_or_is_refused(learner, rule, [path], ["sweep", path, "--out", tmp_path / "out", "--no-cache", "-q"])


@pytest.mark.parametrize("learner,rule", _names())
def test_real_data(tmp_path: Path, learner: str, rule: str) -> None:
    params = {"n": 40, "m": [1, 40], "label_noise": 0.2, "gamma": 0.5, "learner": learner, **RULE_SETTINGS[rule]}
    config = {"kind": "real_data", "title": "contract", "seed": 3, "data": {"source": "digits", "classes": [3, 8]},
              "protocols": ["held-out"], "params": params, "x": {"param": "m"}, "fitted_gaussian_theory": True,
              "simulation": {"seeds": 2}}
    path = _write(tmp_path, "real", config)
    _works_or_is_refused(learner, rule, [path], ["sweep", path, "--out", tmp_path / "out", "--no-cache", "-q",
                                                 "--workers", "1"])


@pytest.mark.parametrize("learner,rule", _names())
@pytest.mark.parametrize("data", [False, True], ids=["model", "data"])
def test_plan(tmp_path: Path, learner: str, rule: str, data: bool) -> None:
    params = {**MODEL, "n": 40, "m_over_n": 2, "learner": learner, **RULE_SETTINGS[rule]}
    config: dict[str, Any] = {"title": "contract", "seed": 0, "params": params}
    if data:
        params.pop("p"), params.pop("mu_norm")
        config["data"] = {"digits": [3, 8], "use_covariance": True}
    (tmp_path / "plan").mkdir()
    path = _write(tmp_path / "plan", "contract", config)  # a planner input lives in a folder named plan
    _works_or_is_refused(learner, rule, [path], ["plan", path, "--json"])


def test_the_unscaled_ridge_has_its_own_theory_on_an_estimated_covariance(tmp_path: Path) -> None:
    """The plug-in theory of a random C asks the learner: ridge at gamma / N, not ridge at gamma."""
    params = {**MODEL, "n": 40, "m": 40, "covariance": "estimated", "n_hat": 30, "estimate_generator_mean": True}
    rows = {}
    for learner, gamma in (("unscaled_ridge", 8.0), ("ridge", 0.1), ("ridge", 8.0)):
        config = {"kind": "curves", "title": "plug-in", "seed": 3, "x": {"param": "m"},
                  "params": {**params, "learner": learner, "gamma": gamma}, "simulation": {"enabled": False}}
        path = _write(tmp_path, f"{learner}{gamma}", config)
        out = tmp_path / f"{learner}{gamma}"
        assert invoke("sweep", path, "--out", out, "--no-cache", "-q").exit_code == 0
        rows[learner, gamma] = float(_table(out)[0]["theory_accuracy"])
    # gamma / N = 8 / 80 = 0.1
    assert rows["unscaled_ridge", 8.0] == pytest.approx(rows["ridge", 0.1], abs=1e-12)
    assert abs(rows["unscaled_ridge", 8.0] - rows["ridge", 8.0]) > 1e-4


def test_the_trial_plugins_are_one_class_each() -> None:
    model = build_model(20, 1.5)
    verifier = TopFraction(0.25).placed(model)
    assert len(verifier.direction) == 20 and UnscaledRidge().supports(learner_base.SPECTRUM_THEORY) is False


def test_the_api_takes_any_verifier_object() -> None:
    import rmtsynth
    from rmtsynth.core.verifiers import FeatureRule

    point = {**MODEL, "n": 40, "m": 80}
    by_keys = rmtsynth.predict(**point, verifier_keep="easy", verifier_angle=30.0)
    by_object = rmtsynth.predict(**point, verifier=FeatureRule("easy", angle=30.0))
    blind = rmtsynth.predict(**point)
    assert by_object["accuracy"] == pytest.approx(by_keys["accuracy"], abs=1e-12)
    assert by_object["verifier_recall"] == pytest.approx(by_keys["verifier_recall"], abs=1e-12)
    assert abs(by_object["accuracy"] - blind["accuracy"]) > 1e-4
    top = rmtsynth.simulate(**point, verifier=TopFraction(0.5, angle=30.0), sampler="naive", seeds=3)
    assert 0.5 < float(top["accuracy_mean"]) <= 1.0 and math.isnan(float(top["verifier_precision"]))


CONFIGS = Path(__file__).parents[1] / "configs"


@pytest.mark.parametrize("learner", sorted({name for name, _ in _names()}))
def test_prediction_and_advice_validate_or_refuse(tmp_path: Path, learner: str) -> None:
    """The kinds that train a learner on a user's rows: validate refuses with the learner's sentence, or
    the quick prediction runs (the advice figure's run is covered by its own tests)."""
    run = ["sweep", CONFIGS / "predict_small_n.yaml", "--quick", "--workers", "1", "--no-cache", "-q",
           "--out", tmp_path / "prediction", "--set", f"prediction.learner={learner}"]
    _works_or_is_refused(learner, "none", [CONFIGS / "predict_small_n.yaml", "--set", f"prediction.learner={learner}"],
                         run)
    advice = invoke("validate", CONFIGS / "advise_mnist.yaml", "--set", f"advice.learner={learner}")
    if advice.exit_code != 0:
        assert advice.exit_code == 2 and any(s.rstrip(".") in advice.stderr for s in _own_sentences(learner, "none"))
    assert (advice.exit_code == 0) == learner_registry.get_learner(learner).supports(learner_base.SKLEARN_ESTIMATOR)
