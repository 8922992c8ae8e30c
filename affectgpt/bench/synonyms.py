"""Per-sample synonym groups for the MER2024 open-vocabulary metric (UPSTREAM §2.7)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from affectgpt.errors import InputError, UntrustedPickleError

__all__ = ["load_synonym_groups"]


def _as_groups(path: Path, member: str, obj) -> list[list[str]]:
    obj = obj.tolist() if isinstance(obj, np.ndarray) else obj
    if not isinstance(obj, list) or not all(isinstance(g, (list, tuple)) for g in obj):
        raise InputError(path, f"{member}: expected a list of synonym groups (lists of labels)")
    return [[str(x) for x in g] for g in obj]


def load_synonym_groups(path: str | Path, trust_pickle: bool = False) -> dict[str, list[list[str]]]:
    """Read synonym groups: a zip of ``<name>.npy`` files (upstream) or a JSON ``{name: groups}``."""
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
        for member in sorted(zf.namelist()):
            if not member.endswith(".npy"):
                continue
            name = Path(member).stem
            if name in out:
                raise InputError(path, f"duplicate sample {name!r} ({member})")
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
