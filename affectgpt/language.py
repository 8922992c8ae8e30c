"""Which language a text is in (ground floor: used by subtitles, the text path and the scorer)."""

from __future__ import annotations

import re

__all__ = ["guess_language", "has_words", "speech_language_code"]

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


def speech_language_code(code: str) -> str:
    """A ``--language`` value checked and normalised: lower case, a region dropped (``zh-CN`` ->
    ``zh``), an ISO 639-1/-3 code that Whisper knows (``zh``, ``en``, ``yue`` ...; the list faster-whisper ships, or any 2-3 letter code
    without it).

    Raises:
        ValueError: not such a code (names the value and gives examples).
    """
    value = re.split(r"[-_]", str(code).strip().lower(), maxsplit=1)[0]  # zh-CN, en_US -> zh, en
    try:
        from faster_whisper.tokenizer import _LANGUAGE_CODES as known  # noqa: PLC2701 - its only list
    except ImportError:  # pragma: no cover - without the describe extra
        known = None
    ok = value in known if known else bool(re.fullmatch(r"[a-z]{2,3}", value))
    if not ok:
        raise ValueError(f"--language {code!r} is not a language code Whisper knows "
                         "(ISO 639-1, e.g. zh, en, fr, ja, yue)")
    return value
