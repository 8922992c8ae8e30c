"""Ground-floor I/O helpers shared by every writer (no feature imports)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

__all__ = ["spreadsheet_safe", "safe_row", "sha256_file", "table_delimiter"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def spreadsheet_safe(value):
    """A CSV cell that a spreadsheet will not run as a formula (OWASP "CSV Injection"): text that
    starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading apostrophe.
    Numbers (also numeric strings such as ``-1.280``) and other values are returned unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.match(value.strip()):
        return "'" + value
    return value


def safe_row(row):
    """:func:`spreadsheet_safe` over a dict's values or a sequence."""
    if isinstance(row, dict):
        return {k: spreadsheet_safe(v) for k, v in row.items()}
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
