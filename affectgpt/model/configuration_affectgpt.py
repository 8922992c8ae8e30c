"""Typed configuration of the AffectGPT model (PAPER §2.1, UPSTREAM §1.2)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

__all__ = ["AffectGPTConfig", "PAPER_LORA_TARGETS"]

#: LoRA targets of the paper: every attention and MLP projection of the LLM.
PAPER_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class AffectGPTConfig:
    """Everything that defines an AffectGPT model. No default holds a path.

    Attributes:
        llm_path: folder of a Hugging Face causal LM (paper: Qwen2.5-7B-Instruct).
        visual_dim: width of one visual token from the visual encoder or feature extractor
            (paper: CLIP ViT-L/14 ``get_image_features``, 768).
        audio_dim: width of one audio token (paper: chinese-hubert-large, mean of last 4 layers, 1024).
        temporal_pooling: per-modality pooling over time: ``attention`` (upstream: linear scores,
            *unnormalised* weighted sum), ``softmax`` (normalised), ``mean`` or ``qformer``.
        prefusion: ``attention`` (two modality weights over the pooled vectors), ``qformer``
            (K learned queries over the concatenated audio+visual tokens) or ``none``.
        num_queries: tokens per modality given to the LLM (paper: 1).
        num_fusion_queries: tokens of the fused representation (paper: 1).
        qformer_layers, qformer_heads: size of the Q-Former blocks.
        max_frames: longest token sequence per modality (position embeddings).
        lora_r, lora_alpha, lora_dropout, lora_targets: PEFT LoRA (paper: 16, 32, 0.05, all projections).
        max_subtitle_tokens: subtitles are truncated to this many tokens (with a warning).
        dtype: ``float32``, ``bfloat16`` or ``float16`` for the LLM weights.
        feature_norm: standardise each modality's features per dimension with statistics of the
            training set (stored in the checkpoint). Off in the paper (CLIP/HuBERT features are
            used raw); on for ``mini``, whose Whisper states share a large common component.
        prompt: ``paper`` (the released prompt, PAPER §2.2) or ``compact`` (same slots and order,
            no connecting prose; for small LLMs).
        match_embedding_scale: initialise the projections so that projected tokens have the
            spread of the LLM's own token embeddings (off = PyTorch's default init, as upstream).
    """

    llm_path: str
    visual_dim: int = 768
    audio_dim: int = 1024
    temporal_pooling: Literal["attention", "softmax", "mean", "qformer"] = "attention"
    prefusion: Literal["attention", "qformer", "none"] = "attention"
    num_queries: int = 1
    num_fusion_queries: int = 1
    qformer_layers: int = 2
    qformer_heads: int = 8
    max_frames: int = 64
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = field(default=PAPER_LORA_TARGETS)
    max_subtitle_tokens: int = 256
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    feature_norm: bool = False
    prompt: Literal["paper", "compact"] = "paper"
    match_embedding_scale: bool = False

    def __post_init__(self):
        if self.temporal_pooling not in ("attention", "softmax", "mean", "qformer"):
            raise ValueError(f"temporal_pooling must be attention/softmax/mean/qformer, not {self.temporal_pooling!r}")
        if self.prefusion not in ("attention", "qformer", "none"):
            raise ValueError(f"prefusion must be attention/qformer/none, not {self.prefusion!r}")
        if self.prompt not in ("paper", "compact"):
            raise ValueError(f"prompt must be paper/compact, not {self.prompt!r}")
        if self.temporal_pooling != "qformer" and self.num_queries != 1:
            raise ValueError("num_queries > 1 needs temporal_pooling='qformer'")
        self.lora_targets = tuple(self.lora_targets)

    def to_dict(self) -> dict:
        return asdict(self)
