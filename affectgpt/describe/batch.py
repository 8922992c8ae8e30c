"""Describe many files: one :mod:`affectgpt.pipeline` run of :class:`DescribeStep`.

Folders and globs are expanded (:func:`~affectgpt.pipeline.inputs.collect_inputs`); every entry
that is not readable media gets a failure record; successful records are cached per input under
``<out>/.cache`` (keyed by the file's resolved identity, its subtitle and the describe settings),
so ``--resume`` after a kill, or with the folder spelled another way, describes only what is left;
``results.jsonl`` is rewritten whole and atomically (every 10 s while running, and at the end), so it
never holds a torn line or a duplicate.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

from affectgpt.describe.pipeline import DescribeConfig, Describer
from affectgpt.errors import InputError
from affectgpt.pipeline import MapStep, collect_inputs, check_inputs, media_records, run_map, write_jsonl
from affectgpt.pipeline.inputs import MEDIA_SUFFIXES
from affectgpt.pipeline.run import MapResult, write_stats
from affectgpt.pipeline.store import output_lock, remove_stale_temporaries

__all__ = ["MEDIA_SUFFIXES", "DescribeStep", "shared_describer", "collect_inputs", "check_inputs", "describe_many", "describe_run"]

log = logging.getLogger(__name__)

_WORKER: Describer | None = None  # one loaded describer per process, reused across batches


def shared_describer(config: DescribeConfig) -> Describer:
    """This process's describer for ``config`` (loaded once; another config replaces it and frees
    the old models). Batch steps (describe, caption clues) share it, so models load once per worker."""
    global _WORKER
    if _WORKER is None or _WORKER.config != config:
        if _WORKER is not None:
            _WORKER.close()
        _WORKER = Describer(config)
    return _WORKER


class DescribeStep(MapStep):
    """``record["path"]`` (+ ``record["subtitle"]``) -> the describe record (JSON schema of
    :meth:`~affectgpt.describe.pipeline.Describer.describe`, plus ``path``)."""

    name = "describe"

    def __init__(self, config: DescribeConfig | None = None):
        self.config = config or DescribeConfig()

    def settings(self) -> dict:
        """The cache key's settings: the config and the versions that shape the output (the package,
        its heads' digest, the libraries), so an upgrade re-describes instead of reusing records."""
        from affectgpt.describe.pipeline import _versions

        return {"config": asdict(self.config), "versions": _versions()}

    def setup(self) -> None:
        shared_describer(self.config)

    def process(self, record: dict) -> dict:
        rec = shared_describer(self.config).describe(record["path"], record.get("subtitle"))
        rec["path"] = record["path"]
        return rec


def without_timings(record: dict) -> dict:
    """The record without ``timings_s`` (wall-clock seconds: the one field that differs between two
    runs on the same inputs and settings)."""
    return {k: v for k, v in record.items() if k != "timings_s"}


def _as_inputs(inputs) -> list[Path]:
    """Files, folders or globs (one path, or any iterable of them) -> the input files, in order,
    each once (:func:`~affectgpt.pipeline.inputs.collect_inputs`)."""
    import os

    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    return collect_inputs(list(inputs))


def _subtitle_identity(subtitle) -> str | None:
    """Content identity of a subtitle *file* (so that editing it invalidates cached records), or None."""
    from affectgpt.media.subtitles import looks_like_path
    from affectgpt.pipeline.inputs import identity

    if isinstance(subtitle, Path) or (isinstance(subtitle, str) and looks_like_path(subtitle)):
        p = Path(subtitle)
        if p.is_file():
            return identity(p, content_hash=True)
    return None


