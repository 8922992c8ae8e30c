"""Subtitles from .srt / .vtt / .txt / CSV files or a plain string, as timed segments."""

from __future__ import annotations

import codecs
import csv
import html
import io
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from affectgpt.errors import InputError
from affectgpt.io import clip_name, sha256_file
from affectgpt.language import TEXT_LANGUAGES, bilingual_parts, guess_language, join_cjk_gaps, join_lines

__all__ = ["Segment", "Transcript", "read_subtitles", "cue_text", "join_cjk_gaps", "TEXT_SUBTITLE_CODECS", "read_subtitle_table", "decode_text_file", "guess_language", "SUBTITLE_SUFFIXES",
           "SUBTITLE_COLUMNS", "looks_like_path", "clip_name"]

SUBTITLE_SUFFIXES = (".srt", ".vtt", ".ass", ".ssa", ".txt", ".csv")
#: codecs of subtitle streams that carry text (read from a media file's own subtitle track);
#: the others (hdmv_pgs_subtitle, dvd_subtitle, dvb_subtitle, xsub) are pictures and are not read
TEXT_SUBTITLE_CODECS = frozenset({"subrip", "srt", "ass", "ssa", "mov_text", "webvtt", "text", "microdvd",
                                  "subviewer", "subviewer1", "jacosub", "sami", "realtext", "stl", "pjs",
                                  "mpl2", "vplayer", "eia_608", "arib_caption"})
#: subtitle columns of a CSV, in the order tried (upstream MER files: name, chinese, english)
SUBTITLE_COLUMNS = ("subtitle", "text", "chinese", "english")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z\uff21-\uff3a\uff41-\uff5a]")

_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})")
_TAG = re.compile(r"<[^>]+>|\{[^}]+\}")
_ASS_BREAK = re.compile(r"\\[Nn]|\\h")


@dataclass(frozen=True)
class Segment:
    """One subtitle cue; times in seconds (``None`` when the source has no timing)."""

    text: str
    start_s: float | None = None
    end_s: float | None = None


@dataclass
class Transcript:
    """Timed text of a clip and where it came from (``file``, ``string``, ``embedded``, ``asr`` or ``none``).

    Attributes:
        segments: the cues (empty when nothing was recognised or the ASR was not confident).
        source: ``file``, ``string``, ``embedded`` (the media file's own text subtitle stream),
            ``asr`` or ``none``.
        language: ISO 639-1 code (``zh``, ``en`` ...), ``und`` when unknown, None when no text.
        language_probability: Whisper's language-identification probability (ASR only).
        language_forced: the language was given (``--language``), not identified.
        model: the ASR model (``base``, ``tiny.en``) for ASR transcripts.
        avg_logprob, no_speech_prob, compression_ratio: Whisper's confidence over the segments.
        dropped: why recognised text was dropped (below the confidence floor), or None.
        rejected_text: the dropped text, kept for inspection only (never analysed).
        encoding: the text encoding of a subtitle file.
        extra: where the text was found (``column`` / ``table`` of a CSV; ``stream``, ``codec``,
            ``track_language`` of an embedded subtitle stream); written into :meth:`to_dict`.
    """

    segments: list[Segment]
    source: str
    language: str | None = None
    language_probability: float | None = None
    language_forced: bool = False
    model: str | None = None
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    compression_ratio: float | None = None
    dropped: str | None = None
    rejected_text: str | None = None
    encoding: str | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.language is None and self.source in ("file", "string", "embedded") and self.text:
            self.language = guess_language(self.text)
            # a bilingual subtitle: the language of its part read first (Chinese, else English), as recorded
            readable = [k for k in TEXT_LANGUAGES if k in (bilingual_parts(self.lines) or {})]
            if readable:
                self.language = readable[0]

    @property
    def text(self) -> str:
        """All cues joined: a cue's lines by a space (none between two Chinese characters), the cues
        by a space, or by nothing in a Chinese transcript; a bilingual one (a Chinese line above its
        English translation) keeps a space between an English line and the next Chinese one."""
        parts = [join_lines(s.text) for s in self.segments if s.text]
        if self.language == "zh" or (parts and all(_CJK.search(p) for p in parts)):
            if not _LATIN.search(self.lines) or bilingual_parts(self.lines) is None:  # Chinese only: no check
                return "".join(parts).strip()
            return join_lines(parts)
        return " ".join(parts).strip()

    @property
    def lines(self) -> str:
        """The cues' lines, one per line (``\\n`` between them; a cue of two lines gives two): what the
        text analyzer reads, so that a bilingual file is found line by line
        (:func:`affectgpt.language.bilingual_parts`); its :func:`~affectgpt.language.join_lines` is
        :attr:`text` (a text in one language reads the same)."""
        return "\n".join(s.text for s in self.segments if s.text)

    def text_between(self, start_s: float, end_s: float, lines: bool = False) -> str:
        """Text of the cues overlapping [start_s, end_s), joined by spaces, or with ``lines`` their
        lines one per line (as :attr:`lines`); untimed cues belong everywhere."""
        parts = [s.text for s in self.segments
                 if s.start_s is None or (s.start_s < end_s and (s.end_s if s.end_s is not None else s.start_s) > start_s)
                 or (s.start_s is not None and s.end_s is None and start_s <= s.start_s < end_s)]
        if lines:
            return "\n".join(p.strip() for p in parts if p.strip())
        return " ".join(join_lines(p) for p in parts if p.strip()).strip()

    def to_dict(self) -> dict:
        """The JSON form used by ``describe`` (schema ``affectgpt.describe``)."""
        from dataclasses import asdict

        out = {"text": self.text, "source": self.source, "language": self.language,
               "segments": [asdict(s) for s in self.segments]}
        for k in ("language_probability", "language_forced", "model", "avg_logprob", "no_speech_prob",
                  "compression_ratio", "dropped", "rejected_text", "encoding"):
            v = getattr(self, k)
            if v not in (None, False):
                out[k] = v
        for k, v in self.extra.items():
            out.setdefault(k, v)
        return out


