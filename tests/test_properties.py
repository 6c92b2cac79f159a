"""Property tests (hypothesis, derandomised): config robustness and the theory's invariants.

* Any mutation of a valid config either validates or exits 2 with one sentence naming the key;
  never a traceback, never an output file.
* The theory: accuracy in [0, 1] and finite everywhere; exactly 1/2 where the label signal
  vanishes; sign(accuracy - 1/2) = sign(lambda) for synthetic-only training; continuity across
  eps*; and the numerical edges give the closed-form number or a clear RmtsynthError.
"""

from __future__ import annotations

import copy
import string
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from rmtsynth.cli import app
from rmtsynth.core.closed_forms import synthetic_only
from rmtsynth.config.figure_config import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, load_config
from rmtsynth.engine.points import theory_for_points
from rmtsynth.errors import RmtsynthError
from rmtsynth.config.resolve import resolve_point
from rmtsynth.runner import compute
from rmtsynth.config.schema import ALIASES, PARAMS, SIMULATION_KEYS, TOP_LEVEL
from rmtsynth.engine.sweep import SweepOptions
from rmtsynth.core.theory import Spectrum, evaluate
from rmtsynth.core.verifiers.rates import eps_star, label_signal, min_precision

CONFIG_SETTINGS = settings(
    max_examples=120,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
THEORY_SETTINGS = settings(max_examples=150, derandomize=True, deadline=None, database=None)

# ----------------------------------------------------------------------------- config mutations

BASE: dict[str, Any] = {
    "title": "base",
    "seed": 1,
    "params": {
        "n": 20,
        "m": 40,
        "p": 10,
        "gamma": 1.0,
        "mu_norm": 1.0,
        "rho": 0.2,
        "phi": 0.9,
        "label_noise": [0.1, 0.3, 0.5],
    },
    "x": "label_noise",
    "simulation": {"seeds": 2, "enabled": False},
}

# A mutation of one key may legitimately be reported through a key it is tied to.
RELATED = {
    "x": {"x", "label_noise"},
    "label_noise": {"label_noise", "x"},
    "params": {"params", "x", "label_noise", "n", "m", "p"},
    "rho": {"rho", "phi"},
    "phi": {"phi", "rho"},
    "n": {"n", "n + m"},
    "m": {"m", "n + m"},
}


def _paths(node: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for key, value in node.items():
        out.append(prefix + (key,))
        if isinstance(value, dict):
            out += _paths(value, prefix + (key,))
    return out


PATHS = _paths(BASE)
MAPPINGS = [(), ("params",), ("simulation",)]
KNOWN = {(): set(TOP_LEVEL), ("params",): set(PARAMS) | set(ALIASES), ("simulation",): set(SIMULATION_KEYS)}

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.one_of(st.integers(-3, 3), st.floats(-2, 2), st.text(max_size=3)), max_size=4),
    st.dictionaries(st.text(max_size=6), st.integers(-2, 2), max_size=2),
)
key_text = st.text(alphabet=string.ascii_letters + string.digits + "_-./ \n\t:é", min_size=1, max_size=15)


