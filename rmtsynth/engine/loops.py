"""Self-consuming loops from the user's parameters: theory, simulation and the loop planner.

A loop retrains the classifier over generations k = 0..K: generation 0 is ridge on the n real
rows, and every later generation adds m rows drawn from a Gaussian generator refitted on the
previous generation's training set, labelled (noisily or by the previous classifier) and pruned
by a verifier (THEORY.md section 14). These modules take the configs' parameter names, check them
with the schema, and call the theory (:mod:`rmtsynth.core.loop`) and the whole-loop simulation
(:mod:`rmtsynth.sim.loop`); this one gathers their public names:

* :mod:`rmtsynth.config.loop_config`: the parameters checked and resolved to a point (its ``mix``
  and ``model``) and a :class:`~rmtsynth.core.loop.LoopSpec`, and loop plans checked;
* :mod:`rmtsynth.engine.loop_predict` and :mod:`rmtsynth.engine.loop_sim`: :func:`predict_loop` and
  :func:`simulate_loop`, arrays over generations broadcast over the parameters like
  :func:`rmtsynth.predict`, and :func:`run_loop_simulations`, the simulation of many settings
  through the point cache and the executors (the same numbers whatever the number of workers);
* :mod:`rmtsynth.engine.loop_plan` and :mod:`rmtsynth.engine.loop_report`: :func:`plan_loop`,
  :func:`load_loop_plan` and :func:`format_loop_plan`, the smallest verifier precision for which
  the loop does not end below real data alone, and when it first drops.
"""

from __future__ import annotations

from rmtsynth.config.loop_config import parse_loop_plan, resolve_loop_point
from rmtsynth.engine.loop_plan import load_loop_plan, plan_loop
from rmtsynth.engine.loop_predict import predict_loop
from rmtsynth.engine.loop_report import format_loop_plan
from rmtsynth.engine.loop_sim import LoopRequest, run_loop_simulations, simulate_loop

__all__ = [
    "LoopRequest",
    "format_loop_plan",
    "load_loop_plan",
    "parse_loop_plan",
    "plan_loop",
    "predict_loop",
    "resolve_loop_point",
    "run_loop_simulations",
    "simulate_loop",
]
