"""Safe readers for the benchmark's file formats (npz, CSV, JSONL) with row-precise errors."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from affectgpt.errors import InputError, UntrustedPickleError
from affectgpt.io import sha256_file  # noqa: F401 (re-exported: bench reports hash their inputs)
from affectgpt.io import table_delimiter

__all__ = ["sha256_file", "read_csv_rows", "read_jsonl", "load_npz", "check_array", "check_unique"]


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(path, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); re-save the file as UTF-8", row=line) from exc


def read_csv_rows(path: str | Path, required: list[str] | None = None, any_of: list[str] | None = None,
                  lower_header: bool = False) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Read a CSV as (header, [(line_number, row_dict)]); tab- and semicolon-separated files are
    recognised by their header line (:func:`affectgpt.io.table_delimiter`). ``lower_header``
    matches column names ignoring case (``Name,Labels`` from a spreadsheet reads as ``name,labels``).

    Raises :class:`InputError` naming the file and line for bad encodings, missing columns
    (``required`` all needed, at least one of ``any_of``) and ragged rows.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    text = _decode(path, path.read_bytes())
    if not text.strip():
        raise InputError(path, "file is empty")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=table_delimiter(path, text))
    try:
        header = [h.strip().lower() if lower_header else h.strip() for h in next(reader)]
    except csv.Error as exc:
        raise InputError(path, f"malformed CSV: {exc}", row=1) from exc
    missing = [c for c in (required or []) if c not in header]
    if missing:
        raise InputError(path, f"missing column(s) {missing}; found {header}", row=1)
    if any_of and not any(c in header for c in any_of):
        raise InputError(path, f"needs one of the columns {any_of}; found {header}", row=1)
    rows = []
    try:
        for cells in reader:
            line = reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise InputError(path, f"expected {len(header)} cells, got {len(cells)}", row=line)
            rows.append((line, dict(zip(header, cells))))
    except csv.Error as exc:
        raise InputError(path, f"malformed CSV: {exc}", row=reader.line_num) from exc
    return header, rows


def read_jsonl(path: str | Path) -> list[tuple[int, dict]]:
    """Read a JSON-lines file as [(line_number, object)]."""
    path = Path(path)
    text = _decode(path, path.read_bytes())
    out = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise InputError(path, f"invalid JSON: {exc.args[0]}", row=i) from exc
        if not isinstance(obj, dict):
            raise InputError(path, "each line must be a JSON object", row=i)
        out.append((i, obj))
    return out


#: an .npz member that expands beyond this (bytes) is refused before it is read (the largest
#: released MER-UniBench output array is well under 10 MB)
MAX_NPZ_MEMBER_BYTES = 256 << 20


def load_npz(path: str | Path, trust_pickle: bool = False) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz``; pickled (object) arrays need ``trust_pickle``.

    Raises :class:`InputError` for a missing, empty, truncated or non-npz file and
    :class:`UntrustedPickleError` for pickled content without the opt-in.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    if path.stat().st_size == 0:
        raise InputError(path, "file is empty (0 bytes)")
    if not zipfile.is_zipfile(path):
        raise InputError(path, "not an .npz archive (no zip directory found; truncated or wrong format?)")
    try:
        with zipfile.ZipFile(path) as zf:
            big = [(i.filename, i.file_size) for i in zf.infolist() if i.file_size > MAX_NPZ_MEMBER_BYTES]
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(path, f"corrupt .npz archive: {exc}") from exc
    if big:
        name, size = big[0]
        raise InputError(path, f"array {name} expands to {size} bytes, over the {MAX_NPZ_MEMBER_BYTES}-byte limit "
                         "for benchmark outputs (refused before expanding)")
    try:
        with np.load(path, allow_pickle=trust_pickle) as z:
            return {k: z[k] for k in z.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "pickle" in str(exc).lower():
            raise UntrustedPickleError(path) from exc
        raise InputError(path, f"cannot read array: {exc}") from exc
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InputError(path, f"corrupt .npz archive: {exc}") from exc


_KIND_NAMES = {"U": "unicode text", "S": "bytes", "O": "Python objects", "f": "floats", "i": "integers",
               "u": "unsigned integers", "b": "booleans"}


def check_array(path: str | Path, name: str, arr, kinds: str, ndim: int) -> np.ndarray:
    """Refuse an array of unexpected dtype kind or number of dimensions, naming the file and array.

    Args:
        kinds: accepted ``dtype.kind`` letters, e.g. ``"USO"`` (text or objects).
        ndim: expected dimensions (0 for a pickled dict, 1 for a per-sample vector).

    Raises:
        InputError: ``"<file>: array 'fileitems' has shape (3, 4) ..."``.
    """
    if not isinstance(arr, np.ndarray):
        raise InputError(path, f"array {name!r} is not an array")
    want = " or ".join(_KIND_NAMES.get(k, k) for k in kinds)
    if arr.dtype.kind not in kinds:
        raise InputError(path, f"array {name!r} holds {_KIND_NAMES.get(arr.dtype.kind, str(arr.dtype))} "
                         f"({arr.dtype}); expected {want}")
    if arr.ndim != ndim:
        raise InputError(path, f"array {name!r} has shape {arr.shape}; expected {ndim} dimension(s)")
    return arr


def check_unique(path: str | Path, names: list[tuple[int | str, str]]) -> None:
    """Raise :class:`InputError` at the first repeated name, naming both rows."""
    first: dict[str, int | str] = {}
    for row, name in names:
        if name in first:
            raise InputError(path, f"duplicate name {name!r} (first seen at row {first[name]})", row=row)
        first[name] = row
