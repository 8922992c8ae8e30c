"""MER-UniBench metrics as small pure functions (PAPER §3.4-3.7, UPSTREAM §2.6-2.7).

Each metric is split in two: a *per-sample* function that turns ground truth and
predictions into arrays (NaN marks a sample the metric skips), and an *aggregate* function
of those arrays. Reports use the first for per-sample CSVs, bootstrap resamples the second.
All scores are fractions in [0, 1]; reports multiply by 100.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

__all__ = [
    "hit_matrix", "aggregate_hit_rate", "precision_aware_hit_matrix",
    "sentiment_arrays", "weighted_f1", "accuracy",
    "set_overlap", "aggregate_ov", "ovmer_schemes", "synonym_group_overlap",
    "unibench_mean", "bootstrap_ci", "per_class_hit_rate",
]

Mapper = Callable[[Iterable[str]], frozenset]


# -- basic emotions: hit rate (PAPER §3.5) ---------------------------------------------------
def hit_matrix(gt_labels: Sequence[str], pred_labels: Sequence[Sequence[str]], mappers: Sequence[Mapper]) -> np.ndarray:
    """Per-sample, per-wheel hits: 1 if the ground truth's sector is among the predicted ones.

    Returns an array [n_samples, n_wheels] with NaN where the ground truth maps to nothing
    on that wheel (e.g. "neutral" everywhere), which upstream excludes from the average.
    """
    out = np.full((len(gt_labels), len(mappers)), np.nan)
    for j, m in enumerate(mappers):
        for i, (g, p) in enumerate(zip(gt_labels, pred_labels)):
            gs = m([g])
            if gs:
                out[i, j] = 1.0 if gs & m(p) else 0.0
    return out


def precision_aware_hit_matrix(gt_labels: Sequence[str], pred_labels: Sequence[Sequence[str]], mappers: Sequence[Mapper]) -> np.ndarray:
    """Hit divided by the number of distinct predicted sectors (0 for an empty prediction).

    Beyond the paper: listing every sector of a wheel gets hit rate 1 but this score 1/|sectors|;
    a single correct sector scores 1. Same NaN convention as :func:`hit_matrix`.
    """
    out = np.full((len(gt_labels), len(mappers)), np.nan)
    for j, m in enumerate(mappers):
        for i, (g, p) in enumerate(zip(gt_labels, pred_labels)):
            gs = m([g])
            if gs:
                ps = m(p)
                out[i, j] = (len(gs & ps) / len(ps)) if ps else 0.0
    return out


def aggregate_hit_rate(hits: np.ndarray) -> float:
    """Mean over wheels of the mean hit over each wheel's scored samples."""
    with np.errstate(invalid="ignore"):
        cols = [np.nanmean(c) if np.any(~np.isnan(c)) else np.nan for c in hits.T]
    return float(np.nanmean(cols)) if cols else float("nan")


def per_class_hit_rate(gt_labels: Sequence[str], hits: np.ndarray) -> dict[str, dict]:
    """Hit rate and counts per ground-truth class (classes no wheel can express get n_scored 0)."""
    labels = np.asarray(gt_labels)
    out = {}
    for cls in sorted(set(gt_labels)):
        sub = hits[labels == cls]
        scored = int(np.sum(~np.isnan(sub).all(axis=1)))
        out[cls] = {
            "n": int(len(sub)),
            "n_scored": scored,
            "hit_rate": None if scored == 0 else 100 * aggregate_hit_rate(sub),
        }
    return out


