"""The Dask executor: same bytes as the local pool, the cache, error messages, the missing extra."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rmtsynth.engine import executors
from rmtsynth.cli import app
from rmtsynth.errors import ConfigError, ConvergenceError, ParameterError, RmtsynthError
from rmtsynth.engine.executors import PointError, TaskError, plan_batches
from rmtsynth.config.resolve import resolve_point
from rmtsynth.engine.sweep import SweepOptions, run_simulations

try:
    import distributed  # noqa: F401

    HAVE_DASK = True
except ImportError:
    HAVE_DASK = False

needs_dask = pytest.mark.skipif(not HAVE_DASK, reason="dask.distributed is not installed (pip install 'rmtsynth[dask]')")

CONFIG = """\
title: tiny
seed: 5
params:
  n: 200
  mu_norm: 1.0
  gamma: 1.0
  rho: 0.2
  phi: 0.9
  label_noise: 0.2
  m_over_n: {linspace: [0.5, 3, 5]}
  p: [30, 60]
x: {param: m_over_n, label: "m/n"}
series: {param: p, label: "p = {value}"}
panels:
  - {title: "a"}
simulation:
  seeds: 5
"""


@pytest.fixture(scope="module")
def scheduler() -> str:
    """The address of one two-worker LocalCluster shared by the module's tests."""
    if not HAVE_DASK:
        pytest.skip("dask.distributed is not installed (pip install 'rmtsynth[dask]')")
    import distributed

    cluster = executors._local_cluster(distributed, 2)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(CONFIG)
    return path


def sweep(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["sweep", "--quiet", *args])
    return result.exit_code, result.stderr


def point(**changes: object):
    params = dict(n=100, m=100, p=20, rho=0.2, phi=0.9, label_noise=0.2, gamma=1.0, mu_norm=1.0)
    return resolve_point({**params, **changes}, Path.cwd(), "test", seed=0)


def simulate(points: list, options: SweepOptions, labels: list[str] | None = None):
    return run_simulations(
        [(pt.generator, pt) for pt in points],
        root_seed=3,
        replicates=4,
        sampler="exact",
        test_size=None,
        options=options,
        labels=labels,
    )


@needs_dask
def test_csv_is_byte_identical_to_local(scheduler: str, config: Path, tmp_path: Path) -> None:
    code, err = sweep(str(config), "-o", str(tmp_path / "local"), "--no-cache", "--workers", "2")
    assert code == 0, err
    expected = (tmp_path / "local" / "tiny.csv").read_bytes()
    code, err = sweep(
        str(config), "-o", str(tmp_path / "dask"), "--cache-dir", str(tmp_path / "cache"),
        "--executor", "dask", "--scheduler", scheduler,
    )
    assert code == 0, err
    assert (tmp_path / "dask" / "tiny.csv").read_bytes() == expected
    # Served from the cache this time: still the same bytes.
    code, err = sweep(
        str(config), "-o", str(tmp_path / "again"), "--cache-dir", str(tmp_path / "cache"),
        "--executor", "dask", "--scheduler", scheduler,
    )
    assert code == 0, err
    assert (tmp_path / "again" / "tiny.csv").read_bytes() == expected


CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@needs_dask
@pytest.mark.parametrize("name", ["predict_digits", "fig6_real_data"])
def test_real_data_kinds_are_byte_identical_to_local(
    name: str, scheduler: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("sklearn")
    config = str(CONFIGS / f"{name}.yaml")
    code, err = sweep(config, "--quick", "-o", str(tmp_path / "local"), "--no-cache", "--workers", "1")
    assert code == 0, err
    expected = (tmp_path / "local" / f"{name}.csv").read_bytes()

    made: list[str] = []
    make_executor = executors.make_executor

    def recording(name: str, *args: object, **kwargs: object) -> executors.Executor:
        made.append(name)
        return make_executor(name, *args, **kwargs)

    monkeypatch.setattr(executors, "make_executor", recording)
    dask_run = ["--quick", "--cache-dir", str(tmp_path / "cache"), "--executor", "dask", "--scheduler", scheduler]
    code, err = sweep(config, "-o", str(tmp_path / "dask"), *dask_run)
    assert code == 0, err
    assert made == ["dask"]
    assert (tmp_path / "dask" / f"{name}.csv").read_bytes() == expected
    # Served from the cache: the same bytes, and no executor made.
    code, err = sweep(config, "-o", str(tmp_path / "again"), *dask_run)
    assert code == 0, err
    assert made == ["dask"]
    assert (tmp_path / "again" / f"{name}.csv").read_bytes() == expected


@needs_dask
def test_own_local_cluster_without_cache(config: Path, tmp_path: Path) -> None:
    code, err = sweep(str(config), "-o", str(tmp_path / "local"), "--no-cache", "--workers", "1")
    assert code == 0, err
    # No --scheduler: the sweep starts (and stops) a LocalCluster of --workers processes.
    code, err = sweep(str(config), "-o", str(tmp_path / "dask"), "--no-cache", "--workers", "2", "--executor", "dask")
    assert code == 0, err
    assert (tmp_path / "dask" / "tiny.csv").read_bytes() == (tmp_path / "local" / "tiny.csv").read_bytes()


@needs_dask
def test_local_cluster_workers_use_one_blas_thread(scheduler: str) -> None:
    import distributed

    with distributed.Client(scheduler, set_as_default=False) as client:
        envs = client.run(lambda: {k: os.environ.get(k) for k in executors.BLAS_ENV})
        threads = client.nthreads()
    assert len(envs) == 2
    assert all(env == {k: "1" for k in executors.BLAS_ENV} for env in envs.values())
    assert set(threads.values()) == {1}


@needs_dask
def test_rerun_submits_only_what_is_missing(scheduler: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    options = SweepOptions(workers=2, cache_dir=tmp_path / "cache", progress=False, executor="dask", scheduler=scheduler)
    points = [point(m=m) for m in (50, 100, 150, 200)]
    first, info = simulate(points, options)
    assert info["tasks"] > 0 and info["cache_hits"] == 0

    # Everything cached: nothing submitted, and no executor (no cluster) even made.
    def no_executor(*args: object, **kwargs: object) -> None:
        raise AssertionError("an executor was made with nothing to run")

    monkeypatch.setattr(executors, "make_executor", no_executor)
    again, info = simulate(points, options)
    assert info["tasks"] == 0 and info["cache_hits"] == len(points)
    assert all((a["accuracy"] == b["accuracy"]).all() for a, b in zip(first, again))
    monkeypatch.undo()

    # A point lost (say its worker died before it was stored): only that one is submitted.
    entries = sorted((tmp_path / "cache").rglob("*.npz"))
    assert len(entries) == len(points)
    entries[0].unlink()
    third, info = simulate(points, options)
    assert info["cache_hits"] == len(points) - 1
    assert info["tasks"] >= 1
    assert all((a["accuracy"] == b["accuracy"]).all() for a, b in zip(first, third))


@needs_dask
def test_bad_input_names_the_point(scheduler: str) -> None:
    options = SweepOptions(workers=2, cache_dir=None, progress=False, executor="dask", scheduler=scheduler)
    bad = point().replace(n=0, m=0)  # passes no validation: the simulation itself refuses it
    with pytest.raises(PointError, match=r"At panel 'b', x = 7 \(n = 0, m = 0, p = 20, .*replicates \d to \d: .*n \+ m > 0") as exc:
        simulate([point(), bad], options, labels=["At panel 'a', x = 1", "At panel 'b', x = 7"])
    assert isinstance(exc.value, RmtsynthError) and "\n" not in str(exc.value)


def test_bad_input_names_the_point_locally() -> None:
    options = SweepOptions(workers=1, cache_dir=None, progress=False)
    bad = point().replace(n=0, m=0)
    with pytest.raises(PointError, match=r"At the point n = 0, m = 0, p = 20"):
        simulate([bad], options)


@needs_dask
def test_unexpected_error_is_one_line_naming_the_point(scheduler: str) -> None:
    options = SweepOptions(workers=2, cache_dir=None, progress=False, executor="dask", scheduler=scheduler)
    broken = point().replace(covariance="bogus")  # a bug-like failure (a built-in error), not an input error
    with pytest.raises(TaskError, match=r"At the point n = 100, .*covariance = bogus.*failed unexpectedly: \w+Error: ") as exc:
        simulate([broken], options)
    assert "\n" not in str(exc.value) and not exc.value.is_input_error
    assert exc.value.traceback_text.startswith("Traceback") and "in simulate_task" in exc.value.traceback_text


@pytest.mark.parametrize("error", [RuntimeError("boom"), ValueError("boom"), np.linalg.LinAlgError("boom")],
                         ids=["RuntimeError", "ValueError", "LinAlgError"])
def test_unexpected_error_exits_1(error: Exception, config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A ValueError or LinAlgError from the code is a defect like any other, not bad input (exit 2).
    import rmtsynth.engine.sweep

    def boom(task: tuple) -> None:
        raise error

    monkeypatch.setattr(rmtsynth.engine.sweep, "simulate_task", boom)
    code, err = sweep(str(config), "-o", str(tmp_path / "out"), "--no-cache", "--workers", "1")
    assert code == 1
    assert err.count("\n") == 1 and "At panel 'a', series 'p = 30', m_over_n = 0.5 (n = 200" in err
    assert f"{type(error).__name__}: boom" in err and "Traceback" not in err


# ------------------------------------------------------------------- errors classified by type


def fail_with(kind: str) -> str:
    """A task that succeeds on "ok" and otherwise raises; module-level so a spawned worker can run it."""
    if kind == "ValueError":
        raise ValueError("an internal shape mismatch")
    if kind == "LinAlgError":
        np.linalg.inv(np.zeros((2, 2)))
    if kind == "MemoryError":
        raise MemoryError("out of memory")
    if kind == "ParameterError":
        raise ParameterError("gamma = 0 is outside its domain; it must be > 0.")
    if kind == "ConvergenceError":
        raise ConvergenceError("the fixed point did not converge at point 0.")
    return kind


def _describe(index: int) -> str:
    return f"At the point number {index}"


@pytest.mark.parametrize(
    ("kind", "workers"),
    [("ValueError", 1), ("LinAlgError", 1), ("MemoryError", 1), ("ValueError", 2)],
)
def test_a_defect_in_a_task_is_a_task_error_naming_the_point(kind: str, workers: int) -> None:
    with pytest.raises(TaskError) as info:
        executors.LocalExecutor(workers).run(fail_with, ["ok", kind, "ok"], describe=_describe, progress=False)
    err = info.value
    assert not isinstance(err, RmtsynthError) and not err.is_input_error and not executors.is_input_error(err)
    message = str(err)
    assert message.startswith("At the point number 1: the simulation failed unexpectedly: ") and "\n" not in message
    assert message.endswith(".") and f"{kind}: " in message
    assert err.point == "At the point number 1" and err.cause.startswith(f"{kind}: ")
    # The worker's traceback is kept for a debugging display, not shown in the sentence.
    assert err.traceback_text.startswith("Traceback") and "in fail_with" in err.traceback_text
    assert "Traceback" not in message


@pytest.mark.parametrize("kind", ["ParameterError", "ConvergenceError"])
def test_an_input_error_in_a_task_is_a_point_error(kind: str) -> None:
    with pytest.raises(PointError) as info:
        executors.LocalExecutor(1).run(fail_with, ["ok", kind], describe=_describe, progress=False)
    err = info.value
    assert isinstance(err, RmtsynthError) and err.is_input_error and executors.is_input_error(err)
    assert str(err).startswith("At the point number 1: the simulation failed: ") and "\n" not in str(err)
    assert err.point == "At the point number 1"


def test_input_errors_are_the_projects_own_classes() -> None:
    assert executors.INPUT_ERRORS == (RmtsynthError,)
    for builtin in (ValueError("x"), ArithmeticError("x"), ZeroDivisionError("x"), MemoryError(), np.linalg.LinAlgError("x")):
        assert not executors.is_input_error(builtin), builtin
    for own in (ParameterError("x"), ConvergenceError("x"), ConfigError("x"), RmtsynthError("x")):
        assert executors.is_input_error(own), own
    # Numerical callers can still catch them by the built-in class.
    assert isinstance(ParameterError("x"), ValueError) and isinstance(ConvergenceError("x"), ArithmeticError)


def test_task_errors_survive_pickling() -> None:
    import pickle

    err = TaskError.unexpected("At the point n = 1", "ValueError: bad (at x.py:3)", "Traceback (most recent call last):\n")
    copy = pickle.loads(pickle.dumps(err))
    assert (str(copy), copy.point, copy.cause, copy.traceback_text) == (str(err), err.point, err.cause, err.traceback_text)
    point_error = pickle.loads(pickle.dumps(PointError("At the point n = 1", "n + m must be > 0.")))
    assert str(point_error) == "At the point n = 1: the simulation failed: n + m must be > 0."


def test_missing_extra_says_how_to_install(config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    code, err = sweep(str(config), "-o", str(tmp_path / "out"), "--executor", "dask")
    assert code == 2
    assert err.count("\n") == 1 and "pip install 'rmtsynth[dask]'" in err
    assert not (tmp_path / "out").exists()


def test_executor_options_are_checked(config: Path, tmp_path: Path) -> None:
    code, err = sweep(str(config), "-o", str(tmp_path / "out"), "--executor", "ray")
    assert code == 2 and "must be local or dask" in err
    code, err = sweep(str(config), "-o", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:1")
    assert code == 2 and "--scheduler goes with --executor dask" in err


@needs_dask
def test_unreachable_scheduler_is_one_line(config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executors, "DASK_CONNECT_TIMEOUT", "1s")
    code, err = sweep(str(config), "-o", str(tmp_path / "out"), "--no-cache", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9")
    assert code == 2 and err.count("\n") == 1 and "could not connect" in err


def test_batches_group_small_tasks_and_keep_order() -> None:
    batches = plan_batches([0.01] * 200, slots=2)
    assert [i for b in batches for i in b] == list(range(200))
    assert 5 <= len(batches) <= 12  # about 0.2 s each, not one task per point
    # Long tasks are never merged; mid-size ones fill about a second each.
    assert plan_batches([5.0] * 4, slots=2) == [[0], [1], [2], [3]]
    assert all(len(b) <= 4 for b in plan_batches([0.3] * 40, slots=2))


@needs_dask
def test_the_advisor_on_a_dask_cluster_gives_the_local_table(scheduler):
    import rmtsynth

    rng = np.random.default_rng(3)
    y = np.repeat(["a", "b"], 20)
    X = rng.normal(size=(40, 6)) + (y == "b")[:, None]
    pool_y = np.repeat(["a", "b"], 60)
    pool = rng.normal(size=(120, 6)) + (pool_y == "b")[:, None]
    scores = rng.random(120)
    args = dict(scores=scores, m_values=[60, 120], learner=["ridge", "logistic"])
    local = rmtsynth.advise(X, y, pool, pool_y, **args)
    remote = rmtsynth.advise(X, y, pool, pool_y, executor="dask", scheduler=scheduler, **args)
    assert remote.table.rows == local.table.rows
    assert remote.recommendation == local.recommendation
