"""The project's own open-vocabulary words for describing emotions (written for affectgpt).

Each basic emotion has words for three intensities; vocal arousal adds a word that fits the
dominant emotion ("agitated" for high-arousal anger, "dejected" for low-arousal sadness).
The words were picked so that each lands in its own emotion's sector on the benchmark's
emotion wheels (checked by ``tests/emotions/test_words.py``). When a data directory provides
the wheel tables, only words the tables know are kept.
"""

from __future__ import annotations

__all__ = ["INTENSITY_WORDS", "AROUSAL_WORDS", "POSITIVE", "NEGATIVE"]

INTENSITY_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    # basic class: (low, medium, high intensity)
    "happy": (("pleased", "content"), ("happy", "cheerful"), ("joyful", "delighted")),
    "sad": (("unhappy", "gloomy"), ("sad", "sorrowful"), ("miserable", "depressed")),
    "angry": (("annoyed", "irritated"), ("angry", "resentful"), ("furious", "enraged")),
    "fearful": (("uneasy", "nervous"), ("worried", "anxious"), ("frightened", "terrified")),
    "disgusted": (("averse",), ("disgusted", "repulsed"), ("revolted", "sickened")),
    "surprised": (("surprised",), ("surprised", "startled"), ("astonished", "stunned")),
    "neutral": (("neutral",), ("neutral",), ("neutral",)),
}

#: (vocal arousal, dominant emotion) -> extra words
AROUSAL_WORDS = {
    ("high", "angry"): ("agitated",),
    ("high", "fearful"): ("frightened",),
    ("high", "happy"): ("delighted",),
    ("low", "sad"): ("dejected",),
    ("low", "happy"): ("relaxed",),
}

POSITIVE = ("happy",)
NEGATIVE = ("sad", "angry", "fearful", "disgusted")
