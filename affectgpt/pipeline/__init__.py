"""One crash-safe way to map work over many inputs, locally or on Ray.

* :mod:`~affectgpt.pipeline.base`: steps (readers, mappers, writers), datatrove-style;
* :mod:`~affectgpt.pipeline.inputs`: folders/globs to records, unreadable entries kept as failures;
* :mod:`~affectgpt.pipeline.store`: atomic writes and the per-record cache;
* :mod:`~affectgpt.pipeline.local` / :mod:`~affectgpt.pipeline.ray`: the executors;
* :func:`run_map`: a step over records with cache, progress bar and statistics.

Guarantees (each tested in ``tests/pipeline``): a SIGKILL of the whole process group or of the
parent alone, at any point, then a rerun: nothing lost, nothing duplicated, no torn line, the same
bytes as an uninterrupted run; workers exit when the parent dies; a worker that dies takes only
its record with it; every input entry that is not readable media gets a record saying why.
"""

from affectgpt.pipeline.base import FunctionStep, MapStep, NoOpStep, Reader, Step, Writer, failure
from affectgpt.pipeline.inputs import MediaReader, check_inputs, collect_inputs, entry_problem, identity, media_records
from affectgpt.pipeline.run import MapResult, PipelineResult, make_executor, run_map, run_pipeline, write_stats
from affectgpt.pipeline.store import JsonlWriter, RecordStore, atomic_write_text, read_jsonl_records, write_jsonl

__all__ = ["MediaReader", "JsonlWriter", "Step", "MapStep", "FunctionStep", "NoOpStep", "Reader", "Writer", "PipelineResult", "run_pipeline", "failure", "collect_inputs", "check_inputs", "entry_problem",
           "identity", "media_records", "MapResult", "run_map", "make_executor", "write_stats", "RecordStore",
           "atomic_write_text", "read_jsonl_records", "write_jsonl"]
