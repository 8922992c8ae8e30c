"""The Chinese emotion words land on the benchmark's wheels with the right polarity, and the
lexicon extractor reads Chinese answers (negation included)."""

from __future__ import annotations

import pytest

from affectgpt.emotions import load_vocabulary
from affectgpt.emotions.polarity import label_polarity
from affectgpt.emotions.vocabulary import WHEELS
from affectgpt.emotions.zh_words import NEGATIVE_ZH, POSITIVE_ZH, ZH_EMOTION_WORDS


def test_every_chinese_word_names_a_wheel_word_with_its_polarity(data_dir):
    v = load_vocabulary("paper", data_dir)
    for zh, en in ZH_EMOTION_WORDS.items():
        assert en in v.forms, (zh, en)
        assert any(v.map_label(en, k, 1) for k in WHEELS), (zh, en)  # lands in a wheel sector
    for zh in POSITIVE_ZH:
        assert label_polarity(v, ZH_EMOTION_WORDS[zh]) == 1, zh
    for zh in NEGATIVE_ZH:
        assert label_polarity(v, ZH_EMOTION_WORDS[zh]) == -1, zh


@pytest.mark.parametrize("answer,labels", [
    ("他看起来很开心，但也有点紧张。", ["happy", "nervous"]),
    ("她并不生气，只是有些失望。", ["disappointed"]),
    ("她不太开心。", []),
    ("没有害怕，反而很好奇。", ["curious"]),
    ("他显得焦虑不安。", ["anxious", "uneasy"]),
    ("The person looks happy, 但有点担心", ["happy", "worried"]),
])
def test_lexicon_reads_chinese_answers(data_dir, answer, labels):
    from affectgpt.bench.extractors.lexicon import LexiconExtractor

    assert LexiconExtractor(data_dir=str(data_dir)).extract_one(answer) == labels


def test_report_counts_answers_by_language_and_unreadable_ones(tmp_path, data_dir):
    import csv

    from affectgpt.bench import ScoreSettings, score

    names = [r["name"] for r in csv.DictReader(open(data_dir / "merunibench/gt_csv/mer2023.csv", encoding="utf-8"))]
    answers = ["他看起来很开心。", "The person is angry.", "Человек выглядит счастливым.", ""]
    p = tmp_path / "p.csv"
    with open(p, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "text"])
        w.writerows((n, answers[i % 4]) for i, n in enumerate(names))
    r = score(ScoreSettings("mer2023", str(data_dir / "merunibench/gt_csv/mer2023.csv"), str(p), extractor="lexicon",
                            data_dir=str(data_dir), bootstrap=0))
    assert r["answers_by_language"]["zh"] == len(names[0::4]) and r["answers_by_language"]["en"] == len(names[1::4])
    assert r["n_unreadable_answers"] == len(names[2::4])  # the Russian answers
    assert any("--extractor llm" in w for w in r["warnings"])
    assert r["n_empty_predictions"] == len(names[2::4]) + len(names[3::4])
