"""Files that survive a SIGKILL at any point: atomic writes, a per-record result cache, JSONL
outputs rewritten whole (temporary file + rename, never in place)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from affectgpt.pipeline.base import Writer

__all__ = ["JsonlWriter", "atomic_write_bytes", "atomic_write_text", "write_jsonl", "read_jsonl_records", "RecordStore",
           "remove_stale_temporaries", "output_lock"]

_TMP_SUFFIX = ".tmp"


def _read_umask() -> int:
    """The process umask (read by setting and restoring it: there is no getter; done once, at import)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _umask() -> int:
    return _UMASK


@contextlib.contextmanager
def output_lock(folder: str | os.PathLike, what: str = "run"):
    """Hold ``folder/.lock`` for the block, so that two runs never write one output folder at once
    (their records and statistics would interleave). The lock is an OS advisory lock (``flock``):
    a killed run releases it with its process, so a stale lock never blocks a rerun. Without
    ``fcntl`` (Windows) nothing is locked.

    Raises:
        InputError: another process holds the folder (names the folder and that process's id).
    """
    from affectgpt.errors import InputError

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = folder / ".lock"
    fh = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise InputError(folder, f"another {what} is writing to this folder (process {holder}); wait for it "
                                     "to finish or choose another output folder") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield
    finally:
        fh.close()  # closing releases the lock


def atomic_write_bytes(path: str | os.PathLike, data: bytes, fsync: bool = False) -> None:
    """Write ``path`` so that a reader (or a rerun after a kill) sees the old file or the new one,
    never a part: a temporary file in the same folder, flushed, then ``os.replace``. ``fsync``
    also survives a power cut (slower: use it for rare, precious files)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600: give the mode a plain open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str, fsync: bool = False) -> None:
    """:func:`atomic_write_bytes` of UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)


def _line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n"


def write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> None:
    """One JSON object per line, written atomically (the whole file at once)."""
    atomic_write_text(path, "".join(_line(r) for r in records))


def read_jsonl_records(path: str | os.PathLike) -> list[dict]:
    """The records of a JSONL file; unparseable lines (a torn last line from an older version's
    kill) are skipped."""
    out = []
    p = Path(path)
    if not p.is_file():
        return out
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def remove_stale_temporaries(folder: str | os.PathLike) -> int:
    """Delete temporary files a killed run left in ``folder`` (not recursive); returns how many."""
    n = 0
    folder = Path(folder)
    if folder.is_dir():
        for p in folder.glob(f".*{_TMP_SUFFIX}"):
            p.unlink(missing_ok=True)
            n += 1
    return n


class RecordStore:
    """Per-record results of one step with one set of settings: ``<root>/<signature>/<kk>/<key>.json``.

    ``key`` is the step's :meth:`~affectgpt.pipeline.base.MapStep.cache_key` of the input record.
    Each entry is written atomically, so after a kill an entry is complete or absent. Only
    successful records are stored: a failure is tried again on the next run.
    """

    def __init__(self, root: str | os.PathLike, signature: str):
        self.root = Path(root) / signature
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The stored record, or ``None`` (absent or unreadable)."""
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, key: str, record: dict) -> None:
        atomic_write_text(self._path(key), json.dumps(record, ensure_ascii=False))

    def __contains__(self, key: str) -> bool:
        return self._path(key).is_file()

    def clear(self) -> None:
        """Forget every stored record of this signature."""
        import shutil

        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)


class JsonlWriter(Writer):
    """Writes the records it sees to ``path`` (one JSON object per line), atomically."""

    name = "jsonl-writer"

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)

    def settings(self) -> dict:
        return {"path": self.path}

    def write(self, records: list[dict]) -> None:
        write_jsonl(self.path, records)