def _get(data: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for part in path:
        data = data[part]
    return data


@st.composite
def mutated_config(draw: st.DrawFn) -> tuple[bytes, set[str]]:
    """The bytes of a mutated config, and the names an error about it may name."""
    data = copy.deepcopy(BASE)
    kind = draw(st.sampled_from(["delete", "unknown", "replace", "verifier", "sizes", "bytes", "deep", "huge"]))
    if kind == "delete":
        path = draw(st.sampled_from(PATHS))
        del _get(data, path[:-1])[path[-1]]
        names = RELATED.get(path[-1], {path[-1]})
    elif kind == "unknown":
        where = draw(st.sampled_from(MAPPINGS))
        key = draw(key_text.filter(lambda k, w=where: k not in KNOWN[w] and k.strip() == k and k != "<<"))
        _get(data, where)[key] = draw(junk)
        names = {key.replace("\n", "\\n").replace("\t", "\\t")}
    elif kind == "replace":
        path = draw(st.sampled_from(PATHS))
        _get(data, path[:-1])[path[-1]] = draw(junk)
        names = RELATED.get(path[-1], {path[-1]})
    elif kind == "verifier":
        # A precision no verifier can have at one of the label-noise values.
        params = data["params"]
        del params["rho"], params["phi"]
        recall = draw(st.floats(0.05, 1.0))
        eps = draw(st.sampled_from(params["label_noise"]))
        floor = float(min_precision(eps, recall))
        params["verifier_recall"] = recall
        params["verifier_precision"] = draw(st.floats(0.0, floor * 0.999))
        names = {"verifier_precision"}
    elif kind == "sizes":
        key = draw(st.sampled_from(["n", "m", "p", "p_over_n", "m_over_n"]))
        value = draw(st.one_of(st.integers(10**6, 10**16), st.floats(1e-12, 1e-3), st.floats(1e7, 1e20)))
        params = data["params"]
        if key == "p_over_n":
            del params["p"]
        if key == "m_over_n":
            del params["m"]
        params[key] = value
        names = {key, "p", "m", "n"}
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode("utf-8")
    if kind == "bytes":
        at = draw(st.integers(0, len(text)))
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80abc", b"\xfe\xff"]))
        text = text[:at] + bad + text[at:]
        names = {"UTF-8"}
    elif kind == "deep":
        depth = draw(st.integers(MAX_CONFIG_DEPTH - 3, 4 * MAX_CONFIG_DEPTH))
        key = draw(st.sampled_from(["params", "description", "plot"]))
        text += f"{key}: ".encode() + b"[" * depth + b"]" * depth + b"\n"
        names = {"nested", key, "given twice"}
    elif kind == "huge":
        text += b"description: '" + b"x" * draw(st.integers(MAX_CONFIG_BYTES, MAX_CONFIG_BYTES + 100)) + b"'\n"
        names = {"bytes"}
    return text, names


@CONFIG_SETTINGS
@given(case=mutated_config())
def test_mutated_config_validates_or_fails_cleanly(case: tuple[bytes, set[str]], tmp_path_factory: pytest.TempPathFactory) -> None:
    text, names = case
    root = tmp_path_factory.mktemp("mut")
    path = root / "cfg.yaml"
    path.write_bytes(text)
    runner = CliRunner()
    env = {"RMTSYNTH_CACHE_DIR": str(root / "cache")}
    result = runner.invoke(app, ["validate", str(path)], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    if result.exit_code == 0:
        # Valid: the computation (theory only) must succeed or fail with a user error.
        try:
            compute(load_config(path), SweepOptions(workers=1, cache_dir=None, simulate=False, progress=False))
        except RmtsynthError:
            pass
        return
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and lines[0].endswith("."), lines[0]
    assert any(name in lines[0] for name in names), (names, lines[0])
    # The sweep refuses the same config before writing anything.
    swept = runner.invoke(app, ["sweep", str(path), "-o", str(root / "out"), "--workers", "1", "-q"], env=env)
    assert swept.exit_code == 2 and swept.stderr.strip() == lines[0]
    assert sorted(p.name for p in root.iterdir()) == ["cfg.yaml"]


# ----------------------------------------------------------------------------- theory

unit = st.floats(0.0, 1.0)
positive_unit = st.floats(0.01, 1.0)
gammas = st.floats(1e-10, 1e4)
dims = st.integers(1, 5000)


def _acc(p, n, m, eps, rho, phi, gamma, mu=1.0, beta=1.0, tau=0.0, scale=1.0):
    return evaluate(Spectrum.isotropic(p, mu, beta, tau, scale), n, m, eps, rho, phi, gamma)


@THEORY_SETTINGS
@given(
    p=dims,
    n=st.integers(0, 10**5),
    m=st.integers(0, 10**6),
    eps=st.lists(unit, min_size=1, max_size=8),
    rho=unit,
    phi=unit,
    gamma=gammas,
    mu=st.floats(0, 20),
    beta=st.floats(-5, 5),
    tau=st.floats(0, 3),
    scale=st.floats(1e-3, 1e3),
)
def test_theory_is_finite_and_accuracy_in_unit_interval(p, n, m, eps, rho, phi, gamma, mu, beta, tau, scale) -> None:
    assume(n + m > 0)
    res = _acc(p, n, m, np.array(eps), rho, phi, gamma, mu, beta, tau, scale)
    for name, value in res.as_dict().items():
        if name != "delta_gen":  # only defined for an estimated covariance
            assert np.all(np.isfinite(value)), name
    assert np.all((res.accuracy >= 0) & (res.accuracy <= 1))
    assert np.all(res.variance >= 0) and np.all(res.delta_real >= 0) and np.all(res.delta_synth >= 0)


@THEORY_SETTINGS
@given(p=dims, m=st.integers(1, 10**6), eps=unit, rho=unit, phi=unit, gamma=gammas, mu=st.floats(1e-3, 20), beta=st.floats(0.05, 5), tau=st.floats(0, 3))
def test_synthetic_only_sign_follows_lambda(p, m, eps, rho, phi, gamma, mu, beta, tau) -> None:
    lam = float(label_signal(eps, rho, phi))
    acc = float(_acc(p, 0, m, eps, rho, phi, gamma, mu, beta, tau).accuracy)
    if lam == 0.0:
        assert acc == 0.5
    elif abs(lam) > 1e-9:  # below that, 1/2 + O(lambda) may round to 1/2
        assert np.sign(acc - 0.5) == np.sign(lam), (acc, lam)


@THEORY_SETTINGS
@given(p=dims, m=st.integers(1, 10**6), rho=positive_unit, phi=positive_unit, gamma=gammas, mu=st.floats(0, 20))
def test_synthetic_only_is_half_at_eps_star_and_continuous(p, m, rho, phi, gamma, mu) -> None:
    star = float(eps_star(rho, phi))
    h = 1e-10  # the slope at eps* grows like sqrt(m / p); it stays below 1e5 on this grid
    acc = _acc(p, 0, m, np.array([max(star - h, 0.0), star, min(star + h, 1.0)]), rho, phi, gamma, mu).accuracy
    # eps* is rounded to a float; lambda is snapped to 0 within rounding, so acc is exactly 1/2.
    assert acc[1] == 0.5
    assert abs(acc[0] - acc[2]) <= 1e-4
    assert np.all(np.diff(acc) <= 1e-15)  # accuracy decreases through the transition


@pytest.mark.parametrize(("rho", "phi"), [(0.5, 0.5), (0.25, 0.75), (1.0, 1.0), (0.0, 1.0), (0.125, 0.375), (1.0, 0.0)])
@pytest.mark.parametrize("p", [1, 50, 5000])
def test_exactly_half_at_an_exact_eps_star(rho: float, phi: float, p: int) -> None:
    # Where eps* and lambda are exact in floating point, the accuracy is exactly 1/2.
    star = float(eps_star(rho, phi))
    assert label_signal(star, rho, phi) == 0.0
    assert float(_acc(p, 0, 300, star, rho, phi, 0.5).accuracy) == 0.5


@THEORY_SETTINGS
@given(p=dims, n=st.integers(0, 10**4), m=st.integers(0, 10**4), eps=unit, rho=unit, phi=unit, gamma=gammas)
def test_zero_mean_norm_gives_exactly_half(p, n, m, eps, rho, phi, gamma) -> None:
    assume(n + m > 0)
    assert np.all(_acc(p, n, m, eps, rho, phi, gamma, mu=0.0).accuracy == 0.5)


@THEORY_SETTINGS
@given(p=dims, m=st.integers(1, 10**5), eps=unit, rho=unit, phi=unit, gamma=st.floats(1e-6, 1e3), mu=st.floats(0, 10))
def test_synthetic_only_matches_closed_form(p, m, eps, rho, phi, gamma, mu) -> None:
    got = float(_acc(p, 0, m, eps, rho, phi, gamma, mu).accuracy)
    want = float(synthetic_only(p, m, mu, eps, rho, phi, gamma)["accuracy"])
    assert got == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("p", [1, 7, 400])
@pytest.mark.parametrize("n", [1, 40])
@pytest.mark.parametrize("gamma", [1e-10, 1.0])
def test_real_only_and_nothing_kept(p: int, n: int, gamma: float) -> None:
    # m = 0 is ridge on n real samples: the synthetic-only closed form with clean labels, all kept.
    want = float(synthetic_only(p, n, 1.0, 0.0, 0.0, 1.0, gamma)["accuracy"])
    assert float(_acc(p, n, 0, 0.3, 0.2, 0.9, gamma).accuracy) == pytest.approx(want, abs=1e-9)
    # alpha = 0 keeps no synthetic sample; they only enlarge N, i.e. scale gamma by (n + m) / n.
    for eps, rho, phi in ((0.4, 0.0, 0.0), (1.0, 0.0, 1.0), (0.0, 1.0, 0.0)):
        kept_none = float(_acc(p, n, 3 * n, eps, rho, phi, gamma).accuracy)
        scaled = float(synthetic_only(p, n, 1.0, 0.0, 0.0, 1.0, 4 * gamma)["accuracy"])
        assert kept_none == pytest.approx(scaled, abs=1e-9)
    # With no real data and nothing kept the classifier is zero: accuracy exactly 1/2.
    assert float(_acc(p, 0, n, 0.4, 0.0, 0.0, gamma).accuracy) == 0.5


@pytest.mark.parametrize("eps", [0.0, "star", 1.0])
@pytest.mark.parametrize(("p", "m"), [(1, 1), (100, 1), (10_000, 100), (5, 10**7)])
@pytest.mark.parametrize("gamma", [1e-10, 1e-3, 10.0])
def test_numerical_edges(eps: Any, p: int, m: int, gamma: float) -> None:
    rho, phi = 0.3, 0.8
    e = float(eps_star(rho, phi)) if eps == "star" else eps
    got = _acc(p, 0, m, e, rho, phi, gamma)
    want = synthetic_only(p, m, 1.0, e, rho, phi, gamma)
    assert float(got.accuracy) == pytest.approx(float(want["accuracy"]), abs=1e-9)
    assert float(got.delta_synth) == pytest.approx(float(want["delta_synth"]), rel=1e-8)
    if eps == 0.0:
        assert float(got.accuracy) > 0.5
    elif eps == 1.0:
        assert float(got.accuracy) < 0.5


# Each edge with what it must give: ("closed", closed-form arguments) for the synthetic-only closed
# form of section 8 (p, m, mu_norm, label_noise, rho, phi, gamma); ("half",) for the null
# classifier, exactly 1/2; ("above", x) for a number in (x, 1); ("error", fragment) for one sentence
# naming the problem.
EDGES = [
    # p / N = 100, synthetic only; with C = I and mu_beta = mu every sample has the real law.
    ({"n": 0, "m": 1, "p": 100, "gamma": 1e-10}, ("closed", (100, 1, 1.0, 0.0, 1.0, 1.0, 1e-10))),
    # One real sample: the same law as one kept synthetic sample with clean labels.
    ({"n": 1, "m": 0, "p": 100, "gamma": 1e-10}, ("closed", (100, 1, 1.0, 0.0, 1.0, 1.0, 1e-10))),
    # Every label flipped and an oracle verifier: nothing is kept (alpha = 0).
    ({"n": 0, "m": 50, "p": 1, "label_noise": 1.0, "verifier": "oracle"}, ("half",)),
    # No class signal at all.
    ({"n": 10, "m": 50, "p": 1, "mu_norm": 0.0}, ("half",)),
    # A verifier that keeps nothing.
    ({"n": 0, "m": 10, "p": 5, "rho": 0.0, "phi": 0.0}, ("half",)),
    ({"n": 0, "m": 10, "p": 5, "precision": 1.0, "recall": 1.0, "label_noise": 0.0},
     ("closed", (5, 10, 1.0, 0.0, 0.0, 1.0, 1.0))),
    ({"n": 0, "m_over_n": 2, "p": 5}, ("error", "n + m = 0")),
    ({"n": 0, "p_over_m": 100, "m": 0}, ("error", "p_over_m needs m > 0")),
    ({"n": 0, "p": 3, "m": 0}, ("error", "n + m = 0")),
    ({"n": 3, "p_over_n": 0.1, "m": 1}, ("error", "rounds to p = 0")),
    # A proportion of 1 with no real data leaves m undetermined.
    ({"n": 0, "synthetic_proportion": 1.0, "p": 4}, ("error", "m is missing")),
    # C estimated from a single sample (rank 1); clean labels, so lambda > 0 and accuracy > 1/2.
    ({"n": 0, "m": 10, "p": 5, "covariance": "estimated", "n_hat": 1}, ("above", 0.5)),
    # p / N = 1e-7: the infinite-sample accuracy Phi(||mu||) = Phi(1) = 0.841344746...
    ({"n": 0, "m": 10**12, "p": 10**5, "gamma": 1e-10}, ("closed", (10**5, 10**12, 1.0, 0.0, 1.0, 1.0, 1e-10))),
]


@pytest.mark.parametrize(("params", "expected"), EDGES, ids=[",".join(f"{k}={v}" for k, v in e[0].items()) for e in EDGES])
def test_resolved_edges_give_the_expected_number_or_error(params: dict[str, Any], expected: tuple, tmp_path: Path) -> None:
    canon = {ALIASES.get(k, k): v for k, v in params.items()}
    kind = expected[0]
    if kind == "error":
        with pytest.raises(RmtsynthError) as info:
            theory_for_points([resolve_point(canon, tmp_path, "params")])
        message = str(info.value)
        assert message.endswith(".") and "\n" not in message, message
        assert expected[1] in message, message
        return
    res = theory_for_points([resolve_point(canon, tmp_path, "params")])
    for name in ("accuracy", "mean", "variance", "delta_real", "delta_synth"):
        assert np.isfinite(res[name][0]), name
    acc = float(res["accuracy"][0])
    if kind == "half":
        assert acc == 0.5
    elif kind == "above":
        assert expected[1] < acc < 1.0
    else:
        want = synthetic_only(*expected[1])
        assert acc == pytest.approx(float(want["accuracy"]), abs=1e-9)
        assert float(res["mean"][0]) == pytest.approx(float(want["mean"]), rel=1e-8, abs=1e-12)
        assert float(res["variance"][0]) == pytest.approx(float(want["variance"]), rel=1e-8, abs=1e-12)


def test_label_noise_auto_without_verifier_gives_the_closed_form(tmp_path: Path) -> None:
    # label_noise: auto is the generator's own error rate, in (0, 1/2); with no verifier every
    # sample is kept (rho = phi = 1), so the synthetic-only closed form applies at that rate.
    params = {"n": 0, "m": 10, "p": 5, "label_noise": "auto", "verifier": "none"}
    point = resolve_point({ALIASES.get(k, k): v for k, v in params.items()}, tmp_path, "params")
    assert 0.0 < point.label_noise < 0.5
    acc = float(theory_for_points([point])["accuracy"][0])
    want = float(synthetic_only(5, 10, 1.0, point.label_noise, 1.0, 1.0, 1.0)["accuracy"])
    assert acc == pytest.approx(want, abs=1e-9)
    assert acc > 0.5
