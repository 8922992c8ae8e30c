"""Sentiment polarity of emotion labels through the emotion wheels' inner sectors.

A deterministic, offline stand-in for the paper's LLM step "OV labels -> sentiment"
(PAPER §3.6): each inner sector of the five wheels has a fixed polarity; a label's polarity
is the sign of the sum over the wheels it maps to; a list's sentiment is the sign of the
sum of its labels' polarities (no labels or a tie -> neutral).
"""

from __future__ import annotations

from collections.abc import Iterable

from affectgpt.emotions.vocabulary import WHEELS, EmotionVocabulary

__all__ = ["SECTOR_POLARITY", "label_polarity", "labels_to_sentiment"]

#: Polarity of the inner-ring sectors of wheels 1-5 ("surprised" is ambiguous: 0).
SECTOR_POLARITY = {
    "happy": 1, "joyful": 1, "joy": 1, "peaceful": 1, "powerful": 1, "genius": 1,
    "sad": -1, "mad": -1, "angry": -1, "anger": -1, "scared": -1, "fearful": -1, "fear": -1,
    "disgusted": -1, "disgust": -1, "bad": -1,
    "surprised": 0,
}


def label_polarity(vocab: EmotionVocabulary, label: str) -> int:
    """+1, -1 or 0 for one label."""
    total = 0
    for k in WHEELS:
        sector = vocab.map_label(label, k, 1)
        if sector is not None:
            total += SECTOR_POLARITY.get(sector, 0)
    return (total > 0) - (total < 0)


def labels_to_sentiment(vocab: EmotionVocabulary, labels: Iterable[str]) -> str:
    """``positive``, ``negative`` or ``neutral`` for a label list."""
    total = sum(label_polarity(vocab, x) for x in labels)
    return "positive" if total > 0 else "negative" if total < 0 else "neutral"
