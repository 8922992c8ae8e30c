"""Audio decoding with PyAV: any container in, 16 kHz mono float32 out, streamed in chunks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from affectgpt.errors import InputError
from affectgpt.media.probe import open_container

__all__ = ["SAMPLE_RATE", "iter_audio", "load_audio"]

SAMPLE_RATE = 16_000


def iter_audio(path: str | Path, sample_rate: int = SAMPLE_RATE, chunk_s: float = 10.0) -> Iterator[np.ndarray]:
    """Yield mono float32 chunks of about ``chunk_s`` seconds; memory stays flat on long files.

    Raises :class:`InputError` when the file has no audio stream or cannot be decoded.
    """
    import av

    with open_container(path) as c:
        stream = next((s for s in c.streams if s.type == "audio"), None)
        if stream is None:
            raise InputError(path, "has no audio stream")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        target = int(chunk_s * sample_rate)
        buf: list[np.ndarray] = []
        have = 0
        try:
            for frame in c.decode(stream):
                for out in resampler.resample(frame):
                    arr = out.to_ndarray().reshape(-1)
                    buf.append(arr)
                    have += len(arr)
                    if have >= target:
                        yield np.concatenate(buf).astype(np.float32, copy=False)
                        buf, have = [], 0
            for out in resampler.resample(None):
                buf.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            if not buf and have == 0:
                raise InputError(path, f"audio cannot be decoded ({exc})") from None
            # a truncated file: keep what decoded, as players do
        if buf:
            yield np.concatenate(buf).astype(np.float32, copy=False)


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE, max_duration_s: float | None = None) -> np.ndarray:
    """The whole audio track (or its first ``max_duration_s``) as 16 kHz mono float32."""
    chunks, total = [], 0
    limit = None if max_duration_s is None else int(max_duration_s * sample_rate)
    for chunk in iter_audio(path, sample_rate):
        chunks.append(chunk)
        total += len(chunk)
        if limit is not None and total >= limit:
            break
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return audio[:limit] if limit is not None else audio
