"""Lexical cues: emotion words in the subtitle/transcript (negation-aware) and a text-emotion head.

The head reads a MiniLM embedding of the utterance (and, in dialogues, of the previous one);
it was trained on MELD and GoEmotions (see its card).
"""

from __future__ import annotations

import time

import numpy as np

from affectgpt.analyzers.base import Cue, ModalityResult, merge_to_basic
from affectgpt.analyzers.heads import Head, load_head, packaged_head_path

__all__ = ["LexicalAnalyzer"]


class LexicalAnalyzer:
    """Text emotion of a transcript.

    Args:
        head: trained text head (default: the packaged ``text`` head).
        encoder: a :class:`~affectgpt.analyzers.embedding.SentenceEncoder` (default: packaged MiniLM).
        words: extra emotion word forms to spot (e.g. the benchmark vocabulary's forms).
    """

    modality = "text"

    def __init__(self, head: Head | None = None, encoder=None, words=None, sentiment_head: Head | None = None):
        from affectgpt.analyzers.embedding import shared_encoder
        from affectgpt.bench.extractors.lexicon import LexiconExtractor
        from affectgpt.emotions.words import INTENSITY_WORDS

        self.head = head or load_head(packaged_head_path("text"))
        self.sentiment_head = sentiment_head or load_head(packaged_head_path("text_sentiment"))
        self.encoder = encoder or shared_encoder()
        own = {w for levels in INTENSITY_WORDS.values() for ws in levels for w in ws}
        own |= {"happiness", "sadness", "anger", "fear", "disgust", "surprise", "joy", "love", "hate", "scared",
                "afraid", "glad", "upset", "mad", "sorry", "thankful", "grateful", "lonely", "proud", "ashamed"}
        self.spotter = LexiconExtractor(forms=sorted(own | set(words or ())))

    def embed(self, texts: list[str], previous: list[str] | None = None) -> np.ndarray:
        """Head input: [utterance embedding, previous-utterance embedding (zeros if none)]."""
        emb = self.encoder.encode(texts)
        prev = self.encoder.encode(previous) if previous else np.zeros_like(emb)
        return np.hstack([emb, prev])

    def probs(self, texts: list[str], previous: list[str] | None = None, with_sentiment: bool = False):
        """Emotion-head probabilities [n, classes] for several texts (empty text -> uniform).

        ``previous`` gives the preceding utterance of each text in a dialogue ("" for none).
        With ``with_sentiment``, also returns the sentiment head's probabilities [n, 3].
        """
        x = self.embed(texts, previous)
        p = self.head.predict_proba(x)
        s = self.sentiment_head.predict_proba(x)
        for i, t in enumerate(texts):
            if not t.strip():
                p[i] = 1.0 / p.shape[1]
                s[i] = 1.0 / s.shape[1]
        return (p, s) if with_sentiment else p

    def analyze(self, text: str | None, source: str = "subtitle") -> ModalityResult:
        """Analyse one transcript; no text gives ``present=False`` with the reason."""
        t0 = time.perf_counter()
        if not text or not text.strip():
            return ModalityResult("text", False, "no subtitle and no speech recognised")
        p, sent = self.probs([text], with_sentiment=True)
        p = p[0]
        cues = [Cue("text", "emotion_word", f'the word "{w}"', 1.0, "", None, "moderate")
                for w in self.spotter.extract_one(text)]
        return ModalityResult("text", True, probs=merge_to_basic(self.head.classes, p),
                              head_probs=dict(zip(self.head.classes, map(float, p))), cues=cues,
                              extra={"text": text, "source": source,
                                     "sentiment": dict(zip(self.sentiment_head.classes, map(float, sent[0])))},
                              seconds=time.perf_counter() - t0)
