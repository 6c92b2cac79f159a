"""The planner (``rmtsynth plan``) and the phase-diagram figures.

Planner numbers are checked three ways: against brute-force grids of the theory (the optimum is
at least as good as every grid point, thresholds are sign changes of the gain), against
Monte-Carlo (the predicted best mix beats its neighbours, and the gain changes sign across the
reported minimal precision, each by more than three standard errors), and through the command
line (the JSON keys). The simulation uses the exact sampler with fixed seeds.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from rmtsynth.cli import app
from rmtsynth.core.closed_forms import infinite_sample_accuracy
from rmtsynth.config.figure_config import parse_config
from rmtsynth.errors import ConfigError
from rmtsynth.engine.heatmap_figure import run_heatmap
from rmtsynth.core.model import Mix, build_model
from rmtsynth.config.plan_config import parse_plan
from rmtsynth.engine.planner import (
    best_gamma,
    best_mix,
    best_roc_point,
    integer_m,
    m_of_proportion,
    max_label_noise,
    min_verifier_precision,
    model_for_spectrum,
    rho_for_precision,
    run_plan,
    transition,
)
from rmtsynth.sim.seeding import point_seed, stable_key
from rmtsynth.sim.monte_carlo import simulate_point
from rmtsynth.engine.sweep import SweepOptions
from rmtsynth.core.theory import Spectrum, evaluate
from rmtsynth.core.verifiers.rates import min_precision

ROOT = Path(__file__).resolve().parent.parent
SEED = 20240611
# A biased generator (alignment 0.7, spurious part 1.5): synthetic data help up to a point, then
# their bias dominates, so the best proportion is interior (about 0.81) and sharp.
P = N = 100
MU, ALIGN, SHIFT = 1.5, 0.7, 1.5
SPECTRUM = Spectrum.isotropic(P, MU, ALIGN, SHIFT)
MODEL = model_for_spectrum(SPECTRUM)
SIM_MODEL = build_model(P, MU, ALIGN, SHIFT)


def _simulate(m: int, eps: float, rho: float, phi: float, gamma: float, replicates: int = 300) -> tuple[float, float]:
    key = stable_key({"m": m, "eps": eps, "rho": rho, "phi": phi, "gamma": gamma})
    res = simulate_point(SIM_MODEL, Mix(N, m, eps, rho, phi, gamma), point_seed(SEED, key), replicates, sampler="exact")
    return float(res.mean), float(res.se)


# ----------------------------------------------------------------------------- brute force


def test_best_mix_beats_a_dense_grid_and_is_a_local_maximum() -> None:
    st = Mix(N, 100, 0.1, 0.3, 0.9, 0.1)
    mix = best_mix(MODEL, st, 0.999)
    assert mix.helps and 0.7 < mix.synthetic_proportion < 0.9
    s = np.linspace(0.0, 0.999, 20001)
    grid = MODEL(Mix(N, m_of_proportion(s, N), st.label_noise, st.rho, st.phi, st.gamma))
    assert mix.accuracy >= grid.max() - 1e-12
    assert abs(mix.synthetic_proportion - s[np.argmax(grid)]) < 1e-3
    h = 1e-4
    side = MODEL(Mix(N, m_of_proportion(mix.synthetic_proportion + np.array([-h, h]), N), st.label_noise, st.rho, st.phi, st.gamma))
    assert np.all(side <= mix.accuracy + 1e-12)
    assert mix.m == integer_m(mix.synthetic_proportion, N)


def test_best_gamma_beats_a_dense_grid() -> None:
    spec = Spectrum.from_eigen(np.geomspace(0.1, 10, 60), np.full(60, 1 / math.sqrt(60)), np.full(60, 1 / math.sqrt(60)))
    model = model_for_spectrum(spec)
    st = Mix(60, 300, 0.2, 0.3, 0.9, 1.0)
    g, acc, edge = best_gamma(model, st, (1e-4, 1e4))
    grid = np.geomspace(1e-4, 1e4, 20001)
    values = model(Mix(st.n, st.m, st.label_noise, st.rho, st.phi, grid))
    assert not edge and 1e-4 < g < 1e4
    assert acc >= values.max() - 1e-12
    assert abs(math.log10(g) - math.log10(grid[np.argmax(values)])) < 2e-3


def test_min_precision_is_where_the_gain_crosses_zero() -> None:
    st = Mix(N, 100, 0.3, 0.0, 0.9, 0.1)
    res = min_verifier_precision(MODEL, st)
    p0 = res.value
    assert res.status == "crossing" and res.lowest_valid_precision < p0 < 1
    base = float(MODEL(Mix(N, 0, 0.3, 0.0, 0.9, 0.1)))

    def gain(precision: float) -> float:
        return float(MODEL(Mix(N, 100, 0.3, rho_for_precision(0.3, precision, 0.9), 0.9, 0.1))) - base

    assert gain(p0 - 1e-6) < 0 < gain(p0 + 1e-6)
    assert abs(gain(p0)) < 1e-9


def test_max_label_noise_and_transition_are_roots() -> None:
    st = Mix(N, 100, 0.1, 0.3, 0.9, 0.1)
    res = max_label_noise(MODEL, st)
    e0 = res.value
    assert res.status == "crossing" and 0 < e0 < 1
    base = float(MODEL(Mix(N, 0, 0.1, 0.3, 0.9, 0.1)))
    gain = lambda e: float(MODEL(Mix(N, 100, e, 0.3, 0.9, 0.1))) - base  # noqa: E731
    assert gain(e0 - 1e-6) > 0 > gain(e0 + 1e-6)
    tr = transition(MODEL, st)
    a0, a1 = tr.accuracy_eps_0, tr.accuracy_eps_1
    for q, key in ((0.25, "eps_25"), (0.75, "eps_75")):
        assert float(MODEL(Mix(N, 100, getattr(tr, key), 0.3, 0.9, 0.1))) == pytest.approx(a0 - q * (a0 - a1), abs=1e-9)
    assert tr.width == pytest.approx(tr.eps_75 - tr.eps_25)


def test_everywhere_and_nowhere_cases() -> None:
    # An aligned generator with an oracle-like verifier helps at every precision down to P_min.
    aligned = model_for_spectrum(Spectrum.isotropic(P, 1.0))
    st = Mix(N, 400, 0.05, 0.0, 1.0, 1.0)
    res = min_verifier_precision(aligned, st)
    assert res.status == "everywhere" and res.value == pytest.approx(float(min_precision(0.05, 1.0)))
    # A generator whose mean is orthogonal to the truth never helps, whatever the verifier.
    useless = model_for_spectrum(Spectrum.isotropic(P, 1.0, 0.0, 1.0))
    st = Mix(N, 400, 0.2, 0.1, 0.9, 1.0)
    assert min_verifier_precision(useless, st).value is None
    assert max_label_noise(useless, st).value is None


# ----------------------------------------------------------------------------- simulation


def test_best_proportion_beats_its_neighbours_in_simulation() -> None:
    eps, rho, phi, gamma = 0.1, 0.3, 0.9, 0.1
    s0 = best_mix(MODEL, Mix(N, 100, eps, rho, phi, gamma), 0.999).synthetic_proportion
    best = _simulate(integer_m(s0, N), eps, rho, phi, gamma)
    for s in (0.4 * s0, 1.0 - 0.25 * (1.0 - s0)):
        other = _simulate(integer_m(s, N), eps, rho, phi, gamma)
        margin = 3.0 * math.hypot(best[1], other[1])
        assert best[0] - other[0] > margin, (s, best, other)


def test_gain_changes_sign_across_the_minimal_precision_in_simulation() -> None:
    eps, recall, gamma, m = 0.3, 0.9, 0.1, 100
    p0 = min_verifier_precision(MODEL, Mix(N, m, eps, 0.0, recall, gamma)).value
    real = _simulate(0, eps, 0.0, recall, gamma, replicates=400)
    signs = {}
    for precision in (p0 - 0.12, min(p0 + 0.09, 0.999)):
        rho = float(rho_for_precision(eps, precision, recall))
        mix = _simulate(m, eps, rho, recall, gamma)
        signs[precision] = (mix[0] - real[0], 3.0 * math.hypot(mix[1], real[1]))
    (lo, (g_lo, m_lo)), (hi, (g_hi, m_hi)) = sorted(signs.items())
    assert g_lo < -m_lo, (lo, g_lo, m_lo)
    assert g_hi > m_hi, (hi, g_hi, m_hi)


# ----------------------------------------------------------------------------- ROC and configs


def _plan_config(**extra) -> dict:
    data = {
        "params": {
            "n": N,
            "p": P,
            "mu_norm": MU,
            "generator_alignment": ALIGN,
            "generator_shift": SHIFT,
            "label_noise": 0.3,
            "gamma": 0.1,
            "m_over_n": 1,
        }
    }
    data.update(extra)
    return data


def test_roc_point_is_the_brute_force_argmax() -> None:
    rng = np.random.default_rng(3)
    fpr = np.sort(rng.uniform(0, 1, 40))
    tpr = np.clip(fpr ** 0.3 + rng.normal(0, 0.02, 40), 0, 1)
    roc = np.column_stack([fpr, tpr])
    st = Mix(N, 100, 0.3, 0.0, 1.0, 0.1)
    each = [float(MODEL(Mix(N, 100, 0.3, a, b, 0.1))) for a, b in roc]
    chosen = best_roc_point(MODEL, st, roc)
    assert chosen.index == int(np.argmax(each))
    assert chosen.accuracy == pytest.approx(max(each), abs=1e-14)
    cfg = parse_plan(_plan_config(verifier_roc=roc.tolist()), base_dir=ROOT)
    assert (cfg.point.rho, cfg.point.phi) == (roc[chosen.index, 0], roc[chosen.index, 1])
    out = run_plan(cfg)
    assert out["best_roc_point"]["index"] == chosen.index
    joint = out["best_roc_point_best_mix"]
    assert joint["accuracy"] >= max(each) - 1e-12


def test_cannot_help_reports_zero() -> None:
    data = _plan_config()
    data["params"].update(generator_alignment=0.0, generator_shift=1.0, label_noise=0.8, verifier="none")
    out = run_plan(parse_plan(data, base_dir=ROOT))
    assert out["synthetic_helps"] is False
    assert out["best_synthetic_proportion"] == 0.0 and out["best_m"] == 0
    assert out["accuracy_best_mix"] == out["accuracy_real_only"]
    assert out["min_verifier_precision"] is None and out["max_label_noise"] is None
    assert any("cannot help" in m for m in out["messages"])


PLAN_KEYS = {
    "accuracy_real_only",
    "accuracy_configured",
    "best_synthetic_proportion",
    "best_m",
    "accuracy_best_mix",
    "best_gamma",
    "accuracy_best_gamma",
    "min_verifier_precision",
    "max_label_noise",
    "eps_star",
    "transition_width",
    "tolerance",
    "messages",
}


@pytest.mark.parametrize("name", ["example", "roc"])
def test_plan_cli_json_has_every_key(name: str) -> None:
    result = CliRunner().invoke(app, ["plan", str(ROOT / "configs" / "plan" / f"{name}.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert PLAN_KEYS <= set(out)
    assert out["accuracy_best_mix"] >= out["accuracy_configured"] - 1e-12
    assert out["accuracy_best_mix"] >= out["accuracy_real_only"] - 1e-12
    if name == "roc":
        assert {"index", "rho", "phi", "precision", "recall", "accuracy"} <= set(out["best_roc_point"])
    text = CliRunner().invoke(app, ["plan", str(ROOT / "configs" / "plan" / f"{name}.yaml")])
    assert text.exit_code == 0 and "best synthetic proportion" in text.output


def test_plan_from_digits_estimates_mu() -> None:
    pytest.importorskip("sklearn")
    data = {
        "data": {"digits": [3, 8], "use_covariance": True},
        "params": {"n": 100, "label_noise": 0.2, "verifier": "oracle", "gamma": 0.1, "m_over_n": 2},
    }
    out = run_plan(parse_plan(data, base_dir=ROOT))
    d = out["data"]
    assert 0 < d["mu_norm"] < d["mu_norm_raw"] and out["setting"]["p"] == d["p"]
    assert out["setting"]["covariance"] == "fitted"


@pytest.mark.parametrize(
    ("change", "needles"),
    [
        ({"verifer_roc": [[0.1, 0.5]]}, ("verifer_roc", "did you mean 'verifier_roc'")),
        ({"params": {"n": 100, "p": 50, "m": [1, 2]}}, ("params.m", "single value")),
        ({"params": {"n": 100, "p": 50, "m": 10, "label_noise": "auto"}}, ("auto",)),
        ({"params": {"n": 100, "p": 50}}, ("no mix",)),
        ({"params": {"n": 100, "p": 50, "m": 0}}, ("m = 0", "m >= 1")),
        ({"params": {"n": 0, "p": 50, "m": 10}}, ("n >= 1",)),
        ({"verifier_roc": [[0.1, 1.5]]}, ("verifier_roc[0]", "true-positive rate 1.5")),
        ({"verifier_roc": [[0.1, 0.5]], "params": {"n": 100, "p": 50, "m": 10, "rho": 0.1, "phi": 0.5}}, ("given twice",)),
        ({"search": {"gamma_range": [10, 1]}}, ("search.gamma_range",)),
        ({"search": {"max_proportion": 0.9}}, ("search.max_proportion", "did you mean 'max_synthetic_proportion'")),
        ({"params": {"n": 100, "p": 50, "m": 10, "precison": 0.9}}, ("params.precison", "did you mean 'precision'")),
        ({"data": {"digits": [3, 3]}, "params": {"n": 100, "m": 10}}, ("data.digits",)),
        ({"data": {"digits": [3, 8]}}, ("params.p cannot be given with data",)),
    ],
)
def test_plan_config_errors_are_one_sentence(change: dict, needles: tuple[str, ...]) -> None:
    data = _plan_config()
    data.update(change)
    with pytest.raises(ConfigError) as info:
        parse_plan(data, base_dir=ROOT)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message


# ----------------------------------------------------------------------------- figures


def _heatmap(text: str):
    cfg = parse_config(yaml.safe_load(text), name_default="t", base_dir=ROOT)
    return run_heatmap(cfg, SweepOptions(workers=1, cache_dir=None, progress=False))


def test_heatmap_rows_gain_and_masked_verifiers() -> None:
    res = _heatmap(
        """
