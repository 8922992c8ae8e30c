"""``lexicon``: offline, deterministic label spotting over the vocabulary's word forms.

Every surface form of the emotion vocabulary (single and multi-word) is matched on word
boundaries. Negated mentions ("not happy", "no longer angry", "without any fear") are
dropped; hedged mentions ("may be anxious", "slightly tense") are kept by default, or
dropped with ``hedges="drop"``. Framing words that are also vocabulary forms but in
descriptions almost never name a felt emotion ("emotional state", "facial expression",
"the content of the text") are ignored. Output order is the order of first mention.

Answers in Chinese are read through the project's Chinese word table
(:data:`affectgpt.emotions.zh_words.ZH_EMOTION_WORDS`: longest word first, a word right after a
negator such as 不 / 没有 dropped); each Chinese word yields its English vocabulary word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from affectgpt.bench.extractors.base import LabelExtractor, register_extractor
from affectgpt.emotions.polarity import labels_to_sentiment
from affectgpt.emotions.vocabulary import EmotionVocabulary, load_vocabulary
from affectgpt.emotions.zh_words import ZH_EMOTION_WORDS, ZH_NEGATORS

__all__ = ["LexiconExtractor", "NEGATORS", "HEDGES", "STOP_FORMS"]

_HAS_CJK = re.compile(r"[\u4e00-\u9fff]")
_TOKEN = re.compile(r"[a-z]+(?:['’\-][a-z]+)*|[.!?;:,()\"]")

#: Tokens that open a negation scope.
NEGATORS = frozenset({
    "not", "no", "never", "nor", "neither", "without", "hardly", "barely", "scarcely",
    "lacks", "lack", "lacking", "absence", "free", "nothing", "none", "devoid", "rather",
})
#: Tokens that close a negation scope (besides punctuation).
_SCOPE_BREAK = frozenset({"but", "yet", "although", "though", "however", "instead", "and", "while", "whereas"})
#: Negation reaches at most this many tokens ahead.
NEGATION_WINDOW = 4
#: Tokens that hedge the next mention.
HEDGES = frozenset({
    "may", "might", "could", "perhaps", "possibly", "probably", "likely", "seem", "seems",
    "seemed", "appear", "appears", "appeared", "slightly", "somewhat", "suggest", "suggests",
})
#: Vocabulary forms ignored as framing words.
STOP_FORMS = frozenset({
    # framing words of descriptions ("emotional state", "facial expression", "an expert")
    "emotion", "emotions", "emotional", "emotionally", "state", "expression", "expressions",
    "face", "faced", "faces", "facial", "person", "information", "expert", "observations",
    "observation", "determine", "discern", "related", "including", "seen", "sense", "speaking",
    "focus", "thought", "important", "distance", "attention", "content", "help", "certain",
    "low", "lower", "open", "opened", "opening", "free", "lost", "might", "strong", "personal",
    "includes", "analyze", "analyzing", "support", "supporting", "facing", "clear", "unclear",
    "speech", "use", "going", "intense", "confidently",
})


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("n't", " not"))


@register_extractor("lexicon")
class LexiconExtractor(LabelExtractor):
    """Spot vocabulary word forms in free text.

    Args:
        vocabulary: an :class:`EmotionVocabulary`; loaded from ``profile``/``data_dir`` if omitted.
        hedges: ``keep`` (default) or ``drop`` hedged mentions.
        forms: explicit form list to use instead of the vocabulary's (tests, custom lexicons).
    """

    def __init__(self, vocabulary: EmotionVocabulary | None = None, profile: str = "paper",
                 data_dir: str | None = None, hedges: str = "keep", forms: Sequence[str] | None = None, **_: object):
        if hedges not in ("keep", "drop"):
            raise ValueError("hedges must be 'keep' or 'drop'")
        self.hedges = hedges
        if forms is None:
            vocabulary = vocabulary or load_vocabulary(profile, data_dir)
            forms = sorted(vocabulary.forms)
        self.vocabulary = vocabulary
        self._index: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for form in forms:
            toks = tuple(_TOKEN.findall(form.lower()))
            if not toks or form in STOP_FORMS or any(t in "!?.;:,()\"" for t in toks):
                continue
            self._index.setdefault(toks[0], []).append((toks, form))
        for entries in self._index.values():
            entries.sort(key=lambda e: -len(e[0]))
        self._max_len = max((len(t) for e in self._index.values() for t, _ in e), default=1)
        known = {f for e in self._index.values() for _, f in e}
        # Chinese words whose English word this extractor knows (all of them with the vocabulary)
        self._zh = {zh: en for zh, en in ZH_EMOTION_WORDS.items() if en in known}
        self._zh_max = max((len(w) for w in self._zh), default=1)

    def _extract_zh(self, text: str) -> list[str]:
        """English labels of the Chinese emotion words in ``text``, in order of first mention."""
        out: list[str] = []
        i, n = 0, len(text)
        while i < n:
            hit = next((text[i:i + k] for k in range(min(self._zh_max, n - i), 1, -1) if text[i:i + k] in self._zh),
                       None)
            if hit is None:
                i += 1
                continue
            before = text[max(0, i - 3):i]
            negated = any(before.endswith(neg) or before[:-1].endswith(neg) for neg in ZH_NEGATORS)
            en = self._zh[hit]
            if not negated and en not in out:
                out.append(en)
            i += len(hit)
        return out

    def extract_one(self, text: str) -> list[str]:
        """Labels found in one text, in order of first mention (English words, then Chinese)."""
        zh = self._extract_zh(text) if text and _HAS_CJK.search(text) else []
        toks = _tokens(text or "")
        out: list[str] = []
        seen: set[str] = set()
        neg_left = 0
        hedged = False
        i, n = 0, len(toks)
        while i < n:
            t = toks[i]
            if t in "!?.;:,()\"" or t in _SCOPE_BREAK:
                neg_left, hedged = 0, False if t in "!?.;" else hedged
                i += 1
                continue
            match = None
            for cand, form in self._index.get(t, ()):
                if tuple(toks[i:i + len(cand)]) == cand:
                    match = (cand, form)
                    break
            if match is None:
                if t in NEGATORS:
                    neg_left = NEGATION_WINDOW
                    if t == "no" and i + 1 < n and toks[i + 1] == "longer":
                        i += 1
                elif t in HEDGES:
                    hedged = True
                elif neg_left:
                    neg_left -= 1
                i += 1
                continue
            cand, form = match
            keep = neg_left == 0 and not (hedged and self.hedges == "drop")
            if keep and form not in seen:
                seen.add(form)
                out.append(form)
            i += len(cand)
        for w in zh:
            if w not in seen:
                seen.add(w)
                out.append(w)
        return out

    def extract(self, texts: Sequence[str]) -> list[list[str]]:
        return [self.extract_one(t) for t in texts]

    def to_sentiment(self, label_lists):
        if self.vocabulary is None:
            return None
        return [labels_to_sentiment(self.vocabulary, x) for x in label_lists]

    def signature(self) -> dict:
        return {"name": self.name, "hedges": self.hedges, "negation_window": NEGATION_WINDOW,
                "n_forms": sum(len(e) for e in self._index.values()), "n_zh_words": len(self._zh)}
