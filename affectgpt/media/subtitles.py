"""Subtitles from .srt / .vtt / .txt / CSV files or a plain string, as timed segments."""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from affectgpt.errors import InputError

__all__ = ["Segment", "Transcript", "read_subtitles", "decode_text_file"]

_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})")
_TAG = re.compile(r"<[^>]+>|\{[^}]+\}")


@dataclass(frozen=True)
class Segment:
    """One subtitle cue; times in seconds (``None`` when the source has no timing)."""

    text: str
    start_s: float | None = None
    end_s: float | None = None


@dataclass
class Transcript:
    """Timed text of a clip and where it came from (``file``, ``string``, ``asr`` or ``none``)."""

    segments: list[Segment]
    source: str

    @property
    def text(self) -> str:
        """All cues joined by spaces."""
        return " ".join(s.text for s in self.segments if s.text).strip()

    def text_between(self, start_s: float, end_s: float) -> str:
        """Text of the cues overlapping [start_s, end_s); untimed cues belong everywhere."""
        parts = [s.text for s in self.segments
                 if s.start_s is None or (s.start_s < end_s and (s.end_s or s.start_s) >= start_s)]
        return " ".join(parts).strip()


def decode_text_file(path: str | Path) -> str:
    """Read a text file as UTF-8 (with or without BOM) or UTF-16 with BOM; else a clear error."""
    path = Path(path)
    raw = path.read_bytes()
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(path, f"subtitle text is not UTF-8 or UTF-16 (byte 0x{raw[exc.start]:02x}); "
                         "re-save it as UTF-8", row=line) from None


def _seconds(m: re.Match) -> float:
    h, mnt, s, frac = m.groups()
    return int(h or 0) * 3600 + int(mnt) * 60 + int(s) + int(frac.ljust(3, "0")[:3]) / 1000


def _parse_cues(text: str) -> list[Segment]:
    """SRT and WebVTT share the shape: blocks with a `start --> end` line followed by text."""
    segments = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [ln.strip() for ln in block.strip().split("\n") if ln.strip()]
        idx = next((i for i, ln in enumerate(lines) if "-->" in ln), None)
        if idx is None:
            continue
        left, right = lines[idx].split("-->", 1)
        m1, m2 = _TIME.search(left), _TIME.search(right)
        if not m1 or not m2:
            continue
        body = _TAG.sub("", " ".join(lines[idx + 1:])).strip()
        if body:
            segments.append(Segment(body, _seconds(m1), _seconds(m2)))
    return segments


def read_subtitles(source: str | Path, name: str | None = None) -> Transcript:
    """Subtitles from a file (.srt, .vtt, .txt, .csv) or, when ``source`` is not a file, the string itself.

    A CSV needs a ``name`` column and one of ``english``/``subtitle``/``text``; ``name``
    selects the row (the clip's file stem).
    """
    path = Path(str(source)) if len(str(source)) < 4096 else None
    if path is None or not path.is_file():
        text = str(source).strip()
        return Transcript([Segment(text)] if text else [], "string")
    suffix = path.suffix.lower()
    text = decode_text_file(path)
    if suffix in (".srt", ".vtt"):
        segs = _parse_cues(text)
        if not segs and text.strip() and "-->" in text:
            raise InputError(path, "no valid cue timings found (expected 00:00:01,000 --> 00:00:02,000)")
        return Transcript(segs, "file")
    if suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        cols = [c for c in ("english", "subtitle", "text") if rows and c in rows[0]]
        if not rows or "name" not in rows[0] or not cols:
            raise InputError(path, "subtitle CSV needs columns name and english/subtitle/text", row=1)
        hit = [r for r in rows if r["name"] == name] if name else rows[:1]
        body = (hit[0][cols[0]] or "").strip() if hit else ""
        return Transcript([Segment(body)] if body else [], "file")
    body = " ".join(text.split())
    return Transcript([Segment(body)] if body else [], "file")
