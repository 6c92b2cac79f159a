"""The command line: a thin layer over the config, engine and runner modules.

Every user error (a bad option, a bad config, a solver that cannot converge) ends with one plain
sentence on stderr and exit code 2; a simulation that fails for another reason (a bug, a lost
cluster) ends with one sentence naming the point and exit code 1; an interrupt ends with exit
code 130. No tracebacks.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import re
import signal
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable, List, Optional

import numpy as np
import typer

from rmtsynth.core.learners import DEFAULT_LEARNER, LEARNERS
from rmtsynth.engine.executors import TaskError
from rmtsynth.errors import RmtsynthError

def _usage_errors() -> tuple[type[BaseException], ...]:
    # Typer raises the usage errors of the click it bundles (or of click itself, in older releases).
    found = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            found.append(__import__(module, fromlist=["UsageError"]).UsageError)
        except ImportError:
            continue
    return tuple(found)


_USAGE_ERRORS = _usage_errors()


app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Random-matrix theory and simulation of training on real data mixed with verified synthetic data.",
)


_DEBUG = {"on": False}


@app.callback()
def _options(
    debug: bool = typer.Option(
        False, "--debug", help="Show the traceback of an unexpected failure (also: RMTSYNTH_DEBUG=1)."
    ),
) -> None:
    _DEBUG["on"] = debug or os.environ.get("RMTSYNTH_DEBUG", "") not in ("", "0")
    _limit_blas_threads()


def _limit_blas_threads() -> None:
    """One BLAS thread in this process unless the user set a thread count.

    Parallel work comes from --workers; BLAS threads contending for the same cores slow the small
    matrix work of a sweep many times over. The limit is set at run time, not on import.
    """
    from rmtsynth.engine.parallel import BLAS_ENV

    if any(os.environ.get(v) for v in BLAS_ENV):
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a dependency; without it BLAS keeps its default
        return
    # A limit reaches only the libraries already loaded, and scipy ships a BLAS of its own.
    import scipy.linalg  # noqa: F401

    threadpool_limits(1)


def _fail(message: str, code: int = 2) -> None:
    # One line whatever the message quotes (a value with a newline, say).
    message = message.replace("\r", "\\r").replace("\n", "\\n")
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as an interrupt: no partial outputs, cache kept, exit 143."""


def _raise_terminated(_signum: int, _frame: Any) -> None:
    raise Terminated()


