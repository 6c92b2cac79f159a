"""The loop planner's answer as readable text (what ``rmtsynth plan`` prints for a loop plan without --json)."""

from __future__ import annotations

from typing import Any, Mapping


def format_loop_plan(res: Mapping[str, Any]) -> str:
    """The loop plan as readable text (what ``rmtsynth plan`` prints without --json)."""
    s = res["setting"]

    def num(v: Any) -> str:
        return "-" if v is None else f"{v:.4f}"

    lines = []
    if res.get("title"):
        lines += [res["title"], ""]
    if res.get("data"):
        d = res["data"]
        lines.append(f"data: {d['source']}: {d['rows']} rows, p = {d['p']}; held-out real-only accuracy at n "
                     f"{d['heldout_real_only']:.4f}, matched by ||mu|| = {d['mu_norm']:.4g}")
    lines.append(
        f"loop: {res['regime']}, labels noisy, identity generator; end = "
        + ("the fixed point" if res["generations"] is None else f"generation {res['generations']}")
    )
    lines.append(
        f"setting: n = {s['n']}, m = {s['m']} per generation, p = {s['p']}, ||mu|| = {s['mu_norm']:.4g}, "
        f"gamma = {s['gamma']:.4g}, label noise = {s['label_noise']:.4g}"
    )
    lines.append(
        f"verifier in use: rho = {s['rho']:.4g}, phi = {s['phi']:.4g} (precision {s['verifier_precision']:.4g}, "
        f"recall {s['verifier_recall']:.4g})"
    )
    lines.append("")
    rows = [
        ("accuracy, real data only", num(res["accuracy_real_only"])),
        ("min verifier precision", num(res["min_verifier_precision"]) + f" ({res['min_verifier_precision_status']})"),
        ("  lowest possible precision", num(res["lowest_valid_precision"])),
        ("accuracy at the end (verifier in use)", num(res["accuracy_end"])),
        ("  gain over real data alone", f"{res['gain_end']:+.4f}"),
        ("first generation below real data", "none up to " + str(res["horizon"]) if res["first_drop_generation"] is None
         else str(res["first_drop_generation"])),
    ]
    if res.get("fixed_point"):
        fp = res["fixed_point"]
        rows.append(("fixed point: beta*, tau*^2, rate", f"{fp['beta']:.4f}, {fp['tau2']:.4f}, {fp['rate']:.4f}"))
        rows.append(("fixed point accuracy", num(fp["accuracy"])))
    width = max(len(k) for k, _ in rows)
    lines += [f"  {key:<{width}}  {value}" for key, value in rows]
    lines.append("")
    lines += list(res["messages"])
    lines.append("(theory: Gram reduction, exact in the proportional limit; THEORY.md section 14)")
    return "\n".join(lines)
