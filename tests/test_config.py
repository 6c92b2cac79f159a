"""Config loading and validation: every bad input is one sentence, exit 2, and no output file.

The CLI runs in-process (typer's CliRunner); only validation happens here, so every test is fast.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rmtsynth.core import fixed_point
from clitools import assert_clean_error, invoke
from rmtsynth.config.figure_config import (
    MAX_CONFIG_BYTES,
    MAX_CONFIG_DEPTH,
    apply_overrides,
    load_config,
    load_yaml_text,
    parse_config,
)
from rmtsynth.errors import ConfigError
from rmtsynth.config.schema import ALIASES, PARAMS, TOP_LEVEL
from rmtsynth.engine.sweep import resolve_cells

TINY = """\
title: tiny
seed: 1
params:
  n: 0
  p: 8
  rho: 0.3
  phi: 0.8
  label_noise: [0.0, 0.5, 1.0]
  p_over_m: [1, 0.5]
x: {param: label_noise}
series: {param: p_over_m}
simulation:
  seeds: 2
"""


pytestmark = pytest.mark.usefixtures("isolated")


def write(tmp_path: Path, text: str | bytes, name: str = "cfg.yaml") -> Path:
    path = tmp_path / "configs-in" / name
    path.parent.mkdir(exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# ----------------------------------------------------------------------------- valid configs


def test_tiny_config_resolves(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, TINY))
    assert cfg.name == "cfg" and cfg.kind == "curves" and cfg.seed == 1
    cells = resolve_cells(cfg)
    assert len(cells) == 6
    ms = sorted({pt.m for *_, pt in cells})
    assert ms == [8, 16]  # p = p_over_m * m with p = 8
    assert all(pt.n == 0 and pt.p == 8 for *_, pt in cells)


def test_exponent_numbers_are_numbers() -> None:
    # YAML 1.1 reads 1e-3 as text; configs follow YAML 1.2.
    data = load_yaml_text("a: 1e-3\nb: 2E5\nc: -1.5e+2\nd: 1_000\ne: e5\nf: '1e-3'\n", "t")
    assert data == {"a": 1e-3, "b": 2e5, "c": -150.0, "d": 1000, "e": "e5", "f": "1e-3"}


def test_aliases_and_ratios(tmp_path: Path) -> None:
    text = TINY.replace("rho: 0.3\n  phi: 0.8", "precision: 0.9\n  recall: 0.8").replace(
        "label_noise: [0.0, 0.5, 1.0]", "eps: [0.1, 0.2]"
    ).replace("{param: label_noise}", "eps")
    cells = resolve_cells(load_config(write(tmp_path, text)))
    for *_, pt in cells:
        assert pt.verifier_precision == pytest.approx(0.9)
        assert pt.phi == 0.8


def test_overrides_set_nested_and_bare_keys(tmp_path: Path) -> None:
    path = write(tmp_path, TINY)
    cfg = load_config(path, ["gamma=1e-2", "simulation.seeds=7", "seed=5", "title='x: y'"])
    assert cfg.params["gamma"] == 0.01
    assert cfg.simulation.seeds == 7 and cfg.seed == 5 and cfg.title == "x: y"
    data = apply_overrides({"a": {"b": 1}}, ["a.c.d=[1, 2]"])
    assert data == {"a": {"b": 1, "c": {"d": [1, 2]}}}


def test_quick_mode_thins_the_grid(tmp_path: Path) -> None:
    text = TINY.replace("[0.0, 0.5, 1.0]", "{linspace: [0, 1, 101]}") + "quick: {seeds: 1, x_points: 5}\n"
    path = write(tmp_path, text)
    full, quick = load_config(path), load_config(path, quick=True)
    assert len(full.x.values) == 101 and len(quick.x.values) == 5
    assert quick.x.values[0] == 0.0 and quick.x.values[-1] == 1.0
    assert quick.simulation.seeds == 1


def test_validate_show_write_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, TINY)
    before = tree(tmp_path)
    result = invoke("validate", path)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{path}: ok (curves, 6 points)"
    result = invoke("show", path, "--set", "gamma=0.25")
    assert result.exit_code == 0, result.output
    assert "gamma: 0.25" in result.stdout and "resolved_points" in result.stdout
    assert result.stdout.count("verifier_precision:") == 6
    assert tree(tmp_path) == before


def test_list_and_schema(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "a_good.yaml").write_text(TINY.replace("title: tiny", "title: \"tiny\\nsecond line\""))
    (tmp_path / "configs" / "b_bad.yaml").write_bytes(b"title: \xff\n")
    result = invoke("list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    root = Path(__file__).resolve().parents[1] / "configs"
    bundled = [p.name for p in sorted(root.glob("*.yaml"))] + [str(p.relative_to(root)) for p in sorted(root.glob("*/*.yaml"))]
    names = [line.split()[0] for line in lines]
    assert names == ["a_good.yaml", "b_bad.yaml"] + bundled
    assert any(line.startswith("plan/example.yaml") and "plan input" in line for line in lines)
    assert "tiny" in lines[0] and "invalid" in lines[1]
    result = invoke("schema")
    assert result.exit_code == 0
    for key in list(PARAMS) + list(TOP_LEVEL) + list(ALIASES):
        assert key in result.stdout, key


# ----------------------------------------------------------------------------- bad configs

BASE_PARAMS = "params: {n: 10, m: 20, p: 5, label_noise: [0.1, 0.3]}\nx: label_noise\n"

BAD_CONFIGS: dict[str, tuple[str | bytes, tuple[str, ...]]] = {
    "top-level typo": ("titel: x\n" + BASE_PARAMS, ("titel", "did you mean 'title'")),
    "param typo": (BASE_PARAMS.replace("p: 5", "p: 5, gama: 1"), ("params.gama", "did you mean 'gamma'")),
    "simulation typo": (BASE_PARAMS + "simulation: {seed: 3}\n", ("simulation.seed", "did you mean 'seeds'")),
    "plot typo": (BASE_PARAMS + "plot: {ylims: [0, 1]}\n", ("plot.ylims", "did you mean 'ylim'")),
    "wrong type": (BASE_PARAMS.replace("n: 10", "n: abc"), ("params.n", "'abc'", "integer")),
    "float for int": (BASE_PARAMS.replace("p: 5", "p: 5.5"), ("params.p", "5.5", "integer")),
    "bool for number": (BASE_PARAMS.replace("p: 5", "p: 5, gamma: true"), ("params.gamma", "true")),
    "null value": (BASE_PARAMS.replace("p: 5", "p: 5, mu_norm: null"), ("params.mu_norm", "null")),
    "out of range": (BASE_PARAMS.replace("p: 5", "p: 5, gamma: -1"), ("params.gamma", "-1", "[1e-08, 1e+12]")),
    "out of range in a list": (BASE_PARAMS.replace("0.3]", "1.5]"), ("params.label_noise", "1.5", "[0, 1]")),
    "nan": (BASE_PARAMS.replace("p: 5", "p: 5, mu_norm: .nan"), ("params.mu_norm", "nan")),
    "overflow": (BASE_PARAMS.replace("p: 5", "p: 5, gamma: 1e400"), ("params.gamma", "inf")),
    "seeds zero": (BASE_PARAMS + "simulation: {seeds: 0}\n", ("simulation.seeds", "0")),
    "seed negative": ("seed: -1\n" + BASE_PARAMS, ("seed", "-1")),
    "impossible precision": (
        BASE_PARAMS.replace("[0.1, 0.3]", "[0.5, 0.6]").replace("p: 5", "p: 5, precision: 0.1, recall: 0.9"),
        ("verifier_precision = 0.1", "0.473684", "label_noise = 0.5"),
    ),
    "precision below one without noise": (
        BASE_PARAMS.replace("[0.1, 0.3]", "[0, 0.2]").replace("p: 5", "p: 5, precision: 0.9, recall: 0.9"),
        ("verifier_precision = 0.9", "label_noise = 0"),
    ),
    "verifier twice": (BASE_PARAMS.replace("p: 5", "p: 5, verifier: oracle, rho: 0, phi: 1"), ("verifier is given twice",)),
    "rho without phi": (BASE_PARAMS.replace("p: 5", "p: 5, rho: 0.2"), ("phi is missing",)),
    "size rounds to nothing": (BASE_PARAMS.replace("p: 5", "p_over_n: 0.01"), ("p_over_n", "rounds to p = 0")),
    "absurd dimension": (BASE_PARAMS.replace("p: 5", "p: 10000000"), ("params.p", "10000000")),
    "absurd ratio": (BASE_PARAMS.replace("p: 5", "p_over_n: 1e8"), ("p = 1000000000", "at most 100000")),
    "no samples": (BASE_PARAMS.replace("n: 10, m: 20", "n: 0, m: 0"), ("n + m = 0",)),
    "missing size": (BASE_PARAMS.replace("p: 5, ", ""), ("p is missing",)),
    "two dimensions": (BASE_PARAMS.replace("p: 5", "p: 5, p_over_m: 2"), ("p and p_over_m",)),
    "missing x": ("params: {n: 10, m: 20, p: 5}\n", ("x is missing",)),
    "unswept list": (BASE_PARAMS.replace("p: 5", "p: 5, gamma: [1, 2]"), ("params.gamma", "list")),
    "bad range": (BASE_PARAMS.replace("[0.1, 0.3]", "{linspace: [0, 1]}"), ("params.label_noise.linspace",)),
    "log range from zero": (BASE_PARAMS.replace("[0.1, 0.3]", "{logspace: [0, 1, 5]}"), ("logspace", "> 0")),
    "log scale with zero": (BASE_PARAMS.replace("[0.1, 0.3]", "[0, 0.3]").replace("x: label_noise", "x: {param: label_noise, scale: log}"), ("x.scale",)),
    "covariance option mismatch": (BASE_PARAMS.replace("p: 5", "p: 5, covariance_scale: 2"), ("covariance_scale", "scaled")),
    "estimated without n_hat": (BASE_PARAMS.replace("p: 5", "p: 5, covariance: estimated"), ("n_hat",)),
    "spectrum length": (
        BASE_PARAMS.replace("p: 5", "p: 5, covariance: diagonal, covariance_spectrum: {values: [1, 2]}"),
        ("covariance_spectrum", "p = 5"),
    ),
    "missing covariance file": (
        BASE_PARAMS.replace("p: 5", "p: 5, covariance: file, covariance_file: nowhere.npy"),
        ("covariance_file", "nowhere.npy"),
    ),
    "series not a list": (BASE_PARAMS + "series: {param: gamma}\n", ("series.param = gamma",)),
    "bad kind": ("kind: bogus\n" + BASE_PARAMS, ("kind = 'bogus'", "curves")),
    "bad plot quantity": (BASE_PARAMS + "plot: {y: accuracyy}\n", ("plot.y", "accuracyy")),
    "quick typo": (BASE_PARAMS + "quick: {seed: 2}\n", ("quick.seed", "did you mean 'seeds'")),
    "title not text": ("title: [a, b]\n" + BASE_PARAMS, ("title",)),
    "name with slash": ("name: sub/fig\n" + BASE_PARAMS, ("name = 'sub/fig'",)),
    "name escaping": ("name: ../fig\n" + BASE_PARAMS, ("name = '../fig'",)),
    "name absolute": ("name: /tmp/fig\n" + BASE_PARAMS, ("name = '/tmp/fig'",)),
    "name dotdot": ("name: ..\n" + BASE_PARAMS, ("name = '..'",)),
    "name hidden": ("name: .fig\n" + BASE_PARAMS, ("name = '.fig'",)),
    "name too long": ("name: " + "a" * 300 + "\n" + BASE_PARAMS, ("name = ",)),
    "name not text": ("name: [a]\n" + BASE_PARAMS, ("name = ",)),
    "duplicate key": (BASE_PARAMS.replace("x: label_noise", "x: label_noise\nx: n"), ("line 3", "'x' is given twice")),
    "yaml syntax": ("params: {n: 1\n", ("cannot be read",)),
    "empty file": ("", ("empty",)),
    "only a comment": ("# nothing\n", ("empty",)),
    "top-level list": ("- 1\n- 2\n", ("mapping",)),
    "top-level scalar": ("hello\n", ("mapping",)),
    "non-utf8": (b"title: caf\xe9\n" + BASE_PARAMS.encode(), ("not UTF-8", "offset 10")),
    "utf16": ("title: x\n".encode("utf-16"), ("not UTF-8",)),
    "python object": ('a: !!python/object/apply:os.system ["touch PWNED"]\n', ("python/object/apply",)),
    "python name": ("a: !!python/name:os.system\n", ("python/name",)),
    "python new": ("a: !!python/object/new:builtins.list [[1]]\n", ("python/object/new",)),
    "python module": ("a: !!python/module:os\n", ("python/module",)),
    "deep list": ("a: " + "[" * 5000 + "]" * 5000 + "\n", ("nested",)),
    "deep map": ("a: " + "{b: " * 200 + "1" + "}" * 200 + "\n", ("nested",)),
    "just too deep": ("a: " + "[" * (MAX_CONFIG_DEPTH + 1) + "]" * (MAX_CONFIG_DEPTH + 1) + "\n", ("nested",)),
    "huge": ("title: x\n" + "#" * (MAX_CONFIG_BYTES + 10) + "\n", ("bytes",)),
    "alias bomb": (
        "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9))
        + BASE_PARAMS,
        ("values", "aliases"),
    ),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_bad_config_is_one_sentence_and_writes_nothing(tmp_path: Path, case: str) -> None:
    text, needles = BAD_CONFIGS[case]
    path = write(tmp_path, text)
    before = tree(tmp_path)
    assert_clean_error(invoke("validate", path), *needles)
    assert_clean_error(invoke("show", path), *needles)
    line = assert_clean_error(invoke("sweep", path, "--out", tmp_path / "out", "--workers", 1, "-q"), *needles)
    assert len(line) < 400
    # Nothing at all: no output directory, no cache, no marker from a constructed object.
    assert tree(tmp_path) == before


def test_missing_config_file(tmp_path: Path) -> None:
    assert_clean_error(invoke("validate", tmp_path / "nope.yaml"), "nope.yaml", "does not exist")
    assert_clean_error(invoke("sweep", tmp_path, "-o", tmp_path / "out"), "is a directory")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("override", "needles"),
    [
        ("gamma", ("'gamma'", "key=value")),
        ("=3", ("no key",)),
        ("gama=0.5", ("params.gama", "did you mean 'gamma'")),
        ("gamma=-2", ("params.gamma", "-2")),
        ("simulation.seeds=[1", ("simulation.seeds=[1", "cannot be read")),
        ("simulation.seeds=0", ("simulation.seeds",)),
        ("params=3", ("params must be a mapping",)),
        ("title.sub=1", ("title is not a mapping",)),
        ("x=nope", ("x.param", "nope")),
        ("name=../../etc/x", ("name = '../../etc/x'",)),
        ("seed=!!python/object/apply:os.system [ls]", ("python/object/apply",)),
    ],
)
def test_bad_override(tmp_path: Path, override: str, needles: tuple[str, ...]) -> None:
    path = write(tmp_path, TINY)
    before = tree(tmp_path)
    assert_clean_error(invoke("validate", path, "--set", override), *needles)
    assert_clean_error(invoke("sweep", path, "--set", override, "-o", tmp_path / "out", "--workers", 1), *needles)
    assert tree(tmp_path) == before


def test_every_kind_is_checked_before_work(tmp_path: Path) -> None:
    # An impossible heatmap cell or a missing data file is refused by validate, and by sweep
    # before any other config of the run writes its outputs.
    heat = write(
        tmp_path,
        "kind: heatmap\nparams: {n: 10, p: 5, m: [10, 20], gamma: [1, 2], rho: 0.3}\nx: m\ny: gamma\n",
        "heat.yaml",
    )
    real = write(
        tmp_path,
        "kind: real_data\ndata: {path: missing.npz}\nparams: {n: 10, m: [1, 2], verifier: oracle}\nx: m\n",
        "real.yaml",
    )
    good = write(tmp_path, TINY, "good.yaml")
    assert_clean_error(invoke("validate", heat), "phi")
    assert_clean_error(invoke("sweep", good, heat, "-o", tmp_path / "out", "--workers", 1), "phi")
    assert_clean_error(invoke("validate", real), "missing.npz")
    assert_clean_error(invoke("sweep", good, real, "-o", tmp_path / "out", "--workers", 1), "missing.npz")
    assert not (tmp_path / "out").exists()


def test_every_config_is_checked_before_any_is_computed(tmp_path: Path) -> None:
    good = write(tmp_path, TINY, "good.yaml")
    bad_point = write(tmp_path, TINY.replace("rho: 0.3\n  phi: 0.8", "precision: 0.2\n  recall: 0.9"), "bad.yaml")
    out = tmp_path / "out"
    assert_clean_error(invoke("sweep", good, bad_point, "-o", out, "--workers", 1), "verifier_precision = 0.2")
    twin = write(tmp_path, TINY, "twin.yaml")
    assert_clean_error(invoke("sweep", good, twin, "--set", "name=same", "-o", out, "--workers", 1), "same")
    assert not out.exists()


def test_fixed_point_failure_is_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Starve the solver so that it cannot converge: the error names the point and the remedy.
    monkeypatch.setattr(fixed_point, "MAX_NEWTON_ROUNDS", 0)
    monkeypatch.setattr(fixed_point, "MAX_PLAIN_STEPS", 1)
    path = write(tmp_path, TINY.replace("n: 0", "n: 0\n  gamma: 1e-3"))
    result = invoke("sweep", path, "-o", tmp_path / "out", "--no-sim")
    assert_clean_error(result, "did not converge", "gamma")
    assert not (tmp_path / "out").exists()


def test_python_tag_constructs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    path = write(tmp_path, f'title: !!python/object/apply:os.system ["touch {marker}"]\n' + BASE_PARAMS)
    assert_clean_error(invoke("validate", path), "python/object/apply")
    assert not marker.exists()
    with pytest.raises(ConfigError):
        load_yaml_text(f"a: !!python/object/apply:os.system ['touch {marker}']", "t")
    assert not marker.exists()


def test_output_name_cannot_leave_the_output_dir(tmp_path: Path) -> None:
    for name in ("../x", "/abs/x", "a/b", "a\\b", "..", ".x", "a..b", "a\nb", "c:x", ""):
        with pytest.raises(ConfigError, match="name"):
            parse_config({"name": name, "params": {"n": 1, "m": 1, "p": 1}, "x": "n"}, name_default="d", base_dir=tmp_path)
    cfg = parse_config({"name": "fig-1_a b", "params": {"n": [1, 2], "m": 1, "p": 1}, "x": "n"}, name_default="d", base_dir=tmp_path)
    assert cfg.name == "fig-1_a b"


def test_bad_out_and_cache_dirs(tmp_path: Path) -> None:
    path = write(tmp_path, TINY)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert_clean_error(invoke("sweep", path, "-o", blocker, "--no-sim"), "--out", "a-file")
    assert_clean_error(invoke("sweep", path, "-o", blocker / "sub", "--no-sim"), "--out", "a-file")
    assert_clean_error(
        invoke("sweep", path, "-o", tmp_path / "out", "--cache-dir", blocker / "c", "--workers", 1), "cache directory"
    )
    assert not (tmp_path / "out").exists()
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert_clean_error(invoke("sweep", path, "-o", locked / "out", "--no-sim"), "not writable")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("--seeds", 0), ("--seeds = 0",)),
        (("--workers", 0), ("--workers = 0",)),
        (("--sampler", "fast"), ("--sampler = 'fast'", "exact or naive")),
    ],
)
def test_bad_sweep_options(tmp_path: Path, args: tuple, needles: tuple[str, ...]) -> None:
    path = write(tmp_path, TINY)
    assert_clean_error(invoke("sweep", path, "-o", tmp_path / "out", *args), *needles)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("plot_y, refused", [("gain", True), ("accuracy", False)])
def test_a_heatmap_of_the_gain_without_real_data_fails_validate_as_sweep(tmp_path: Path, plot_y: str, refused: bool) -> None:
    """The gain over real data alone needs n > 0 somewhere; validate says so, in the sweep's sentence."""
    path = write(tmp_path, f"""\
kind: heatmap
params: {{n: 0, p: 20, mu_norm: 1.0, m: [10, 40], label_noise: [0.0, 0.2]}}
x: m
y: label_noise
plot: {{y: {plot_y}}}
""")
    checked = invoke("validate", path)
    if not refused:
        assert checked.exit_code == 0, checked.output
        return
    line = assert_clean_error(checked, "The gain needs real data (n > 0)")
    out = tmp_path / "out"
    assert assert_clean_error(invoke("sweep", path, "--out", out, "-q")) == line
    assert not out.exists()


@pytest.mark.parametrize("gain_over, needle", [("keep-most", "names no series"), ("gain", "itself a gain")])
def test_validate_refuses_a_gain_over_a_missing_series_or_over_a_gain(tmp_path: Path, gain_over: str, needle: str):
    cfg = tmp_path / "gains.yaml"
    cfg.write_text(
        "params: {p: 50, n: 100, m: 100, label_noise: 0.1, rho: 0.2, phi: 0.9, gamma: 0.1}\n"
        "x: {param: label_noise, values: [0.0, 0.2]}\n"
        "series:\n  - {label: all, params: {rho: 1.0, phi: 1.0}}\n"
        "  - {label: gain, params: {}, gain_over: all}\n"
        f"  - {{label: other, params: {{}}, gain_over: {gain_over}}}\n"
        "simulation: {enabled: false}\n")
    assert_clean_error(invoke("validate", cfg), "series[2].gain_over", needle)
