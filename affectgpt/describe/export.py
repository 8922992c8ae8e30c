"""Exports of describe results: timeline subtitles (SRT/VTT) and the benchmark prediction CSV."""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["timeline_to_srt", "timeline_to_vtt", "write_predictions_csv", "record_name"]


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


def record_name(record: dict) -> str:
    """The name of a describe record: its ``name`` (set by batch runs) or its file stem."""
    return record.get("name") or Path(record["file"]).stem


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
    """Write ``name,text,labels,sentiment`` rows, the format ``affectgpt bench`` reads; the name is the
    record's ``name`` (a batch's clip naming, :func:`~affectgpt.describe.batch.describe_run`), else
    its file stem.

    The benchmark's sentiment task is binary (positive vs. the rest), so the ``sentiment``
    column holds the polarity (sign of the sentiment score), not the 3-way label.

    Raises:
        InputError: two results share a name (the file keys clips by name).
    """
    from affectgpt.errors import InputError
    from affectgpt.io import safe_id, safe_row

    rows = [r for r in results if "description" in r]
    names = [record_name(r) for r in rows]
    seen: dict[str, dict] = {}
    for n, r in zip(names, rows):
        other = seen.setdefault(n, r)
        if other is not r:
            raise InputError(r.get("path") or r["file"], f"shares the name {n!r} with {other.get('path') or other['file']}"
                                                         ": a predictions file keys clips by name; rename one or "
                                                         "describe them in separate runs")
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "text", "labels", "sentiment"])
        for n, r in zip(names, rows):
            w.writerow([safe_id(n), *safe_row([r["description"], "[" + ", ".join(r["labels"]) + "]",
                                               r["sentiment"].get("polarity", r["sentiment"]["label"])])])
    return len(rows)
