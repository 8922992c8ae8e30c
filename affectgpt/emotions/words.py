"""The project's own open-vocabulary words for describing emotions (written for affectgpt).

Each basic emotion has words for three intensities; arousal/valence cue combinations add
words such as "tense" or "dejected". Used by the description writer; when a data directory
provides the benchmark's wheel tables, only words the tables know are kept.
"""

from __future__ import annotations

__all__ = ["INTENSITY_WORDS", "AROUSAL_WORDS", "POSITIVE", "NEGATIVE"]

INTENSITY_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    # basic class: (low, medium, high intensity)
    "happy": (("content", "pleased"), ("happy", "cheerful"), ("joyful", "excited")),
    "sad": (("disappointed", "down"), ("sad", "unhappy"), ("heartbroken", "despairing")),
    "angry": (("annoyed", "irritated"), ("angry", "frustrated"), ("furious", "enraged")),
    "fearful": (("uneasy", "nervous"), ("worried", "anxious"), ("terrified", "panicked")),
    "disgusted": (("displeased", "uncomfortable"), ("disgusted", "repulsed"), ("revolted", "appalled")),
    "surprised": (("curious", "puzzled"), ("surprised", "amazed"), ("astonished", "shocked")),
    "neutral": (("calm",), ("calm", "composed"), ("calm", "composed")),
}

#: words added from voice arousal (loud, fast, raised pitch) combined with the valence of the fused emotion
AROUSAL_WORDS = {
    ("high", "negative"): ("tense", "agitated"),
    ("high", "positive"): ("enthusiastic",),
    ("low", "negative"): ("dejected", "tired"),
    ("low", "positive"): ("relaxed",),
}

POSITIVE = ("happy",)
NEGATIVE = ("sad", "angry", "fearful", "disgusted")
