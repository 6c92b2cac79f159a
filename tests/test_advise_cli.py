"""``rmtsynth advise`` on files: the recommendation first, the outputs written, bad files refused in one sentence."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from clitools import assert_clean_error, invoke, snapshot


def _write(path, header, rows):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    names = [f"f{j}" for j in range(6)]

    def rows(count, flip):
        y = rng.integers(0, 2, count)
        X = (2 * y[:, None] - 1) * 0.8 + rng.normal(size=(count, 6))
        given = np.where(rng.random(count) < flip, 1 - y, y)
        return X, np.where(given == 1, "spam", "ham"), given != y

    X, y, _ = rows(40, 0.0)
    S, t, wrong = rows(100, 0.3)
    score = rng.normal(size=100) - 2.0 * wrong
    real = _write(tmp_path / "real.csv", names + ["label", "row_id"],
                  [list(X[i]) + [y[i], i] for i in range(40)])
    pool = _write(tmp_path / "pool.csv", ["row_id", "reward", "label"] + names[::-1],
                  [[i, score[i], t[i]] + list(S[i][::-1]) for i in range(100)])
    return real, pool


def test_advise_prints_the_recommendation_first_and_writes_its_outputs(files, tmp_path):
    real, pool = files
    out = tmp_path / "out"
    result = invoke("advise", real, pool, "--score-column", "reward", "--drop-columns", "row_id",
                    "--learner", "ridge", "--learner", "logistic", "--m", "50,100", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith(("Add synthetic rows", "Do not add synthetic rows", "Cannot tell"))
    assert {p.name for p in out.iterdir()} == {"advice.csv", "advice.pdf", "advice.png", "advice.json"}
    manifest = json.loads((out / "advice.json").read_text())
    assert manifest["recommendation"]["verdict"] in ("add", "do not add", "cannot tell")
    assert manifest["classes"] == ["ham", "spam"] and manifest["seed"] == 0
    table = list(csv.DictReader((out / "advice.csv").open()))
    assert len(table) == 2 * (1 + 5 * 2)
    assert all(0.0 <= float(r["predicted_accuracy"]) <= 1.0 for r in table)


def test_same_files_and_seed_give_the_same_csv(files, tmp_path):
    real, pool = files
    texts = []
    for k in range(2):
        out = tmp_path / f"out{k}"
        result = invoke("advise", real, pool, "--score-column", "reward", "--drop-columns", "row_id",
                        "--m", "50", "--draws", "2", "--out", out, "-q")
        assert result.exit_code == 0, result.output
        texts.append((out / "advice.csv").read_bytes())
    assert texts[0] == texts[1]


@pytest.mark.parametrize("args, needles", [
    (["--score-column", "confidence", "--drop-columns", "row_id"], ["confidence", "pool.csv"]),
    (["--score-column", "reward", "--feature-columns", "f0,f9"], ["f9", "--feature-columns"]),
    (["--score-column", "reward", "--drop-columns", "row_id", "--m", "500"], ["m_values", "100"]),
    (["--score-column", "reward", "--drop-columns", "row_id", "--label-column", "kind"], ["kind"]),
    (["--score-column", "reward", "--drop-columns", "row_id", "--thresholds", "0.5,high"], ["--thresholds", "high"]),
    (["--score-column", "reward", "--drop-columns", "row_id", "--learner", "forest"], ["forest"]),
    (["--score-column", "row_id", "--drop-columns", "reward", "--m", "0,100,-3"], ["m_values", "-3"]),
])
def test_bad_options_are_one_sentence_and_write_nothing(files, tmp_path, args, needles):
    real, pool = files
    before = snapshot(tmp_path)
    result = invoke("advise", real, pool, *args, "--out", tmp_path / "out", "-q")
    assert_clean_error(result, *needles)
    assert snapshot(tmp_path) == before


def test_a_config_gives_the_same_answer_as_the_options(files, tmp_path):
    real, pool = files
    config = tmp_path / "advise.yaml"
    config.write_text("advise:\n  real: real.csv\n  pool: pool.csv\n  score_column: reward\n"
                      "  drop_columns: [row_id]\n  m: [50, 100]\n  thresholds: [-.inf, 0.0]\n")
    by_config = invoke("advise", config, "--out", tmp_path / "a", "-q")
    by_options = invoke("advise", real, pool, "--score-column", "reward", "--drop-columns", "row_id", "--m", "50,100",
                        "--thresholds", "-inf,0", "--out", tmp_path / "b", "-q")
    assert by_config.exit_code == 0 and by_options.exit_code == 0, (by_config.output, by_options.output)
    assert (tmp_path / "a" / "advice.csv").read_bytes() == (tmp_path / "b" / "advice.csv").read_bytes()
    checked = invoke("validate", config)
    assert checked.exit_code == 0 and "ok (advise" in checked.stdout, checked.output
    clash = invoke("advise", config, "--seed", "2", "--out", tmp_path / "c", "-q")
    assert_clean_error(clash, "--seed", "advise:")
    config.write_text("advise:\n  real: real.csv\n  pool: pool.csv\n  score_colum: reward\n")
    assert_clean_error(invoke("advise", config, "--out", tmp_path / "d", "-q"), "score_colum", "score_column")
    assert_clean_error(invoke("validate", config), "score_colum")
    config.write_text("advise:\n  real: real.csv\n  pool: pool.csv\n  score_column: reward\n  m: [5000]\n")
    assert_clean_error(invoke("validate", config), "m_values", "5000")


def test_a_score_column_with_a_gap_is_named_with_its_file(files, tmp_path):
    real, pool = files
    lines = pool.read_text().splitlines()
    cells = lines[4].split(",")
    cells[1] = "nan"
    lines[4] = ",".join(cells)
    holed = tmp_path / "holed.csv"
    holed.write_text("\n".join(lines) + "\n")
    result = invoke("advise", real, holed, "--score-column", "reward", "--drop-columns", "row_id", "--out",
                    tmp_path / "out", "-q")
    assert_clean_error(result, "holed.csv", "'reward'", "not finite")


def test_thresholds_that_keep_nothing_answer_with_the_real_rows_and_say_why(files, tmp_path):
    real, pool = files
    result = invoke("advise", real, pool, "--score-column", "reward", "--drop-columns", "row_id",
                    "--thresholds", "1000", "--out", tmp_path / "out", "-q")
    assert result.exit_code == 0, result.output
    first, *rest = result.stdout.splitlines()
    assert first.startswith("Cannot tell") and "no grid point keeps a synthetic row" in first
    assert any("keeps no synthetic row" in line for line in rest)


def test_m_beyond_the_pool_needs_extrapolate_and_is_marked(files, tmp_path):
    real, pool = files
    out = tmp_path / "out"
    args = ("advise", real, pool, "--score-column", "reward", "--drop-columns", "row_id", "--m", "50,100,400",
            "--thresholds", "-inf,0", "--out", out, "-q")
    before = snapshot(tmp_path)
    assert_clean_error(invoke(*args), "m_values = 400", "--extrapolate")
    assert snapshot(tmp_path) == before
    result = invoke(*args, "--extrapolate")
    assert result.exit_code == 0, result.output
    marked = [line for line in result.stdout.splitlines() if line.rstrip().endswith("extrapolation")]
    assert len(marked) == 2 and all(" 400 " in line for line in marked)
    table = list(csv.DictReader((out / "advice.csv").open()))
    assert {r["m"] for r in table if r["extrapolation"] == "true"} == {"400"}


def test_other_n_and_hypothetical_verifiers_from_options_and_from_a_config_agree(files, tmp_path):
    real, pool = files
    config = tmp_path / "advise.yaml"
    config.write_text("advise:\n  real: real.csv\n  pool: pool.csv\n  score_column: reward\n"
                      "  drop_columns: [row_id]\n  m: [50, 100]\n  thresholds: [-.inf, 0.0]\n  n_values: [160]\n"
                      "  verifiers: [{precision: 0.95, recall: 0.6}]\n  pool_label_noise: 0.3\n")
    by_config = invoke("advise", config, "--out", tmp_path / "a", "-q")
    by_options = invoke("advise", real, pool, "--score-column", "reward", "--drop-columns", "row_id", "--m", "50,100",
                        "--thresholds", "-inf,0", "--n", "160", "--verifier", "0.95,0.6", "--pool-label-noise", "0.3",
                        "--out", tmp_path / "b", "-q")
    assert by_config.exit_code == 0 and by_options.exit_code == 0, (by_config.output, by_options.output)
    assert (tmp_path / "a" / "advice.csv").read_bytes() == (tmp_path / "b" / "advice.csv").read_bytes()
    table = list(csv.DictReader((tmp_path / "a" / "advice.csv").open()))
    assert {r["n"] for r in table} == {"40", "160"}
    hypothetical = [r for r in table if r["verifier"] == "precision 0.95, recall 0.6"]
    assert len(hypothetical) == 2 * 2 and all(r["extrapolation"] == "true" for r in hypothetical)
    assert any("precision 0.95, recall 0.6" in line for line in by_options.stdout.splitlines())
    assert invoke("validate", config).exit_code == 0
    config.write_text("advise:\n  real: real.csv\n  pool: pool.csv\n  score_column: reward\n"
                      "  verifiers: [{precision: 0.95}]\n")
    assert_clean_error(invoke("validate", config), "advise.verifiers", "{precision, recall}")
    assert_clean_error(invoke("advise", real, pool, "--score-column", "reward", "--drop-columns", "row_id",
                              "--verifier", "0.9", "--out", tmp_path / "c", "-q"), "--verifier", "PRECISION,RECALL")
    assert_clean_error(invoke("advise", real, pool, "--score-column", "reward", "--drop-columns", "row_id",
                              "--pool-label-noise", "0.2", "--out", tmp_path / "d", "-q"), "pool_label_noise")
