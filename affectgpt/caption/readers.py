"""Caption inputs: folders/globs of media, or a manifest (CSV, JSONL or parquet) with ``name``,
``path`` and optional subtitle columns (the upstream ``name,chinese,english`` layout included).

A manifest is checked whole before any work starts: a repeated name or a missing file is refused
with the rows named.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from affectgpt.errors import InputError
from affectgpt.pipeline import Reader, collect_inputs, media_records

__all__ = ["MANIFEST_SUFFIXES", "CaptionReader", "read_manifest"]

MANIFEST_SUFFIXES = (".csv", ".jsonl", ".parquet")
_SUBTITLE_COLUMNS = ("subtitle", "english", "chinese", "text")


def _rows(path: Path) -> list[tuple[int, dict]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            with open(path, encoding="utf-8-sig", newline="") as fh:
                return [(i, dict(r)) for i, r in enumerate(csv.DictReader(fh), start=2)]
        except UnicodeDecodeError as exc:
            raise InputError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if suffix == ".jsonl":
        from affectgpt.bench.io import read_jsonl

        return read_jsonl(path)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return [(i, r) for i, r in enumerate(pq.read_table(path).to_pylist(), start=1)]
    raise InputError(path, f"manifest must be {', '.join(MANIFEST_SUFFIXES)}")


def read_manifest(path: str | Path, subtitle_column: str | None = None) -> list[dict]:
    """Records ``{"id": name, "path", "identity", "subtitle"?}`` of a manifest, in its order.

    ``path`` values are relative to the manifest's folder unless absolute; without a ``path``
    column, ``video/<name>.mp4`` beside the manifest is tried (the upstream layout). The subtitle is
    the ``subtitle_column`` if given, else the first of subtitle, english, chinese, text.

    Raises:
        InputError: no ``name`` column, repeated names or missing files (all named with rows).
    """
    path = Path(path)
    rows = _rows(path)
    if not rows:
        raise InputError(path, "manifest has no rows")
    header = set().union(*(r.keys() for _, r in rows))
    if "name" not in header:
        raise InputError(path, f"missing column 'name'; found {sorted(header)}", row=1)
    col = subtitle_column or next((c for c in _SUBTITLE_COLUMNS if c in header), None)
    if subtitle_column and subtitle_column not in header:
        raise InputError(path, f"no subtitle column {subtitle_column!r}; found {sorted(header)}", row=1)
    first: dict[str, int] = {}
    dups, missing = [], []
    entries = []
    for row, r in rows:
        name = str(r.get("name") or "").strip()
        if not name:
            raise InputError(path, "empty name", row=row)
        if name in first:
            dups.append(f"{name!r} (rows {first[name]} and {row})")
            continue
        first[name] = row
        given = str(r.get("path") or "").strip()
        media = Path(given) if given else path.parent / "video" / f"{name}.mp4"
        if given and not media.is_absolute():
            media = path.parent / media
        if not media.exists() and not media.is_symlink():
            missing.append(f"row {row}: {media}")
        text = str(r.get(col) or "").strip() if col else ""
        entries.append((name, media, text))
    problems = []
    if dups:
        problems.append(f"{len(dups)} repeated name(s): " + "; ".join(dups[:5]))
    if missing:
        problems.append(f"{len(missing)} missing file(s): " + "; ".join(missing[:5]))
    if problems:
        raise InputError(path, "refused before any work: " + " | ".join(problems))
    records = media_records([m for _, m, _ in entries])
    for rec, (name, _, text) in zip(records, entries):
        rec["id"] = name
        if text:
            rec["subtitle"] = text
    return records


class CaptionReader(Reader):
    """``--input`` items: manifests (.csv/.jsonl/.parquet) and media folders, globs or files.
    Record ids are clip names (file stems); two inputs with one name are refused."""

    name = "caption-reader"

    def __init__(self, items: list[str], subtitles: dict[str, str] | None = None):
        self.items, self.subtitles = [str(i) for i in items], dict(subtitles or {})

    def settings(self) -> dict:
        return {"items": self.items}

    def read(self) -> Iterator[dict]:
        records: list[dict] = []
        media = []
        for item in self.items:
            if Path(item).suffix.lower() in MANIFEST_SUFFIXES and Path(item).is_file():
                records.extend(read_manifest(item))
            else:
                media.append(item)
        for item in media:  # a mistyped input is a usage error, found before any work
            if not any(ch in item for ch in "*?[") and not Path(item).exists() and not Path(item).is_symlink():
                raise InputError(item, "input not found (a media file, folder, glob or manifest)")
        if media:
            found = collect_inputs(media)
            if not found:
                raise InputError(None, f"no media found in {' '.join(media)}")
            for rec in media_records(found):
                rec["id"] = Path(rec["path"]).stem
                if self.subtitles.get(rec["id"]):
                    rec["subtitle"] = self.subtitles[rec["id"]]
                records.append(rec)
        seen: dict[str, str] = {}
        for rec in records:
            if rec["id"] in seen:
                raise InputError(rec["path"], f"clip name {rec['id']!r} also used by {seen[rec['id']]}; names must "
                                 "be unique")
            seen[rec["id"]] = rec["path"]
        yield from records
