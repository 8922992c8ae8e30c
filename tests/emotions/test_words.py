"""The describe vocabulary lands in the right wheel sectors, and labels follow the distribution."""

from __future__ import annotations

from affectgpt.describe.writer import open_labels
from affectgpt.emotions import load_vocabulary
from affectgpt.emotions.polarity import label_polarity
from affectgpt.emotions.words import INTENSITY_WORDS, NEGATIVE, POSITIVE


def test_every_word_is_known_and_has_the_right_polarity(data_dir):
    v = load_vocabulary("paper", data_dir)
    for cls, levels in INTENSITY_WORDS.items():
        for words in levels:
            for w in words:
                if cls == "neutral":
                    continue
                assert w in v.forms, w
                expected = 1 if cls in POSITIVE else -1 if cls in NEGATIVE else None
                if expected is not None:
                    assert label_polarity(v, w) == expected, (cls, w)


def test_open_labels_follow_the_distribution():
    base = dict.fromkeys(["neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"], 0.0)
    strong_anger = {**base, "angry": 0.7, "sad": 0.2, "neutral": 0.1}
    assert open_labels(strong_anger, "high") == ["furious", "enraged", "agitated"]
    mostly_neutral = {**base, "neutral": 0.6, "sad": 0.25, "happy": 0.15}
    assert open_labels(mostly_neutral) == ["neutral", "unhappy"]
    mixed = {**base, "happy": 0.45, "surprised": 0.3, "neutral": 0.25}
    assert open_labels(mixed) == ["happy", "cheerful", "surprised"]
    flat = dict.fromkeys(base, 1 / 7)
    assert open_labels(flat) == ["neutral"]  # nothing stands out: no emotion is claimed
