"""Describe many files: folders and globs, a progress bar, failures recorded, resumable JSONL output."""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterable
from pathlib import Path

from affectgpt.describe.pipeline import DescribeConfig, Describer
from affectgpt.errors import AffectGPTError, InputError

__all__ = ["MEDIA_SUFFIXES", "collect_inputs", "describe_many"]

MEDIA_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".3gp",
                  ".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus"}


def collect_inputs(items: Iterable[str]) -> list[Path]:
    """Expand files, folders (recursively, media files only) and glob patterns; keep order, drop repeats."""
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in MEDIA_SUFFIXES))
        elif any(ch in item for ch in "*?["):
            out.extend(sorted(Path(q) for q in glob.glob(item, recursive=True) if Path(q).is_file()))
        else:
            out.append(p)
    seen, unique = set(), []
    for p in out:
        key = str(p.resolve()) if p.exists() else str(p)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


_WORKER: Describer | None = None


def _init_worker(cfg: DescribeConfig) -> None:
    global _WORKER
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if _WORKER is not None:
        _WORKER.close()  # another configuration: free the old models and threads
    _WORKER = Describer(cfg)


def _one(args: tuple[str, str | None]) -> dict:
    path, subtitle = args
    try:
        return _WORKER.describe(path, subtitle)
    except (AffectGPTError, OSError, ValueError) as exc:
        return {"file": Path(path).name, "path": path, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a batch records any failure and goes on
        return {"file": Path(path).name, "path": path, "error": f"{path}: {type(exc).__name__}: {exc}"}


def _done(jsonl: Path) -> dict[str, dict]:
    """Records already written (by path); a half-written last line from a kill is ignored."""
    done: dict[str, dict] = {}
    if not jsonl.is_file():
        return done
    for line in jsonl.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if "path" in rec and "error" not in rec:
            done[rec["path"]] = rec
    return done


def describe_many(inputs: list[Path], jsonl: str | Path, config: DescribeConfig | None = None,
                  subtitle: str | None = None, workers: int = 1, resume: bool = False,
                  progress: bool = True, subtitles: dict[str, str] | None = None) -> list[dict]:
    """Describe every input into ``jsonl`` (one record per line, failures as ``{"error": ...}``).

    ``subtitle`` is one subtitle (text or file) for every input; ``subtitles`` maps a file stem
    to its subtitle (:func:`~affectgpt.media.subtitles.read_subtitle_table`; a clip absent from
    it, or with an empty row, gets ``subtitle`` or offline ASR).

    With ``resume``, files that already have a successful record are skipped, so an
    interrupted run continues without duplicates. Returns the records of this run plus
    the kept ones, in input order.
    """
    from tqdm.auto import tqdm

    jsonl = Path(jsonl)
    jsonl.parent.mkdir(parents=True, exist_ok=True)
    done = _done(jsonl) if resume else {}
    if not resume and jsonl.exists():
        jsonl.unlink()
    todo = [p for p in inputs if str(p) not in done]
    records: dict[str, dict] = dict(done)
    if resume and jsonl.exists():
        # rewrite without failed or torn lines, so retried files do not appear twice
        jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in done.values()), encoding="utf-8")
    cfg = config or DescribeConfig()
    bar = tqdm(total=len(todo), desc="describe", unit="file", disable=not progress or len(todo) < 2)
    with open(jsonl, "a", encoding="utf-8") as fh:
        def emit(rec: dict) -> None:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            fh.flush()
            records[rec["path"]] = rec
            bar.update(1)

        def sub_for(p: Path):
            t = (subtitles or {}).get(p.stem)
            return t if t is not None and t.text else subtitle  # no or empty row: the common subtitle or ASR

        jobs = [(str(p), sub_for(p)) for p in todo]
        if workers <= 1 or len(jobs) <= 1:
            if jobs and (_WORKER is None or _WORKER.config != cfg):
                _init_worker(cfg)
            for job in jobs:
                rec = _one(job)
                rec["path"] = job[0]
                emit(rec)
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # "spawn": forking a process that already runs torch/MediaPipe threads can deadlock
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                     initargs=(cfg,)) as ex:
                for job, rec in zip(jobs, ex.map(_one, jobs)):
                    rec["path"] = job[0]
                    emit(rec)
    bar.close()
    return [records[str(p)] for p in inputs if str(p) in records]


def check_inputs(inputs: list[Path]) -> None:
    """Raise when nothing matched (a typo in a glob should not look like success)."""
    if not inputs:
        raise InputError(None, "no input files matched")
