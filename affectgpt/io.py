"""Ground-floor I/O helpers shared by every writer (no feature imports)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

__all__ = ["spreadsheet_safe", "spreadsheet_unescape", "safe_id", "safe_row", "sha256_file", "table_delimiter", "clip_name", "clip_id", "CLIP_NAME_SCHEMES",
           "NAME_SUFFIXES", "MEDIA_SUFFIXES"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def spreadsheet_safe(value):
    """A CSV cell that a spreadsheet will not run as a formula (OWASP "CSV Injection"): text that
    starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading apostrophe.
    Numbers (also numeric strings such as ``-1.280``) and other values are returned unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.match(value.strip()):
        return "'" + value
    return value


def spreadsheet_unescape(value: str) -> str:
    """Undo :func:`spreadsheet_safe`: ``'-x`` -> ``-x`` (an apostrophe before a formula character)."""
    if value[:1] == "'" and value[1:2] and value[1:2] in _FORMULA_START:
        return value[1:]
    return value


#: an id: word characters, dots, dashes and spaces, maybe after a leading sign (``-MeTTeMJBNc_0``)
_PLAIN_ID = re.compile(r"^[-+]?[\w.\- ]+$")


def safe_id(value):
    """An id cell: written as it is when it is a plain id (CMU-MOSEI's ``-MeTTeMJBNc_0`` starts with
    ``-``, and an escaped id would no longer match its ground truth), else :func:`spreadsheet_safe`
    (``=HYPERLINK(...)`` named by a file stays harmless)."""
    if isinstance(value, str) and _PLAIN_ID.match(value):
        return value
    return spreadsheet_safe(value)


def safe_row(row, keep=("name",)):
    """:func:`spreadsheet_safe` over a dict's values or a sequence; the ``keep`` columns of a dict
    (default ``name``) are ids, written by :func:`safe_id`."""
    if isinstance(row, dict):
        return {k: safe_id(v) if k in keep else spreadsheet_safe(v) for k, v in row.items()}
    return [spreadsheet_safe(v) for v in row]


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks (input hashes in reports, asset checksums)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def table_delimiter(path: str | Path, text: str) -> str:
    """The delimiter of a table file: ``,`` unless the file is ``.tsv`` or its header line has no
    comma but tabs or semicolons (spreadsheets saved with a European locale write ``name;labels``)."""
    if Path(path).suffix.lower() == ".tsv":
        return "\t"
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    if "," not in first:
        for d in ("\t", ";"):
            if d in first:
                return d
    return ","


#: suffixes of the audio/video containers a folder or glob input takes
MEDIA_SUFFIXES = frozenset({
    # video
    ".mp4", ".m4v", ".mov", ".qt", ".mkv", ".mk3d", ".webm", ".avi", ".divx", ".mpg", ".mpeg", ".m2v", ".vob",
    ".flv", ".f4v", ".wmv", ".asf", ".3gp", ".3g2", ".ts", ".mts", ".m2ts", ".m2t", ".mxf", ".dv", ".ogv",
    ".rm", ".rmvb",
    # audio
    ".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".weba", ".mka", ".aiff", ".aif", ".aifc",
    ".wma", ".amr", ".caf", ".au", ".ac3", ".wv", ".ape",
})
#: suffixes dropped from a name that keys a clip in a table: media files, and the per-clip feature,
#: frame and text files upstream tools name after the clip
NAME_SUFFIXES = MEDIA_SUFFIXES | {".npy", ".npz", ".txt", ".json", ".jpg", ".png"}


#: How a batch names its clips in tables (subtitles, predictions) and per-clip output files:
#: ``stem`` (``clips/a.mp4`` -> ``a``) or ``parent_stem`` (``Raw/video_0001/0001.mp4`` ->
#: ``video_0001_0001``: the ``Raw/<video_id>/<clip_id>.mp4`` layout of CMU-MOSI, CMU-MOSEI,
#: CH-SIMS and CH-SIMS v2, whose MER-UniBench names are ``<video_id>_<clip_id>``).
CLIP_NAME_SCHEMES = ("stem", "parent_stem")


def clip_id(path: str | os.PathLike, scheme: str = "stem") -> str:
    """The name of a media file under a naming ``scheme`` (:data:`CLIP_NAME_SCHEMES`).

    Raises:
        ValueError: an unknown scheme.
    """
    p = Path(path)
    if scheme == "stem":
        return p.stem
    if scheme == "parent_stem":
        parent = p.absolute().parent.name  # "0001.mp4" typed inside Raw/video_0001 is video_0001_0001
        return f"{parent}_{p.stem}" if parent else p.stem
    raise ValueError(f"unknown clip naming {scheme!r} (use {' or '.join(CLIP_NAME_SCHEMES)})")


def clip_name(name: str) -> str:
    """The name a table (subtitles, predictions) gives a clip, as the clip's file stem: surrounding
    spaces, folders (``/`` or ``\\``) and a known suffix (:data:`NAME_SUFFIXES`, any case) dropped:
    ``clips/a.MP4`` -> ``a``; ``video_0001.0002`` stays as it is."""
    base = re.split(r"[\\/]", name.strip())[-1]
    stem, dot, suffix = base.rpartition(".")
    return stem if dot and stem and f".{suffix.lower()}" in NAME_SUFFIXES else base