_DRAWING = re.compile(r"\{[^}]*\\p[1-9][^}]*\}.*?(?:\{[^}]*\\p0[^}]*\}|$)", re.S)
_RUBY_TEXT = re.compile(r"<(rt|rp)>.*?</\1>", re.S | re.I)
#: sound descriptions for the hard of hearing: 【音乐】, [Music], ［笑］ (not speech)
_SOUND_TAG = re.compile(r"【[^】]*】|\[[^\]]*\]|［[^］]*］")
#: sound descriptions of the speaker's own vocal expression (laughing, crying, sighing, screaming):
#: evidence of emotion, kept as words ("[LAUGHTER]" -> "laughter"); other sounds are dropped
_VOCAL_TAG = re.compile(r"laugh|giggl|chuckl|\bcr(?:y|ies|ying)\b|\bsob|\bsigh|scream|\bgasp|groan|whimper|"
                        r"笑|哭|泣|叹气|尖叫|哽咽", re.I)


def _sound_tag(m: re.Match) -> str:
    inner = m.group(0)[1:-1].strip()
    return f" {inner.lower()} " if _VOCAL_TAG.search(inner) else " "
#: a dialogue dash or a short speaker label opening a subtitle line: "- ", "A：", "JOHN: ", "MAN 1:", "男：",
#: "JOSÉ:", "FRANÇOIS:" (capitals with Latin-1 accents too)
_LINE_LEAD = re.compile(r"^\s*(?:[-\u2010-\u2015]+\s*)?(?:(?:[A-Z\u00c0-\u00d6\u00d8-\u00de][A-Z\u00c0-\u00d6\u00d8-\u00de0-9 .'-]{0,14}"
                        r"|[A-Za-z]|[\u4e00-\u9fff]{1,4}\d?)"
                        r"\s*[:：]\s*(?=\S))?")


