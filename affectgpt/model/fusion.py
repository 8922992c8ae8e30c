"""Temporal pooling per modality and audio-visual pre-fusion (PAPER §2.1, Table 5).

Shapes: B batch, T time steps (frames or audio clips), D feature width, K queries.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["TemporalPooling", "QFormer", "AttentionPreFusion", "QFormerPreFusion"]


class QFormer(nn.Module):
    """K learned queries attending to a token sequence (a small Q-Former: transformer decoder
    layers whose queries self-attend and cross-attend to the input), with position embeddings."""

    def __init__(self, dim: int, num_queries: int, layers: int = 2, heads: int = 8, max_len: int = 64):
        super().__init__()
        heads = max(1, min(heads, dim // 8)) if dim % heads else heads
        while dim % heads:
            heads -= 1
        self.queries = nn.Parameter(torch.randn(num_queries, dim) * 0.02)
        self.position = nn.Embedding(max_len, dim)
        layer = nn.TransformerDecoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=0.0, batch_first=True)
        self.decoder = nn.TransformerDecoder(layer, layers)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, T, D], mask [B, T] (True = valid) -> [B, K, D]."""
        b, t, _ = x.shape
        x = x + self.position(torch.arange(t, device=x.device))[None]
        q = self.queries[None].expand(b, -1, -1)
        pad = None if mask is None else ~mask
        return self.decoder(q, x, memory_key_padding_mask=pad)


class TemporalPooling(nn.Module):
    """Pool a modality's tokens over time.

    ``attention`` reproduces upstream: a linear layer scores each step and the sequence is
    summed with the *unnormalised* scores as weights. ``softmax`` normalises the scores,
    ``mean`` averages, ``qformer`` returns K query tokens.
    """

    def __init__(self, dim: int, kind: str = "attention", num_queries: int = 1, layers: int = 2, heads: int = 8,
                 max_len: int = 64):
        super().__init__()
        self.kind = kind
        if kind in ("attention", "softmax"):
            self.score = nn.Linear(dim, 1)
        elif kind == "qformer":
            self.qformer = QFormer(dim, num_queries, layers, heads, max_len)
        elif kind != "mean":
            raise ValueError(f"unknown temporal pooling {kind!r}")

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, T, D], mask [B, T] -> [B, K, D] (K = 1 except for the Q-Former)."""
        m = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device) if mask is None else mask
        if self.kind == "qformer":
            return self.qformer(x, m)
        if self.kind == "mean":
            w = m.to(x.dtype)
            return ((x * w[..., None]).sum(1) / w.sum(1, keepdim=True).clamp(min=1))[:, None]
        s = self.score(x).squeeze(-1)
        if self.kind == "softmax":
            s = s.masked_fill(~m, float("-inf")).softmax(-1)
            s = torch.nan_to_num(s, nan=0.0)  # a sequence with no valid step
        else:
            s = s * m.to(s.dtype)
        return (s[..., None] * x).sum(1)[:, None]


class AttentionPreFusion(nn.Module):
    """Upstream "attention" pre-fusion: mean-pool each modality, project both to a common width
    C = max(Da, Dv), predict two (unnormalised) modality weights from their concatenation, and
    return the weighted sum [B, 1, C]."""

    def __init__(self, visual_dim: int, audio_dim: int):
        super().__init__()
        self.width = max(visual_dim, audio_dim)
        self.visual = nn.Linear(visual_dim, self.width)
        self.audio = nn.Linear(audio_dim, self.width)
        self.hidden = nn.Linear(2 * self.width, self.width)
        self.weights = nn.Linear(self.width, 2)

    def forward(self, visual, audio, visual_mask=None, audio_mask=None):
        v = self.visual(_masked_mean(visual, visual_mask))
        a = self.audio(_masked_mean(audio, audio_mask))
        w = self.weights(self.hidden(torch.cat([v, a], -1)))
        return (w[:, :1] * v + w[:, 1:] * a)[:, None]


class QFormerPreFusion(nn.Module):
    """Q-Former pre-fusion: K queries over the concatenated (projected) audio and visual tokens."""

    def __init__(self, visual_dim: int, audio_dim: int, num_queries: int = 1, layers: int = 2, heads: int = 8,
                 max_len: int = 128):
        super().__init__()
        self.width = max(visual_dim, audio_dim)
        self.visual = nn.Linear(visual_dim, self.width)
        self.audio = nn.Linear(audio_dim, self.width)
        self.qformer = QFormer(self.width, num_queries, layers, heads, max_len)

    def forward(self, visual, audio, visual_mask=None, audio_mask=None):
        x = torch.cat([self.visual(visual), self.audio(audio)], 1)
        m = None
        if visual_mask is not None or audio_mask is not None:
            vm = visual_mask if visual_mask is not None else torch.ones(visual.shape[:2], dtype=torch.bool, device=x.device)
            am = audio_mask if audio_mask is not None else torch.ones(audio.shape[:2], dtype=torch.bool, device=x.device)
            m = torch.cat([vm, am], 1)
        return self.qformer(x, m)


def _masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return x.mean(1)
    w = mask.to(x.dtype)[..., None]
    return (x * w).sum(1) / w.sum(1).clamp(min=1)
