"""Input entries: folders, globs and file lists expanded into records, with every entry that is not
readable media kept as a failure record that says why (never silently skipped)."""

from __future__ import annotations

import glob
import hashlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from affectgpt.errors import InputError
from affectgpt.io import MEDIA_SUFFIXES
from affectgpt.pipeline.base import Reader

__all__ = ["MEDIA_SUFFIXES", "MediaReader", "collect_inputs", "check_inputs", "check_unique_names", "entry_problem",
           "identity", "media_records"]




#: files that sit beside clips and are known not to be media (left out of folders without a word)
_NOT_MEDIA = {".srt", ".vtt", ".ass", ".ssa", ".sub", ".idx", ".txt", ".csv", ".tsv", ".json", ".jsonl", ".md",
              ".yaml", ".yml", ".xml", ".nfo", ".jpg", ".jpeg", ".png", ".bmp", ".npz", ".npy", ".pkl", ".log",
              ".html", ".pdf", ".zip", ".tar", ".gz", ".py", ".sh", ".lock"}
log = logging.getLogger(__name__)


def _is_media_name(p: Path) -> bool:
    return p.suffix.lower() in MEDIA_SUFFIXES


def collect_inputs(items: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand files, folders (recursively) and glob patterns; keep order, drop repeats.

    Inside folders and globs every entry with a media suffix is kept, also when it is a dangling
    link, a directory named like a file or unreadable, so that it gets a failure record
    (:func:`entry_problem`) instead of vanishing; a glob also keeps files with no suffix at all.
    Other entries (``README.txt``, ``clip.srt``) are left out of folders and globs alike; a file
    named on its own is always kept. ``items`` may be one path or an iterable of them. Repeats are
    detected on the resolved path, so ``clips/a.mp4`` and ``/abs/clips/a.mp4`` (or a link to it) are
    one entry; a warning says how many were repeats.
    """
    if isinstance(items, (str, os.PathLike)):
        items = [items]
    out: list[Path] = []
    for item in items:
        text = str(item)
        p = Path(text)
        if p.is_dir() and not _is_media_name(p):
            entries = sorted(p.rglob("*"))
            out.extend(q for q in entries if _is_media_name(q))
            other = [q for q in entries if not _is_media_name(q) and not q.name.startswith(".") and q.is_file()
                     and q.suffix.lower() not in _NOT_MEDIA]
            if other:
                log.warning("%s: %d file(s) left out, not media by their name (e.g. %s); name them on the command "
                            "line to describe them", p, len(other), other[0].name)
        elif any(ch in text for ch in "*?[") and not p.exists():
            out.extend(sorted(Path(q) for q in glob.glob(text, recursive=True)
                              if _is_media_name(Path(q)) or (Path(q).is_file() and not Path(q).suffix)))
        else:
            out.append(p)
    seen: dict[str, Path] = {}
    unique, repeats = [], []
    for p in out:
        key = os.path.realpath(p)
        if key not in seen:
            seen[key] = p
            unique.append(p)
        else:
            repeats.append((p, seen[key]))
    if repeats:
        p, first = repeats[0]
        log.warning("%d input(s) name a file already given (the same file, through a link or another path) and are "
                    "described once: e.g. %s is %s", len(repeats), p, first)
    return unique


def check_inputs(inputs: list[Path]) -> None:
    """Raise when nothing matched (a typo in a glob should not look like success)."""
    if not inputs:
        raise InputError(None, "no input files matched")


def check_unique_names(inputs: list[Path], why: str, scheme: str = "stem") -> None:
    """Raise when two inputs share a name (:func:`affectgpt.io.clip_id` under ``scheme``: the
    file stem by default, the name a subtitles table or a predictions file keys a clip by):
    ``clips/a.mp4`` and ``more/a.wav`` could not be told apart. ``why`` says what needs the names.

    Raises:
        InputError: naming the shared name and both files (and, for ``stem``, the
            ``parent_stem`` naming that tells ``Raw/video_0001/0001.mp4`` from ``Raw/video_0002/0001.mp4``).
    """
    from affectgpt.io import clip_id

    first: dict[str, Path] = {}
    for p in inputs:
        name = clip_id(p, scheme)
        other = first.setdefault(name, p)
        if other is not p:
            hint = ("; for a Raw/<video_id>/<clip_id>.mp4 layout (CMU-MOSI, CH-SIMS ...) name clips "
                    "<video_id>_<clip_id> with --clip-names parent_stem") if scheme == "stem" and \
                p.parent != other.parent else ""
            raise InputError(p, f"shares the name {name!r} with {other}: {why} keys clips by name; "
                                f"rename one or describe them in separate runs{hint}")


def entry_problem(path: str | os.PathLike) -> str | None:
    """Why an input entry cannot be read as media, or ``None`` when it can be opened.

    Checks, in order: a dangling symbolic link, a missing path, a directory, an unreadable file
    (permissions), an empty file."""
    p = Path(path)
    if p.is_symlink() and not p.exists():
        return f"dangling symbolic link (points to {os.readlink(p)})"
    if not p.exists():
        return "file not found"
    if p.is_dir():
        return "is a directory, not a media file"
    if not p.is_file():
        return "not a regular file"
    if not os.access(p, os.R_OK):
        return "not readable (permission denied)"
    if p.stat().st_size == 0:
        return "file is empty (0 bytes)"
    return None


def identity(path: str | os.PathLike, content_hash: bool = False) -> str:
    """What a file *is*, for caching: SHA-256 of its content (``content_hash``), else of its
    resolved path, size and modification time (ns). The same file named two ways has one identity;
    an edited file gets a new one."""
    p = Path(path)
    if content_hash:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return "sha256:" + h.hexdigest()
    st = p.stat()
    return hashlib.sha256(f"{os.path.realpath(p)}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()


def media_records(paths: Iterable[str | os.PathLike], extra: dict[str, dict] | None = None) -> list[dict]:
    """Records ``{"id", "path", "identity", ...}`` for media paths, in order; an entry that cannot
    be read gets ``error`` and ``reason: "unreadable input"`` instead of an identity. ``extra``
    maps a path (as given) to more fields of its record (e.g. its subtitle)."""
    out = []
    for p in paths:
        key = str(p)
        rec: dict = {"id": key, "path": key}
        problem = entry_problem(p)
        if problem is None:
            try:
                rec["identity"] = identity(p)
            except OSError as exc:
                problem = f"cannot stat: {exc.strerror or exc}"
        if problem is not None:
            rec.update(error=f"{key}: {problem}", reason="unreadable input")
        rec.update((extra or {}).get(key, {}))
        out.append(rec)
    return out


class MediaReader(Reader):
    """Folders, globs and files -> :func:`media_records` (unreadable entries as failure records)."""

    name = "media-reader"

    def __init__(self, items: Iterable[str | os.PathLike], extra: dict[str, dict] | None = None):
        self.items, self.extra = [str(i) for i in items], extra

    def settings(self) -> dict:
        return {"items": self.items}

    def read(self):
        yield from media_records(collect_inputs(self.items), self.extra)
