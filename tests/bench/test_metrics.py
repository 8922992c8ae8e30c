"""Metric functions on hand-checked inputs (PAPER §3.4-3.7)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from affectgpt.bench import metrics as M
from affectgpt.bench.labels import parse_label_list, parse_sentiment

SECTOR = {"joy": "pos", "happy": "pos", "sad": "neg", "angry": "neg2"}


def mapper(labels):
    return frozenset(SECTOR[x] for x in labels if x in SECTOR)


def only_angry(labels):
    return frozenset("neg2" for x in labels if x == "angry")


def test_parse_label_list_follows_upstream_string_to_list():
    assert parse_label_list("[happy, Sad ]") == ["happy", "sad"]
    assert parse_label_list("['a', \"b\"]") == ["a", "b"]
    assert parse_label_list('["worried", "calm down"]') == ["worried", "calm down"]
    assert parse_label_list("[]") == [] and parse_label_list("") == [] and parse_label_list(float("nan")) == []
    # a trailing period keeps "]." glued, as upstream (then the label fails lookup)
    assert parse_label_list("[x, y].") == ["x", "y]."]
    assert parse_label_list(["A", " b "]) == ["a", "b"]


def test_parse_sentiment_other_answers_are_zero():
    assert [parse_sentiment(x) for x in ["positive", " Negative", "neutral", "mixed", None]] == [1, -1, 0, 0, 0]


def test_hit_rate_excludes_unmappable_ground_truth_per_wheel():
    gt = ["happy", "sad", "neutral", "angry"]
    preds = [["joy"], ["happy"], ["sad"], ["angry", "joy"]]
    hits = M.hit_matrix(gt, preds, [mapper, only_angry])
    # wheel 1: neutral excluded -> hits 1, 0, 1 ; wheel 2 scores only "angry"
    assert np.isnan(hits[2, 0]) and np.isnan(hits[0, 1])
    assert M.aggregate_hit_rate(hits) == pytest.approx((2 / 3 + 1) / 2)
    pa = M.precision_aware_hit_matrix(gt, preds, [mapper])
    assert pa[3, 0] == pytest.approx(0.5) and pa[0, 0] == 1.0 and pa[1, 0] == 0.0


def test_per_class_hit_rate_counts():
    hits = M.hit_matrix(["happy", "happy", "neutral"], [["joy"], [], ["joy"]], [mapper])
    pc = M.per_class_hit_rate(["happy", "happy", "neutral"], hits)
    assert pc["happy"] == {"n": 2, "n_scored": 2, "hit_rate": 50.0}
    assert pc["neutral"]["n_scored"] == 0 and pc["neutral"]["hit_rate"] is None


def test_sentiment_removes_zero_and_counts_neutral_as_negative():
    keep, yt, yp = M.sentiment_arrays([1.2, -0.4, 0.0, 2.0], [1, 0, 1, -1])
    assert keep.tolist() == [True, True, False, True]
    assert yt.tolist() == [1, 0, 1] and yp.tolist() == [1, 0, 0]
    assert M.accuracy(yt, yp) == pytest.approx(2 / 3)


def test_weighted_f1_matches_sklearn():
    rng = np.random.default_rng(3)
    for _ in range(20):
        yt, yp = rng.integers(0, 2, 50), rng.integers(0, 2, 50)
        assert M.weighted_f1(yt, yp) == pytest.approx(f1_score(yt, yp, average="weighted"))
    assert M.weighted_f1(np.array([1, 1]), np.array([1, 1])) == 1.0


def test_set_overlap_skips_empty_truth_and_zeroes_empty_prediction():
    gt = [["happy", "sad"], ["neutral"], ["sad"]]
    pred = [["joy"], ["joy"], []]
    p, r = M.set_overlap(gt, pred, mapper)
    assert p[0] == 1.0 and r[0] == 0.5 and np.isnan(p[1]) and p[2] == 0 and r[2] == 0
    f, pm, rm = M.aggregate_ov(p, r)
    assert pm == pytest.approx(0.5) and rm == pytest.approx(0.25)
    assert f == pytest.approx(2 * 0.5 * 0.25 / 0.75)  # F of the averages, not the mean of F
    assert M.aggregate_ov(np.array([0.0]), np.array([0.0]))[0] == 0.0  # no division by zero


def test_ovmer_schemes_are_twelve():
    s = M.ovmer_schemes()
    assert len(s) == 12 and s[:3] == ["m1", "m2", "w1l1"] and s[-1] == "w5l2"


def test_synonym_group_overlap_uses_first_member():
    groups = [[["happy", "joyful", "glad"], ["sad"]]]
    p, r = M.synonym_group_overlap([["joyful", "sad"]], [["glad", "angry"]], groups)
    assert p[0] == 0.5 and r[0] == 0.5
    p, r = M.synonym_group_overlap([["x"]], [["x"]], [None])
    assert np.isnan(p[0])


def test_unibench_mean_is_plain_mean():
    scores = dict(zip("abcdefghi", [78.54, 78.80, 55.65, 60.54, 81.30, 80.90, 88.49, 86.18, 62.52]))
    assert round(M.unibench_mean(scores), 2) == 74.77  # PAPER §3.7


def test_bootstrap_is_deterministic_and_brackets_the_estimate():
    x = np.random.default_rng(0).random(200)
    a = M.bootstrap_ci(lambda idx: float(x[idx].mean()), len(x), 500, seed=1)
    b = M.bootstrap_ci(lambda idx: float(x[idx].mean()), len(x), 500, seed=1)
    assert a == b and a[0] < x.mean() < a[1]