def cue_text(raw: str, line_leads: bool = True, lines: bool = False) -> str:
    """The spoken words of one subtitle cue as a file or a decoder gives it.

    Removed: ASS/SSA drawing commands (``{\\p1}m 0 0 l ...{\\p0}``) and override blocks
    (``{\\i1}``), ruby annotations (``<rt>zhè</rt>``), HTML-like tags (``<i>``), sound descriptions
    for the hard of hearing (``【音乐】``, ``[Music]``, ``[BREATHING]``) except those of the
    speaker's own vocal expression, kept as words (``[LAUGHTER]`` -> ``laughter``, ``【哭】`` ->
    ``哭``: laughing, crying, sighing, screaming are evidence), and on each line a dialogue dash or a short
    speaker label (``- ``, ``A：``, ``JOHN:``); HTML entities are resolved. Lines (also ASS ``\\N``
    breaks) are joined by a space, except between two Chinese or Japanese characters; whitespace
    runs collapse to one space. ``line_leads=False`` keeps what opens a line (a transcript
    table's cell is speech, where ``她说：`` is said, not a speaker label). ``lines=True`` keeps one
    line per line (``\\n`` between them): the subtitle readers keep a cue's lines apart, so that a
    Chinese line above its English translation is found line by line
    (:func:`~affectgpt.language.bilingual_parts`); :func:`~affectgpt.language.join_lines` of the
    result is the joined text."""
    text = _RUBY_TEXT.sub("", _DRAWING.sub("", raw))
    text = html.unescape(_TAG.sub("", text))
    keep = lines
    split = re.split(r"\\[Nn]|\n", _SOUND_TAG.sub(_sound_tag, text))
    split = [ln.replace("\\h", " ") for ln in split]
    parts = [" ".join((_LINE_LEAD.sub("", ln) if line_leads else ln).split()) for ln in split]
    if keep:
        return "\n".join(join_cjk_gaps(p) for p in parts if p)
    return join_cjk_gaps(" ".join(p for p in parts if p))


_CJK_TEXT = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


def looks_like_path(value: str) -> bool:
    """Whether a ``--subtitle`` value names a file rather than being the text:

    * it ends in a subtitle suffix (``.srt``, ``.vtt``, ``.txt``, ``.csv``, ...); or
    * it has a path separator, no spaces and no line break, and either is absolute (``/``,
      ``~``, ``C:\\``) or holds no Chinese character or punctuation (``subs/clip01``), or names a
      folder that exists (``字幕/第一集``). Chinese text has no spaces, so a Chinese line with a
      slash (``评分是3/10。``, ``家长/教师``) is text unless its folder part exists."""
    v = value.strip()
    if not v or "\n" in v:
        return False
    if v.lower().endswith(SUBTITLE_SUFFIXES):
        return True
    seps = {os.sep, "/"} | ({os.altsep} if os.altsep else set())
    if not any(sep in v for sep in seps) or any(ch.isspace() for ch in v):
        return False
    if v.startswith("~") or not _CJK_TEXT.search(v):
        return True
    p = Path(v)
    return p.is_absolute() or p.parent.is_dir()


#: Share of common characters below which a GBK/Big5 reading is refused as not Chinese text.
MIN_COMMON_HANZI = 0.5


def _common_hanzi(ch: str) -> bool:
    """A character of the common sets: GB2312 level 1 (3,755 characters, rows 16-55) or Big5's
    frequently used characters (5,401, codes A440-C67E), or an everyday written-Cantonese one."""
    if ch in _CANTONESE:
        return True
    try:
        b = ch.encode("gb2312")
        if len(b) == 2 and 0xB0 <= b[0] <= 0xD7:
            return True
    except UnicodeEncodeError:
        pass
    try:
        b = ch.encode("big5")
        return len(b) == 2 and 0xA440 <= (b[0] << 8 | b[1]) <= 0xC67E
    except UnicodeEncodeError:
        return False


#: everyday characters of written Cantonese (several only in the Hong Kong supplement to Big5)
_CANTONESE = set("佢哋冇嘢咗嘅啲喺咁乜嚟諗睇唔咩啱嗰噉孖冚搵揾攞嬲靚瞓咪嘞喎囉啩")


_TYPOGRAPHIC = set("\u201c\u201d\u2018\u2019\u2013\u2014\u2026\u2022\u00ab\u00bb\u00a1\u00bf\u20ac\u00a3")


def western_plausible_share(text: str) -> float:
    """Share of the non-ASCII characters of a Windows-1252 reading that look like Western text:
    an accented Latin letter beside an ASCII letter ("café", "naïve"), or typographic punctuation
    (curly quotes, dashes, ellipsis) beside ASCII. Chinese bytes read this way give runs of
    accented capitals and symbols ("ÉN°ÝÃD") and score low (1.0 when nothing is non-ASCII)."""
    odd = [i for i, c in enumerate(text) if ord(c) >= 0x80]
    if not odd:
        return 1.0

    def ok(i: int) -> bool:
        c = text[i]
        near = [text[j] for j in (i - 1, i + 1) if 0 <= j < len(text)]
        if c in _TYPOGRAPHIC:
            return any(n.isascii() for n in near)
        return c.isalpha() and ord(c) < 0x250 and any(n.isascii() and n.isalpha() for n in near)

    return sum(map(ok, odd)) / len(odd)


