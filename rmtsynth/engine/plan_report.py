"""The planner's words: the messages of a plan and its text table (``rmtsynth plan`` without ``--json``).

The numbers come from :mod:`rmtsynth.engine.planner`; this module only says them. The messages
are part of the plan's JSON as well, so their wording is part of the output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rmtsynth.core.model import Mix
    from rmtsynth.engine.planner import BestGamma, BestMix, NoiseThreshold, PrecisionThreshold

# Why there is no precision threshold, by status, when the search does not even start.
PRECISION_STATUS_MESSAGES = {
    "no_mix": "the configured mix has no synthetic data (m = 0), so no verifier matters.",
    "no_label_noise": "with label_noise = 0 every kept label is correct: the precision is always 1.",
    "no_recall": "with recall 0 the verifier keeps no correct label; the precision is 0.",
    "all_labels_wrong": (
        "with label_noise = 1 every synthetic label is wrong, so any verifier that keeps a row has precision 0."
    ),
}


# ----------------------------------------------------------------------------- messages


def precision_message(
    status: str, value: float | None, recall: float, lowest: float | None, monotone: bool = True
) -> str:
    """What the minimal verifier precision means, by the status of its search."""
    if status in PRECISION_STATUS_MESSAGES:
        return PRECISION_STATUS_MESSAGES[status]
    if status == "nowhere":
        message = (
            f"synthetic data do not help at this mix even with a perfect-precision verifier (P = 1) at recall {recall:.4g}."
        )
    elif status == "everywhere":
        message = (
            f"synthetic data help even at the lowest possible precision P_min = {lowest:.4g} (the verifier keeps every "
            f"wrong label) at recall {recall:.4g}."
        )
    else:
        message = f"the mix gains over real data alone when the precision exceeds {value:.4g} at recall {recall:.4g}."
    if not monotone:
        message += " (The gain is not monotone in the precision; this is the threshold above which it always helps.)"
    return message


def noise_message(status: str, value: float | None, monotone: bool = True) -> str:
    """What the maximal label noise means, by the status of its search."""
    if status == "no_mix":
        return "the configured mix has no synthetic data (m = 0)."
    if status == "nowhere":
        message = "synthetic data do not help at this mix and verifier at any label noise."
    elif status in ("everywhere", "at_end"):
        message = "synthetic data help at this mix and verifier up to label noise 1."
    else:
        message = f"the mix gains over real data alone while the label noise is below {value:.4g}."
    if not monotone:
        message += " (The gain changes sign more than once in the label noise; this is the largest eps where it helps.)"
    return message


def plan_messages(
    st: Mix,
    *,
    kept: float,
    mix: BestMix,
    infinite: float | None,
    gain_configured: float,
    configured_gains: bool,
    gamma_range: tuple[float, float],
    tuned: BestGamma,
    tuned_real: BestGamma,
    tuned_gains: bool,
    precision: PrecisionThreshold,
    noise: NoiseThreshold,
) -> list[str]:
    """The plan's conclusions in sentences, in the order the report prints them."""
    messages = _mix_messages(st, kept, mix, infinite)
    messages.append(
        f"The configured mix (m = {st.m}) {'gains' if configured_gains else 'does not gain'}: {gain_configured:+.4f}."
    )
    lo_g, hi_g = gamma_range
    for name, edge in (("the mix", tuned.at_edge), ("the real data alone", tuned_real.at_edge)):
        if edge:
            messages.append(
                f"The accuracy of {name} is flat (within 1e-6) up to an edge of the gamma range [{lo_g:g}, {hi_g:g}]; "
                "its best gamma may lie beyond it."
            )
    gain = tuned.accuracy - tuned_real.accuracy
    messages.append(
        f"With gamma tuned for each, the configured mix {'gains' if tuned_gains else 'does not gain'}: "
        f"{tuned.accuracy:.4f} against {tuned_real.accuracy:.4f} for the real data alone ({gain:+.4f})."
    )
    if precision.message:
        messages.append("Verifier: " + precision.message)
    if noise.message and st.rho + st.phi > 0.0:
        messages.append("Label noise: " + noise.message)
    return messages


