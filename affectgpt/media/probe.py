"""Open a media file safely and describe its streams."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from affectgpt.errors import InputError

__all__ = ["MediaInfo", "open_container", "probe"]


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds. Times in seconds; ``width``/``height``: the displayed size (non-square
    pixels resampled, ``sample_aspect_ratio`` records them; a quarter turn swaps the two);
    ``rotation_deg``: counter-clockwise display rotation;
    ``fps``: frames per second measured over the decoded frames (the container's nominal rate when
    fewer than two frames are seen), so a variable-frame-rate file reports the rate it has."""

    path: str
    duration_s: float
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0
    rotation_deg: int = 0
    sample_aspect_ratio: float = 1.0  # pixel aspect (width and frames are as displayed: resampled when not 1)
    audio_rate: int = 0
    audio_channels: int = 0
    audio_streams: int = 0  # audio streams in the file
    audio_stream: int | None = None  # which of them is analysed (0-based among the audio streams)
    subtitle_streams: int = 0  # subtitle streams in the file
    subtitle_stream: int | None = None  # the text subtitle stream read (0-based among the subtitle streams)


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


def probe(path: str | Path, max_duration_s: float | None = 900.0) -> MediaInfo:
    """Describe a media file from one demux pass (no audio decoded, one video frame for rotation).

    ``duration_s`` is the streams' own extent from their first timestamp (see
    :mod:`affectgpt.media.clip`), read up to ``max_duration_s`` and the header beyond.
    """
    from affectgpt.media.clip import Clip

    return Clip.open(path, max_duration_s=max_duration_s, decode_audio=False).info
