"""The Chinese text path: language routing, the packaged Chinese heads, behaviour on real subtitles."""

from __future__ import annotations

import csv
import time

import numpy as np
import pytest

from affectgpt.analyzers.heads import packaged_head_path
from affectgpt.analyzers.text_zh import ZH_TO_MELD, NgramVectorizer, detect_language, load_zh_head


@pytest.fixture(scope="module")
def lexical():
    from affectgpt.analyzers.lexical import LexicalAnalyzer

    return LexicalAnalyzer()


def _mer2023_test1(data_dir):
    folder = data_dir / "merunibench" / "dataset" / "mer2023-dataset-process"
    if not (folder / "label-6way.npz").is_file():
        pytest.skip(f"{folder} has no MER2023 labels")
    with np.load(folder / "label-6way.npz", allow_pickle=True) as z:  # public upstream pickle (trusted)
        test1 = z["test1_corpus"].tolist()
    subs = {r["name"]: (r["chinese"] or "").strip()
            for r in csv.DictReader(open(folder / "transcription-engchi-polish.csv", encoding="utf-8"))}
    names = [n for n in test1 if subs.get(n)]
    return [subs[n] for n in names], [str(test1[n]["emo"]) for n in names]


def test_language_rule():
    assert detect_language("我今天很开心") == "zh"
    assert detect_language("你这是嫁入豪门啊！OK") == "zh"
    assert detect_language("I am so happy today") == "en"
    assert detect_language("") == "en"
    assert detect_language("哈哈 what is this, seriously, no way") == "en"


@pytest.mark.parametrize("name,n_classes", [("text_zh", 6), ("text_zh_sentiment", 3)])
def test_packaged_zh_heads_load_without_pickle(name, n_classes):
    path = packaged_head_path(name)
    assert path.stat().st_size < 1_000_000
    with np.load(path, allow_pickle=False) as z:  # raises if any array needed pickle
        assert "vocabulary" in z.files and z["vocabulary"].dtype.kind == "U"
    head = load_zh_head(path)
    assert len(head.classes) == n_classes and head.has_embedding
    assert head.ngram_weight.shape == (len(head.vectorizer.vocabulary), n_classes)
    assert head.card["seed"] == 0 and "train" in head.card["split"]
    if name == "text_zh":
        assert set(head.classes) == set(ZH_TO_MELD)


def test_ngram_vectorizer_rows_are_unit_tf_idf():
    vec = NgramVectorizer(ngram_range=(1, 2), min_df=1).fit(["好开心", "好难过", "开心"])
    x = vec.transform(["好开心", "", "完全陌生"]).toarray()
    assert np.isclose(np.linalg.norm(x[0]), 1.0) and not x[1].any() and not x[2].any()
    assert x[0, vec.index["开心"]] > 0 and x[0, vec.index["难过"]] == 0


def test_chinese_routed_to_chinese_heads_with_same_class_lists(lexical):
    r = lexical.analyze("你给我滚出去！我真的气死了！")
    assert r.extra["language"] == "zh" and r.extra["text_model"].startswith("text_zh")
    assert r.cues == []  # the word spotter's cues are English
    assert list(r.head_probs) == lexical.head.classes and r.head_probs["disgust"] == 0.0
    assert max(r.head_probs, key=r.head_probs.get) == "anger"
    assert list(r.extra["sentiment"]) == lexical.sentiment_head.classes
    assert r.extra["sentiment"]["negative"] > r.extra["sentiment"]["positive"]


def test_english_still_routed_to_english_heads(lexical):
    r = lexical.analyze("I am so happy, this is the best day of my life!")
    assert r.extra["language"] == "en" and r.extra["text_model"] == "text"
    assert max(r.head_probs, key=r.head_probs.get) == "joy"
    assert r.head_probs["disgust"] > 0  # the English head has the class; the Chinese one maps nothing to it
    assert any("happy" in c.text for c in r.cues)


