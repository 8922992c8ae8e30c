"""Score one checkpoint's predictions on one dataset: labels -> metrics, counts and per-sample rows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from affectgpt.bench import metrics as M
from affectgpt.bench.datasets import DatasetSpec, GroundTruth
from affectgpt.bench.extractors.base import LabelExtractor
from affectgpt.bench.labels import SENTIMENT_VALUES, parse_sentiment, sentiment_number
from affectgpt.bench.predictions import PredictionSet
from affectgpt.emotions.polarity import labels_to_sentiment
from affectgpt.io import clip_name, spreadsheet_unescape
from affectgpt.emotions.vocabulary import WHEELS, EmotionVocabulary
from affectgpt.errors import InputError, NoOverlapError

__all__ = ["CheckpointScore", "score_checkpoint"]


def _pct(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else 100.0 * float(x)


@dataclass
class CheckpointScore:
    """Everything measured for one checkpoint; ``rows`` are per-sample records (not in JSON)."""

    checkpoint: str
    score: float | None
    secondary: dict
    per_wheel: dict
    counts: dict
    ci95: list | None
    per_class: dict | None
    extra: dict
    sources: dict
    rows: list[dict] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        return {"checkpoint": self.checkpoint, "score": self.score, "secondary": self.secondary,
                "per_wheel": self.per_wheel, **self.counts, "ci95": self.ci95,
                "per_class": self.per_class, **self.extra, "predictions": self.sources}


def _labels_for(gt: GroundTruth, ps: PredictionSet, extractor: LabelExtractor, trust_pickle: bool,
                task: str = "basic") -> list[list[str]]:
    if extractor.uses_given_labels:
        if ps.labels is None and task == "sentiment" and ps.sentiments is not None:
            return [[] for _ in gt.names]  # a name,sentiment file: the sentiment is given, no labels needed
        if ps.labels is None:
            where = ps.sources.get("texts") or ps.sources.get("table") or ps.checkpoint
            raise InputError(where, "no extracted labels (no -openset.npz or 'labels' column); "
                             "use --extractor lexicon or --extractor llm to extract them from the answers")
        return [ps.labels.get(n, []) for n in gt.names]
    texts = ps.load_texts(trust_pickle)
    return extractor.extract([texts.get(n, "") for n in gt.names])


def _answer_languages(texts: list[str], labels: list[list[str]]) -> dict:
    """Answers per detected language, and non-empty answers from which no label was read."""
    from affectgpt.language import guess_language

    langs = Counter(guess_language(t) or "empty" for t in texts)
    unread = sum(1 for t, x in zip(texts, labels) if t.strip() and not x)
    return {"answers_by_language": dict(sorted(langs.items())), "n_unreadable_answers": unread}


def _outside_vocabulary(labels: list[list[str]], vocab: EmotionVocabulary) -> dict:
    """Answers whose labels are all unknown to the emotion wheels (another language, a typo): they
    score as misses, so the report says how many, with examples."""
    known = vocab.forms
    from affectgpt.emotions.tables import normalise_word

    out = [x for x in labels if x and not any(normalise_word(w) in known for w in x)]
    words = sorted({w for x in out for w in x})
    return {"n_answers_outside_vocabulary": len(out), "outside_vocabulary_examples": words[:10]}


def _counts(gt: GroundTruth, ps: PredictionSet, labels: list[list[str]]) -> dict:
    pred_names: set[str] = set()
    for d in (ps.labels, ps.texts, ps.sentiments):
        if d:
            pred_names.update(d)
    gt_names = set(gt.names)
    missing = [n for n in gt.names if n not in pred_names] if pred_names else []
    extra = sorted(pred_names - gt_names)
    return {
        "n_total": len(gt.names),
        "n_missing_predictions": len(missing),
        "missing_examples": missing[:10],
        "n_extra_predictions": len(extra),
        "extra_examples": extra[:10],
        "n_empty_predictions": sum(1 for x in labels if not x),
        # an answer whose only label is "neutral" is an answer, not an empty one: counted apart
        "n_neutral_only_predictions": sum(1 for x in labels if x and set(x) == {"neutral"}),
    }


def align_names(gt: GroundTruth, ps: PredictionSet) -> tuple[PredictionSet, str | None]:
    """Match prediction names to the ground truth: as they are, or by file stem when the
    predictions are keyed by file names or paths (``videos/sample_00000001.mp4``).

    Returns the (possibly renamed) prediction set and ``"file stem"`` when names were matched
    that way (None when as they are).

    Raises:
        NoOverlapError: no prediction rows, or no prediction name matches any ground-truth name
            (a score of 0 would be a wrong result, not a score); the message shows a few names of each side.
        InputError: two prediction names stand for one sample (``g1`` and ``g1.mp4``).
    """
    pred_names: set[str] = set()
    for d in (ps.labels, ps.texts, ps.sentiments):
        if d:
            pred_names.update(d)
    if not pred_names and ps.texts is None and ps.text_path:
        return ps, None  # answers not loaded yet (pickled upstream file): matched after loading
    where = ps.sources.get("table") or ps.sources.get("labels") or ps.sources.get("texts") or ps.checkpoint
    if not pred_names:
        raise NoOverlapError(where, "holds no prediction rows (a header alone gives no score)")
    gt_names = set(gt.names)
    direct = len(pred_names & gt_names)
    # sample_00000001.mp4, videos/x.mp4 -> stems; '-MeTTeMJBNc_0 (a spreadsheet-escaped id) -> -MeTTeMJBNc_0
    stems = {n: clip_name(spreadsheet_unescape(n)) for n in pred_names}
    groups: dict[str, list[str]] = {}
    for n in sorted(pred_names):
        groups.setdefault(stems[n], []).append(n)
    clash = next(((st, ns) for st, ns in sorted(groups.items()) if len(ns) > 1 and st in gt_names), None)
    if clash:  # 'g1' and 'g1.mp4', or 'a/g1.mp4' and 'b/g1.mp4': which one answers g1?
        raise InputError(where, f"prediction names {clash[1][0]!r} and {clash[1][1]!r} both stand for the sample "
                                f"{clash[0]!r}; keep one row per sample")
    by_stem = len(set(stems.values()) & gt_names)
    if by_stem > direct and len(set(stems.values())) == len(stems):
        def rename(d):
            return None if d is None else {stems[k]: v for k, v in d.items()}

        ps = PredictionSet(ps.checkpoint, labels=rename(ps.labels), texts=rename(ps.texts),
                           sentiments=rename(ps.sentiments), text_path=ps.text_path, sources=ps.sources)
        unescaped = any(spreadsheet_unescape(n) != n for n in pred_names)
        return ps, "file stem" + (" (spreadsheet apostrophes removed)" if unescaped else "")
    if pred_names and not direct:
        raise NoOverlapError(where, "no prediction name matches the ground truth (not even by file stem): "
                             f"predictions {sorted(pred_names)[:3]}, ground truth {sorted(gt_names)[:3]}")
    return ps, None


def _wheel_mappers(vocab: EmotionVocabulary, level: int = 1):
    return [(lambda k: (lambda L: vocab.map_labels(L, k, level)))(k) for k in WHEELS]


def _score_basic(spec, gt, labels, vocab, n_boot, seed):
    mappers = _wheel_mappers(vocab)
    hits = M.hit_matrix(gt.targets, labels, mappers)
    pa = M.precision_aware_hit_matrix(gt.targets, labels, mappers)
    per_wheel = {}
    for j, k in enumerate(WHEELS):
        col = hits[:, j]
        scored = int(np.sum(~np.isnan(col)))
        per_wheel[f"w{k}"] = {"hit_rate": _pct(np.nanmean(col)) if scored else None,
                              "n_scored": scored, "n_excluded": len(col) - scored}
    n_scored = int(np.sum(~np.isnan(hits).all(axis=1)))
    ci = M.bootstrap_ci(lambda idx: M.aggregate_hit_rate(hits[idx]), len(hits), n_boot, seed)
    rows = []
    for i, name in enumerate(gt.names):
        row = {"name": name, "target": gt.targets[i], "labels": "|".join(labels[i])}
        for j, k in enumerate(WHEELS):
            row[f"gt_w{k}"] = "|".join(sorted(mappers[j]([gt.targets[i]])))
            row[f"pred_w{k}"] = "|".join(sorted(mappers[j](labels[i])))
            row[f"hit_w{k}"] = "" if np.isnan(hits[i, j]) else int(hits[i, j])
        rows.append(row)
    secondary = {"precision_aware_hit_rate": _pct(M.aggregate_hit_rate(pa))}
    return (_pct(M.aggregate_hit_rate(hits)), secondary, per_wheel, n_scored,
            [_pct(ci[0]), _pct(ci[1])], M.per_class_hit_rate(gt.targets, hits), {}, rows)


def _score_sentiment(spec, gt, labels, sentiments, n_boot, seed):
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    values = [parse_sentiment(s) for s in sentiments]
    keep, y_true, y_pred = M.sentiment_arrays(gt.targets, values)
    waf = f1_score(y_true, y_pred, average="weighted")
    acc = accuracy_score(y_true, y_pred)
    ci = M.bootstrap_ci(lambda idx: M.weighted_f1(y_true[idx], y_pred[idx]), len(y_true), n_boot, seed)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=[0, 1], zero_division=0)
    per_class = {name: {"precision": _pct(p[i]), "recall": _pct(r[i]), "f1": _pct(f[i]), "support": int(s[i])}
                 for i, name in enumerate(("negative", "positive"))}
    answers = Counter(str(x).strip().lower() for x in sentiments)
    numeric = sum(v for k, v in answers.items() if sentiment_number(k) is not None)
    other = {k: v for k, v in sorted(answers.items()) if k not in SENTIMENT_VALUES and sentiment_number(k) is None}
    extra = {"sentiment_answers": {k: answers[k] for k in ("positive", "negative", "neutral")},
             "sentiment_numeric_answers": numeric,
             "sentiment_other_answers": other,
             "n_excluded_zero_valence": int(np.sum(~keep))}
    rows = [{"name": n, "target": gt.targets[i], "labels": "|".join(labels[i]), "sentiment": sentiments[i],
             "pred_value": values[i], "scored": int(keep[i])} for i, n in enumerate(gt.names)]
    return (_pct(waf), {"accuracy": _pct(acc)}, {}, int(keep.sum()), [_pct(ci[0]), _pct(ci[1])],
            per_class, extra, rows)


def _ovmer_name(scheme: str) -> str:
    """``m1`` -> ``M1``; ``w3l2`` -> ``M3-W3-L2`` (the OV-MER paper's column names)."""
    return scheme.upper() if scheme in ("m1", "m2") else f"M3-W{scheme[1]}-L{scheme[3]}"


def _ov_block(gt_lists, labels, mapper_for, schemes):
    out = {}
    for sch in schemes:
        prec, rec = M.set_overlap(gt_lists, labels, mapper_for(sch))
        f, p, r = M.aggregate_ov(prec, rec)
        out[sch] = (f, p, r, prec, rec)
    return out


def _score_ov(spec, gt, labels, vocab, n_boot, seed, groups):
    wheels = [f"w{k}l1" for k in WHEELS]
    block = _ov_block(gt.targets, labels, vocab.mapper, wheels)
    per_wheel = {}
    for k, sch in zip(WHEELS, wheels):
        f, p, r, prec, _ = block[sch]
        scored = int(np.sum(~np.isnan(prec)))
        per_wheel[f"w{k}"] = {"fscore": _pct(f), "precision": _pct(p), "recall": _pct(r),
                              "n_scored": scored, "n_excluded": len(prec) - scored}
    fs = [block[s][0] for s in wheels]
    score = float(np.mean(fs))
    secondary = {"precision": _pct(np.mean([block[s][1] for s in wheels])),
                 "recall": _pct(np.mean([block[s][2] for s in wheels]))}
    mats = [(block[s][3], block[s][4]) for s in wheels]
    n_scored = int(np.sum(~np.all([np.isnan(p) for p, _ in mats], axis=0)))

    def stat(idx):
        return float(np.mean([M.aggregate_ov(p[idx], r[idx])[0] for p, r in mats]))

    ci = M.bootstrap_ci(stat, len(gt.names), n_boot, seed)
    schemes = M.ovmer_schemes()
    full = _ov_block(gt.targets, labels, vocab.mapper, [s for s in schemes if s not in block])
    full.update(block)
    ovmer = {_ovmer_name(s): _pct(full[s][0]) for s in schemes}
    ovmer["M-avg"] = _pct(np.mean([full[s][0] for s in schemes]))
    extra = {"ovmer_metrics": ovmer}
    metric_name = None
    if groups is not None:
        missing = [n for n in gt.names if n not in groups]
        prec, rec = M.synonym_group_overlap(gt.targets, labels, [groups.get(n) for n in gt.names])
        f, p, r = M.aggregate_ov(prec, rec)
        extra["synonym_group"] = {"fscore": _pct(f), "precision": _pct(p), "recall": _pct(r),
                                  "avg_score": _pct((p + r) / 2), "n_without_groups": len(missing)}
        extra["ew_fscore"] = _pct(score)
        score, metric_name = f, "synonym_group_fscore"
        secondary = {"precision": _pct(p), "recall": _pct(r), "avg_score": _pct((p + r) / 2),
                     "ew_fscore": _pct(np.mean(fs))}
        n_scored = int(np.sum(~np.isnan(prec)))
        ci = M.bootstrap_ci(lambda idx: M.aggregate_ov(prec[idx], rec[idx])[0], len(prec), n_boot, seed)
    rows = []
    for i, n in enumerate(gt.names):
        row = {"name": n, "target": "|".join(gt.targets[i]), "labels": "|".join(labels[i])}
        for k, sch in zip(WHEELS, wheels):
            p = block[sch][3][i]
            row[f"precision_w{k}"] = "" if np.isnan(p) else round(float(p), 6)
            row[f"recall_w{k}"] = "" if np.isnan(p) else round(float(block[sch][4][i]), 6)
        rows.append(row)
    if metric_name:
        extra["metric"] = metric_name
    return _pct(score), secondary, per_wheel, n_scored, [_pct(ci[0]), _pct(ci[1])], None, extra, rows


def score_checkpoint(spec: DatasetSpec, gt: GroundTruth, ps: PredictionSet, vocab: EmotionVocabulary,
                     extractor: LabelExtractor, *, trust_pickle: bool = False, n_boot: int = 1000,
                     seed: int = 0, groups: dict | None = None) -> CheckpointScore:
    """Score one prediction set against the ground truth with the dataset's metrics."""
    ps, matched_by = align_names(gt, ps)
    labels = _labels_for(gt, ps, extractor, trust_pickle, spec.task)
    counts = _counts(gt, ps, labels)
    if not extractor.uses_given_labels and ps.texts is not None:
        counts.update(_answer_languages([ps.texts.get(n, "") for n in gt.names], labels))
    if matched_by:
        counts["names_matched_by"] = matched_by
    if spec.task != "sentiment" or not (extractor.uses_given_labels and ps.sentiments is not None):
        counts.update(_outside_vocabulary(labels, vocab))
    else:  # a sentiment-only file: its answers are the sentiment cells, not (absent) labels
        counts["n_empty_predictions"] = sum(1 for n in gt.names if not str(ps.sentiments.get(n, "")).strip())
        counts["n_neutral_only_predictions"] = 0
    extra: dict = {}
    if spec.task == "basic":
        res = _score_basic(spec, gt, labels, vocab, n_boot, seed)
    elif spec.task == "sentiment":
        if extractor.uses_given_labels and ps.sentiments is not None:
            sentiments, source = [ps.sentiments.get(n, "") for n in gt.names], "given"
        else:
            sentiments = extractor.to_sentiment(labels)
            source = extractor.name
            if sentiments is None:
                sentiments, source = [labels_to_sentiment(vocab, x) for x in labels], "wheel-polarity"
        extra["sentiment_source"] = source
        res = _score_sentiment(spec, gt, labels, sentiments, n_boot, seed)
    else:
        res = _score_ov(spec, gt, labels, vocab, n_boot, seed, groups)
    score, secondary, per_wheel, n_scored, ci, per_class, more, rows = res
    extra.update(more)
    counts["n_scored"] = n_scored
    return CheckpointScore(ps.checkpoint, score, secondary, per_wheel, counts, ci, per_class, extra,
                           {role: p for role, p in sorted(ps.sources.items())}, rows)