kind: heatmap
params:
  n: 100
  p: 100
  mu_norm: 1.5
  m_over_n: 2
  gamma: 0.1
  label_noise: 0.3
  verifier_precision: [0.2, 0.6, 0.95]
  verifier_recall: [0.1, 0.9]
x: verifier_precision
y: verifier_recall
"""
    )
    assert len(res.rows) == 6
    invalid = [r for r in res.rows if not r["valid"]]
    # P_min(0.9) at eps = 0.3 is 0.677: precisions 0.2 and 0.6 are impossible at recall 0.9.
    assert {(r["x"], r["y"]) for r in invalid} == {(0.2, 0.9), (0.6, 0.9)}
    assert all(math.isnan(r["gain"]) for r in invalid)
    spec = Spectrum.isotropic(100, 1.5)
    for r in res.rows:
        if r["valid"]:
            acc = float(evaluate(spec, 100, 200, 0.3, r["rho"], r["phi"], 0.1).accuracy)
            base = float(evaluate(spec, 100, 0, 0.3, r["rho"], r["phi"], 0.1).accuracy)
            assert r["theory_accuracy"] == pytest.approx(acc, abs=1e-13)
            assert r["gain"] == pytest.approx(acc - base, abs=1e-13)


def test_heatmap_refuses_series_and_simulation() -> None:
    base = """
kind: heatmap
params: {n: 100, p: 100, m: 10, label_noise: [0.1, 0.2], gamma: [1, 2]}
x: label_noise
y: gamma
"""
    with pytest.raises(ConfigError, match="theory only"):
        _heatmap(base + "simulation: {seeds: 3}\n")
    with pytest.raises(ConfigError, match="no series"):
        _heatmap(base.replace("m: 10,", "m: 10, mu_norm: [1, 2],") + "series: mu_norm\n")


def test_huge_m_is_the_infinite_sample_limit() -> None:
    # The finite_vs_infinite figure draws the limit as the theory at p/m = 1e-9.
    eps = np.linspace(0.0, 1.0, 101)
    for spec in (Spectrum.isotropic(100, 1.0), Spectrum.isotropic(100, 1.0, 0.8, 0.6)):
        finite = evaluate(spec, 0, 100 / 1e-9, eps, 0.3, 0.8, 1.0).accuracy
        limit = infinite_sample_accuracy(spec, eps, 0.3, 0.8, 1.0)
        far = np.abs(eps - 0.8 / 1.1) > 0.01
        assert np.max(np.abs(finite - limit)[far]) < 1e-5