def _mix_messages(st: Mix, kept: float, mix: BestMix, infinite: float | None) -> list[str]:
    """Whether synthetic data help, and how much, at the best proportion."""
    messages = []
    if kept == 0.0 and st.m > 0:
        messages.append(
            "The verifier keeps no synthetic row (keep rate 0): the mix trains on the real data alone. Any gain below "
            "comes from the normaliser N = n + m, which acts as extra ridge regularisation, not from synthetic data."
        )
    if not mix.helps:
        messages.append("Synthetic data cannot help here: no proportion beats the real data alone.")
    elif kept > 0.0 or st.m == 0:
        messages.append(
            f"Synthetic data help: the best proportion {mix.synthetic_proportion:.4g} (m = {mix.m}) gains "
            f"{mix.gain:+.4f} over the real data alone."
        )
    if mix.at_search_limit and kept > 0.0:
        messages.append(
            "The accuracy still rises at the largest proportion searched: more synthetic data keep helping"
            + (f" (the m -> infinity limit is {infinite:.4f})." if infinite is not None else ".")
        )
    return messages


# ----------------------------------------------------------------------------- the text table


def _fmt(v: Any, digits: int = 4) -> str:
    """A table cell: '-' for None, yes/no, and floats fixed or in g format when very small or large."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.{digits}g}"
        return f"{v:.{digits}f}"
    return str(v)


def _with_se(acc: float, se: float | None) -> str:
    return f"{acc:.4f}" + (f" ± {se:.4f}" if se is not None else "")


def format_heldout_prediction(pred: dict[str, Any]) -> list[str]:
    """The held-out prediction's lines of the plan's text."""
    lines = ["", "Diagnostic, a second held-out estimator (the answers above do not use it): "
             f"{pred['estimator_name']}; estimator: {pred['estimator']}, directly at the configured n and m:"]
    lines.append(f"  predicts: {pred['predicts']}")
    subsets = f"averaged over {pred['subsets']} random subsets of n = {pred['n']} rows" if pred["subsets"] > 1 else \
        f"all {pred['n']} rows as training rows"
    lines.append(f"  accuracy, real data only: {_with_se(pred['accuracy_real_only'], pred['accuracy_real_only_se'])} ({subsets})")
    for v, acc in pred["accuracy_mix"].items():
        name = {"none": "no verifier", "oracle": "oracle", "estimated": "the file's verifier (rates from its flags)",
                "configured": f"the configured verifier (rho {pred['rho']:.4g}, phi {pred['phi']:.4g})"}.get(v, v)
        lines.append(f"  accuracy, n = {pred['n']} + m = {pred['m']} synthetic rows ({pred['synthetic_data']}), {name}: "
                     f"{_with_se(acc, pred['accuracy_mix_se'][v])}")
    for note in pred["notes"]:
        lines.append(f"  note: {note}")
    if pred["expected_error"]:
        lines.append(f"  its expected error (prediction - measured, from {pred['expected_error_source']}):")
        for e in pred["expected_error"]:
            gap = f"gap {e['gap']:+.4f} ± {e['se']:.4f}" if "gap" in e else f"max |gap| {e['max_abs_gap']:.4f}"
            status = "" if e["met"] is None else (f"  (target {e['target']:g}: " + ("met)" if e["met"] else "MISSED)"))
            lines.append(f"    {e['setting']:<52s} {gap}{status}")
    else:
        lines.append(f"  expected error: {pred['expected_error_source']}")
    return lines


def format_plan(res: dict[str, Any]) -> str:
    """The plan as a readable text table."""
    if res.get("feature_verifier"):
        from rmtsynth.engine.feature_plan import format_feature_plan

        return format_feature_plan(res)
    lines = _setting_lines(res)
    lines.append("")
    spread = res.get("uncertainty", {}).get("jackknife_sd", {})
    on_data = "benchmarked_sd" in res.get("uncertainty", {})
    if on_data:
        bench = res["uncertainty"]["benchmarked_sd"]
        estimator = res.get("heldout_estimator", {"leave_one_out": "exact", "learner": "ridge"})
        by = "" if estimator["leave_one_out"] == "exact" else f"{estimator['learner']}: "
        measured_for = f" for {bench['measured_for']}" if "measured_for" in bench else ""
        lines.append(f"Held-out accuracy on new real rows, predicted from the data ({by}"
                     f"{estimator['leave_one_out']} leave-one-out moved by the "
                     f"LOO-calibrated theory; ± the spread over {res['uncertainty']['jackknife_subsets']} subsets; "
                     f"per-split error measured by the benchmark{measured_for} ± {bench['sd']:.3f}, {bench['nearest']}):")
    lines += _table_lines(res, spread)
    diagnostics = res.get("diagnostics", {})
    if "fitted_gaussian" in diagnostics:
        fitted = diagnostics["fitted_gaussian"]
        lines += ["", f"Diagnostic, {fitted['label'].removeprefix('diagnostic: ')}:"]
        lines += _table_lines({**fitted, "setting": res["setting"]}, {})
    if "heldout_prediction" in diagnostics:
        lines += format_heldout_prediction(diagnostics["heldout_prediction"])
    lines.append("")
    lines += res["messages"]
    tol = res["tolerance"]
    lines.append(
        "(" + ("" if on_data else "theory only; ") + f"grids of {tol['grid_points']} points refined to tolerances: proportion {tol['synthetic_proportion']:g}, "
        f"log10 gamma {tol['log10_gamma']:g}, precision {tol['verifier_precision']:g}, label noise {tol['label_noise']:g})"
    )
    return "\n".join(lines)


def _table_lines(res: dict[str, Any], spread: dict[str, Any]) -> list[str]:
    """The answers' table, with the uncertainty of each answer that has one."""
    keys = {label: key for label, key in _TABLE_KEYS}
    rows = _table_rows(res)
    width = max(len(k) for k, _ in rows)
    lines = []
    for label, value in rows:
        shown = value if isinstance(value, str) else _fmt(value)
        sd = spread.get(keys.get(label, ""))
        lines.append(f"  {label:<{width}}  {shown}" + (f" ± {sd:.4f}" if sd is not None and value is not None else ""))
    return lines