def test_chinese_sentiment_polarity(lexical):
    texts = ["今天真是太开心了，谢谢大家，我爱你们！", "我真的很难过，一切都完了，太痛苦了。"]
    p, s = lexical.probs(texts, with_sentiment=True)
    neg, pos = lexical.sentiment_head.classes.index("negative"), lexical.sentiment_head.classes.index("positive")
    assert s[0, pos] > s[0, neg] and s[1, neg] > s[1, pos]
    assert lexical.head.classes[int(p[0].argmax())] == "joy"
    assert lexical.head.classes[int(p[1].argmax())] == "sadness"


def test_mixed_batch_equals_one_by_one(lexical):
    texts = ["我很担心他会出事。", "Why would you do that to me?", "", "太好了！"]
    p, s = lexical.probs(texts, with_sentiment=True)
    assert p.shape == (4, len(lexical.head.classes)) and s.shape == (4, 3)
    assert np.allclose(p.sum(1), 1, atol=1e-5) and np.allclose(s.sum(1), 1, atol=1e-5)
    assert np.allclose(p[2], 1 / p.shape[1])  # empty text -> uniform
    for i, t in enumerate(texts):
        pi, si = lexical.probs([t], with_sentiment=True)
        assert np.allclose(pi[0], p[i], atol=1e-5) and np.allclose(si[0], s[i], atol=1e-5)


def test_ngram_only_fallback_is_a_distribution(lexical):
    from affectgpt.analyzers.lexical import LexicalAnalyzer

    lx = LexicalAnalyzer(head=lexical.head, encoder=lexical.encoder, sentiment_head=lexical.sentiment_head,
                         zh_head=lexical.zh_head, zh_sentiment_head=lexical.zh_sentiment_head, zh_encoder=False)
    r = lx.analyze("太好了，我们赢了！")
    assert r.extra["text_model"] == "text_zh (n-gram only)"
    assert r.head_probs["joy"] == max(r.head_probs.values())


def test_mer2023_test1_chinese_subtitles(data_dir, lexical):
    texts, labels = _mer2023_test1(data_dir)
    assert all(lexical.language(t) == "zh" for t in texts[:50])
    p = lexical.probs(texts)
    pred = np.array(lexical.head.classes)[p.argmax(1)]
    acc = float(np.mean(pred == np.array([ZH_TO_MELD[y] for y in labels])))
    # 6 classes (chance ~26% for the majority class); the packaged head scores ~51% (card: test1)
    assert acc >= 0.45, acc


def test_warm_chinese_analysis_is_fast(lexical):
    text = "你看这欧阳也要结婚了，你也得重新安排你自己了。"
    lexical.analyze(text)
    t0 = time.perf_counter()
    for _ in range(5):
        lexical.analyze(text)
    assert (time.perf_counter() - t0) / 5 < 0.2  # ~25 ms on one core; loose for busy CI machines


def test_ngram_part_reproducible_from_training(data_dir):
    """Refit the packaged emotion head's n-gram part (a few seconds) and compare with the shipped one."""
    from affectgpt.analyzers.training import _zh_ngram_part, zh_text_data

    if not (data_dir / "merunibench" / "dataset" / "mer2023-dataset-process").is_dir():
        pytest.skip("no MER2023 folder in the data directory")
    head = load_zh_head(packaged_head_path("text_zh"))
    params = head.card["params"]
    texts, y, _ = zh_text_data(data_dir)["mer2023_train"]
    vec, W, b = _zh_ngram_part(texts, y, head.classes, params["ngram_C"], head.card["seed"], params["class_weight"])
    assert vec.vocabulary == head.vectorizer.vocabulary
    # stored as float16 (relative precision ~5e-4); lbfgs stops at its tolerance, so allow a little more
    assert np.allclose(W, head.ngram_weight, rtol=2e-3, atol=5e-3) and np.allclose(b, head.ngram_bias, atol=5e-3)
    assert np.mean(np.argmax(W, 1) == np.argmax(head.ngram_weight, 1)) > 0.999
