"""The command line end to end: the theory command, where outputs go, determinism, Ctrl-C.

Most runs are in-process (typer's CliRunner) with tiny configs; real subprocesses are used only
for what needs them: several worker processes, and a real SIGINT.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from rmtsynth.figures import style as plotting
from rmtsynth.io.atomic import atomic_group
from clitools import RMTSYNTH, assert_clean_error, default_sigint_in_child, invoke, kill_process_group, snapshot


TINY = """\
title: tiny
seed: 3
params:
  n: 0
  p: 12
  rho: 0.3
  phi: 0.8
  label_noise: [0.0, 0.4, 0.8]
  p_over_m: [1, 0.25]
x: {param: label_noise}
series: {param: p_over_m}
simulation:
  seeds: 6
"""

OUTPUTS = {"tiny.csv", "tiny.json", "tiny.pdf", "tiny.png"}


pytestmark = pytest.mark.usefixtures("isolated")


def config(tmp_path: Path, text: str = TINY) -> Path:
    path = tmp_path / "cfg" / "tiny.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def subprocess_env(cache: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("RMTSYNTH_CACHE_DIR", None)
    if cache is not None:
        env["RMTSYNTH_CACHE_DIR"] = str(cache)
    return env


# ----------------------------------------------------------------------------- theory


def test_theory_json_is_valid_and_consistent() -> None:
    result = invoke("theory", "--n", 0, "--m", 200, "--p", 50, "--label-noise", 0.2, "--rho", 0.3, "--phi", 0.8, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert 0.5 < out["accuracy"] < 1
    assert out["eps_star"] == pytest.approx(0.8 / 1.1)
    assert out["alpha"] == pytest.approx(0.8 * 0.8 + 0.3 * 0.2)
    # rho = phi = 0 keeps nothing: eps* is undefined (null), the accuracy exactly 1/2.
    result = invoke("theory", "--n", 0, "--m", 10, "--p", 5, "--rho", 0, "--phi", 0, "--json")
    out = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert out["eps_star"] is None and out["accuracy"] == 0.5


def test_theory_table_and_precision_recall() -> None:
    result = invoke("theory", "--n", 50, "--m", 100, "--p", 20, "--label-noise", 0.3, "--precision", 0.9, "--recall", 0.7)
    assert result.exit_code == 0, result.output
    table = dict(line.split(None, 1) for line in result.stdout.strip().splitlines() if len(line.split(None, 1)) == 2)
    assert float(table["verifier_precision"]) == pytest.approx(0.9)
    assert float(table["phi"]) == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("--label-noise", 1.5), ("--label-noise = 1.5", "[0, 1]")),
        (("--label-noise", -0.1), ("--label-noise", "[0, 1]")),
        (("--label-noise", "nan"), ("--label-noise", "[0, 1]")),
        (("--label-noise", "often"), ("--label-noise = 'often'", "[0, 1]")),
        (("--gamma", 0), ("--gamma = 0", "[1e-08, 1e+12]")),
        (("--gamma", "inf"), ("--gamma", "[1e-08, 1e+12]")),
        (("--p", 0), ("--p = 0", "[1, 100000]")),
        (("--p", 200000), ("--p = 200000", "[1, 100000]")),
        (("--n", -1), ("--n = -1", "[0, 1e+12]")),
        (("--m", -5), ("--m = -5", "[0, 1e+12]")),
        (("--mu-norm", -1), ("--mu-norm = -1", "[0, 1e+06]")),
        (("--rho", 1.5, "--phi", 0.5), ("--rho = 1.5", "[0, 1]")),
        (("--rho", 0.5), ("--rho and --phi",)),
        (("--precision", 0.5), ("--precision and --recall",)),
        (("--rho", 0.2, "--phi", 0.5, "--precision", 0.9, "--recall", 0.5), ("verifier is given twice",)),
        (("--precision", 0.1, "--recall", 0.9, "--label-noise", 0.5), ("--precision = 0.1", "--recall = 0.9", "0.473684")),
        (("--precision", 0.9, "--recall", 0.9, "--label-noise", 0), ("--precision = 0.9", "--label-noise = 0")),
        (("--generator-shift", -1), ("--generator-shift = -1", "[0, 1e+06]")),
        (("--generator-cov", "scaled:-1"), ("--generator-cov", "scaled:")),
        (("--generator-cov", "weird"), ("--generator-cov = 'weird'",)),
        (("--sampler", "fast"), ("--sampler = 'fast'", "exact or naive")),
        (("--convention", "paper"), ("--convention = 'paper'", "exact or reference")),
        (("--simulate", -1), ("--simulate = -1", ">= 0")),
        (("--seed", -1), ("--seed = -1", ">= 0")),
        (("--n", 0, "--m", 0), ("--n", "--m", "at least 1")),
    ],
)
def test_theory_bad_option_is_one_sentence(args: tuple, needles: tuple[str, ...]) -> None:
    base = {"--n": 10, "--m": 20, "--p": 5}
    for key, value in zip(args[::2], args[1::2]):
        base[key] = value
    flat = [x for kv in base.items() for x in kv]
    assert_clean_error(invoke("theory", *flat), *needles)


def test_theory_unparsable_option_exits_2() -> None:
    result = invoke("theory", "--n", 0, "--m", "many", "--p", 5)
    assert result.exit_code == 2 and "--m" in result.output and "Traceback" not in result.output


# ----------------------------------------------------------------------------- sweep


def test_sweep_writes_only_its_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    path = config(tmp_path)
    before = snapshot(tmp_path)
    result = invoke("sweep", path, "--out", tmp_path / "out", "--workers", 1, "-q")
    assert result.exit_code == 0, result.output
    after = snapshot(tmp_path)
    new = set(after) - set(before)
    assert {f for f in new if not f.startswith("cache/")} == {f"out/{name}" for name in OUTPUTS}
    assert any(f.startswith("cache/") for f in new)
    assert not list(work.iterdir()) and not list(home.iterdir())
    assert not [f for f in new if Path(f).name.startswith(".")]  # no temporary files left
    manifest = json.loads(after["out/tiny.json"])
    assert manifest["seed"] == 3 and manifest["points"] == 6
    assert manifest["resolved_parameters"]["n"] == 0 and manifest["resolved_parameters"]["x"] == [0.0, 0.4, 0.8]
    csv = after["out/tiny.csv"].decode().splitlines()
    assert len(csv) == 7 and csv[0].startswith("figure,panel,series,x,n,m,p")
    assert (tmp_path / "out" / "tiny.csv").stat().st_mode & 0o044  # not private: mkstemp's 0600 is widened


def test_set_override_reaches_the_outputs(tmp_path: Path) -> None:
    path = config(tmp_path)
    result = invoke("sweep", path, "-o", tmp_path / "out", "--no-sim", "--set", "gamma=1e-2", "--set", "name=renamed", "-q")
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"renamed.csv", "renamed.json", "renamed.pdf", "renamed.png"}
    header, *rows = (tmp_path / "out" / "renamed.csv").read_text().splitlines()
    gamma = header.split(",").index("gamma")
    assert {row.split(",")[gamma] for row in rows} == {"0.01"}


def test_csv_is_byte_identical_across_runs_and_cache(tmp_path: Path) -> None:
    path = config(tmp_path)
    outs = []
    for i, extra in enumerate([(), (), ("--no-cache",), ("--seeds", 3), ()]):
        out = tmp_path / f"out{i}"
        result = invoke("sweep", path, "-o", out, "--workers", 1, "-q", *extra)
        assert result.exit_code == 0, result.output
        outs.append(out)
    first = snapshot(outs[0])
    for out in (outs[1], outs[2], outs[4]):
        same = snapshot(out)
        for name in ("tiny.csv", "tiny.pdf", "tiny.png"):
            assert same[name] == first[name], (out, name)
    # Fewer seeds read a prefix of the cached replicates; the full run after it is unchanged.
    assert snapshot(outs[3])["tiny.csv"] != first["tiny.csv"]
    assert json.loads(snapshot(outs[1])["tiny.json"])["run"]["cache_hits"] == 6


def test_interrupt_while_writing_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(plotting, "save_figure", interrupted)
    result = invoke("sweep", config(tmp_path), "-o", tmp_path / "out", "--workers", 1, "-q")
    assert result.exit_code == 130
    assert "Traceback" not in result.output
    out = tmp_path / "out"
    assert not out.exists() or not list(out.iterdir())
    # The simulated points were cached before the interrupt.
    assert list((tmp_path / "cache").rglob("*.npz"))


@pytest.mark.usefixtures("sigint_raises_keyboard_interrupt")
def test_output_files_are_published_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    targets = [tmp_path / f"f.{ext}" for ext in ("csv", "pdf", "json")]
    # A failure while writing leaves none of the files and no temporary file.
    with pytest.raises(RuntimeError):
        with atomic_group(targets) as tmps:
            tmps[0].write_text("a")
            raise RuntimeError
    assert list(tmp_path.iterdir()) == []
    # Ctrl-C during the renames is held back until every file is in place, then delivered.
    real_replace = os.replace
    calls = []

    def replace_then_interrupt(src, dst):
        calls.append(dst)
        if len(calls) == 1:
            signal.raise_signal(signal.SIGINT)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_then_interrupt)
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with atomic_group(targets) as tmps:
            for tmp in tmps:
                tmp.write_text("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.csv", "f.json", "f.pdf"]
    assert signal.getsignal(signal.SIGINT) is handler


def test_workers_do_not_change_the_csv(tmp_path: Path) -> None:
    path = config(tmp_path)
    result = invoke("sweep", path, "-o", tmp_path / "one", "--workers", 1, "--no-cache", "-q")
    assert result.exit_code == 0, result.output
    proc = subprocess.run(
        [str(RMTSYNTH), "sweep", str(path), "-o", str(tmp_path / "two"), "--workers", "2", "--no-cache", "-q"],
        env=subprocess_env(None),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "one" / "tiny.csv").read_bytes() == (tmp_path / "two" / "tiny.csv").read_bytes()


LONG = """\
name: long
title: long
seed: 11
params:
  n: 0
  p: 30
  rho: 0.3
  phi: 0.8
  label_noise: [0.1, 0.3, 0.5, 0.7, 0.9]
  p_over_m: [1, 0.5]
