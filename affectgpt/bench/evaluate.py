"""The scoring API: one dataset, one output set or a folder of checkpoints, one JSON report.

Example::

    from affectgpt.bench import ScoreSettings, score
    report = score(ScoreSettings(dataset="mer2023", labels="gt/mer2023.csv",
                                 predictions="results-mer2023/", select="best"))
    print(report["score"])
"""

from __future__ import annotations

import json
import math
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from affectgpt import __version__
from affectgpt.bench.datasets import default_labels, get_dataset, load_ground_truth
from affectgpt.bench.extractors import get_extractor
from affectgpt.bench.io import sha256_file
from affectgpt.bench.predictions import read_predictions
from affectgpt.bench.scoring import CheckpointScore, score_checkpoint
from affectgpt.bench.synonyms import load_synonym_groups
from affectgpt.emotions import load_vocabulary
from affectgpt.errors import InputError

__all__ = ["ScoreSettings", "ScoreResult", "score", "score_full", "report_json", "SCHEMA_VERSION"]

SCHEMA_VERSION = "1.0"
Select = Literal["single", "best", "last", "all"]


@dataclass
class ScoreSettings:
    """Everything that determines a score (recorded in the report).

    Attributes:
        dataset: registry name (``mer2023`` ... ``ovmerd``).
        labels: ground truth: upstream ``<name>-process`` folder, ``ovlabel.csv`` or CSV; ``None``:
            the dataset's public test split (data directory, else ``affectgpt data fetch``).
        predictions: one output file or a folder of per-checkpoint outputs.
        select: ``single`` (exactly one output set), ``best`` (upstream: best on the test
            set), ``last`` (highest epoch) or ``all`` (every checkpoint; score = their mean).
        extractor: ``given``, ``lexicon`` or ``llm``.
        profile: label-normalisation profile, ``paper`` or ``corrected``.
        trust_pickle: allow loading pickled npz files (upstream answers and labels).
        synonyms: per-sample synonym groups (switches OV scoring to the MER2024 metric).
        data_dir: data directory with the emotion-wheel tables.
        bootstrap: number of bootstrap resamples for the 95% interval (0 disables).
        seed: bootstrap seed.
        llm_model, llm_url: the ``llm`` extractor's model and endpoint.
        llm_cache: its answer cache file (``None``: default location).
    """

    dataset: str
    labels: str | None
    predictions: str
    select: Select = "single"
    extractor: str = "given"
    profile: str = "paper"
    trust_pickle: bool = False
    synonyms: str | None = None
    data_dir: str | None = None
    bootstrap: int = 1000
    seed: int = 0
    llm_model: str | None = None
    llm_url: str | None = None
    llm_cache: str | None = None

    def __post_init__(self):
        if self.bootstrap < 0 or 0 < self.bootstrap < 20:  # a 2.5% tail needs a few dozen resamples at least
            raise ValueError(f"bootstrap (--bootstrap) must be 0 (off) or at least 20 resamples for a 95% interval "
                             f"(got {self.bootstrap}; 1000 is the default)")


@dataclass
class ScoreResult:
    """The JSON-ready report plus the selected checkpoint's per-sample rows."""

    report: dict
    rows: list[dict] = field(default_factory=list)
    checkpoints: list[CheckpointScore] = field(default_factory=list)


def _versions() -> dict:
    import sklearn

    return {"affectgpt": __version__, "numpy": np.__version__, "scikit-learn": sklearn.__version__,
            "python": platform.python_version()}


def _build_extractor(st: ScoreSettings, vocab):
    kwargs: dict = {"vocabulary": vocab}
    if st.extractor == "llm":
        kwargs.update(model=st.llm_model, base_url=st.llm_url)
        if st.llm_cache:
            kwargs["cache"] = st.llm_cache
    return get_extractor(st.extractor, **kwargs)


def _select(results: list[CheckpointScore], select: str, predictions: str) -> tuple[dict, CheckpointScore | None]:
    if select == "single":
        if len(results) != 1:
            names = ", ".join(r.checkpoint for r in results)
            raise InputError(predictions, f"holds {len(results)} output sets ({names}); "
                             "choose one file or pass --select best|last|all")
        return {"protocol": "single"}, results[0]
    if select == "last":
        return {"protocol": "last"}, results[-1]
    candidates = [{"checkpoint": r.checkpoint, "score": r.score} for r in results]
    if select == "best":
        valid = [r for r in results if r.score is not None]
        best = max(valid, key=lambda r: r.score) if valid else results[0]
        return {"protocol": "best", "candidates": candidates,
                "warning": "checkpoint selected on the test set (upstream protocol): the score is "
                           "optimistically biased; report it as test-set selection"}, best
    if select == "all":
        return {"protocol": "all", "candidates": candidates}, None
    raise ValueError(f"unknown selection {select!r}; choose single, best, last or all")


def _clean(obj):
    """Replace NaN/inf by None recursively so the JSON is strict and stable."""
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        return _clean(obj.item())
    return obj