# -- sentiment: 2-class weighted F1 (PAPER §3.6) --------------------------------------------
def sentiment_arrays(valences: Sequence[float], pred_values: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(keep mask, y_true, y_pred): zero ground truth removed, both sides binarised with > 0."""
    v = np.asarray(valences, dtype=float)
    p = np.asarray(pred_values, dtype=float)
    keep = v != 0
    return keep, (v[keep] > 0).astype(int), (p[keep] > 0).astype(int)


def weighted_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Support-weighted F1 over the labels present in either array (sklearn's definition)."""
    classes = np.union1d(y_true, y_pred)
    total = len(y_true)
    if total == 0:
        return float("nan")
    score = 0.0
    for c in classes:
        tp = np.sum((y_true == c) & (y_pred == c))
        fp = np.sum((y_true != c) & (y_pred == c))
        fn = np.sum((y_true == c) & (y_pred != c))
        denom = 2 * tp + fp + fn
        f1 = 0.0 if denom == 0 else 2 * tp / denom
        score += np.sum(y_true == c) * f1
    return float(score / total)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of equal entries."""
    return float(np.mean(y_true == y_pred)) if len(y_true) else float("nan")


# -- open vocabulary: set precision / recall / F (PAPER §3.4) --------------------------------
def set_overlap(gt_lists: Sequence[Sequence[str]], pred_lists: Sequence[Sequence[str]], mapper: Mapper) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample set precision |Y∩Ŷ|/|Ŷ| and recall |Y∩Ŷ|/|Y| after mapping.

    NaN where the ground truth maps to nothing (skipped); 0/0 for an empty prediction.
    """
    n = len(gt_lists)
    prec, rec = np.full(n, np.nan), np.full(n, np.nan)
    for i, (g, p) in enumerate(zip(gt_lists, pred_lists)):
        gs = mapper(g)
        if not gs:
            continue
        ps = mapper(p)
        if not ps:
            prec[i] = rec[i] = 0.0
        else:
            inter = len(gs & ps)
            prec[i], rec[i] = inter / len(ps), inter / len(gs)
    return prec, rec


def aggregate_ov(prec: np.ndarray, rec: np.ndarray) -> tuple[float, float, float]:
    """(F, P, R) with P, R averaged over scored samples and F = 2PR/(P+R) of the averages."""
    if np.all(np.isnan(prec)):
        return float("nan"), float("nan"), float("nan")
    p, r = float(np.nanmean(prec)), float(np.nanmean(rec))
    f = 0.0 if p + r == 0 else 2 * p * r / (p + r)
    return f, p, r


def ovmer_schemes() -> list[str]:
    """The 12 OV-MER mapping schemes: M1, M2, then wheel k ring l for k=1..5, l=1,2."""
    return ["m1", "m2"] + [f"w{k}l{lv}" for k in range(1, 6) for lv in (1, 2)]


def synonym_group_overlap(gt_lists: Sequence[Sequence[str]], pred_lists: Sequence[Sequence[str]],
                          groups: Sequence[Sequence[Sequence[str]] | None]) -> tuple[np.ndarray, np.ndarray]:
    """MER2024 open-vocabulary metric: labels replaced by the first member of their per-sample
    synonym group, then set precision/recall (UPSTREAM §2.7). Labels outside every group stay
    as they are. A sample with no groups given is skipped (NaN)."""
    n = len(gt_lists)
    prec, rec = np.full(n, np.nan), np.full(n, np.nan)
    for i, (g, p, grp) in enumerate(zip(gt_lists, pred_lists, groups)):
        if grp is None:
            continue
        head = {}
        for group in grp:
            members = [str(x).strip().lower() for x in group if str(x).strip()]
            for m in members:
                head.setdefault(m, members[0])
        gs = {head.get(x.strip().lower(), x.strip().lower()) for x in g if x.strip()}
        ps = {head.get(x.strip().lower(), x.strip().lower()) for x in p if x.strip()}
        if not gs:
            continue
        if not ps:
            prec[i] = rec[i] = 0.0
        else:
            prec[i], rec[i] = len(gs & ps) / len(ps), len(gs & ps) / len(gs)
    return prec, rec


# -- aggregation and uncertainty -----------------------------------------------------------
def unibench_mean(scores: dict[str, float]) -> float:
    """MER-UniBench score: the plain mean of the nine primary scores (PAPER §3.7)."""
    return float(np.mean(list(scores.values())))


def bootstrap_ci(stat: Callable[[np.ndarray], float], n: int, n_boot: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat(indices)`` over ``n`` samples (fixed seed)."""
    if n == 0 or n_boot <= 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    vals = np.array([stat(row) for row in idx], dtype=float)
    vals = vals[~np.isnan(vals)]
    if len(vals) == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(vals, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)
