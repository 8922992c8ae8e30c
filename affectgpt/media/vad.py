"""Voice activity: where in a clip someone speaks (Silero VAD, shipped inside faster-whisper).

Used by the speech gate before the acoustic analyzer, by the speaking-face choice (mouth
motion against voice) and by the timeline. Silero VAD is a speech detector, not an energy
threshold, so room tone, fan noise and most music give no speech.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from affectgpt.errors import AffectGPTError

__all__ = ["SpeechActivity", "detect_speech"]

SR = 16_000


@dataclass(frozen=True)
class SpeechActivity:
    """Speech segments of a clip, in seconds from its origin.

    Attributes:
        segments: ``(start_s, end_s)`` of each stretch of speech, sorted.
        audio_s: length of the audio examined.
    """

    segments: tuple[tuple[float, float], ...]
    audio_s: float

    @property
    def speech_s(self) -> float:
        """Total seconds of speech."""
        return float(sum(b - a for a, b in self.segments))

    def mask(self, times_s) -> np.ndarray:
        """Boolean [len(times_s)]: whether speech is going on at each time."""
        t = np.asarray(times_s, np.float64)
        out = np.zeros(len(t), bool)
        for a, b in self.segments:
            out |= (t >= a) & (t < b)
        return out

    def speech_in(self, start_s: float, end_s: float) -> float:
        """Seconds of speech inside ``[start_s, end_s)``."""
        return float(sum(max(0.0, min(b, end_s) - max(a, start_s)) for a, b in self.segments))

    def to_dict(self) -> dict:
        return {"speech_s": round(self.speech_s, 3), "audio_s": round(self.audio_s, 3),
                "segments": [[round(a, 3), round(b, 3)] for a, b in self.segments]}


def detect_speech(audio: np.ndarray | None, threshold: float = 0.5, min_silence_ms: int = 150,
                  pad_ms: int = 30) -> SpeechActivity:
    """Speech segments of 16 kHz mono float32 audio (empty for None or under 32 ms of audio).

    Raises:
        AffectGPTError: faster-whisper (which ships the Silero VAD model) is not installed.
    """
    if audio is None or len(audio) < 512:
        return SpeechActivity((), 0.0 if audio is None else len(audio) / SR)
    try:
        from faster_whisper.vad import VadOptions, get_speech_timestamps
    except ImportError as exc:
        raise AffectGPTError("voice activity detection needs faster-whisper: pip install 'affectgpt[describe]'") from exc
    opts = VadOptions(threshold=threshold, min_silence_duration_ms=min_silence_ms, speech_pad_ms=pad_ms)
    stamps = get_speech_timestamps(np.ascontiguousarray(audio, dtype=np.float32), opts)
    segs = tuple((s["start"] / SR, s["end"] / SR) for s in stamps)
    return SpeechActivity(segs, len(audio) / SR)