def common_hanzi_share(text: str) -> float:
    """Share of the non-ASCII letters (and private-use code points) of ``text`` that are common
    Chinese characters (1.0 when there are none). Text read with the wrong legacy encoding
    (Big5 bytes read as GBK, or the reverse) turns into rare characters, symbols and private-use
    code points, so this tells the two apart: measured 30 of 32 right on single phrases, the
    two misses being one- or two-character phrases whose both readings are common."""
    chars = [c for c in text if ord(c) >= 0x80 and unicodedata.category(c)[0] in "LC"]
    return sum(map(_common_hanzi, chars)) / len(chars) if chars else 1.0


def _legacy_chinese(raw: bytes) -> tuple[str | None, str | None, float]:
    """``(text, encoding, common share)`` of bytes in GBK/GB18030 (mainland) or Big5 (Taiwan, Hong
    Kong, with the HKSCS additions): the reading with more common characters wins, GB18030 on a tie."""
    readings = {}
    for enc in ("gb18030", "big5hkscs"):
        try:
            readings[enc] = raw.decode(enc)
        except UnicodeDecodeError:
            pass
    if not readings:
        return None, None, 0.0
    shares = {enc: common_hanzi_share(t) for enc, t in readings.items()}
    enc = max(readings, key=lambda e: shares[e])
    return readings[enc], enc, shares[enc]


#: control characters that no text holds (tab, line breaks, form feed and DOS's end-of-file
#: Ctrl-Z are allowed)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x19\x1b-\x1f\x7f]")


#: Chinese characters a UTF-16 reading without a byte-order mark needs (two-byte Windows-1252
#: words such as "Sí" read as one common character)
MIN_UTF16_HANZI = 4


def _utf16_chinese(raw: bytes) -> tuple[str | None, float]:
    """``(text, share)``: the UTF-16 reading (either byte order, no byte-order mark) of ``raw`` that
    holds Chinese, with the share of its non-ASCII letters that are common Chinese characters
    (:func:`common_hanzi_share`); ``(None, 0.0)`` when no reading is Chinese text (odd length,
    invalid surrogates, control characters, or no Chinese character at all)."""
    if len(raw) % 2 or len(raw) < 2 * MIN_UTF16_HANZI:
        return None, 0.0
    best, best_share = None, 0.0
    for enc in ("utf-16-le", "utf-16-be"):
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        if _CONTROL.search(text) or len(_CJK.findall(text)) < MIN_UTF16_HANZI:
            continue
        share = common_hanzi_share(text)
        if share > best_share:
            best, best_share = text, share
    return best, best_share


def _utf16_without_bom(path: Path, raw: bytes) -> str:
    """Text with NUL bytes: UTF-16 without a byte-order mark when the NULs fall on one byte parity
    (Latin text: every other byte; Chinese text: only its line breaks and digits), else refused
    (a binary file is no subtitle).

    Raises:
        InputError: naming the file.
    """
    even, odd = raw[0::2].count(0), raw[1::2].count(0)
    half = len(raw) // 2
    if len(raw) % 2 == 0 and max(even, odd) >= 0.3 * half and min(even, odd) <= 0.02 * half:
        try:
            return raw.decode("utf-16-le" if odd > even else "utf-16-be")
        except UnicodeDecodeError:
            pass
    text, share = _utf16_chinese(raw)
    if text is not None and share >= 0.9:
        return text
    raise InputError(path, "subtitle file holds NUL bytes: a binary file, or UTF-16 without a byte-order mark "
                           "that cannot be told apart; re-save it as UTF-8")


