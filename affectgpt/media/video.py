"""Video frame sampling: uniform over the clip or at given times, rotation applied.

A thin wrapper over :class:`affectgpt.media.clip.Clip` for callers that need frames of one
file once; code that needs audio and frames of the same file should open one ``Clip``.
"""

from __future__ import annotations

from pathlib import Path

from affectgpt.media.clip import Clip, FrameSample, uniform_times

__all__ = ["FrameSample", "uniform_times", "sample_frames"]


def sample_frames(path: str | Path, n_frames: int = 8, times_s: list[float] | None = None,
                  max_side: int | None = None) -> FrameSample:
    """Frames uniformly over the clip (or shown at ``times_s``), RGB, display rotation applied.

    Args:
        path: any container PyAV reads.
        n_frames: number of uniformly spaced frames (ignored when ``times_s`` is given).
        times_s: explicit times in seconds from the clip's first timestamp.
        max_side: downscale so the longer side is at most this many pixels.

    Raises:
        InputError: no video stream, or no frame could be decoded.
    """
    clip = Clip.open(path, decode_audio=False)
    times = sorted(times_s) if times_s is not None else clip.uniform_times(n_frames)
    return clip.frames_at(times, max_side=max_side)
