"""``caption_run``: the MER-Caption pipeline (reader -> clues -> merge -> labels -> speaker filter
-> length filter -> crowd filter -> export) on the project's executor, with a report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from affectgpt.caption.export import ExportWriter, write_report
from affectgpt.caption.readers import CaptionReader
from affectgpt.caption.steps import (ClueStep, CrowdFilter, EndpointClueStep, LabelStep, LengthFilter,
                                     LocalClueStep, MergeStep, SpeakerFilter)
from affectgpt.pipeline import Reader, run_pipeline
from affectgpt.pipeline.store import atomic_write_text, output_lock, remove_stale_temporaries

__all__ = ["CaptionResult", "build_steps", "caption_run"]


@dataclass
class CaptionResult:
    """Every sample's final record, the per-step statistics, and where the export and report are."""

    records: list[dict]
    steps: list[dict]
    export_dir: Path
    report: Path

    @property
    def kept(self) -> list[dict]:
        return [r for r in self.records if r.get("kept") and "error" not in r]

    @property
    def failures(self) -> list[dict]:
        return [r for r in self.records if "error" in r]


class _Given(Reader):
    """The records the caption reader already read and checked."""

    name = "caption-reader"

    def __init__(self, records: list[dict]):
        self.records = records

    def read(self):
        yield from self.records


def build_steps(cfg: dict, inputs: list[str], out_dir: Path, data_dir: str | None = None,
                subtitles: dict[str, str] | None = None) -> list:
    """The pipeline a caption config describes: a list of steps (readers and writers included)."""
    clues, merge, labels = cfg.get("clues", {}), cfg.get("merge", {}), cfg.get("labels", {})
    filters = cfg.get("filters", {})
    crowd = filters.get("crowd", {})
    profile = crowd.get("profile", "paper")
    steps = [CaptionReader(inputs, subtitles),
             ClueStep(asr=bool(clues.get("asr", True)), frames=int(clues.get("frames", 8)), data_dir=data_dir)]
    if clues.get("backend") == "openai":
        if not clues.get("url") or not (clues.get("audio_model") or clues.get("video_model")):
            raise ValueError("clues.backend openai needs clues.url and clues.audio_model and/or clues.video_model")
        steps.append(EndpointClueStep(clues["url"], clues.get("audio_model"), clues.get("video_model"),
                                      int(clues.get("frames", 8)), float(clues.get("timeout_s", 120)),
                                      int(clues.get("retries", 3)), int(clues.get("max_tokens", 256))))
    if clues.get("backend") == "transformers":
        if not (clues.get("audio_model") or clues.get("video_model")):
            raise ValueError("clues.backend transformers needs clues.video_model and/or clues.audio_model (model folders)")
        steps.append(LocalClueStep(clues.get("video_model"), clues.get("audio_model"), int(clues.get("frames", 8)),
                                   int(clues.get("max_tokens", 256))))
    steps += [MergeStep(merge.get("backend", "describe"), merge.get("url"), merge.get("model"),
                       float(merge.get("timeout_s", 120)), int(merge.get("retries", 3)), int(merge.get("max_tokens", 512))),
             LabelStep(labels.get("extractor", "lexicon"), profile, data_dir, labels.get("url"), labels.get("model"))]
    if filters.get("speaker", {}).get("enabled", True):
        speaker = filters.get("speaker", {})
        steps.append(SpeakerFilter(speaker.get("model"), float(speaker.get("threshold", 0.5))))
    length = filters.get("length", {})
    if length.get("enabled", True):
        steps.append(LengthFilter(length.get("mode", "quantile"), length.get("low"), length.get("high")))
    if crowd.get("enabled", True):
        steps.append(CrowdFilter(crowd.get("mode", "E+S"), crowd.get("voters"), profile, data_dir,
                                 crowd.get("extra_voters")))
    steps.append(ExportWriter(out_dir / "export", hf=bool(cfg.get("export", {}).get("hf", True))))
    return steps


def caption_run(cfg: dict, inputs: list[str], out_dir: str | Path, executor=None, resume: bool = False,
                progress: bool = True, data_dir: str | None = None, subtitles: dict[str, str] | None = None,
                plots: bool = True) -> CaptionResult:
    """Run a caption config (:func:`~affectgpt.caption.config.load_caption_config`) over ``inputs``
    (media folders, globs, files or manifests) into ``out_dir``.

    Per-sample results of every step are cached under ``out_dir/.cache`` (keyed by the sample's
    content identity, everything earlier steps produced and the step's settings); ``resume`` reuses
    them, so a killed run continues with nothing lost or duplicated and the same export bytes.
    Failed samples are recorded (``error``, ``reason``) and never stop the run.

    Only one run at a time writes ``out_dir`` (:func:`~affectgpt.pipeline.store.output_lock`).

    Raises:
        InputError: a manifest with repeated names or missing files (before any work starts);
            another run is writing to ``out_dir``.
    """
    out = Path(out_dir)
    steps = build_steps(cfg, inputs, out, data_dir, subtitles)
    needs_wheels = any(isinstance(s, (LabelStep, CrowdFilter)) for s in steps)
    if needs_wheels:  # fail now, not after the clue step, when the emotion-wheel tables are missing
        from affectgpt.emotions import load_vocabulary

        load_vocabulary(cfg.get("filters", {}).get("crowd", {}).get("profile", "paper"), data_dir)
    records = list(steps[0].run([]))  # read (and check) the inputs before anything is written
    with output_lock(out, "caption run"):  # one run per output folder at a time
        remove_stale_temporaries(out)
        steps[0] = _Given(records)
        res = run_pipeline(steps, executor, store=out / ".cache", resume=resume, progress=progress)
        length = next((s for s in steps if isinstance(s, LengthFilter)), None)
        report = write_report(out, res.records, res.steps, cfg, length.bounds if length else None, plots=plots)
        atomic_write_text(out / "config.json", json.dumps(cfg, indent=1, sort_keys=True) + "\n")
        atomic_write_text(out / "stats.json", json.dumps({"steps": res.steps, "complete": True}, indent=1,
                                                         sort_keys=True, default=str) + "\n")
    return CaptionResult(res.records, res.steps, out / "export", report)
