"""Readers for the emotion-wheel tables of the MER-UniBench / OV-MER metric.

The tables are third-party (AffectGPT authors, see :mod:`affectgpt.config`) and are read
from the data directory, never bundled. Every word is stripped and lower-cased, as upstream.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from affectgpt.errors import InputError

__all__ = ["WheelRow", "read_wheel", "read_synonym_runs", "read_word_forms", "normalise_word"]


def normalise_word(word: str) -> str:
    """Upstream normalisation of one vocabulary word: strip and lower-case."""
    return word.strip().lower()


@dataclass(frozen=True)
class WheelRow:
    """One row of a wheel table after forward-filling blank cells (inner, middle, outer ring)."""

    level1: str
    level2: str
    level3: str


def _read_rows(path: Path, required: list[str]) -> list[dict[str, str]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in required if c not in header]
            if missing:
                raise InputError(path, f"missing column(s) {missing}; found {header}", row=1)
            reader.fieldnames = header
            return list(reader)
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc


def read_wheel(path: str | Path) -> list[WheelRow]:
    """Read ``wheelK.csv`` (columns level1, level2, level3; blank = same as the row above)."""
    path = Path(path)
    rows = _read_rows(path, ["level1", "level2", "level3"])
    out: list[WheelRow] = []
    last1 = last2 = ""
    for i, row in enumerate(rows, start=2):
        l1 = normalise_word(row.get("level1") or "") or last1
        l2 = normalise_word(row.get("level2") or "") or last2
        l3 = normalise_word(row.get("level3") or "")
        if not l1 or not l2 or not l3:
            raise InputError(path, "incomplete wheel row (no level1/level2 to carry forward or empty level3)", row=i)
        out.append(WheelRow(l1, l2, l3))
        last1, last2 = l1, l2
    if not out:
        raise InputError(path, "wheel table has no rows")
    return out


def read_synonym_runs(path: str | Path) -> list[list[tuple[str, list[str]]]]:
    """Read ``synonym.csv``: for each run K, the list of (wheel word, synonyms) pairs.

    Columns come in pairs ``word_runK``, ``synonym_runK``; rows of different runs are not aligned.
    """
    path = Path(path)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh), [])
    header = [h.strip() for h in header]
    runs = sorted(int(h[len("word_run"):]) for h in header if h.startswith("word_run"))
    if not runs:
        raise InputError(path, f"no word_runK columns; found {header}", row=1)
    rows = _read_rows(path, [c for k in runs for c in (f"word_run{k}", f"synonym_run{k}")])
    out: list[list[tuple[str, list[str]]]] = []
    for k in runs:
        pairs = []
        for row in rows:
            word = normalise_word(row.get(f"word_run{k}") or "")
            if not word:
                continue
            syns = [normalise_word(s) for s in (row.get(f"synonym_run{k}") or "").split(",")]
            pairs.append((word, [s for s in syns if s]))
        out.append(pairs)
    return out


def read_word_forms(path: str | Path) -> list[tuple[str, list[str]]]:
    """Read ``format.csv``: (base word, its word forms) per row."""
    path = Path(path)
    rows = _read_rows(path, ["name", "format"])
    out = []
    seen: set[str] = set()
    for i, row in enumerate(rows, start=2):
        name = normalise_word(row.get("name") or "")
        if not name:
            raise InputError(path, "empty base word in column 'name'", row=i)
        if name in seen:
            raise InputError(path, f"duplicate base word {name!r}", row=i)
        seen.add(name)
        forms = [normalise_word(f) for f in (row.get("format") or "").split(",")]
        out.append((name, [f for f in forms if f]))
    return out