def decode_text_file(path: str | Path, with_encoding: bool = False):
    """Read a subtitle text file: UTF-8 (with or without BOM), UTF-16 (with a BOM, or without one
    when its reading is Latin text or common Chinese characters), GBK/GB18030
    (mainland Chinese Windows editors), Big5/Big5-HKSCS (Taiwan, Hong Kong) or Windows-1252
    (English Windows editors); else a clear error.

    The legacy encodings are told apart by how plausible each reading is: the share of common
    Chinese characters for GBK and Big5 (:func:`common_hanzi_share`; wrong readings give rare
    characters and symbols), the share of accents inside words and typographic punctuation for
    Windows-1252 (:func:`western_plausible_share`). With ``with_encoding``
    returns ``(text, encoding)``.

    Raises:
        InputError: the bytes fit none of these encodings (names the file, line and byte).
    """
    path = Path(path)
    raw = path.read_bytes()
    text = enc = None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text, enc = raw.decode("utf-16"), "utf-16"
    elif b"\x00" in raw:
        text, enc = _utf16_without_bom(path, raw), "utf-16"
    else:
        try:
            text, enc = raw.decode("utf-8-sig"), "utf-8"
        except UnicodeDecodeError as exc:
            err = exc
            zh, zh_enc, share = _legacy_chinese(raw)
            western = None
            try:
                cand = raw.decode("cp1252")
                if not any(0x80 <= ord(ch) < 0xA0 for ch in cand) and not _CONTROL.search(cand):
                    western = cand  # text has no control bytes (UTF-16 read as bytes has)
            except UnicodeDecodeError:
                pass
            western_share = western_plausible_share(western) if western is not None else 0.0
            west_ok = western is not None and western_share >= 0.5
            u16, u16_share = _utf16_chinese(raw)  # UTF-16 without a byte-order mark and without NULs
            if u16 is not None and u16_share >= 0.9 and u16_share > share and not west_ok:
                return (u16, "utf-16") if with_encoding else u16
            # Chinese when its characters are clearly common ones, or when the bytes look like
            # pairs and no Western reading exists; Windows-1252 when its high bytes stand alone
            zh_ok = zh is not None and share >= MIN_COMMON_HANZI
            if zh_ok and (not west_ok or share >= 0.8 or share > western_share):
                text, enc = zh, zh_enc
            elif west_ok:
                text, enc = western, "cp1252"
            elif zh is not None:
                raise InputError(path, f"subtitle text decodes as {zh_enc} but only {share:.0%} of its characters "
                                 "are common Chinese ones (another encoding?); re-save it as UTF-8")
            if text is None:
                line = raw[: err.start].count(b"\n") + 1
                raise InputError(path, f"subtitle text is not UTF-8, UTF-16, GBK, Big5 or Windows-1252 "
                                 f"(byte 0x{raw[err.start]:02x}); re-save it as UTF-8", row=line) from None
    text = text.rstrip("\x1a")  # DOS end-of-file mark
    return (text, enc) if with_encoding else text


