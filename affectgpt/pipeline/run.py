"""``run_map``: a step over records with an executor, a per-record cache, a progress bar and
statistics; the one loop every batch job of the package uses (describe, infer over media, token
and feature caching)."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from affectgpt.pipeline.base import MapStep
from affectgpt.pipeline.store import RecordStore, atomic_write_text

__all__ = ["MapResult", "PipelineResult", "run_map", "run_pipeline", "make_executor", "write_stats"]


@dataclass
class MapResult:
    """What a :func:`run_map` call produced.

    Attributes:
        records: one output record per input, in input order (failures carry ``error`` and
            ``reason``).
        stats: counts (``total``, ``cached``, ``processed``, ``failed``), ``failures_by_reason``,
            ``seconds``, the step signature and the executor's settings.
    """

    records: list[dict]
    stats: dict = field(default_factory=dict)

    @property
    def failures(self) -> list[dict]:
        return [r for r in self.records if "error" in r]


def make_executor(kind: str = "local", workers: int = 1, ray_address: str | None = None):
    """An executor by name: ``local`` (:class:`~affectgpt.pipeline.local.LocalExecutor`) or ``ray``
    (:class:`~affectgpt.pipeline.ray.RayExecutor`, ``pip install 'affectgpt[ray]'``)."""
    if kind == "local":
        from affectgpt.pipeline.local import LocalExecutor

        return LocalExecutor(workers=workers)
    if kind == "ray":
        from affectgpt.pipeline.ray import RayExecutor

        return RayExecutor(workers=workers, address=ray_address)
    raise ValueError(f"unknown executor {kind!r}; choose local or ray")


def run_map(step: MapStep, inputs: list[dict], executor=None, store: RecordStore | str | os.PathLike | None = None,
            resume: bool = True, progress: bool = True, desc: str | None = None,
            on_progress: Callable[[list[dict | None]], None] | None = None, every_s: float = 30.0,
            skip: Callable[[dict], bool] | None = None) -> MapResult:
    """Map ``step`` over ``inputs`` and return one record per input, in input order.

    Args:
        step: the step; its :meth:`~affectgpt.pipeline.base.MapStep.cache_key` keys the store.
        inputs: records with a unique ``id``; an input that already has ``error`` (an unreadable
            entry, :func:`~affectgpt.pipeline.inputs.media_records`) is passed through as a failure.
        executor: a local or Ray executor (default: local, in this process).
        store: a :class:`RecordStore`, or a folder for one under the step's signature; successful
            records are saved there as they finish (atomically), so a killed run loses at most the
            records in flight.
        resume: reuse stored records (``False`` clears this step's store first).
        on_progress: called with the partial list (``None`` for unfinished inputs) at most every
            ``every_s`` seconds, e.g. to rewrite a partial output file atomically.
        skip: inputs for which it returns True are not processed (and get ``{"id", "skipped": True}``).

    Raises:
        ValueError: repeated input ids.
    """
    from tqdm.auto import tqdm

    from affectgpt.pipeline.local import LocalExecutor

    ids = [r["id"] for r in inputs]
    if len(set(ids)) != len(ids):
        seen, dup = set(), None
        for i in ids:
            if i in seen:
                dup = i
                break
            seen.add(i)
        raise ValueError(f"input {dup!r} appears more than once")
    executor = executor or LocalExecutor()
    if store is not None and not isinstance(store, RecordStore):
        store = RecordStore(store, step.signature())
    if store is not None and not resume:
        store.clear()
    t0 = time.perf_counter()
    out: list[dict | None] = [None] * len(inputs)
    keys: list[str | None] = [None] * len(inputs)
    todo: list[tuple[int, dict]] = []
    cached = 0
    for i, rec in enumerate(inputs):
        if "error" in rec:
            out[i] = {k: rec[k] for k in ("id", "path", "error", "reason") if k in rec}
            out[i].setdefault("reason", "unreadable input")
            continue
        if skip is not None and skip(rec):
            out[i] = {"id": rec["id"], "skipped": True}
            cached += 1
            continue
        if store is not None:
            keys[i] = step.cache_key(rec)
            hit = store.get(keys[i])
            if hit is not None:
                out[i] = _present(hit, rec)
                cached += 1
                continue
        todo.append((i, rec))
    bar = tqdm(total=len(todo), desc=desc or step.name, unit="item", disable=not progress or len(todo) < 2)
    last = time.monotonic()

    def on_result(i: int, rec: dict) -> None:
        nonlocal last
        if "error" not in rec and store is not None and keys[i] is not None:
            store.put(keys[i], rec)
        out[i] = _present(rec, inputs[i])
        bar.update(1)
        if on_progress is not None and time.monotonic() - last >= every_s:
            on_progress(out)
            last = time.monotonic()

    try:
        executor.map(step, todo, on_result)
    except KeyboardInterrupt:
        if on_progress is not None:
            on_progress(out)  # Ctrl-C: the finished records reach the output before the run stops
        raise
    finally:
        bar.close()
    records = [r for r in out if r is not None]
    failed = [r for r in records if "error" in r]
    stats = {"step": step.signature(), "settings": step.settings(), "executor": executor.settings(),
             "total": len(inputs), "cached": cached, "processed": len(todo), "failed": len(failed),
             "failures_by_reason": dict(sorted(Counter(r.get("reason", "error") for r in failed).items())),
             "seconds": round(time.perf_counter() - t0, 3)}
    return MapResult(records, stats)


def _present(rec: dict, given: dict) -> dict:
    """A record shown under the name this run gave its input (the cache is keyed by identity)."""
    rec = dict(rec)
    for k in ("id", "path"):
        if k in given and k in rec:
            rec[k] = given[k]
    return rec


def write_stats(path: str | Path, stats: dict) -> None:
    """Per-step statistics as JSON, atomically."""
    import json

    atomic_write_text(path, json.dumps(stats, indent=1, sort_keys=True, default=str) + "\n")


@dataclass
class PipelineResult:
    """Records after the last step, and each step's statistics in order."""

    records: list[dict]
    steps: list[dict] = field(default_factory=list)

    @property
    def failures(self) -> list[dict]:
        return [r for r in self.records if "error" in r]


def run_pipeline(steps: list, executor=None, store: str | os.PathLike | None = None, resume: bool = True,
                 progress: bool = True) -> PipelineResult:
    """Run a pipeline: a list of steps (readers, map steps, writers, any :class:`Step`), in order.

    Map steps go through :func:`run_map` with ``executor`` and, when ``store`` is a folder, a
    per-record cache per step under it (so a rerun after a kill redoes only unfinished records of
    each step; a step's cache key covers its input record, which holds every earlier step's output).
    Other steps run as generators in this process. Failed records pass through later steps.
    """
    from affectgpt.pipeline.base import MapStep

    records: list[dict] = []
    stats = []
    for step in steps:
        t0 = time.perf_counter()
        if isinstance(step, MapStep):
            res = run_map(step, records, executor, store=store, resume=resume, progress=progress)
            records = res.records
            stats.append(res.stats)
        else:
            records = list(step.run(records))
            stats.append({"step": step.signature(), "total": len(records),
                          "seconds": round(time.perf_counter() - t0, 3)})
    return PipelineResult(records, stats)