def describe_run(inputs: list[Path], jsonl: str | Path, config: DescribeConfig | None = None,
                 subtitle: str | None = None, executor=None, resume: bool = False, progress: bool = True,
                 subtitles: dict | None = None, clip_names: str = "stem", timings: bool = False) -> MapResult:
    """Describe every input into ``jsonl`` (one record per input, in input order; failures as
    ``{"path", "error", "reason"}``) and return the records and the run statistics. ``stats.json``
    beside ``jsonl`` (counts, failures by reason, seconds, settings) is the completion marker: it is
    removed when a run starts and written, atomically, only when every input has a record.

    ``subtitle`` is one subtitle (text or file) for every input; ``subtitles`` maps a clip name to
    its subtitle (:func:`~affectgpt.media.subtitles.read_subtitle_table`; a clip absent from it, or
    with an empty row, gets ``subtitle`` or offline ASR). ``resume`` reuses the records cached in
    ``<folder of jsonl>/.cache``; without it that cache is cleared first.

    ``clip_names`` (:data:`affectgpt.io.CLIP_NAME_SCHEMES`) names the clips: ``stem`` (the file
    stem) or ``parent_stem`` (``Raw/video_0001/0001.mp4`` -> ``video_0001_0001``, the MER-UniBench
    names of the CMU-MOSI/MOSEI and CH-SIMS layouts). Every record carries its ``name``; the
    ``subtitles`` table and the predictions file key clips by it.

    ``inputs`` may be one path or any iterable of files, folders and glob patterns; each file is
    described once. Subtitle files are keyed by content in the cache, so an edited file is read again.
    A ``subtitles`` table row is matched by name (a row ``clips/a.mp4`` matches a clip named ``a``);
    clips with no row and rows that match no input are counted in the run statistics and warned about.

    The records written leave out ``timings_s`` (wall-clock seconds per stage, which differ from
    run to run), so that the same inputs and settings give the same file byte for byte; with
    ``timings`` they are kept. The records returned always carry them.

    Only one run at a time writes a folder (:func:`~affectgpt.pipeline.store.output_lock`). On
    Ctrl-C the records finished so far are written to ``jsonl`` before the interrupt propagates.

    Raises:
        ValueError: an unknown ``clip_names``.
        InputError: with ``subtitles``, two inputs share a name (the table cannot tell them
            apart) or no row names any input; another run is writing to the folder of ``jsonl``.
    """
    from affectgpt.io import clip_id

    clip_id("x", clip_names)  # an unknown scheme fails here, before any work
    inputs = _as_inputs(inputs)
    if subtitles:
        from affectgpt.pipeline.inputs import check_unique_names

        check_unique_names(list(inputs), "the subtitles table", clip_names)
        _check_table_matches(inputs, subtitles, clip_names)
    jsonl = Path(jsonl)
    jsonl.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(jsonl.parent, "describe run"):
        return _describe_run_locked(inputs, jsonl, config, subtitle, executor, resume, progress, subtitles,
                                    clip_names, timings)


def _check_table_matches(inputs: list[Path], subtitles: dict, scheme: str = "stem") -> None:
    """Refuse a subtitles table none of whose rows names an input clip (a wrong table or naming).

    Raises:
        InputError: naming the table, with an example clip name and an example row name.
    """
    from affectgpt.io import clip_id
    from affectgpt.media.subtitles import clip_name

    names = sorted({clip_name(k) for k in subtitles})
    if inputs and not any(clip_id(p, scheme) in set(names) for p in inputs):
        first = next(iter(subtitles.values()))
        table = (getattr(first, "extra", None) or {}).get("table") or "the subtitles table"
        hint = "" if scheme != "stem" or not any("_" in n for n in names) else \
            "; for Raw/<video_id>/<clip_id>.mp4 folders use --clip-names parent_stem"
        raise InputError(table, f"no row names any of the {len(inputs)} input clips (rows are matched by the clip's "
                                f"name, here its {'file stem' if scheme == 'stem' else scheme}, e.g. "
                                f"{clip_id(inputs[0], scheme)!r}; the table has e.g. {names[0]!r}){hint}")