def _has_text_outside_headers(text: str) -> bool:
    """Whether an SRT/VTT without cues still holds text: anything but the WebVTT header block
    (``WEBVTT``, ``Kind:``, ``Language:``) and ``NOTE``/``STYLE``/``REGION`` blocks."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff"))]
    blocks = [b for b in blocks if b]
    if blocks and blocks[0].startswith("WEBVTT"):
        blocks = blocks[1:]
    return any(not b.startswith(("NOTE", "STYLE", "REGION")) for b in blocks)


def _seconds(m: re.Match) -> float:
    h, mnt, s, frac = m.groups()
    return int(h or 0) * 3600 + int(mnt) * 60 + int(s) + int(frac.ljust(3, "0")[:3]) / 1000


def _parse_cues(text: str) -> list[Segment]:
    """SRT and WebVTT share the shape: blocks with a `start --> end` line followed by text."""
    segments = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [ln.strip() for ln in block.strip().split("\n") if ln.strip()]
        idx = next((i for i, ln in enumerate(lines) if "-->" in ln), None)
        if idx is None:
            continue
        left, right = lines[idx].split("-->", 1)
        m1, m2 = _TIME.search(left), _TIME.search(right)
        if not m1 or not m2:
            continue
        body = cue_text("\n".join(lines[idx + 1:]), lines=True)  # tags, labels, entities (&amp; -> &)
        if body:
            segments.append(Segment(body, _seconds(m1), _seconds(m2)))
    return sorted(segments, key=lambda s: s.start_s)  # in time order, as players show them (stable)


_ASS_TIME = re.compile(r"^\s*(\d+):(\d{1,2}):(\d{1,2})(?:[.,](\d{1,3}))?\s*$")


def _ass_seconds(value: str) -> float | None:
    m = _ASS_TIME.match(value)
    if not m:
        return None
    frac = m.group(4) or "0"
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3)) + int(frac) / 10 ** len(frac)


def _parse_ass(text: str) -> list[Segment]:
    """The ``Dialogue:`` lines of an ASS/SSA file's ``[Events]`` section as timed cues (fields by its
    ``Format:`` line; ``Comment:`` lines skipped; text cleaned by :func:`cue_text`), in time order."""
    fields = ["layer", "start", "end", "style", "name", "marginl", "marginr", "marginv", "effect", "text"]
    section, out = "", []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped.lower()
            continue
        if section != "[events]":
            continue
        key, _, value = stripped.partition(":")
        if key.strip().lower() == "format":
            fields = [f.strip().lower() for f in value.split(",")]
        elif key.strip().lower() == "dialogue" and "text" in fields:
            cells = value.split(",", len(fields) - 1)
            if len(cells) < len(fields):
                continue
            row = dict(zip(fields, cells))
            body = cue_text(row["text"], lines=True)
            if body:
                out.append(Segment(body, _ass_seconds(row.get("start", "")), _ass_seconds(row.get("end", ""))))
    return sorted(out, key=lambda s: (s.start_s is None, s.start_s or 0.0))


def read_subtitles(source, name: str | None = None, column: str | None = None) -> Transcript:
    """Subtitles from a file (.srt, .vtt, .ass/.ssa, .txt, .csv) or, when ``source`` is not a path, the string itself
    (a :class:`Transcript` is returned as it is: text from a batch table is never taken for a path).

    A CSV needs a ``name`` column and a subtitle column: ``column`` when given, else the first
    of :data:`SUBTITLE_COLUMNS` present (the upstream ``name,chinese,english`` layout reads
    ``chinese``, the language spoken in those clips); ``name`` selects the row (the clip's stem).

    Raises:
        InputError: ``source`` looks like a path (see :func:`looks_like_path`) but names no
            file; an unreadable encoding; a CSV without the needed columns or without a row for
            ``name``; SRT/VTT with text but no cues (an empty one is an empty subtitle); ASS/SSA
            without Dialogue lines.

    SRT/VTT cues are returned in time order; a .txt file is cleaned like one cue
    (:func:`cue_text`).
    """
    if isinstance(source, Transcript):
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"a subtitle is text, a path or a Transcript, not {type(source).__name__}"
                        + (" (decode the bytes first)" if isinstance(source, (bytes, bytearray)) else ""))
    value = str(source)
    path = Path(value) if len(value) < 4096 and "\n" not in value else None
    try:
        is_file = path is not None and path.is_file()
    except (OSError, ValueError):  # text longer than a file name may be, or with NUL bytes: it is text
        is_file = False
    if not is_file:
        if path is not None and looks_like_path(value):
            if path.is_dir():
                raise InputError(path, "subtitle path is a folder, not a file")
            raise InputError(path, "subtitle file not found (pass the text itself, or an existing "
                                   ".srt/.vtt/.ass/.txt/.csv)")
        text = cue_text(value, lines=True)  # the same cleaning as a file's cues (tags, speaker labels, sound descriptions)
        return Transcript([Segment(text)] if text else [], "string")
    suffix = path.suffix.lower()
    text, enc = decode_text_file(path, with_encoding=True)
    if suffix in (".ass", ".ssa"):
        segs = _parse_ass(text)
        if not segs:
            raise InputError(path, "no Dialogue lines found in the [Events] section of this ASS/SSA file")
        return Transcript(segs, "file", encoding=enc, extra={"sha256": sha256_file(path)})
    if suffix in (".srt", ".vtt"):
        segs = _parse_cues(text)
        if not segs and "-->" in text:
            raise InputError(path, "no valid cue timings found (expected 00:00:01,000 --> 00:00:02,000)")
        if not segs and _has_text_outside_headers(text):
            raise InputError(path, "no cues (a cue is a timing line such as 00:00:01,000 --> 00:00:02,000, then its "
                                   "text); for plain text without timings use a .txt file")
        return Transcript(segs, "file", encoding=enc, extra={"sha256": sha256_file(path)})
    if suffix == ".csv":
        table = _subtitle_rows(path, text, enc, column)
        hit = table.get(clip_name(name)) if name else next(iter(table.values()))
        if hit is None:
            raise InputError(path, f"no row named {name!r} (the clip's file stem) in the subtitle CSV")
        hit.extra["sha256"] = sha256_file(path)
        return hit
    body = cue_text(text, lines=True)  # a plain-text file: its lines cleaned like one cue's
    return Transcript([Segment(body)] if body else [], "file", encoding=enc, extra={"sha256": sha256_file(path)})


def read_subtitle_table(path: str | Path, column: str | None = None,
                        prefer: tuple[str, ...] = SUBTITLE_COLUMNS) -> dict[str, Transcript]:
    """All rows of a subtitle table as ``{clip name: Transcript}`` (for batch runs).

    The table is a CSV (also tab- or semicolon-separated, recognised by its header line; any
    encoding :func:`decode_text_file` reads) with a ``name`` column and a subtitle column: ``column``
    if given, else the first of ``prefer`` present (default ``subtitle``, ``text``, ``chinese``,
    ``english``: the language spoken in the upstream clips), or several joined by ``+``
    (``chinese+english``: each cell a line, read as a bilingual subtitle); header names are
    matched ignoring case. Names are keyed as clip stems (:func:`clip_name`: ``clips/a.mp4`` -> ``a``;
    a spreadsheet-escaped ``'-x`` -> ``-x``). Cells that only say a value is missing (``nan``, ``NULL``,
    ``None``, ``N/A``: :data:`MISSING_CELLS`) are empty cells.

    Raises:
        InputError: naming the file (and row) when it is missing, has no such columns, a row has a
            blank name or more or fewer cells than the header, or two rows give one clip different
            texts (a row repeated word for word is read once).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "subtitle CSV not found")
    text, enc = decode_text_file(path, with_encoding=True)
    return _subtitle_rows(path, text, enc, column, prefer)


