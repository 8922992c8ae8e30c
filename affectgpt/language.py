"""Which language a text is in (ground floor: used by subtitles, the text path and the scorer)."""

from __future__ import annotations

import re

__all__ = ["guess_language", "has_words"]

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def guess_language(text: str) -> str | None:
    """``zh`` when CJK ideographs make up at least 30% of the letters, ``en`` when the letters
    are mostly ASCII Latin, else ``und`` (None for empty text). A heuristic for subtitles."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return None
    cjk = sum(1 for ch in letters if _CJK.match(ch))
    if cjk >= 0.3 * len(letters):
        return "zh"
    ascii_latin = sum(1 for ch in letters if ch.isascii())
    return "en" if ascii_latin >= 0.9 * len(letters) else "und"


def has_words(text: str | None) -> bool:
    """Whether ``text`` holds any letter (Latin, CJK ideograph, kana, Hangul ...): a subtitle of
    emoji, punctuation or digits alone gives the text models nothing to read."""
    return bool(text) and any(ch.isalpha() for ch in text)
