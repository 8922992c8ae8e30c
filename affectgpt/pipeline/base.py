"""Steps: the units a pipeline is made of (after datatrove's design: readers, mappers and writers
are all steps; a pipeline is a list of them).

A record is a JSON-ready ``dict``. Every record a reader yields has an ``id`` (unique in the run,
e.g. the path as given) and, for files, an ``identity`` (see :func:`affectgpt.pipeline.inputs.identity`);
a record that could not be read carries ``error`` and ``reason`` instead of being dropped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator

__all__ = ["Step", "MapStep", "FunctionStep", "NoOpStep", "Reader", "Writer", "failure", "PRESENTATION_KEYS"]

#: record keys that say how an input was named, not what it is: never part of a cache key
PRESENTATION_KEYS = ("id", "path", "name", "file")


def failure(record: dict, reason: str, message: str) -> dict:
    """The record of an input that failed: its ``id``/``path``, ``error`` (a message naming the
    input) and ``reason`` (a short category counted in the run statistics)."""
    out = {k: record[k] for k in ("id", "path") if k in record}
    out.update(error=message, reason=reason)
    return out


class Step:
    """A pipeline stage: a generator over records.

    Subclasses set ``name`` and override :meth:`run`; :meth:`settings` returns everything that
    determines the step's output (it goes into cache keys and run statistics)."""

    name = "step"

    def settings(self) -> dict:
        """JSON-ready settings that determine the output (default: none)."""
        return {}

    def run(self, records: Iterable[dict]) -> Iterator[dict]:
        """Yield output records (default: pass every record through)."""
        yield from records

    def signature(self) -> str:
        """``<name>-<12 hex digits>``: the step and a hash of its settings (names cache folders)."""
        blob = json.dumps({"step": self.name, "settings": self.settings()}, sort_keys=True, default=str)
        return f"{self.name}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


class MapStep(Step):
    """One record in, one record out: the unit executors run in parallel and cache.

    ``setup`` runs once per worker before the first record (load models there, not in
    ``__init__``: the step is pickled to the workers); ``process`` maps one record and may
    raise (the executor records the failure and goes on); ``close`` frees what ``setup`` made.
    ``resources`` asks the Ray executor for CPUs/GPUs per worker, e.g. ``{"num_gpus": 1}``.
    """

    resources: dict = {"num_cpus": 1}

    def setup(self) -> None:
        """Load what ``process`` needs (once per worker)."""

    def process(self, record: dict) -> dict:
        raise NotImplementedError

    def close(self) -> None:
        """Free what ``setup`` loaded."""

    def cache_key(self, record: dict) -> str:
        """The record's identity for the per-record cache: a SHA-256 of the record without its
        presentation keys (``id``, ``path``, ``name``, ``file``) when it has an ``identity`` (a
        file: the same file spelled as a relative or an absolute path is one entry), else of the
        whole record."""
        if "identity" in record:
            what = {k: v for k, v in record.items() if k not in PRESENTATION_KEYS}
        else:
            what = dict(record)
        return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()

    def run(self, records: Iterable[dict]) -> Iterator[dict]:
        self.setup()
        try:
            for record in records:
                yield self.process(record)
        finally:
            self.close()


class FunctionStep(MapStep):
    """A :class:`MapStep` around a function ``record -> record`` (in-process executors only when
    the function is not picklable, e.g. a closure)."""

    def __init__(self, fn: Callable[[dict], dict], name: str = "map", settings: dict | None = None):
        self.fn, self.name, self._settings = fn, name, dict(settings or {})

    def settings(self) -> dict:
        return self._settings

    def process(self, record: dict) -> dict:
        return self.fn(record)


class NoOpStep(MapStep):
    """Returns each record unchanged: measures an executor's own cost per record
    (``benchmarks/executor_overhead.py``)."""

    name = "noop"

    def process(self, record: dict) -> dict:
        return record


class Reader(Step):
    """A step that adds records: the records it receives, then those of :meth:`read`."""

    name = "reader"

    def read(self) -> Iterator[dict]:
        raise NotImplementedError

    def run(self, records: Iterable[dict]) -> Iterator[dict]:
        yield from records
        yield from self.read()


class Writer(Step):
    """A step that writes every record it sees (atomically, when the stream ends) and passes them on."""

    name = "writer"

    def write(self, records: list[dict]) -> None:
        raise NotImplementedError

    def run(self, records: Iterable[dict]) -> Iterator[dict]:
        records = list(records)
        self.write(records)
        yield from records
