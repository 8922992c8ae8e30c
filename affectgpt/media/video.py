"""Video frame sampling with PyAV: uniform or at given times, streamed, rotation applied."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from affectgpt.errors import InputError
from affectgpt.media.probe import open_container, probe

__all__ = ["FrameSample", "uniform_times", "sample_frames"]

#: Above this duration, frames are reached by seeking instead of decoding everything.
SEEK_ABOVE_S = 20.0


@dataclass
class FrameSample:
    """RGB frames (H x W x 3 uint8) and their presentation times in seconds."""

    frames: list[np.ndarray]
    times_s: list[float]
    width: int
    height: int


def uniform_times(duration_s: float, n: int) -> list[float]:
    """``n`` times at the centres of ``n`` equal segments of the clip."""
    if n <= 0:
        raise ValueError("number of frames must be positive")
    return [(i + 0.5) * duration_s / n for i in range(n)]


def _to_rgb(frame, max_side: int | None) -> np.ndarray:
    """RGB array of a frame, turned upright by its display matrix (counter-clockwise degrees)."""
    rotation = int(round(getattr(frame, "rotation", 0) or 0)) % 360
    if max_side:
        scale = max_side / max(frame.width, frame.height)
        if scale < 1:
            frame = frame.reformat(width=max(2, int(frame.width * scale) // 2 * 2),
                                   height=max(2, int(frame.height * scale) // 2 * 2))
    img = frame.to_ndarray(format="rgb24")
    if rotation:
        img = np.ascontiguousarray(np.rot90(img, k=rotation // 90))
    return img


def _nearest_sequential(container, stream, times: list[float]) -> list:
    """Decode forward once and keep, for each target time, the closest frame."""
    import av

    picked: list = [None] * len(times)
    best = [float("inf")] * len(times)
    j = 0
    try:
        for frame in container.decode(stream):
            t = float(frame.time) if frame.time is not None else 0.0
            while j < len(times):
                d = abs(t - times[j])
                if d <= best[j]:
                    best[j], picked[j] = d, (t, frame)
                if t >= times[j]:
                    j += 1
                    continue
                break
            if j >= len(times):
                break
    except av.error.FFmpegError:
        pass  # truncated stream: keep what decoded
    last = next((p for p in reversed(picked) if p is not None), None)
    return [p if p is not None else last for p in picked]


def _nearest_by_seek(container, stream, times: list[float]) -> list:
    """Seek to the key frame before each target and decode up to it (long files)."""
    import av

    out = []
    tb = stream.time_base
    for target in times:
        chosen = None
        try:
            container.seek(int(target / tb), stream=stream, backward=True, any_frame=False)
            prev = None
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else 0.0
                if t >= target:
                    chosen = (t, frame) if prev is None or abs(t - target) <= abs(prev[0] - target) else prev
                    break
                prev = (t, frame)
            chosen = chosen or prev
        except av.error.FFmpegError:
            chosen = None
        out.append(chosen)
    last = next((p for p in reversed(out) if p is not None), None)
    return [p if p is not None else last for p in out]


def sample_frames(path: str | Path, n_frames: int = 8, times_s: list[float] | None = None,
                  max_side: int | None = None) -> FrameSample:
    """Frames uniformly over the clip (or nearest to ``times_s``), RGB, display rotation applied.

    Args:
        path: any container PyAV reads.
        n_frames: number of uniformly spaced frames (ignored when ``times_s`` is given).
        times_s: explicit target times in seconds.
        max_side: downscale so the longer side is at most this many pixels.

    Raises:
        InputError: no video stream, or no frame could be decoded.
    """
    info = probe(path)
    if not info.has_video:
        raise InputError(path, "has no video stream")
    times = sorted(times_s) if times_s is not None else uniform_times(max(info.duration_s, 1e-3), n_frames)
    with open_container(path) as c:
        stream = next(s for s in c.streams if s.type == "video")
        stream.thread_type = "AUTO"
        pick = _nearest_by_seek if info.duration_s > SEEK_ABOVE_S else _nearest_sequential
        picked = pick(c, stream, times)
        if not picked or picked[0] is None:
            raise InputError(path, "no video frame could be decoded")
        frames, got_times = [], []
        cache: dict[int, np.ndarray] = {}
        for t, frame in picked:
            key = id(frame)
            if key not in cache:
                cache[key] = _to_rgb(frame, max_side)
            frames.append(cache[key])
            got_times.append(t)
    h, w = frames[0].shape[:2]
    return FrameSample(frames, got_times, w, h)