INTERRUPTED = {
    "sweep": "no output was written for the figure in progress; computed points are cached",
    "theory": "nothing was written",
    "plan": "nothing was written",
}


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user errors into one sentence and exit 2, other failures into one sentence and exit 1,
    Ctrl-C into exit 130 and SIGTERM into exit 143."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        previous = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _raise_terminated)
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                # Intermediate overflows in a sweep's far corners are expected and handled; the
                # user sees results or one sentence, not a flood of numerical warnings.
                warnings.simplefilter("ignore", RuntimeWarning)
                return fn(*args, **kwargs)
        except RmtsynthError as exc:
            _fail(str(exc))
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                _silence_stdout()  # the reader went away (`rmtsynth list | head -1`): not an error
                return None
            # A file or directory the user named cannot be used: say which, without a traceback.
            where = f"{exc.filename}: " if exc.filename else ""
            _fail(f"{where}{exc.strerror or exc}.")
        except TaskError as exc:
            # Not the user's input: a bug or a failing cluster; still one line, but exit 1.
            if _DEBUG["on"]:
                typer.echo(exc.traceback_text or traceback.format_exc(), err=True)
            _fail(str(exc), code=1)
        except KeyboardInterrupt as exc:
            what = INTERRUPTED.get(fn.__name__, "nothing was written")
            name = "terminated" if isinstance(exc, Terminated) else "interrupted"
            typer.echo(f"{name}: {what}.", err=True)
            raise typer.Exit(143 if isinstance(exc, Terminated) else 130)
        except (typer.Exit, typer.Abort, *_USAGE_ERRORS):
            raise
        except Exception as exc:  # a bug: one sentence, and the traceback on request
            if _DEBUG["on"]:
                traceback.print_exc()
            _fail(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", code=1)
        finally:
            signal.signal(signal.SIGTERM, previous)

    return wrapper


def _check_option(name: str, value: Any, param: str) -> Any:
    from rmtsynth.config.schema import PARAMS

    return PARAMS[param].check(value, name)


_OPTION_NAMES = {
    "verifier_precision": "--precision",
    "verifier_recall": "--recall",
    "label_noise": "--label-noise",
    "mu_norm": "--mu-norm",
    "generator_alignment": "--generator-alignment",
    "generator_shift": "--generator-shift",
}


def _as_options(message: str) -> str:
    """A resolution error, with the parameters named as the theory command's options."""
    return re.sub(r"\b(" + "|".join(_OPTION_NAMES) + r")\b", lambda mt: _OPTION_NAMES[mt.group(1)], message)


def _number_or_word(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def _parse_generator_cov(text: str) -> dict[str, Any]:
    kind, _, arg = text.partition(":")
    if kind == "identity" and not arg:
        return {"covariance": "identity"}
    try:
        if kind == "scaled" and arg:
            return {"covariance": "scaled", "covariance_scale": _check_option("--generator-cov scaled:S", float(arg), "covariance_scale")}
        if kind == "estimated" and arg:
            return {"covariance": "estimated", "n_hat": _check_option("--generator-cov estimated:NHAT", int(arg), "n_hat")}
    except ValueError:
        pass
    raise RmtsynthError(f"--generator-cov = '{text}' is not allowed; it must be identity, scaled:S (S > 0) or estimated:NHAT (an integer >= 1).")


@app.command()
@handle_errors
def theory(
    n: int = typer.Option(..., "--n", help="Real training samples (0 for synthetic only)."),
    m: int = typer.Option(..., "--m", help="Synthetic samples generated, before the verifier prunes them."),
    p: int = typer.Option(..., "--p", help="Dimension."),
    mu_norm: float = typer.Option(1.0, "--mu-norm", help="Norm of the real class mean."),
    label_noise: str = typer.Option("0", "--label-noise", help="Probability that a synthetic label is flipped, or 'auto'."),
    rho: Optional[float] = typer.Option(None, "--rho", help="Probability that the verifier keeps a wrong label."),
    phi: Optional[float] = typer.Option(None, "--phi", help="Probability that the verifier keeps a correct label."),
    precision: Optional[float] = typer.Option(None, "--precision", help="Verifier precision (instead of rho)."),
    recall: Optional[float] = typer.Option(None, "--recall", help="Verifier recall (instead of phi)."),
    gamma: float = typer.Option(1.0, "--gamma", help="Ridge regularisation (> 0)."),
    generator_alignment: float = typer.Option(1.0, "--generator-alignment", help="beta: mu_beta = beta mu + tau u."),
    generator_shift: float = typer.Option(0.0, "--generator-shift", help="tau: the generator's spurious mean."),
    generator_cov: str = typer.Option("identity", "--generator-cov", help="identity | scaled:S | estimated:NHAT"),
    simulate: int = typer.Option(0, "--simulate", help="Also simulate this many seeds (0: theory only)."),
    sampler: str = typer.Option("exact", "--sampler", help="exact (sufficient statistics) or naive (data matrices)."),
    seed: int = typer.Option(0, "--seed", help="Root seed of the simulation."),
    convention: str = typer.Option("exact", "--convention", help="exact, or the seed paper's reference convention."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    learner: str = typer.Option(DEFAULT_LEARNER, "--learner", help="A registered learner: " + ", ".join(LEARNERS) + "."),
) -> None:
    """Evaluate the theory at one point (and optionally simulate it)."""
    from rmtsynth.api import json_ready, predict_points, simulate_points
    from rmtsynth.config.resolve import resolve_point
    from rmtsynth.core.learners import get_learner

    params: dict[str, Any] = {
        "n": _check_option("--n", n, "n"),
        "m": _check_option("--m", m, "m"),
        "p": _check_option("--p", p, "p"),
        "mu_norm": _check_option("--mu-norm", mu_norm, "mu_norm"),
        "label_noise": _check_option("--label-noise", _number_or_word(label_noise), "label_noise"),
        "gamma": _check_option("--gamma", gamma, "gamma"),
        "generator_alignment": _check_option("--generator-alignment", generator_alignment, "generator_alignment"),
        "generator_shift": _check_option("--generator-shift", generator_shift, "generator_shift"),
        "learner": _check_option("--learner", learner, "learner"),
    }
    if simulate and sampler == "exact" and not get_learner(learner).quadratic:
        raise RmtsynthError(f"--sampler = exact draws sufficient statistics, which fit ridge only; "
                            f"--learner {learner} needs --sampler naive.")
    for opt, value, key in (("--rho", rho, "rho"), ("--phi", phi, "phi"), ("--precision", precision, "verifier_precision"), ("--recall", recall, "verifier_recall")):
        if value is not None:
            params[key] = _check_option(opt, value, key)
    if (rho is None) != (phi is None):
        raise RmtsynthError("--rho and --phi go together; give both (or --precision and --recall).")
    if (precision is None) != (recall is None):
        raise RmtsynthError("--precision and --recall go together; give both (or --rho and --phi).")
    if rho is None and precision is None:
        params["verifier"] = "none"
    params.update(_parse_generator_cov(generator_cov))
    if sampler not in ("exact", "naive"):
        raise RmtsynthError(f"--sampler = '{sampler}' is not allowed; it must be exact or naive.")
    if convention not in ("exact", "reference"):
        raise RmtsynthError(f"--convention = '{convention}' is not allowed; it must be exact or reference.")
    if simulate < 0:
        raise RmtsynthError(f"--simulate = {simulate} is out of range; it must be an integer >= 0.")
    if seed < 0:
        raise RmtsynthError(f"--seed = {seed} is out of range; it must be an integer >= 0.")
    if n + m == 0:
        raise RmtsynthError("--n = 0 and --m = 0 leave no training sample; --n + --m must be at least 1.")
    try:
        point = resolve_point(params, Path.cwd(), "The options", seed=seed)
    except RmtsynthError as exc:
        raise RmtsynthError(_as_options(str(exc))) from None
    out: dict[str, Any] = {k: v.item() for k, v in predict_points([point], seed=seed, convention=convention).items()}
    if learner != DEFAULT_LEARNER:
        out["learner"] = learner
    if simulate:
        sim = simulate_points([point], seeds=simulate, seed=seed, sampler=sampler, progress=sys.stderr.isatty())
        out["sim_accuracy_mean"] = float(sim["accuracy_mean"][0])
        out["sim_accuracy_se"] = float(sim["accuracy_se"][0])
        out["sim_seeds"] = int(sim["seeds"][0])
        out["sampler"] = sampler
    out = json_ready(out)  # JSON has no NaN: an undefined value (eps* with rho = phi = 0) is null
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    width = max(len(k) for k in out)
    for key, value in out.items():
        shown = "" if value is None else (f"{value:.6g}" if isinstance(value, float) else str(value))
        typer.echo(f"{key:<{width}}  {shown}")


def _number_list(text: Optional[str], option: str, whole: bool = False) -> Optional[list[float]]:
    """'a,b,c' as numbers ('-inf' and 'inf' allowed unless ``whole``)."""
    if text is None:
        return None
    values = []
    for part in (p.strip() for p in text.split(",")):
        try:
            value = float(part)
        except ValueError:
            raise RmtsynthError(f"{option} = {text!r} must be numbers separated by commas; {part!r} is not a number.") from None
        if whole and not (np.isfinite(value) and value.is_integer()):
            raise RmtsynthError(f"{option} = {text!r} must be whole numbers separated by commas; {part!r} is not.")
        values.append(value)
    return values


def _verifier_pair(text: str) -> tuple[float, float]:
    """'PRECISION,RECALL' as a pair of numbers."""
    values = _number_list(text, "--verifier")
    if len(values) != 2:
        raise RmtsynthError(f"--verifier = {text!r} must be two numbers, PRECISION,RECALL, for example 0.95,0.8.")
    return values[0], values[1]


def _names(values: List[str]) -> list[str]:
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


@app.command()
@handle_errors
def advise(
    real: Path = typer.Argument(..., help="The real rows (a CSV, NPZ or Parquet file with a label column), or a config with an advise: section."),
    pool: Optional[Path] = typer.Argument(None, help="The synthetic pool: the same feature columns, its generator's labels, a score column."),
    label_column: Optional[str] = typer.Option(None, "--label-column", help="The label column of both files (default: label, labels, y, target or class)."),
    score_column: Optional[str] = typer.Option(None, "--score-column", help="The pool's verifier score column (higher keeps)."),
    drop_columns: List[str] = typer.Option([], "--drop-columns", help="Columns that are not features (comma-separated, repeatable)."),
    feature_columns: List[str] = typer.Option([], "--feature-columns", help="The feature columns (default: every other column)."),
    learner: List[str] = typer.Option([], "--learner", help="A registered learner (repeatable: compare them): " + ", ".join(LEARNERS)
                                     + f"; {DEFAULT_LEARNER} by default."),
    thresholds: Optional[str] = typer.Option(None, "--thresholds", help="Score thresholds, e.g. '-inf,0.5,0.9' (default: keep-all and score quantiles)."),
    m_values: Optional[str] = typer.Option(None, "--m", help="Rows drawn from the pool before the verifier, e.g. '100,400,800' (default: up to the pool)."),
    draws: Optional[int] = typer.Option(None, "--draws", help="Random draws of the pool averaged at each m (default 3)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seeds the draws of the pool (default 0)."),
    extrapolate: Optional[bool] = typer.Option(None, "--extrapolate", help="Allow --m beyond the pool: the theory "
                                               "moves the measured answer, rows marked as extrapolations."),
    n_values: Optional[str] = typer.Option(None, "--n", help="Other numbers of real rows, e.g. '500,1000': the theory "
                                           "moves the measured answer, rows marked as extrapolations."),
    verifier: List[str] = typer.Option([], "--verifier", help="A verifier not yet built, 'PRECISION,RECALL' "
                                       "(repeatable): answered by the theory from the keep-all rows."),
    pool_label_noise: Optional[float] = typer.Option(None, "--pool-label-noise", help="The pool's share of wrong "
                                                     "labels, if known (the hypothetical verifiers' kept share)."),
    out: Path = typer.Option(Path("advice"), "--out", "-o", help="Directory for the CSV, the figure and the manifest."),
    name: str = typer.Option("advice", "--name", help="File name of the outputs (NAME.csv, .pdf, .png, .json)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of the recommendation and the table."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    workers: int = typer.Option(1, "--workers", help="Worker processes."),
    executor: str = typer.Option("local", "--executor", help="local or dask."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address."),
) -> None:
    """Should the synthetic rows be added, how many, at which score threshold, with which learner."""
    import time
    from dataclasses import asdict

    from rmtsynth.api import advise as run_advice
    from rmtsynth.api import json_ready
    from rmtsynth.config.advise_config import AdviseRequest, load_advise_config
    from rmtsynth.data.advice.files import read_pool_pair
    from rmtsynth.data.advice.grid import DEFAULT_DRAWS
    from rmtsynth.engine.advice_report import format_advice
    from rmtsynth.runner import check_out_dir, write_advice

    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise RmtsynthError(f"--name = {name!r} must be a file name of letters, digits, '_', '.' and '-'.")
    given = {"--label-column": label_column, "--score-column": score_column, "--drop-columns": drop_columns or None,
             "--feature-columns": feature_columns or None, "--learner": learner or None, "--thresholds": thresholds,
             "--m": m_values, "--draws": draws, "--seed": seed, "--extrapolate": extrapolate, "--n": n_values,
             "--verifier": verifier or None, "--pool-label-noise": pool_label_noise}
    if pool is None:
        if real.suffix.lower() not in (".yaml", ".yml"):
            raise RmtsynthError(f"{real} is not a config (.yaml); give the real rows' file and the pool's file, or a config.")
        request = load_advise_config(real)
        clash = [option for option, value in given.items() if value is not None]
        if clash:
            raise RmtsynthError(f"{clash[0]} is given with the config {real}; set it in its advise: section instead.")
    else:
        request = AdviseRequest(
            real=real, pool=pool, label_column=label_column, score_column=score_column,
            drop_columns=tuple(_names(drop_columns)), feature_columns=tuple(_names(feature_columns)),
            learner=tuple(_names(learner)) or (DEFAULT_LEARNER,),
            thresholds=None if thresholds is None else tuple(_number_list(thresholds, "--thresholds")),
            m=None if m_values is None else tuple(int(v) for v in _number_list(m_values, "--m", whole=True)),
            draws=DEFAULT_DRAWS if draws is None else draws, seed=0 if seed is None else seed,
            extrapolate=bool(extrapolate),
            n_values=None if n_values is None else tuple(int(v) for v in _number_list(n_values, "--n", whole=True)),
            verifiers=tuple(_verifier_pair(v) for v in verifier) or None, pool_label_noise=pool_label_noise)
    out = check_out_dir(out)
    X, y, S, t, scores, features = read_pool_pair(
        request.real, request.pool, label_column=request.label_column, score_column=request.score_column,
        drop_columns=request.drop_columns, feature_columns=request.feature_columns or None)
    t0 = time.perf_counter()
    advice = run_advice(X, y, S, t, scores=scores, thresholds=request.thresholds, m_values=request.m,
                        learner=list(request.learner), seed=request.seed, draws=request.draws,
                        extrapolate=request.extrapolate, n_values=request.n_values, verifiers=request.verifiers,
                        pool_label_noise=request.pool_label_noise, workers=workers,
                        executor=executor, scheduler=scheduler, progress=not quiet and sys.stderr.isatty())
    record = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(request).items() if k != "source"}
    record["feature_columns"] = list(features)
    written = write_advice(advice, out, name=name, request=record, seed=request.seed,
                           inputs={request.real, request.pool} | ({real} if pool is None else set()),
                           wall=time.perf_counter() - t0, config_text=request.source)
    if as_json:
        typer.echo(json.dumps(json_ready(advice.to_dict()), indent=2, default=str))
    else:
        typer.echo(format_advice(advice))
    if not quiet:
        typer.echo(f"wrote {', '.join(str(p) for p in written)}", err=True)


@app.command()
@handle_errors
def sweep(
    configs: List[Path] = typer.Argument(..., help="One or more YAML configs."),
    out: Path = typer.Option(Path("figures"), "--out", "-o", help="Directory for the PDF, PNG, CSV and manifest."),
    overrides: List[str] = typer.Option([], "--set", help="Override a config value: key=value (repeatable)."),
    seeds: Optional[int] = typer.Option(None, "--seeds", help="Simulation seeds per point (overrides the config)."),
    quick: bool = typer.Option(False, "--quick", help="Fewer seeds and grid points, for previews and CI."),
    no_sim: bool = typer.Option(False, "--no-sim", help="Theory only."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Worker processes (default: the number of cores)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute every point, ignoring the cache."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Where computed points are cached."),
    sampler: Optional[str] = typer.Option(None, "--sampler", help="exact or naive (overrides the config)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or summary lines."),
    executor: str = typer.Option("local", "--executor", help="local (this machine's processes) or dask (a Dask cluster)."),
    scheduler: Optional[str] = typer.Option(
        None, "--scheduler", help="Dask scheduler address, e.g. tcp://host:8786 (default: a local cluster of --workers processes)."
    ),
) -> None:
    """Run the theory and the simulation for each config and write its figure and table."""
    from rmtsynth.engine.cache import default_cache_dir
    from rmtsynth.config.figure_config import load_config
    from rmtsynth.engine.parallel import default_workers
    from rmtsynth.io.atomic import check_dir
    from rmtsynth.runner import check_config, check_out_dir, compute, write_outputs
    from rmtsynth.engine.sweep import SweepOptions
    import time

    if seeds is not None and not 1 <= seeds <= 100_000:
        raise RmtsynthError(f"--seeds = {seeds} is out of range; it must be an integer from 1 to 100000.")
    if workers is not None and not 1 <= workers <= 512:
        raise RmtsynthError(f"--workers = {workers} is out of range; it must be an integer from 1 to 512.")
    if sampler is not None and sampler not in ("exact", "naive"):
        raise RmtsynthError(f"--sampler = '{sampler}' is not allowed; it must be exact or naive.")
    from rmtsynth.engine.executors import check_executor, session

    check_executor(executor, scheduler)
    out = check_out_dir(out)
    # Validate every config before any work.
    loaded = [(path, load_config(path, overrides, quick=quick)) for path in configs]
    for _, cfg in loaded:
        check_config(cfg)
    names = [cfg.name for _, cfg in loaded]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise RmtsynthError(f"Two configs write the same outputs ({', '.join(sorted(dup))}); give them different names.")
    options = SweepOptions(
        workers=workers or default_workers(),
        cache_dir=None if no_cache else check_dir(cache_dir or default_cache_dir(), "The cache directory"),
        simulate=not no_sim,
        seeds=seeds,
        sampler=sampler,
        progress=not quiet,
        executor=executor,
        scheduler=scheduler,
    )
    # One executor for all the configs, so a local Dask cluster starts once (and only if needed).
    with session(options.executor, options.scheduler, options.workers):
        for path, cfg in loaded:
            t0 = time.perf_counter()
            result = compute(cfg, options)
            written = write_outputs(result, out, options, path, time.perf_counter() - t0)
            if not quiet:
                typer.echo(f"{cfg.name}: {len(result.rows)} points in {time.perf_counter() - t0:.1f} s -> {written[1]}", err=True)


@app.command()
@handle_errors
def validate(
    configs: List[Path] = typer.Argument(..., help="One or more YAML configs."),
    overrides: List[str] = typer.Option([], "--set", help="Override a config value: key=value."),
) -> None:
    """Check configs (keys, types, ranges, every point, sizes against the data they read) without computing anything."""
    from rmtsynth.runner import check_config, check_config_data
    from rmtsynth.config.figure_config import load_config
    from rmtsynth.engine.loops import parse_loop_plan
    from rmtsynth.config.figure_config import read_config_file
    from rmtsynth.config.plan_config import is_plan_config, load_plan
    from rmtsynth.config.advise_config import is_advise_config, load_advise_config
    from rmtsynth.data.advice import check_request
    from rmtsynth.data.advice.files import read_pool_pair

    for path in configs:
        if is_advise_config(path):
            request = load_advise_config(path)
            X, y, S, t, scores, _ = read_pool_pair(
                request.real, request.pool, label_column=request.label_column, score_column=request.score_column,
                drop_columns=request.drop_columns, feature_columns=request.feature_columns or None)
            _, grid, learners = check_request(X, y, S, t, scores, request.thresholds, request.m, list(request.learner),
                                              request.draws, request.extrapolate, request.n_values, request.verifiers,
                                              request.pool_label_noise)
            cells = len(learners) * len(grid.thresholds) * (len(grid.m_values) + len(grid.beyond))
            typer.echo(f"{path}: ok (advise, {cells} grid points)")
            continue
        if is_plan_config(path):
            _, data = read_config_file(path)
            if isinstance(data, dict) and "loop" in data:
                parse_loop_plan(data, Path(path).resolve().parent)
            else:
                load_plan(path)
            typer.echo(f"{path}: ok (plan)")
            continue
        cfg = load_config(path, overrides)
        count = check_config(cfg)
        check_config_data(cfg)
        typer.echo(f"{path}: ok ({cfg.kind}" + (f", {count} points)" if count is not None else ")"))


@app.command()
@handle_errors
def show(
    config: Path = typer.Argument(..., help="A YAML config."),
    overrides: List[str] = typer.Option([], "--set", help="Override a config value: key=value."),
    quick: bool = typer.Option(False, "--quick", help="Show the --quick variant."),
) -> None:
    """Print the config after overrides and every resolved point (figure, plan and advise configs)."""
    import yaml

    from rmtsynth.config.figure_config import load_config
    from rmtsynth.engine.sweep import resolve_cells

    other = _show_other_kinds(config, overrides)
    if other is not None:
        typer.echo(yaml.safe_dump(other, sort_keys=False, width=100))
        return
    cfg = load_config(config, overrides, quick=quick)
    doc: dict[str, Any] = {"config": cfg.raw}
    if cfg.kind == "curves":
        doc["resolved_points"] = [
            {"panel": cfg.panels[ip].label, "series": cfg.series[iseries].label, "x": xv, **pt.record()}
            for ip, iseries, xv, pt in resolve_cells(cfg)
        ]
    typer.echo(yaml.safe_dump(doc, sort_keys=False, width=100))


def _show_other_kinds(config: Path, overrides: List[str]) -> dict[str, Any] | None:
    """What ``show`` prints for a plan or an advise config (None for a figure config)."""
    from dataclasses import asdict

    from rmtsynth.api import json_ready
    from rmtsynth.config.advise_config import is_advise_config, load_advise_config
    from rmtsynth.config.plan_config import is_plan_config, load_plan, read_plan_file
    from rmtsynth.engine.loops import parse_loop_plan

    if is_advise_config(config):
        if overrides:
            raise RmtsynthError("--set applies to figure and plan configs; edit the advise: section instead.")
        request = asdict(load_advise_config(config))
        request.pop("source")
        return json_ready({"advise": {k: (str(v) if isinstance(v, Path) else v) for k, v in request.items()}})
    if not is_plan_config(config):
        return None
    _, data = read_plan_file(config, overrides)
    if isinstance(data, dict) and "loop" in data:
        parsed = parse_loop_plan(data, Path(config).resolve().parent)
        return json_ready({"config": data, "loop_arguments": {k: v for k, v in parsed["arguments"].items()}})
    plan_cfg = load_plan(config, overrides)
    return json_ready({"config": data, "resolved_point": plan_cfg.point.record()})


@app.command()
@handle_errors
def plan(
    config: Path = typer.Argument(..., help="A planner config (see configs/plan/)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    overrides: List[str] = typer.Option([], "--set", help="Override a config value: key=value (a bare key is a param)."),
    diagnostics: bool = typer.Option(False, "--diagnostics", help="With data: also show, labelled, the theory on "
                                     "the fitted Gaussian and a second estimator (for comparison only)."),
) -> None:
    """Should synthetic data be added, how much, and how good must the verifier be (theory only)."""
    from rmtsynth.api import json_ready
    from rmtsynth.api import plan as make_plan
    from rmtsynth.engine.loops import format_loop_plan
    from rmtsynth.engine.plan_report import format_plan

    result = make_plan(config, overrides, diagnostics=diagnostics)
    if as_json:
        typer.echo(json.dumps(json_ready(result), indent=2, default=str))
        return
    typer.echo(format_loop_plan(result) if "regime" in result else format_plan(result))


def bundled_config_dirs() -> list[Path]:
    here = Path(__file__).resolve().parent
    dirs = [Path.cwd() / "configs", here.parent / "configs"]
    seen: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in seen:
            seen.append(d.resolve())
    return seen


@app.command("list")
@handle_errors
def list_configs() -> None:
    """List the bundled configs, one line each (figures, then subfolders: Amazon, planner inputs)."""
    from rmtsynth.config.figure_config import read_config_file

    dirs = bundled_config_dirs()
    if not dirs:
        raise RmtsynthError("No configs directory found (looked in ./configs and beside the package).")
    for d in dirs:
        paths = sorted(d.glob("*.yaml")) + sorted(p for p in d.glob("*/*.yaml"))
        for path in paths:
            name = str(path.relative_to(d))
            try:
                _, data = read_config_file(path)
                title = str(data.get("title", ""))
                kind = "plan input" if path.parent.name == "plan" else str(data.get("kind", "curves"))
            except RmtsynthError as exc:
                title, kind = f"(invalid: {exc})", "?"
            # One line per config, whatever line breaks the title holds.
            title = " ".join(title.split())
            typer.echo(f"{name:34s} {kind:18s} {title}")


@app.command()
def schema() -> None:
    """Print every config key with its meaning and allowed values."""
    from rmtsynth.config.schema import schema_text

    typer.echo(schema_text())


def main(argv: list[str] | None = None) -> None:
    """The console entry point: usage errors as one sentence, and a closed pipe is not an error."""
    try:
        code = app(args=argv, standalone_mode=False)
        sys.stdout.flush()
    except _USAGE_ERRORS as exc:
        if type(exc).__name__ == "NoArgsIsHelpError" and exc.ctx is not None:
            typer.echo(exc.ctx.get_help())
            sys.exit(0)
        message = " ".join(exc.format_message().split()).rstrip(".")
        command = exc.ctx.command_path if exc.ctx is not None else "rmtsynth"
        typer.echo(f"error: {message} (see '{command} --help').", err=True)
        code = 2
    except typer.Abort:
        typer.echo("interrupted: nothing was written.", err=True)
        code = 130
    except BrokenPipeError:
        _silence_stdout()
        code = 0
    sys.exit(code or 0)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing at exit does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":  # pragma: no cover
    main()
