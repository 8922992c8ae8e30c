"""Per-sample synonym groups for the MER2024 open-vocabulary metric (UPSTREAM §2.7)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from affectgpt.errors import InputError, UntrustedPickleError

__all__ = ["load_synonym_groups"]


#: members larger than this (bytes, uncompressed) are refused before they are expanded
MAX_MEMBER_BYTES = 1 << 20
#: an archive expanding to more than this (bytes) is refused before reading any member
MAX_TOTAL_BYTES = 256 << 20


def _as_groups(path: Path, member: str, obj) -> list[list[str]]:
    if isinstance(obj, np.ndarray) and obj.ndim == 0 and obj.dtype.kind in "US":
        obj = _literal_groups(path, member, str(obj.item()))  # MERTools: the list's Python literal
    obj = obj.tolist() if isinstance(obj, np.ndarray) else obj
    if isinstance(obj, str):
        obj = _literal_groups(path, member, obj)
    if not isinstance(obj, list) or not all(isinstance(g, (list, tuple)) for g in obj):
        raise InputError(path, f"{member}: expected a list of synonym groups (lists of labels)")
    return [[str(x) for x in g] for g in obj]


def _literal_groups(path: Path, member: str, text: str):
    """``"[['joyful', 'happy'], ['humorous']]"`` -> a list of lists, read as a literal (never ``eval``)."""
    import ast

    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise InputError(path, f"{member}: not a literal list of synonym groups ({type(exc).__name__})") from None
    return value


def load_synonym_groups(path: str | Path, trust_pickle: bool = False) -> dict[str, list[list[str]]]:
    """Read synonym groups: a zip of ``<name>.npy`` files (upstream: object arrays of lists, or
    MERTools' 0-d unicode arrays holding the list's Python literal, parsed with
    ``ast.literal_eval``) or a JSON ``{name: groups}``. Members over :data:`MAX_MEMBER_BYTES`
    uncompressed are refused before reading."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "synonym-group file not found")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(path, f"invalid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InputError(path, "expected an object {name: [[label, ...], ...]}")
        return {str(k): _as_groups(path, str(k), v) for k, v in data.items()}
    if not zipfile.is_zipfile(path):
        raise InputError(path, "not a zip archive of .npy files (truncated or wrong format?)")
    out: dict[str, list[list[str]]] = {}
    with zipfile.ZipFile(path) as zf:
        total = sum(i.file_size for i in zf.infolist())
        if total > MAX_TOTAL_BYTES:
            raise InputError(path, f"expands to {total} bytes, over the {MAX_TOTAL_BYTES}-byte limit (a zip bomb?)")
        for member in sorted(zf.namelist()):
            if not member.endswith(".npy"):
                continue
            name = Path(member).stem
            if name in out:
                raise InputError(path, f"duplicate sample {name!r} ({member})")
            size = zf.getinfo(member).file_size
            if size > MAX_MEMBER_BYTES:
                raise InputError(path, f"{member}: {size} bytes uncompressed, over the {MAX_MEMBER_BYTES}-byte limit "
                                 "for one sample's synonym groups (a zip bomb?)")
            try:
                arr = np.load(io.BytesIO(zf.read(member)), allow_pickle=trust_pickle)
            except ValueError as exc:
                if "pickle" in str(exc).lower():
                    raise UntrustedPickleError(path) from exc
                raise InputError(path, f"{member}: {exc}") from exc
            out[name] = _as_groups(path, member, arr)
    if not out:
        raise InputError(path, "archive holds no .npy files")
    return out