def score_full(settings: ScoreSettings) -> ScoreResult:
    """Score predictions on one dataset; returns the report and per-sample rows."""
    st = settings
    spec = get_dataset(st.dataset)
    labels = st.labels or default_labels(spec, st.data_dir)
    gt = load_ground_truth(spec, labels, trust_pickle=st.trust_pickle)
    vocab = load_vocabulary(st.profile, st.data_dir)
    extractor = _build_extractor(st, vocab)
    groups = load_synonym_groups(st.synonyms, st.trust_pickle) if st.synonyms else None
    if groups is not None and spec.task != "ov":
        raise InputError(st.synonyms, f"synonym groups apply to open-vocabulary sets, not {spec.name}")
    sets = read_predictions(st.predictions)
    if st.select == "single" and len(sets) != 1:
        _select([CheckpointScore(s.checkpoint, None, {}, {}, {}, None, None, {}, {}) for s in sets],
                "single", st.predictions)
    results = [score_checkpoint(spec, gt, ps, vocab, extractor, trust_pickle=st.trust_pickle,
                                n_boot=st.bootstrap, seed=st.seed, groups=groups) for ps in sets]
    selection, chosen = _select(results, st.select, st.predictions)
    report: dict = {
        "schema_version": SCHEMA_VERSION,
        "dataset": spec.name,
        "title": spec.title,
        "task": spec.task,
        "metric": spec.metric,
    }
    if chosen is not None:
        body = chosen.to_dict()
        report["metric"] = body.pop("metric", spec.metric)
        report["score"] = body.pop("score")
        report.update(body)
    else:
        scores = [r.score for r in results if r.score is not None]
        report["score"] = float(np.mean(scores)) if scores else None
        report["checkpoint"] = f"all ({len(results)} checkpoints, mean score)"
        report["checkpoints"] = [r.to_dict() for r in results]
        report["n_total"] = len(gt)
    report["selection"] = selection
    report["paper_score"] = spec.paper_score
    report["profile"] = {"name": vocab.profile.name, "description": vocab.profile.description}
    report["extractor"] = extractor.signature()
    report["settings"] = {k: v for k, v in asdict(st).items() if k not in ("labels", "predictions", "data_dir", "synonyms")}
    report["inputs"] = {
        "labels": {"path": gt.source, "sha256": gt.sha256},
        "predictions": {Path(p).name: sha256_file(p) for ps in sets for p in sorted(ps.sources.values())},
        "tables": {k: sha256_file(p) for k, p in sorted(vocab.sources.items())},
    }
    if st.synonyms:
        report["inputs"]["synonyms"] = {"path": str(st.synonyms), "sha256": sha256_file(st.synonyms)}
    report["warnings"] = list(gt.warnings)
    if chosen is not None and chosen.counts.get("n_missing_predictions"):
        report["warnings"].append(f"{chosen.counts['n_missing_predictions']} ground-truth samples have no "
                                  "prediction and were scored as empty answers")
    if chosen is not None and chosen.counts.get("n_unreadable_answers"):
        langs = ", ".join(f"{k} {v}" for k, v in chosen.counts.get("answers_by_language", {}).items())
        report["warnings"].append(f"{chosen.counts['n_unreadable_answers']} non-empty answers gave no label to the "
                                  f"{st.extractor} extractor (answers by language: {langs}); for answers in other "
                                  "languages or wordings, try --extractor llm")
    if chosen is not None and chosen.counts.get("n_answers_outside_vocabulary"):
        examples = chosen.counts["outside_vocabulary_examples"][:5]
        from affectgpt.language import guess_language

        if st.extractor == "given" and any(guess_language(str(w)) not in (None, "en") for w in examples):
            advice = ("the emotion wheels are English: give the labels in English, or free-form answers in a text "
                      "column with --extractor llm")
        else:
            advice = "for other languages or wordings, try --extractor lexicon or llm"
        report["warnings"].append(f"{chosen.counts['n_answers_outside_vocabulary']} answers have labels none of which "
                                  f"the emotion wheels know (e.g. {', '.join(map(repr, examples))}): they "
                                  f"score as misses; {advice}")
    if chosen is not None and chosen.counts.get("names_matched_by"):
        report["warnings"].append("prediction names are file names, paths or spreadsheet-escaped ids ('-x): "
                                  f"matched to the ground truth by {chosen.counts['names_matched_by']}")
    if chosen is not None and chosen.counts.get("n_extra_predictions"):
        report["warnings"].append(f"{chosen.counts['n_extra_predictions']} predictions name samples that are "
                                  "not in the ground truth and were ignored")
    report["versions"] = _versions()
    return ScoreResult(_clean(report), chosen.rows if chosen else [], results)


def score(settings: ScoreSettings) -> dict:
    """Score predictions on one dataset and return the JSON-ready report."""
    return score_full(settings).report


def report_json(report: dict) -> str:
    """Canonical JSON text of a report (stable key order and float repr: byte-identical reruns)."""
    return json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
