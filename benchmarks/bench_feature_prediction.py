"""Held-out prediction for a verifier that scores the rows (THEORY.md 15): the Amazon cross-domain bed.

Usage::

    .venv/bin/python benchmarks/bench_feature_prediction.py [--splits 50] [--amazon-dir ../shared/data/amazon]
        [--out benchmarks/prediction_targets.md] [--quick]

Real rows: kitchen reviews; synthetic pool: electronics reviews with 20 % of their labels flipped
(per split). The verifier is a ridge (gamma 0.1) trained on 100 kitchen rows set aside from every
split; it keeps a pool row when label * score > t (keep-easy), at two thresholds. Each split
trains the ridge on n = 400 kitchen rows plus the kept rows among m drawn from the pool, and
measures it on the other kitchen rows. The prediction sees the split's training rows and the pool
(observed labels, correctness flags, scores and the threshold): the K-group theory on the kept
rows' group moments (:func:`rmtsynth.data.feature_prediction.predict_kept_groups`), beside the
package's prediction that treats the same keep flags as an independent thinning of the pool.
The report's section is appended to (or replaces its previous version in) the targets file.
"""

from __future__ import annotations

import argparse
import os
import sys


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/prediction_targets.md", help="Markdown report to extend.")
    parser.add_argument("--splits", type=int, default=50)
    parser.add_argument("--amazon-dir", default=None)
    parser.add_argument("--quick", action="store_true", help="2 splits, printed only.")
    return parser.parse_args(argv)


ARGS = _parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        os.environ[_var] = "1"

import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rmtsynth.core.learners import get_learner  # noqa: E402
from rmtsynth.data.estimators import fit_pipeline, fit_standardisation  # noqa: E402
from rmtsynth.data.feature_prediction import predict_kept_groups  # noqa: E402
from rmtsynth.data.loaders import load_features  # noqa: E402
from rmtsynth.data.prediction import _predict  # noqa: E402
from rmtsynth.data.protocols import fit_gaussian, stratified_split  # noqa: E402

RIDGE = get_learner("ridge")
N, GAMMA, EPS, VERIFIER_ROWS = 400, 0.1, 0.2, 100
M_VALUES = [200, 800, 1998]
SECTION = "## A verifier that scores the rows (THEORY.md 15)"
READING = ("Reading: the kept-group prediction is biased low, by about 0.015 at m = 800 and 1998 and 0.035 at m = 200, well beyond its SE: the plug-in moments of the real rows (n = 400 = p) and of the kept wrong labels (about 140 rows in p = 400) enter the K-group equivalent as if they were the law, which the G-estimator avoids for the real rows. The package's cross-fitted prediction from the same keep flags, whose out-of-fold fits are trained on the very rows the verifier kept, meets the target here (max |gap| 0.009). `predict_heldout` therefore keeps it as the default and offers the kept-group theory as `verifier='kept_groups'`.")


def _measure(X, y, train, test, Xs, ys_true, y_obs, kept, m_list, perm) -> np.ndarray:
    """Held-out accuracy of the ridge on the training rows plus the kept rows among the first m of perm."""
    loc, scale = fit_standardisation(X[train])
    Z = (X - loc) / scale
    centre = fit_gaussian(Z[train], y[train]).centre
    Ztr, Zte = Z[train] - centre, Z[test] - centre
    Zs = (Xs - loc) / scale
    Zs = Zs - fit_gaussian(Zs, ys_true).centre
    out = []
    for m in m_list:
        rows = perm[:m]
        rows = rows[kept[rows]]
        gram = Ztr.T @ Ztr + Zs[rows].T @ Zs[rows]
        moment = Ztr.T @ y[train] + Zs[rows].T @ y_obs[rows]
        w = RIDGE.fit_statistics(gram, moment, train.size + rows.size, GAMMA)
        out.append(float(np.mean(np.where(Zte @ w >= 0.0, 1.0, -1.0) == y[test])))
    return np.array(out)


