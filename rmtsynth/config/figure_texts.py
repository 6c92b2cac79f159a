"""The texts a figure draws from its config (titles, labels, captions), checked before any work.

Drawing happens after all the computing; a label that cannot be typeset is found here, when the
config is checked, instead.
"""

from __future__ import annotations

from typing import Any

from rmtsynth.errors import ConfigError


def check_text(text: str, where: str) -> None:
    """Raise ConfigError if matplotlib cannot typeset ``text`` (bad mathtext between $ signs)."""
    from matplotlib.mathtext import MathTextParser

    if text.count("$") - text.count(r"\$") < 2:
        return
    try:
        MathTextParser("path").parse(text)
    except Exception:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise ConfigError(
            f"{where} = '{shown}' cannot be typeset: check the math between the $ signs "
            "(matplotlib mathtext, e.g. '$\\varepsilon = 0.1$')."
        ) from None


def figure_texts(cfg: Any) -> list[tuple[str, str]]:
    """Every text a figure of ``cfg`` draws from its config, with the key it comes from."""
    texts = [(cfg.title, "title")]
    for axis, key in ((cfg.x, "x.label"), (cfg.y_axis, "y.label")):
        if axis is not None and axis.label:
            texts.append((axis.label, key))
    for i, panel in enumerate(cfg.panels):
        texts.append((panel.label, f"panels[{i}]"))
        if panel.ylabel:
            texts.append((panel.ylabel, f"panels[{i}].ylabel"))
    for i, series in enumerate(cfg.series):
        texts.append((series.label, f"series[{i}]"))
    for key in ("ylabel", "caption"):
        if isinstance(cfg.plot.get(key), str):
            texts.append((cfg.plot[key], f"plot.{key}"))
    return [(str(text), where) for text, where in texts if text]


def check_figure_texts(cfg: Any) -> None:
    """Typeset every label and title of a config once (cheap), before any computing."""
    for text, where in figure_texts(cfg):
        check_text(text, where)
