"""MER-UniBench: datasets, label extraction, metrics and reports."""

from affectgpt.bench.datasets import (
    DATASETS,
    UNIBENCH,
    DatasetSpec,
    get_dataset,
    load_ground_truth,
    load_subtitles,
)
from affectgpt.bench.evaluate import ScoreResult, ScoreSettings, report_json, score, score_full
from affectgpt.bench.predictions import PredictionSet, read_predictions

__all__ = ["DATASETS", "UNIBENCH", "DatasetSpec", "get_dataset", "load_ground_truth", "load_subtitles", "ScoreSettings",
           "ScoreResult", "score", "score_full", "report_json", "PredictionSet", "read_predictions"]