x: {param: label_noise}
series: {param: p_over_m}
simulation:
  seeds: 2
"""


def _worker_pids(cache: Path) -> list[int]:
    """Processes still alive that were started with this test's cache directory."""
    marker = f"RMTSYNTH_CACHE_DIR={cache}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_sigint_exits_130_keeps_cache_and_resumes_identically(tmp_path: Path) -> None:
    path = config(tmp_path, LONG)
    cache = tmp_path / "cache"
    out = tmp_path / "out"
    # Enough seeds that the run is still simulating when two points are cached.
    cmd = [str(RMTSYNTH), "sweep", str(path), "-o", str(out), "--workers", "2", "--set", "simulation.seeds=400", "-q"]
    proc = subprocess.Popen(
        cmd, env=subprocess_env(cache), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=default_sigint_in_child,
    )
    try:
        give_up = time.monotonic() + 300
        while len(list(cache.rglob("*.npz"))) < 2 and proc.poll() is None and time.monotonic() < give_up:
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep finished before it could be interrupted"
        cached_at_signal = len(list(cache.rglob("*.npz")))
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        _, err = proc.communicate(timeout=60)
    finally:
        kill_process_group(proc)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    assert not out.exists() or not list(out.iterdir())  # no partial CSV/JSON/PDF/PNG, no temp files
    entries = list(cache.rglob("*"))
    assert not [e for e in entries if e.name.startswith(".")]  # no half-written cache entry
    cached = len([e for e in entries if e.suffix == ".npz"])
    assert 2 <= cached_at_signal <= cached < 10
    deadline = time.monotonic() + 30
    while _worker_pids(cache) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _worker_pids(cache), "worker processes outlived the interrupt"

    resumed = subprocess.run(cmd, env=subprocess_env(cache), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "long.json").read_text())["run"]["cache_hits"] >= cached
    # An uninterrupted run in this process, with one worker and no cache, gives the same bytes.
    result = invoke("sweep", path, "-o", tmp_path / "ref", "--workers", 1, "--no-cache", "-q", "--set", "simulation.seeds=400")
    assert result.exit_code == 0, result.output
    assert (out / "long.csv").read_bytes() == (tmp_path / "ref" / "long.csv").read_bytes()
    header, *rows = (out / "long.csv").read_text().splitlines()
    col = header.split(",").index("sim_seeds")
    assert {row.split(",")[col] for row in rows} == {"400"}
