"""Exports of describe results: timeline subtitles (SRT/VTT) and the benchmark prediction CSV."""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["timeline_to_srt", "timeline_to_vtt", "write_predictions_csv"]


def _stamp(t: float, sep: str) -> str:
    ms = int(round(t * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _cue_text(w: dict) -> str:
    if not w.get("label"):
        return "(no signal)"
    p = w["basic"][w["label"]]
    text = f"{w['label']} {round(100 * p)}%"
    if w.get("labels"):
        text += " - " + ", ".join(w["labels"])
    if w.get("face_cues"):
        text += " | face: " + ", ".join(w["face_cues"])
    if w.get("voice_cues"):
        text += " | voice: " + "; ".join(w["voice_cues"])
    return text


def timeline_to_srt(windows: list[dict]) -> str:
    """SubRip text with one cue per timeline window."""
    blocks = [f"{i}\n{_stamp(w['start_s'], ',')} --> {_stamp(w['end_s'], ',')}\n{_cue_text(w)}\n"
              for i, w in enumerate(windows, start=1)]
    return "\n".join(blocks)


def timeline_to_vtt(windows: list[dict]) -> str:
    """WebVTT text with one cue per timeline window."""
    blocks = [f"{_stamp(w['start_s'], '.')} --> {_stamp(w['end_s'], '.')}\n{_cue_text(w)}\n" for w in windows]
    return "WEBVTT\n\n" + "\n".join(blocks)


def write_predictions_csv(results: list[dict], path: str | Path) -> int:
    """Write ``name,text,labels,sentiment`` rows (name = file stem), the format ``affectgpt bench`` reads.

    The benchmark's sentiment task is binary (positive vs. the rest), so the ``sentiment``
    column holds the polarity (sign of the sentiment score), not the 3-way label.

    Raises:
        InputError: two results share a file stem (the file keys clips by name).
    """
    from affectgpt.io import safe_row
    from affectgpt.pipeline.inputs import check_unique_names

    rows = [r for r in results if "description" in r]
    check_unique_names([Path(r["file"]) for r in rows], "a predictions file")
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "text", "labels", "sentiment"])
        for r in rows:
            w.writerow(safe_row([Path(r["file"]).stem, r["description"], "[" + ", ".join(r["labels"]) + "]",
                                 r["sentiment"].get("polarity", r["sentiment"]["label"])]))
    return len(rows)
