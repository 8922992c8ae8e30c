"""A picture of a describe timeline: per-window emotion probabilities over time, and which
modalities each window could read.

The figure has two panels sharing the time axis (seconds on the clip's clock, as in the JSON):

* **emotions**: one stacked bar per timeline window, its width the window, its segments the
  fused basic-emotion probabilities (``timeline[i]["basic"]``, summing to 1); the top label is
  written above the bar. A window with no signal is drawn hatched and marked "no signal".
* **modalities**: one row each for face (``video``), voice (``audio``) and words (``text``):
  filled where the window read that modality, hatched grey where it was missing; the reasons
  are in the JSON (``timeline[i]["missing"]``), the legend says what the hatching means.

Parts of the clip outside the analysed span (``timing.analysed_span_s``, long inputs analysed in
part) are shaded and labelled. Output is deterministic: same record, same bytes (PNG, SVG and
PDF are written without dates; SVG ids use a fixed salt).

Needs matplotlib (``pip install 'affectgpt[plot]'``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from affectgpt.errors import AffectGPTError

__all__ = ["timeline_figure", "save_timeline_plot", "PLOT_SUFFIXES"]

#: File types :func:`save_timeline_plot` writes, chosen by the path's suffix.
PLOT_SUFFIXES = (".png", ".svg", ".pdf")

# one colour per basic emotion (colour-blind-safe Okabe-Ito order; neutral grey)
_COLOURS = {"neutral": "#9e9e9e", "happy": "#E69F00", "sad": "#0072B2", "angry": "#D55E00",
            "fearful": "#CC79A7", "disgusted": "#009E73", "surprised": "#F0E442", "worried": "#56B4E9"}
_ROWS = (("video", "face"), ("audio", "voice"), ("text", "words"))
_MODALITY_COLOUR = {"video": "#4C72B0", "audio": "#55A868", "text": "#8172B2"}


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise AffectGPTError("timeline plots need matplotlib: pip install 'affectgpt[plot]'") from exc
    return plt


def _ascii_title(name: str) -> str:
    """The file name as the default font can draw it (CJK names would be boxes and font warnings)."""
    return name if name.isascii() else name.encode("ascii", "replace").decode("ascii")


def timeline_figure(record: dict):
    """The timeline of one describe record as a matplotlib ``Figure``.

    Args:
        record: a describe result (``Describer.describe`` or one ``results.jsonl`` line) made with
            a timeline (``DescribeConfig(timeline=True)``, ``--timeline``).

    Returns:
        ``matplotlib.figure.Figure`` (11 x 4.2 in): emotion bars per window above a modality strip.

    Raises:
        ValueError: the record has no timeline windows (made without ``--timeline``, or an error
            record).
        AffectGPTError: matplotlib is not installed.
    """
    windows = record.get("timeline") or []
    if not windows:
        what = f"{record.get('file', 'record')}: " if isinstance(record, dict) else ""
        raise ValueError(f"{what}no timeline to plot (describe with --timeline, or DescribeConfig(timeline=True))")
    plt = _pyplot()
    classes = list(next((w["basic"] for w in windows if w.get("basic")), _COLOURS))
    fig, (ax, strip) = plt.subplots(2, 1, figsize=(11, 4.2), sharex=True,
                                    gridspec_kw={"height_ratios": [3, 1.1], "hspace": 0.08})
    end = max(w["end_s"] for w in windows)
    timing = record.get("timing") or {}
    duration = float(timing.get("duration_s") or record.get("duration_s") or end)
    for w in windows:
        a, b = w["start_s"], w["end_s"]
        if not w.get("label"):
            ax.bar(a, 1.0, width=b - a, align="edge", color="white", edgecolor="#bdbdbd", hatch="//", lw=0.5)
            ax.text((a + b) / 2, 0.5, "no signal", ha="center", va="center", fontsize=7, color="#757575",
                    rotation=90 if b - a < 0.08 * max(end, 1e-6) else 0)
            continue
        bottom = 0.0
        for c in classes:
            p = float(w["basic"].get(c, 0.0))
            ax.bar(a, p, width=b - a, bottom=bottom, align="edge", color=_COLOURS.get(c, "#607d8b"),
                   edgecolor="white", lw=0.4)
            bottom += p
        ax.text((a + b) / 2, 1.02, w["label"], ha="center", va="bottom", fontsize=7,
                rotation=90 if len(windows) > 12 else 0)
    span = timing.get("analysed_span_s")
    for axis in (ax, strip):
        if span and span[1] < duration - 1e-3:
            axis.axvspan(span[1], duration, color="#eeeeee", zorder=0)
    if span and span[1] < duration - 1e-3:
        ax.text((span[1] + duration) / 2, 0.5, f"not analysed\n({span[1]:.0f}-{duration:.0f} s)",
                ha="center", va="center", fontsize=8, color="#616161")
    ax.set_ylim(0, 1.15 if len(windows) <= 12 else 1.35)
    ax.set_yticks([0, 0.5, 1.0])
    ax.set_ylabel("probability")
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=_COLOURS.get(c, "#607d8b")) for c in classes],
              labels=classes, fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0), frameon=False)
    labels = ", ".join(record.get("labels") or []) or "no label"
    ax.set_title(f"{_ascii_title(str(record.get('file', '')))}: {duration:.1f} s, "
                 f"{len(windows)} window{'s' if len(windows) != 1 else ''}; clip: {labels}", fontsize=9, loc="left")
    for row, (modality, name) in enumerate(_ROWS):
        y = len(_ROWS) - 1 - row
        for w in windows:
            a, b = w["start_s"], w["end_s"]
            if modality in (w.get("modalities") or []):
                strip.broken_barh([(a, b - a)], (y + 0.15, 0.7), color=_MODALITY_COLOUR[modality], lw=0)
            else:
                strip.broken_barh([(a, b - a)], (y + 0.15, 0.7), facecolor="white", edgecolor="#bdbdbd",
                                  hatch="///", lw=0.4)
    strip.set_yticks([len(_ROWS) - 1 - i + 0.5 for i in range(len(_ROWS))], [n for _, n in _ROWS], fontsize=8)
    strip.set_ylim(0, len(_ROWS))
    strip.legend(handles=[plt.Rectangle((0, 0), 1, 1, facecolor="white", edgecolor="#bdbdbd", hatch="///")],
                 labels=["missing\n(reason in JSON)"], fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0),
                 frameon=False)
    strip.set_xlim(0, max(duration, end))
    strip.set_xlabel("time (s)")
    fig.subplots_adjust(left=0.06, right=0.86, top=0.9, bottom=0.13)
    return fig


def save_timeline_plot(record: dict, path: str | Path, dpi: int = 120) -> Path:
    """Write :func:`timeline_figure` of ``record`` to ``path`` (``.png``, ``.svg`` or ``.pdf``).

    Returns:
        The path written.

    Raises:
        ValueError: an unsupported suffix, or a record without a timeline.
        AffectGPTError: matplotlib is not installed.
    """
    path = Path(path)
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise ValueError(f"{path}: a timeline plot is written as {', '.join(PLOT_SUFFIXES)} (chosen by the suffix)")
    fig = timeline_figure(record)
    plt = _pyplot()
    import matplotlib

    metadata = {".png": {"Software": None}, ".svg": {"Date": None}, ".pdf": {"CreationDate": None}}
    try:
        with warnings.catch_warnings(), matplotlib.rc_context({"svg.hashsalt": "affectgpt"}):
            warnings.filterwarnings("ignore", message="Glyph .* missing")
            fig.savefig(path, dpi=dpi, metadata=metadata[path.suffix.lower()])
    finally:
        plt.close(fig)
    return path