#: cells that stand for a missing value in exported tables (pandas, R, SQL, Excel), read as empty
MISSING_CELLS = frozenset({"nan", "null", "none", "n/a", "#n/a", "na", "<na>", "nat"})


def _subtitle_rows(path: Path, text: str, enc: str, column: str | None,
                   prefer: tuple[str, ...] = SUBTITLE_COLUMNS) -> dict[str, Transcript]:
    """The rows of a decoded subtitle table (see :func:`read_subtitle_table`)."""
    from affectgpt.io import spreadsheet_unescape, table_delimiter

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=table_delimiter(path, text))
    try:
        header = [h.strip().lstrip("\ufeff").lower() for h in next(reader, [])]
        wanted = column.strip().lower() if column else next((c for c in prefer if c in header), None)
        # "chinese+english": both columns, one line each (a bilingual subtitle, read part by part)
        columns = ([wanted] if wanted in header else [c.strip() for c in wanted.split("+")]) if wanted else []
        if column and (not all(columns) or any(c not in header for c in columns)):
            raise InputError(path, f"subtitle CSV has no column {column!r} (columns: {', '.join(header)})", row=1)
        if "name" not in header or wanted is None:
            raise InputError(path, "subtitle CSV needs columns name and one of " + "/".join(prefer)
                             + f"; found {header}", row=1)
        i_name, i_texts = header.index("name"), [header.index(c) for c in columns]
        out: dict[str, Transcript] = {}
        first_row: dict[str, int] = {}
        digest = sha256_file(path) if path.is_file() else None
        for line, cells in enumerate(reader, start=2):  # table rows, the header being row 1 (not file lines)
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise InputError(path, f"expected {len(header)} cells, got {len(cells)} (quote cells that hold "
                                       "the delimiter)", row=line)
            n = clip_name(spreadsheet_unescape(cells[i_name].strip()))  # '-x (a spreadsheet-escaped id) -> -x
            if not n:
                raise InputError(path, "blank name", row=line)
            bodies = [cue_text(cells[i], line_leads=False, lines=True) for i in i_texts]  # tags, sound descriptions removed
            # "nan" / "NULL" written by pandas or a database export: an empty cell
            bodies = [b for b in bodies if b and b.lower() not in MISSING_CELLS]
            if n in out:
                if [seg.text for seg in out[n].segments] == bodies:
                    continue  # the same row twice (upstream IEMOCAP table): one row
                raise InputError(path, f"duplicate name {n!r} with another text (also on row {first_row[n]})", row=line)
            first_row[n] = line
            out[n] = Transcript([Segment(b) for b in bodies], "file", encoding=enc,
                                extra={"column": wanted, "table": path.name, "table_sha256": digest})
    except csv.Error as exc:
        raise InputError(path, f"malformed CSV: {exc}", row=reader.line_num) from exc
    if not out:
        raise InputError(path, "subtitle CSV has no rows", row=1)
    return out