def run(folder: Path, splits: int) -> tuple[list[str], dict]:
    X_all, y_all = load_features(folder / "kitchen_400.mat")
    Xs, ys_true = load_features(folder / "elec_400.mat")
    rng = np.random.default_rng(np.random.SeedSequence(0, spawn_key=(99,)))
    verifier_rows, rest = stratified_split(y_all, VERIFIER_ROWS, rng)
    verifier = fit_pipeline(X_all[verifier_rows], y_all[verifier_rows], GAMMA)
    X, y = X_all[rest], y_all[rest]
    raw = verifier.scores(Xs)
    # Two thresholds fixed before any split: 0 and the median of the clean-label scores.
    thresholds = [0.0, float(np.median(ys_true * raw))]
    measured = np.empty((splits, 2, len(M_VALUES)))
    groups = np.empty_like(measured)
    thinning = np.empty_like(measured)
    shares = np.empty((splits, 2, 2))
    for s in range(splits):
        srng = np.random.default_rng(np.random.SeedSequence(0, spawn_key=(s, 0)))
        train, test = stratified_split(y, N, srng)
        flipped = srng.random(ys_true.size) < EPS
        perm = srng.permutation(ys_true.size)
        y_obs = np.where(flipped, -ys_true, ys_true)
        score = y_obs * raw
        for k, t in enumerate(thresholds):
            kept = score >= t
            measured[s, k] = _measure(X, y, train, test, Xs, ys_true, y_obs, kept, M_VALUES, perm)
            pool = dict(features=Xs, labels=y_obs, label_correct=~flipped, score=score, threshold=t)
            got = predict_kept_groups(X[train], y[train], pool, gamma=GAMMA, m_values=M_VALUES, seed=s)
            groups[s, k] = got["accuracy"]
            shares[s, k] = got["kept_correct_share"][0], got["kept_wrong_share"][0]
            flags = dict(features=Xs, labels=y_obs, label_correct=~flipped, kept=kept)
            thinned = _predict(X[train], y[train], synthetic=flags, gamma=GAMMA, m_values=np.array(M_VALUES, float),
                               label_noise=None, verifiers=["estimated"], estimator="g", corrections=["cross-fit"],
                               folds=5, seed_seq=np.random.SeedSequence(0, spawn_key=(s, 2)))[0]
            thinning[s, k] = thinned.accuracy["cross-fit"]
        print(f"split {s + 1}/{splits}", file=sys.stderr, flush=True)
    return _report(thresholds, measured, groups, thinning, shares, splits)


def _report(thresholds, measured, groups, thinning, shares, splits) -> tuple[list[str], dict]:
    root = np.sqrt(splits)
    lines = [
        "| threshold t | kept share (correct, wrong) | m | measured ± SE | pred. kept groups | gap ± SE | "
        "pred. independent thinning | gap ± SE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    worst = 0.0
    for k, t in enumerate(thresholds):
        f = shares[:, k].mean(axis=0)
        for j, m in enumerate(M_VALUES):
            meas = measured[:, k, j]
            gap_g, gap_t = groups[:, k, j] - meas, thinning[:, k, j] - meas
            worst = max(worst, abs(gap_g.mean()))
            lines.append(
                f"| {t:.3f} | {f[0]:.3f}, {f[1]:.3f} | {m} | {meas.mean():.4f} ± {meas.std(ddof=1) / root:.4f} | "
                f"{groups[:, k, j].mean():.4f} | {gap_g.mean():+.4f} ± {gap_g.std(ddof=1) / root:.4f} | "
                f"{thinning[:, k, j].mean():.4f} | {gap_t.mean():+.4f} ± {gap_t.std(ddof=1) / root:.4f} |"
            )
    return lines, {"worst": worst}


def main() -> int:
    args = ARGS
    folder = Path(args.amazon_dir) if args.amazon_dir else ROOT.parent / "shared" / "data" / "amazon"
    if not (folder / "kitchen_400.mat").is_file():
        print(f"The Amazon files are not in {folder}; nothing to do.", file=sys.stderr)
        return 0
    splits = 2 if args.quick else args.splits
    t0 = time.perf_counter()
    lines, summary = run(folder, splits)
    minutes = (time.perf_counter() - t0) / 60
    met = "MET" if summary["worst"] <= 0.02 else "MISSED"
    text = [
        SECTION, "",
        f"Generated by `benchmarks/bench_feature_prediction.py` ({splits} splits, seed 0, BLAS threads 1); {minutes:.1f} min.",
        "",
        "Kitchen <- electronics, n = 400, eps = 0.2, gamma = 0.1. The verifier is a ridge trained on 100 kitchen rows "
        "set aside from every split; it keeps a pool row when label * score >= t (keep-easy), t = 0 and t = the median "
        "clean-label score. Kept groups: the K-group theory (THEORY.md 15.3) on the kept rows' empirical moments, "
        "correct and wrong labels apart, with the cross-fit correction. Independent thinning: the package's prediction "
        "from the same keep flags read as rates (rho, phi) of the pool (G-estimator, cross-fit).",
        "",
        f"Target |gap| <= 0.02 for the kept-group prediction: max |gap| {summary['worst']:.4f}, **{met}**.",
        "", *lines, "",
        # What the numbers of the committed run say; rewrite it when they change.
        READING, "",
    ]
    if args.quick:
        print("\n".join(text))
        return 0
    out = ROOT / args.out
    old = out.read_text() if out.is_file() else ""
    if SECTION in old:
        old = old[: old.index(SECTION)].rstrip() + "\n"
    out.write_text(old.rstrip() + "\n\n" + "\n".join(text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