def _describe_run_locked(inputs, jsonl: Path, config, subtitle, executor, resume, progress, subtitles,
                         scheme: str, timings: bool = False) -> MapResult:
    from affectgpt.io import clip_id

    remove_stale_temporaries(jsonl.parent)
    marker = jsonl.parent / "stats.json"  # the completion marker: present only after a finished run
    marker.unlink(missing_ok=True)
    names = {p: clip_id(p, scheme) for p in inputs}

    table = {}
    if subtitles:
        from affectgpt.media.subtitles import clip_name

        table = {clip_name(k): v for k, v in subtitles.items()}

    def sub_for(p: Path):
        t = table.get(names[p])
        return t if t is not None and getattr(t, "text", t) else subtitle  # no or empty row: the common one

    coverage = {}
    if subtitles:
        used = set(names.values())
        without = [p for p in inputs if names[p] not in table]
        unused = [k for k in table if k not in used]
        blank = [p for p in inputs if names[p] in table and not getattr(table[names[p]], "text", table[names[p]])]
        first = next(iter(table.values()))
        extra = getattr(first, "extra", {}) or {}
        coverage = {"subtitles_table": {"file": extra.get("table"), "sha256": extra.get("table_sha256"),
                                        "clips_without_row": len(without), "rows_unused": len(unused),
                                        "clips_with_empty_row": len(blank)}}
        cfg = config or DescribeConfig()
        fallback = ("they get --subtitle" if subtitle else
                    "their own subtitle track or speech recognition reads them" if cfg.asr else
                    "their own subtitle track is read, else their text is missing (--no-asr)")
        if without:
            log.warning("the subtitles table has no row for %d of %d clips (e.g. %s): %s", len(without), len(inputs),
                        names[without[0]], fallback)
        if blank:
            log.warning("the subtitles table has an empty subtitle for %d of %d clips (e.g. %s): %s", len(blank),
                        len(inputs), names[blank[0]], fallback)
        if unused and len(unused) < len(table):
            log.info("%d rows of the subtitles table name no input clip", len(unused))
    extra = {}
    for p in inputs:
        sub = sub_for(p)
        extra[str(p)] = {"subtitle": sub}
        sid = _subtitle_identity(sub)
        if sid:
            extra[str(p)]["subtitle_identity"] = sid
    records = media_records(inputs, extra)
    for rec in records:
        if rec.get("subtitle") is None:
            rec.pop("subtitle", None)
    by_path = {str(p): n for p, n in names.items()}

    def named(out):  # the name is presentation (not in the cache key): set on every record written
        for r in out:
            if r is not None and r.get("path") in by_path:
                r["name"] = by_path[r["path"]]
        return [r for r in out if r is not None]

    def written(out):  # what the file holds: without the wall-clock timings unless asked
        return [r if timings else without_timings(r) for r in named(out)]

    def partial(out):
        write_jsonl(jsonl, written(out))

    res = run_map(DescribeStep(config), records, executor, store=jsonl.parent / ".cache", resume=resume,
                  progress=progress, desc="describe", on_progress=partial, every_s=10.0)
    named(res.records)
    write_jsonl(jsonl, written(res.records))
    res.stats.update(coverage)
    res.stats["clip_names"] = scheme
    write_stats(marker, {**res.stats, "complete": True, "output": jsonl.name})
    return res


def describe_many(inputs: list[Path], jsonl: str | Path, config: DescribeConfig | None = None,
                  subtitle: str | None = None, workers: int = 1, resume: bool = False,
                  progress: bool = True, subtitles: dict | None = None, executor=None,
                  clip_names: str = "stem", timings: bool = False) -> list[dict]:
    """:func:`describe_run` with a local executor of ``workers`` processes (or ``executor``);
    returns the records only."""
    from affectgpt.pipeline import make_executor

    executor = executor or make_executor("local", workers)
    return describe_run(inputs, jsonl, config, subtitle, executor, resume, progress, subtitles, clip_names,
                        timings).records

