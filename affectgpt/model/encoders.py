"""Frozen encoders of the paper configuration, loaded from local Hugging Face folders.

* :class:`VisionTower` — any HF vision model; CLIP-style models give ``get_image_features``
  (paper: CLIP ViT-L/14, 768-d per face crop), others their pooled output.
* :class:`SpeechTower` — any HF speech encoder (paper: chinese-hubert-large); per 2 s clip the
  mean over time of the average of the last 4 hidden layers (1024-d per clip).
* :func:`audio_clips` — upstream's constant clips-per-video sampling: 8 windows of 2 s spread
  uniformly over the audio (overlapping for short audio, zero-padded below 2 s).
"""

from __future__ import annotations

import os

import numpy as np
import torch

__all__ = ["VisionTower", "SpeechTower", "audio_clips"]


def audio_clips(audio: np.ndarray, sample_rate: int = 16000, n_clips: int = 8, clip_s: float = 2.0) -> np.ndarray:
    """[n_clips, clip_s * sample_rate] windows spread uniformly over ``audio`` (zero-padded if shorter)."""
    size = int(round(clip_s * sample_rate))
    if len(audio) < size:
        audio = np.pad(audio, (0, size - len(audio)))
    starts = np.linspace(0, len(audio) - size, n_clips).round().astype(int)
    return np.stack([audio[s:s + size] for s in starts]).astype(np.float32)


def _dtype(name: str) -> torch.dtype:
    return getattr(torch, name)


class VisionTower:
    """Image features of face crops (RGB uint8 arrays, any size) -> [T, D] float32."""

    def __init__(self, path: str | os.PathLike, device: str = "cpu", dtype: str = "float32", batch_size: int = 16):
        from transformers import AutoImageProcessor, AutoModel

        self.processor = AutoImageProcessor.from_pretrained(str(path))
        self.model = AutoModel.from_pretrained(str(path), dtype=_dtype(dtype)).to(device).eval()
        self.device, self.batch_size = device, batch_size

    @property
    def dim(self) -> int:
        cfg = self.model.config
        return getattr(cfg, "projection_dim", None) or getattr(getattr(cfg, "vision_config", cfg), "hidden_size")

    @torch.no_grad()
    def encode(self, images: list[np.ndarray]) -> torch.Tensor:
        out = []
        for i in range(0, len(images), self.batch_size):
            px = self.processor(images=list(images[i:i + self.batch_size]), return_tensors="pt")["pixel_values"]
            px = px.to(self.device, self.model.dtype)
            if hasattr(self.model, "get_image_features"):
                f = self.model.get_image_features(pixel_values=px)
                f = f if isinstance(f, torch.Tensor) else f.pooler_output  # transformers >= 5 returns an output
            else:
                o = self.model(pixel_values=px)
                f = o.pooler_output if getattr(o, "pooler_output", None) is not None else o.last_hidden_state.mean(1)
            out.append(f.float().cpu())
        return torch.cat(out)


class SpeechTower:
    """Per-clip speech features: mean over time of the average of the last ``layers`` hidden states."""

    def __init__(self, path: str | os.PathLike, layers: int = 4, n_clips: int = 8, clip_s: float = 2.0,
                 device: str = "cpu", dtype: str = "float32"):
        from transformers import AutoFeatureExtractor, AutoModel

        self.extractor = AutoFeatureExtractor.from_pretrained(str(path))
        self.model = AutoModel.from_pretrained(str(path), dtype=_dtype(dtype)).to(device).eval()
        self.layers, self.n_clips, self.clip_s, self.device = layers, n_clips, clip_s, device
        self.sample_rate = getattr(self.extractor, "sampling_rate", 16000)

    @property
    def dim(self) -> int:
        return self.model.config.hidden_size

    @torch.no_grad()
    def encode(self, audio: np.ndarray) -> torch.Tensor:
        """16 kHz mono ``audio`` -> [n_clips, D]."""
        clips = audio_clips(audio, self.sample_rate, self.n_clips, self.clip_s)
        inputs = self.extractor(list(clips), sampling_rate=self.sample_rate, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        if "input_values" in inputs:
            inputs["input_values"] = inputs["input_values"].to(self.model.dtype)
        hidden = self.model(**inputs, output_hidden_states=True).hidden_states
        layers = torch.stack(hidden[-self.layers:]).float().mean(0)  # [clips, frames, D]
        return layers.mean(1).cpu()
