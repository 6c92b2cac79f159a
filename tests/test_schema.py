"""The schema: every declared key is printed, checked, and named in one-sentence errors; figure
configs and plans share one ``data:`` vocabulary; the spec layer does not reach up into the engine."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from clitools import assert_clean_error, invoke
from rmtsynth.errors import ConfigError
from rmtsynth.config import schema
from rmtsynth.config.figure_config import heatmap_settings, mp_settings, parse_config, real_data_settings, synthetic_data_spec
from rmtsynth.config.data import COMMON_DATA_KEYS, parse_data_entry, parse_synthetic_data
from rmtsynth.config.plan_config import parse_plan
from rmtsynth.config.schema import (
    ALIASES,
    LEGEND_LOCATIONS,
    PARAMS,
    PLAN_SECTIONS,
    PLAN_TOP_LEVEL,
    SECTIONS,
    TOP_LEVEL,
    TOP_LEVEL_PARAMS,
    Param,
    Section,
    register_section,
)

ROOT = Path(__file__).resolve().parents[1]
CURVES = "params: {n: 10, m: 20, p: 5, label_noise: [0.1, 0.3]}\nx: label_noise\n"
HEATMAP = "kind: heatmap\nparams: {n: 10, m: 20, p: 5, label_noise: [0.1, 0.3], gamma: [0.1, 1]}\nx: label_noise\ny: gamma\n"
REAL_DATA = "kind: real_data\nparams: {n: 40, gamma: 0.1, label_noise: 0.2, m: [1, 40]}\nx: m\ndata: {source: digits, classes: [3, 8]}\n"


def _parse(text: str, base_dir: Path = ROOT):
    return parse_config(yaml.safe_load(text), name_default="t", base_dir=base_dir)


def _error(text: str, base_dir: Path = ROOT) -> str:
    with pytest.raises(ConfigError) as info:
        _parse(text, base_dir)
    message = str(info.value)
    assert "\n" not in message and message.endswith("."), message
    return message


# ----------------------------------------------------------------------------- rmtsynth schema


def _declared_names() -> list[str]:
    names = list(PARAMS) + list(TOP_LEVEL) + list(TOP_LEVEL_PARAMS) + list(PLAN_TOP_LEVEL)
    for sections in (SECTIONS, PLAN_SECTIONS):
        for section in sections.values():
            names.append(section.name)
            names.extend(p.name for p in section.keys.values())
    return names


def test_every_declared_key_is_in_the_schema_output() -> None:
    result = invoke("schema")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    missing = [name for name in _declared_names() if not any(line.split()[:1] == [name] or line.startswith(name + ":") for line in lines)]
    assert not missing, missing
    for alias, name in ALIASES.items():
        assert f"{alias} -> {name}" in result.stdout
    # The sections the figure modules used to check on their own are declared, and their kinds shown.
    for name in ("plot.legend_loc", "mp.ratios", "data.use_covariance", "synthetic_data.threshold", "search.gamma_range"):
        assert name in result.stdout
    assert "protocols" in result.stdout and "held-out" in result.stdout
    for kind in schema.FIGURE_KINDS:
        assert any(line.split()[:1] == [kind] for line in lines), kind


def test_every_param_states_its_rule_and_meaning() -> None:
    for sections in (SECTIONS, PLAN_SECTIONS):
        for section in sections.values():
            for p in section.keys.values():
                assert p.doc and p.rule(), p.name
    assert set(LEGEND_LOCATIONS) == set(__import__("matplotlib.legend").legend.Legend.codes)


# ----------------------------------------------------------------------------- plot keys

BAD_PLOT_VALUES = {
    "y": "accuracyy",
    "ylabel": 3,
    "sharey": "yes",
    "marks": ["eps_star", "halff"],
    "legend": "all",
    "legend_loc": "upper middle",
    "xlim": [1, 0],
    "ylim": [0.5],
    "baseline": "real",
    "caption": ["a", "b"],
    "layout": [0, 2],
    "colorbar": "on",
}
GOOD_PLOT_VALUES = {
    "y": "delta_real",
    "ylabel": "accuracy",
    "sharey": False,
    "marks": ["eps_star", "half", "argmax"],
    "legend": "every",
    "legend_loc": "lower left",
    "xlim": [0, 1],
    "ylim": [0.5, 1.0],
    "baseline": "real_only",
    "caption": "a caption",
    "layout": [2, 1],
    "colorbar": True,
}


def test_the_tables_cover_every_plot_key() -> None:
    assert set(BAD_PLOT_VALUES) == set(SECTIONS["plot"].keys) == set(GOOD_PLOT_VALUES)


@pytest.mark.parametrize("key", sorted(BAD_PLOT_VALUES))
def test_a_bad_plot_value_is_one_sentence_naming_the_key(key: str) -> None:
    text = CURVES + "plot: " + yaml.safe_dump({key: BAD_PLOT_VALUES[key]}, default_flow_style=True)
    message = _error(text)
    assert message.startswith(f"plot.{key} = "), message
    assert "it must be" in message
    cfg = _parse(CURVES + "plot: " + yaml.safe_dump({key: GOOD_PLOT_VALUES[key]}, default_flow_style=True))
    assert cfg.plot[key] == GOOD_PLOT_VALUES[key]


def test_plot_values_are_converted_and_every_legend_location_is_accepted() -> None:
    cfg = _parse(CURVES + "plot: {xlim: [0, 1], layout: [1, 2], marks: [half]}\n")
    assert cfg.plot == {"xlim": [0.0, 1.0], "layout": [1, 2], "marks": ["half"]}
    for loc in LEGEND_LOCATIONS:
        assert _parse(CURVES + f"plot: {{legend_loc: {loc}}}\n").plot["legend_loc"] == loc


def test_plot_y_is_one_of_the_kinds_quantities(tmp_path: Path) -> None:
    assert "did you mean 'delta_real'" in _error(CURVES + "plot: {y: delta_rel}\n")
    message = _error(HEATMAP + "plot: {y: delta_real}\n")
    assert message.startswith("plot.y = 'delta_real' is not allowed for kind heatmap") and "gain, accuracy" in message
    assert heatmap_settings(_parse(HEATMAP)).quantity == "gain"
    assert heatmap_settings(_parse(HEATMAP + "plot: {y: accuracy}\n")).quantity == "accuracy"
    assert "plot.y is not used by kind marchenko_pastur" in _error("kind: marchenko_pastur\nplot: {y: accuracy}\n")


def test_the_plot_typo_still_gets_its_did_you_mean_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text(CURVES + "plot: {legend_lco: best}\n")
    assert_clean_error(invoke("validate", path), "plot.legend_lco", "did you mean 'legend_loc'")


# ----------------------------------------------------------------------------- one data vocabulary

# One valid entry per common key (source and path entries need different companions).
ENTRY_WITH_KEY = {
    "source": {"source": "digits", "classes": [3, 8]},
    "path": {"path": "features.mat"},
    "digits": {"digits": [3, 8]},
    "file": {"file": "features.mat"},
    "classes": {"path": "features.csv", "classes": ["cat", "dog"]},
    "feature_key": {"path": "features.mat", "feature_key": "X"},
    "label_key": {"path": "features.mat", "label_key": "y"},
    "label_column": {"path": "features.csv", "label_column": "label"},
    "standardize": {"source": "digits", "classes": [3, 8], "standardize": True},
}


def test_every_common_data_key_has_a_case() -> None:
    assert set(ENTRY_WITH_KEY) == set(COMMON_DATA_KEYS)
    assert set(COMMON_DATA_KEYS) <= set(SECTIONS["data"].keys)


@pytest.mark.parametrize("key", sorted(ENTRY_WITH_KEY))
def test_plan_and_figure_data_entries_accept_the_same_keys(key: str, tmp_path: Path) -> None:
    entry = ENTRY_WITH_KEY[key]
    figure = parse_data_entry(dict(entry), "data", tmp_path, use="real_data")
    plan = parse_data_entry(dict(entry), "data", tmp_path, use="plan")
    differ = {f.name for f in dataclasses.fields(figure) if getattr(figure, f.name) != getattr(plan, f.name)}
    # Only the default of standardize differs (a plan rescales the features itself).
    assert differ <= ({"standardize"} if "standardize" not in entry else set()), differ
    # The whole figure config takes the entry too.
    cfg = _parse(REAL_DATA.replace("data: {source: digits, classes: [3, 8]}", "data: " + yaml.safe_dump(entry, default_flow_style=True).strip()), tmp_path)
    assert real_data_settings(cfg).data[0] == figure


def test_short_forms_mean_the_long_ones(tmp_path: Path) -> None:
    long = parse_data_entry({"source": "digits", "classes": [3, 8]}, "data", tmp_path, use="real_data")
    assert parse_data_entry({"digits": [3, 8]}, "data", tmp_path, use="real_data") == long
    assert parse_data_entry({"file": "a.npz"}, "data", tmp_path, use="plan").path == tmp_path / "a.npz"


@pytest.mark.parametrize(
    ("entry", "needles"),
    [
        ({"digits": [3, 3]}, ("data.digits", "twice")),
        ({"digits": [3, 8], "classes": [1, 2]}, ("data.digits", "either")),
        ({"source": "digits", "classes": [3, 8], "clases": 1}, ("data.clases", "did you mean 'classes'")),
        ({"path": "a.npz", "label_column": "y"}, ("data.label_column", ".csv")),
        ({"path": "a.mat", "feature_key": ""}, ("data.feature_key", "a name")),
        ({"source": "digits", "classes": [3, 8], "standardize": "yes"}, ("data.standardize", "true or false")),
    ],
)
def test_data_errors_are_the_same_in_plans_and_figures(entry: dict, needles: tuple[str, ...], tmp_path: Path) -> None:
    messages = []
    for use in ("real_data", "plan"):
        with pytest.raises(ConfigError) as info:
            parse_data_entry(dict(entry), "data", tmp_path, use=use)
        messages.append(str(info.value))
    # The same sentence, up to the list of allowed keys (a plan's adds use_covariance).
    assert messages[0].split("; allowed")[0] == messages[1].split("; allowed")[0]
    for needle in needles:
        assert needle in messages[0], messages[0]


def test_one_use_data_keys_are_refused_elsewhere(tmp_path: Path) -> None:
    message = _error(REAL_DATA.replace("classes: [3, 8]}", "classes: [3, 8], use_covariance: true}"))
    assert message.startswith("data.use_covariance is only used in a plan")
    plan = {"params": {"n": 100, "m": 10, "gamma": 0.1}, "data": {"digits": [3, 8], "images_per_class": 3}}
    with pytest.raises(ConfigError, match=r"^data.images_per_class is only used with kind generator_samples"):
        parse_plan(plan, base_dir=tmp_path)


def test_a_plan_names_its_missing_feature_file(tmp_path: Path) -> None:
    plan = {"params": {"label_noise": 0.2, "verifier": "oracle", "gamma": 0.1, "m_over_n": 1}, "data": {"file": "absent.npz"}}
    with pytest.raises(ConfigError, match="absent.npz does not exist"):
        parse_plan(plan, base_dir=tmp_path)


# ----------------------------------------------------------------------------- synthetic rows


def test_synthetic_data_entries_are_checked(tmp_path: Path) -> None:
    spec = parse_synthetic_data({"path": "rows.npz", "label_key": "y", "score_key": "s", "threshold": 0.5}, tmp_path)
    assert spec.path == tmp_path / "rows.npz" and spec.threshold == 0.5 and spec.kept_key is None
    cases = [
        ({"label_key": "y"}, "synthetic_data.path is missing"),
        ({"path": "rows.txt"}, "synthetic_data.path = 'rows.txt' is not allowed"),
        ({"path": "rows.npz", "threshold": 0.5}, "synthetic_data.threshold needs score_key"),
        ({"path": "rows.npz", "kept_key": "k", "score_key": "s", "threshold": 0.5}, "kept_key and threshold"),
        ({"path": "rows.npz", "label_column": "y"}, "synthetic_data.label_column is only used with a .csv file"),
        ({"path": "rows.csv", "feature_key": "X"}, "synthetic_data.feature_key is only used with a .npz or .mat file"),
        ({"path": "rows.npz", "treshold": 0.5}, "did you mean 'threshold'"),
        ({"path": "rows.npz", "score_key": "s", "threshold": "high"}, "synthetic_data.threshold = 'high' is not allowed"),
    ]
    for value, needle in cases:
        with pytest.raises(ConfigError) as info:
            parse_synthetic_data(value, tmp_path)
        assert needle in str(info.value), (value, str(info.value))
    cfg = _parse("kind: prediction\nsynthetic_data: {path: rows.csv, label_column: y, kept_key: kept}\n", tmp_path)
    assert synthetic_data_spec(cfg).kept_key == "kept"
    assert "synthetic_data is only used with kind prediction" in _error(CURVES + "synthetic_data: {path: rows.csv}\n")


# ----------------------------------------------------------------------------- unknown keys


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("titel: x\n" + CURVES, ("titel is not a known key", "did you mean 'title'")),
        (CURVES + "simulation: {seed: 3}\n", ("simulation.seed", "did you mean 'seeds'")),
        (CURVES + "theory: {convension: exact}\n", ("theory.convension", "did you mean 'convention'")),
        (CURVES + "plot: {ylims: [0, 1]}\n", ("plot.ylims", "did you mean 'ylim'")),
        (CURVES + "quick: {x_point: 3}\n", ("quick.x_point", "did you mean 'x_points'")),
        (CURVES + "x: {param: label_noise, scael: log}\n", ("x.scael", "did you mean 'scale'")),
        ("kind: marchenko_pastur\nmp: {bin: 10}\n", ("mp.bin", "did you mean 'bins'")),
        (REAL_DATA.replace("classes: [3, 8]}", "clases: [3, 8]}"), ("data.clases", "did you mean 'classes'")),
    ],
)
def test_unknown_figure_keys_get_a_did_you_mean(text: str, needles: tuple[str, ...]) -> None:
    message = _error(text)
    for needle in needles:
        assert needle in message, message


@pytest.mark.parametrize(
    ("change", "needles"),
    [
        ({"verifer_roc": [[0.1, 0.5]]}, ("verifer_roc", "did you mean 'verifier_roc'")),
        ({"search": {"gama_range": [1, 2]}}, ("search.gama_range", "did you mean 'gamma_range'")),
        ({"data": {"digits": [3, 8], "use_covarance": True}}, ("data.use_covarance", "did you mean 'use_covariance'")),
        ({"synthetic_data": {"path": "r.npz", "kept_ky": "k"}}, ("synthetic_data.kept_ky", "did you mean 'kept_key'")),
    ],
)
def test_unknown_plan_keys_get_a_did_you_mean(change: dict, needles: tuple[str, ...], tmp_path: Path) -> None:
    data = {"params": {"n": 100, "p": 50, "m": 10, "label_noise": 0.2, "gamma": 0.1}}
    data.update(change)
    if "data" in change:
        del data["params"]["p"]
    with pytest.raises(ConfigError) as info:
        parse_plan(data, base_dir=tmp_path)
    for needle in needles:
        assert needle in str(info.value), str(info.value)


def test_plan_search_values_are_checked_by_the_schema(tmp_path: Path) -> None:
    data = {"params": {"n": 100, "p": 50, "m": 10, "label_noise": 0.2, "gamma": 0.1}}
    for search, needle in (
        ({"max_synthetic_proportion": 1.0}, "search.max_synthetic_proportion = 1.0 is out of range; it must be a number in (0, 0.999999]."),
        ({"gamma_range": [1e-13, 1]}, "search.gamma_range = [1e-13, 1] is not allowed; it must be [lo, hi] with 1e-12 <= lo < hi <= 1e12."),
    ):
        with pytest.raises(ConfigError) as info:
            parse_plan({**data, "search": search}, base_dir=tmp_path)
        assert str(info.value) == needle


# ----------------------------------------------------------------------------- settings


def test_mp_settings_fill_defaults_and_check_values() -> None:
    s = mp_settings(_parse("kind: marchenko_pastur\nmp: {p: 200, ratios: [0.5, 1]}\n"))
    assert (s.p, s.n, s.bins, s.grid, s.ratios) == (200, 50_000, 60, 800, [0.5, 1])
    assert mp_settings(_parse("kind: marchenko_pastur\n")).ratios == [0.01, 0.1, 1.0, 2.0]
    assert _error("kind: marchenko_pastur\nmp: {p: 6000}\n").startswith("mp.p = 6000 is out of range")
    assert _error("kind: marchenko_pastur\nmp: {ratios: [1, -1]}\n").startswith("mp.ratios = [1, -1] is not allowed")
    assert "mp is only used with kind marchenko_pastur" in _error(CURVES + "mp: {p: 10}\n")


def test_real_data_settings() -> None:
    s = real_data_settings(_parse(REAL_DATA + "protocols: [paper, held-out]\nfitted_gaussian_theory: true\n"))
    assert s.protocols == ["paper", "held-out"] and s.fitted_gaussian_theory is True
    assert s.panels == [("", {}, 0)] and s.data[0].classes == (3, 8)
    assert real_data_settings(_parse(REAL_DATA)).protocols == ["held-out"]
    assert "did you mean 'paper'" in _error(REAL_DATA + "protocols: [papr]\n")
    assert _error(REAL_DATA + "fitted_gaussian_theory: 1\n").startswith("fitted_gaussian_theory = 1 is not allowed")
    assert "simulation.sampler is not used by kind real_data" in _error(REAL_DATA + "simulation: {sampler: naive}\n")
    assert "protocols is only used with kind real_data" in _error(CURVES + "protocols: [paper]\n")


def test_heatmap_refuses_simulation_and_series() -> None:
    assert "theory only" in _error(HEATMAP + "simulation: {seeds: 3}\n")
    _parse(HEATMAP + "simulation: {enabled: false, seeds: 3}\n")
    _parse(HEATMAP + "simulation: false\n")
    assert "no series" in _error(HEATMAP.replace("gamma: [0.1, 1]", "gamma: [0.1, 1], mu_norm: [1, 2]") + "series: mu_norm\n")


# ----------------------------------------------------------------------------- registry


def test_a_registered_section_is_checked_and_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    # A placeholder passes its contents on; once its keys are registered they are checked.
    monkeypatch.setitem(SECTIONS, "prediction", Section("prediction", "test section", {}, ("prediction",)))
    assert _parse("kind: prediction\nprediction: {anything: 1}\n").extra["prediction"] == {"anything": 1}
    register_section("prediction", {"folds": Param("prediction.folds", "int", "cross-validation folds", 2, 100)})
    assert _parse("kind: prediction\nprediction: {folds: 5}\n").extra["prediction"] == {"folds": 5}
    assert "prediction.fold is not a known key (did you mean 'folds'?)" in _error("kind: prediction\nprediction: {fold: 5}\n")
    assert _error("kind: prediction\nprediction: {folds: 1}\n").startswith("prediction.folds = 1 is out of range")
    assert "prediction.folds" in schema.schema_text()
    with pytest.raises(ValueError):
        register_section("prediction", {"k": Param("other.k", "int", "misnamed")})
