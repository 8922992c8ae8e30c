"""Open a media file safely and describe its streams."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from affectgpt.errors import InputError

__all__ = ["MediaInfo", "open_container", "probe"]


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds. Times in seconds; ``rotation_deg``: counter-clockwise display rotation."""

    path: str
    duration_s: float
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0
    rotation_deg: int = 0
    audio_rate: int = 0
    audio_channels: int = 0


def open_container(path: str | Path):
    """``av.open`` with errors that name the file and the problem."""
    import av

    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    if path.is_dir():
        raise InputError(path, "is a folder, not a media file")
    if path.stat().st_size == 0:
        raise InputError(path, "file is empty (0 bytes)")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(path, f"cannot be decoded as audio/video ({type(exc).__name__}: {exc})") from None


def _rotation(container, stream) -> int:
    """Display rotation (counter-clockwise degrees) from the first frame's display matrix."""
    try:
        for frame in container.decode(stream):
            return int(round(getattr(frame, "rotation", 0) or 0)) % 360
    except Exception:  # noqa: BLE001 - a stream that cannot decode has no usable rotation
        return 0
    return 0


def probe(path: str | Path) -> MediaInfo:
    """Describe a media file without decoding it (duration falls back to stream durations)."""
    with open_container(path) as c:
        v = next((s for s in c.streams if s.type == "video"), None)
        a = next((s for s in c.streams if s.type == "audio"), None)
        if v is None and a is None:
            raise InputError(path, "holds no audio or video stream")
        dur = (c.duration or 0) / 1_000_000
        if not dur:
            for s in (v, a):
                if s is not None and s.duration and s.time_base:
                    dur = max(dur, float(s.duration * s.time_base))
        fps = float(v.average_rate) if v is not None and v.average_rate else 0.0
        rotation = _rotation(c, v) if v is not None else 0
        return MediaInfo(
            path=str(path), duration_s=float(dur), has_video=v is not None, has_audio=a is not None,
            width=v.codec_context.width if v is not None else 0,
            height=v.codec_context.height if v is not None else 0,
            fps=fps, rotation_deg=rotation,
            audio_rate=a.codec_context.sample_rate if a is not None else 0,
            audio_channels=a.codec_context.channels if a is not None else 0,
        )
