"""What a user out to break the tool tries: each class of abuse ends in one sentence and exit 2
(or a clean exit), never in lost files, a hang, a traceback or a wrong number."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clitools import RMTSYNTH, assert_clean_error, default_sigint_in_child, invoke, kill_process_group, snapshot, write_file


TINY = """\
title: tiny
seed: 3
params:
  n: 10
  m: 20
  p: 8
  rho: 0.3
  phi: 0.8
  label_noise: [0.1, 0.3]
x: {param: label_noise}
simulation:
  seeds: 3
"""


pytestmark = pytest.mark.usefixtures("isolated")


# ----------------------------------------------------------------------------- data loss


def test_outputs_never_replace_an_input_of_the_run(tmp_path: Path) -> None:
    # A config whose outputs would be named like its own data file, swept into its own folder.
    folder = tmp_path / "work"
    rows = ["a,b,label"] + [f"{i % 3},{(i * 7) % 5},{i % 2}" for i in range(40)]
    data = write_file(folder / "mydata.csv", "\n".join(rows) + "\n")
    cfg = write_file(
        folder / "mydata.yaml",
        "kind: real_data\nname: mydata\nseed: 1\ndata: {path: mydata.csv, label_column: label}\n"
        "params: {n: 10, gamma: 0.1, label_noise: 0.2, m: [0, 10]}\nx: m\n"
        "series: [{label: oracle, params: {verifier: oracle}}]\nsimulation: {seeds: 2}\n",
    )
    before = snapshot(folder)
    result = invoke("sweep", cfg, "--out", folder, "-q", "--workers", 1)
    assert_clean_error(result, "mydata.csv", "reads")
    assert snapshot(folder) == before
    assert data.read_bytes() == before["mydata.csv"]


def test_outputs_never_replace_a_file_rmtsynth_did_not_write(tmp_path: Path) -> None:
    cfg = write_file(tmp_path / "tiny.yaml", TINY)
    out = tmp_path / "out"
    write_file(out / "tiny.pdf", "my thesis draft")
    result = invoke("sweep", cfg, "--out", out, "-q", "--workers", 1)
    assert_clean_error(result, "tiny.pdf", "not written by rmtsynth")
    assert snapshot(out) == {"tiny.pdf": b"my thesis draft"}


def test_a_target_that_cannot_be_written_leaves_the_previous_outputs_whole(tmp_path: Path) -> None:
    cfg = write_file(tmp_path / "tiny.yaml", TINY)
    out = tmp_path / "out"
    assert invoke("sweep", cfg, "--out", out, "-q", "--workers", 1).exit_code == 0
    (out / "tiny.png").unlink()
    (out / "tiny.png").mkdir()  # a directory where the PNG should go
    before = snapshot(out)
    result = invoke("sweep", cfg, "--out", out, "-q", "--workers", 1, "--set", "seed=4")
    assert_clean_error(result, "tiny.png", "not a regular file")
    assert snapshot(out) == before  # CSV, PDF and manifest are the old ones, all of them


def test_a_previous_output_is_replaced(tmp_path: Path) -> None:
    cfg = write_file(tmp_path / "tiny.yaml", TINY)
    out = tmp_path / "out"
    assert invoke("sweep", cfg, "--out", out, "-q", "--workers", 1).exit_code == 0
    first = (out / "tiny.csv").read_bytes()
    assert invoke("sweep", cfg, "--out", out, "-q", "--workers", 1, "--set", "seed=5").exit_code == 0
    assert (out / "tiny.csv").read_bytes() != first


# ----------------------------------------------------------------------------- runaway sizes


def test_theory_simulate_refuses_a_replicate_that_does_not_fit_in_memory() -> None:
    result = invoke("theory", "--n", 10, "--m", 10, "--p", 20000, "--simulate", 2)
    assert_clean_error(result, "p = 20000", "GiB", "limit")


def test_a_npz_whose_header_claims_a_huge_array_is_refused_before_allocating(tmp_path: Path) -> None:
    import io

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**11, 400)})
    small = io.BytesIO()
    np.save(small, np.zeros(4))
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:
        archive.writestr("X.npy", header.getvalue() + np.zeros(8).tobytes())
        archive.writestr("y.npy", small.getvalue())
    cfg = write_file(
        tmp_path / "huge.yaml",
        "kind: real_data\nseed: 1\ndata: {path: huge.npz}\nparams: {n: 10, gamma: 0.1, label_noise: 0.2, m: [0, 10]}\n"
        "x: m\nseries: [{label: oracle, params: {verifier: oracle}}]\n",
    )
    result = invoke("sweep", cfg, "--out", tmp_path / "out", "-q", "--workers", 1)
    assert_clean_error(result, "huge.npz", "header claims")


# ----------------------------------------------------------------------------- tracebacks


def test_bad_mathtext_is_found_by_validate_before_any_computing(tmp_path: Path) -> None:
    cfg = write_file(tmp_path / "tiny.yaml", TINY.replace("title: tiny", 'title: "$\\\\frac{$"'))
    assert_clean_error(invoke("validate", cfg), "title", "typeset")
    result = invoke("sweep", cfg, "--out", tmp_path / "out", "-q", "--workers", 1)
    assert_clean_error(result, "title", "typeset")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert not (tmp_path / "cache").exists()  # nothing was computed


def test_a_corrupt_cache_entry_is_recomputed(tmp_path: Path) -> None:
    cfg = write_file(tmp_path / "tiny.yaml", TINY)
    assert invoke("sweep", cfg, "--out", tmp_path / "a", "-q", "--workers", 1).exit_code == 0
    entries = sorted((tmp_path / "cache").rglob("*.npz"))
    assert entries
    entries[0].write_bytes(entries[0].read_bytes()[:40])  # truncated
    with np.load(entries[1]) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["accuracy"] = np.full_like(arrays["accuracy"], np.nan)  # readable, but wrong
    np.savez(entries[1], **arrays)
    result = invoke("sweep", cfg, "--out", tmp_path / "b", "-q", "--workers", 1)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a" / "tiny.csv").read_bytes() == (tmp_path / "b" / "tiny.csv").read_bytes()


def test_usage_errors_are_one_sentence_on_stderr() -> None:
    for args in (["sweep", "--bogus"], ["theory", "--n", "abc", "--m", "1", "--p", "2"], ["nosuch"]):
        proc = subprocess.run([str(RMTSYNTH), *args], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and lines[0].endswith("."), proc.stderr
        assert "Traceback" not in proc.stderr and not proc.stdout


def test_a_closed_pipe_is_not_an_error() -> None:
    shell = f"'{RMTSYNTH}' list | head -1; exit ${{PIPESTATUS[0]}}"
    proc = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 1 and not proc.stderr


def test_a_directory_given_as_a_config_is_named_as_a_directory(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    assert_clean_error(invoke("validate", tmp_path / "configs"), "is a directory")


# ----------------------------------------------------------------------------- wrong numbers


def test_a_covariance_file_that_is_not_a_covariance_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "minus_identity.npy", -np.eye(8))
    cfg = write_file(
        tmp_path / "tiny.yaml",
        TINY.replace("  phi: 0.8\n", "  phi: 0.8\n  covariance: file\n  covariance_file: minus_identity.npy\n"),
    )
    assert_clean_error(invoke("validate", cfg), "minus_identity.npy", "positive semi-definite")


def test_a_huge_covariance_spectrum_is_refused(tmp_path: Path) -> None:
    cfg = write_file(
        tmp_path / "tiny.yaml",
        TINY.replace("  phi: 0.8\n", "  phi: 0.8\n  covariance: diagonal\n  covariance_spectrum: {values: [1.0e160]}\n"),
    )
    assert_clean_error(invoke("validate", cfg), "covariance_spectrum", "eigenvalues")


@pytest.mark.parametrize(("precision", "needle"), [(1.0, "impossible at --label-noise = 1"), (0.0, "does not determine")])
def test_verifier_at_label_noise_one(precision: float, needle: str) -> None:
    result = invoke("theory", "--n", 10, "--m", 10, "--p", 5, "--label-noise", 1, "--precision", precision, "--recall", 0.5)
    assert_clean_error(result, needle)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(gamma=st.floats(min_value=1e-320, max_value=1e-6, allow_subnormal=True))
def test_tiny_gamma_is_the_ridgeless_limit_or_refused(gamma: float) -> None:
    result = invoke("theory", "--n", 200, "--m", 300, "--p", 100, "--mu-norm", 1.5, "--label-noise", 0.1, "--gamma", gamma, "--json")
    if result.exit_code == 2:
        assert_clean_error(result, "--gamma")
        return
    assert result.exit_code == 0, result.output
    accuracy = json.loads(result.stdout)["accuracy"]
    limit = json.loads(invoke("theory", "--n", 200, "--m", 300, "--p", 100, "--mu-norm", 1.5, "--label-noise", 0.1,
                              "--gamma", 1e-6, "--json").stdout)["accuracy"]
    assert abs(accuracy - limit) < 1e-3  # p < N: the ridgeless limit is finite and smooth


def test_manifests_are_strict_json(tmp_path: Path) -> None:
    cfg = write_file(tmp_path / "tiny.yaml", TINY)
    assert invoke("sweep", cfg, "--out", tmp_path / "out", "-q", "--workers", 1, "--no-sim").exit_code == 0

    def refuse(token: str) -> None:
        raise ValueError(token)

    json.loads((tmp_path / "out" / "tiny.json").read_text(), parse_constant=refuse)


# ----------------------------------------------------------------------------- interrupts


@pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="needs SIGTERM")
def test_sigterm_is_handled_like_an_interrupt(tmp_path: Path) -> None:
    cfg = write_file(tmp_path / "long.yaml", TINY.replace("seeds: 3", "seeds: 40000").replace("p: 8", "p: 150"))
    cache = tmp_path / "cache"
    out = tmp_path / "out"
    env = dict(os.environ, RMTSYNTH_CACHE_DIR=str(cache))
    proc = subprocess.Popen(
        [str(RMTSYNTH), "sweep", str(cfg), "-o", str(out), "--workers", "2", "-q"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=default_sigint_in_child,
    )
    try:
        time.sleep(3.0)
        assert proc.poll() is None, "the sweep finished before it could be terminated"
        proc.send_signal(signal.SIGTERM)  # what `kill PID` does
        _, err = proc.communicate(timeout=60)
    finally:
        kill_process_group(proc)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "terminated" in err
    assert not out.exists() or not list(out.iterdir())  # no outputs and no hidden temporary files


def test_a_verifier_that_keeps_nothing_is_not_reported_as_helping(tmp_path: Path) -> None:
    cfg = write_file(
        tmp_path / "plan" / "keeps_nothing.yaml",
        "params: {n: 200, p: 200, mu_norm: 1.0, label_noise: 0.3, gamma: 1.0, m_over_n: 2}\nverifier_roc: [[0, 0]]\n",
    )
    result = invoke("plan", cfg)
    assert result.exit_code == 0, result.output
    assert "keeps no synthetic row" in result.stdout and "normaliser" in result.stdout
    assert "Synthetic data help" not in result.stdout


def test_plan_at_label_noise_one_explains_the_verifier(tmp_path: Path) -> None:
    cfg = write_file(
        tmp_path / "plan" / "all_wrong.yaml",
        "params: {n: 200, p: 200, mu_norm: 1.0, label_noise: 1.0, gamma: 1.0, m_over_n: 2, rho: 0.5, phi: 0.5}\n",
    )
    result = invoke("plan", cfg, "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["min_verifier_precision_status"] == "all_labels_wrong"
    assert answer["accuracy_configured"] < answer["accuracy_real_only"]


# ----------------------------------------------------------------------------- schedulers


def _serve(handler) -> tuple[str, object]:
    import socketserver
    import threading

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"tcp://127.0.0.1:{server.server_address[1]}", server


def test_a_scheduler_that_never_answers_is_refused_in_seconds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    import socketserver

    from rmtsynth.engine import executors

    class Silent(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            time.sleep(5)

    class Http(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 99999999999\r\n\r\n")

    monkeypatch.setattr(executors, "SCHEDULER_PROBE_SECONDS", 1.0)
    cfg = write_file(tmp_path / "tiny.yaml", TINY)
    for handler, needle in ((Silent, "sent nothing"), (Http, "not a Dask scheduler")):
        address, server = _serve(handler)
        try:
            started = time.monotonic()
            result = invoke("sweep", cfg, "--out", tmp_path / "out", "-q", "--executor", "dask", "--scheduler", address)
            assert time.monotonic() - started < 30
            assert_clean_error(result, address, needle)
        finally:
            server.shutdown()
            server.server_close()
    for bad in ("nonsense", "tcp://host:99999", "tcp://:80"):
        assert_clean_error(invoke("sweep", cfg, "--executor", "dask", "--scheduler", bad), "not a scheduler address")
    assert not (tmp_path / "out").exists()


def test_an_axis_over_a_text_parameter_is_refused_before_any_work(tmp_path: Path) -> None:
    cfg = write_file(tmp_path / "text_axis.yaml", "params: {n: 10, m: 20, p: 8, covariance: [identity, scaled]}\nx: covariance\n")
    assert_clean_error(invoke("validate", cfg), "x.param = covariance", "series or the panels")


def test_a_csv_naming_a_column_twice_is_refused(tmp_path: Path) -> None:
    rows = ["a,label,label"] + [f"{i % 3},{i % 2},{i % 2}" for i in range(40)]
    write_file(tmp_path / "twice.csv", "\n".join(rows) + "\n")
    cfg = write_file(
        tmp_path / "twice.yaml",
        "kind: real_data\nseed: 1\ndata: {path: twice.csv, label_column: label}\n"
        "params: {n: 10, gamma: 0.1, label_noise: 0.2, m: [0, 10]}\nx: m\n"
        "series: [{label: oracle, params: {verifier: oracle}}]\n",
    )
    result = invoke("sweep", cfg, "--out", tmp_path / "out", "-q", "--workers", 1)
    assert_clean_error(result, "twice.csv", "more than once")


def test_the_api_refuses_a_grid_beyond_the_sweeps_cap_before_building_it() -> None:
    import rmtsynth
    from rmtsynth.errors import ConfigError
    from rmtsynth.config.schema import MAX_GRID_POINTS

    with pytest.raises(ConfigError, match=f"at most {MAX_GRID_POINTS}"):
        rmtsynth.predict(n=np.arange(1, MAX_GRID_POINTS + 2), m=10, p=5)