def _setting_lines(res: dict[str, Any]) -> list[str]:
    """The title, the data, the setting and the verifier, one line each."""
    s = res["setting"]
    lines = []
    if res.get("title"):
        lines += [res["title"], ""]
    if "data" in res:
        d = res["data"]
        lines.append(
            f"data: {d['source']}: {d['rows']} rows ({d['n_pos']} + {d['n_neg']}), p = {d['p']}"
            + (f" ({d['constant_features_dropped']} constant features dropped)" if d["constant_features_dropped"] else "")
            + f", ||mu|| = {d['mu_norm']:.4g} (bias-corrected from {d['mu_norm_raw']:.4g}; noise scaled to unit average variance)"
        )
    lines.append(
        f"setting: n = {s['n']}, p = {s['p']}, ||mu|| = {s['mu_norm']:.4g}, gamma = {s['gamma']:.4g}, label noise = "
        f"{s['label_noise']:.4g}, generator: alignment {s['generator_alignment']:.4g}, shift {s['generator_shift']:.4g}, "
        f"covariance {s['covariance']}"
        + (f" (n_hat = {s['n_hat']})" if s.get("n_hat") else "")
    )
    lines.append(
        f"verifier: rho = {s['rho']:.4g}, phi = {s['phi']:.4g} (precision {res['verifier_precision']:.4g}, recall "
        f"{res['verifier_recall']:.4g}); configured mix m = {s['m']} (proportion {s['m'] / (s['n'] + s['m']):.4g})"
    )
    return lines


_TABLE_KEYS = (
    ("accuracy, real data only", "accuracy_real_only"),
    ("accuracy, configured mix", "accuracy_configured"),
    ("  gain", "gain_configured"),
    ("best synthetic proportion", "best_synthetic_proportion"),
    ("best m", "best_m"),
    ("accuracy, best mix", "accuracy_best_mix"),
    ("  gain ", "gain_best_mix"),
    ("accuracy, m -> infinity", "accuracy_infinite_m"),
    ("best gamma (configured mix)", "best_gamma"),
    ("accuracy at best gamma", "accuracy_best_gamma"),
    ("best gamma (real data only)", "best_gamma_real_only"),
    ("accuracy at that gamma", "accuracy_real_only_best_gamma"),
    ("min verifier precision", "min_verifier_precision"),
    ("  lowest possible precision", "lowest_valid_precision"),
    ("max label noise", "max_label_noise"),
    ("eps* (precision = 1/2)", "eps_star"),
    ("transition width (eps_75 - eps_25)", "transition_width"),
)


def _table_rows(res: dict[str, Any]) -> list[tuple[str, Any]]:
    """The (label, value) rows of the table; a text value is printed as it is."""
    rows = [(label, res[key]) for label, key in _TABLE_KEYS]
    if "best_roc_point" in res:
        b = res["best_roc_point"]
        rows.append(
            (
                "best ROC point (configured mix)",
                f"#{b['index']}: fpr {b['rho']:.4g}, tpr {b['phi']:.4g}, precision {b['precision']:.4g}, accuracy {b['accuracy']:.4f}",
            )
        )
        b = res["best_roc_point_best_mix"]
        rows.append(
            (
                "best ROC point (best mix)",
                f"#{b['index']}: fpr {b['rho']:.4g}, tpr {b['phi']:.4g}, proportion {b['synthetic_proportion']:.4g} "
                f"(m = {b['m']}), accuracy {b['accuracy']:.4f}",
            )
        )
    return rows


__all__ = ["format_heldout_prediction", "format_plan", "noise_message", "plan_messages", "precision_message"]
