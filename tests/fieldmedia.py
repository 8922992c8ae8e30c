"""Build field-case media at test time from ../shared/data clips with PyAV (never committed).

Each builder writes into a temporary folder and returns the path. They reproduce the
situations of ../shared/fieldcases (start offsets, noise soundtracks, very short cuts,
truncated files, several faces, small faces, telephone audio) without needing ffmpeg.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


def decode(path: Path):
    """(frames RGB list, fps, audio float32 mono, audio rate)."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0] if c.streams.video else None
        fps = float(v.average_rate) if v is not None else 0.0
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)] if v is not None else []
    audio, rate = None, 0
    with av.open(str(path)) as c:
        if c.streams.audio:
            rate = c.streams.audio[0].codec_context.sample_rate
            res = av.AudioResampler(format="flt", layout="mono", rate=rate)
            chunks = []
            for f in c.decode(audio=0):
                for o in res.resample(f):
                    chunks.append(o.to_ndarray().reshape(-1))
            audio = np.concatenate(chunks)
    return frames, fps, audio, rate


def encode(path: Path, frames: list[np.ndarray] | None, fps: float, audio: np.ndarray | None, rate: int,
           fmt: str | None = None, ts_offset_s: float = 0.0, faststart: bool = False,
           sar: Fraction | None = None, audio_codec: str | None = None, s16_scale: float = 32767.0) -> Path:
    """Write H.264 (+ AAC or PCM in .wav) with PyAV; ``ts_offset_s`` shifts every timestamp;
    ``sar`` marks the pixels as non-square (the frames given are the stored, squeezed ones);
    ``audio_codec`` another audio codec fed 16-bit samples (``pcm_mulaw``, ``pcm_alaw``);
    ``s16_scale`` 32768 puts a full negative swing at -32768, as FFmpeg does."""
    import av

    opts = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format=fmt, options=opts) as c:
        vs = None
        if frames:
            h, w = frames[0].shape[:2]
            vs = c.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            vs.width, vs.height, vs.pix_fmt = w // 2 * 2, h // 2 * 2, "yuv420p"
            vs.codec_context.time_base = Fraction(1, 90000)
            if sar is not None:
                vs.codec_context.sample_aspect_ratio = sar
        ast = None
        if audio is not None:
            codec = audio_codec or ("pcm_s16le" if str(path).endswith(".wav") else "aac")
            ast = c.add_stream(codec, rate=rate)
            ast.layout = "mono"
        voff = int(round(ts_offset_s * 90000))
        if vs is not None:
            for i, img in enumerate(frames):
                fr = av.VideoFrame.from_ndarray(np.ascontiguousarray(img[: vs.height, : vs.width]), format="rgb24")
                fr.pts = voff + int(round(i * 90000 / fps))
                fr.time_base = Fraction(1, 90000)
                for p in vs.encode(fr):
                    c.mux(p)
            for p in vs.encode():
                c.mux(p)
        if ast is not None:
            name = ast.codec_context.name
            fmt_s = "flt" if name == "pcm_f32le" else "s16" if name.startswith("pcm") else "fltp"
            hop = 1024
            aoff = int(round(ts_offset_s * rate))
            for k in range(0, len(audio), hop):
                chunk = audio[k:k + hop].astype(np.float32)
                chunk = np.pad(chunk, (0, hop - len(chunk))) if len(chunk) < hop and fmt_s != "s16" else chunk
                if fmt_s == "s16":
                    ints = ((np.clip(chunk, -1, 1) * 32767).astype(np.int16) if s16_scale == 32767 else
                            np.clip(np.round(chunk.astype(np.float64) * s16_scale), -32768, 32767).astype(np.int16))
                    fr = av.AudioFrame.from_ndarray(ints[None], format="s16", layout="mono")
                else:  # floats are not cut at 1.0
                    fr = av.AudioFrame.from_ndarray(chunk[None], format=fmt_s, layout="mono")
                fr.sample_rate, fr.pts = rate, aoff + k
                for p in ast.encode(fr):
                    c.mux(p)
            for p in ast.encode():
                c.mux(p)
    return path


def remux(src: Path, dst: Path, fmt: str, offset_s: float = 0.0) -> Path:
    """Copy the streams into another container, shifting timestamps by ``offset_s``."""
    import av

    with av.open(str(src)) as i, av.open(str(dst), "w", format=fmt) as o:
        omap = {}
        for s in i.streams:
            if s.type in ("video", "audio"):
                omap[s.index] = o.add_stream_from_template(s)
        for pk in i.demux():
            if pk.stream.index not in omap or pk.dts is None:
                continue
            shift = int(round(offset_s / pk.time_base))
            pk.pts = None if pk.pts is None else pk.pts + shift
            pk.dts = pk.dts + shift
            pk.stream = omap[pk.stream.index]
            o.mux(pk)
    return dst


def copy_stream(src: Path, dst: Path, fmt: str, kind: str = "video") -> Path:
    """Copy the first ``kind`` stream of ``src`` alone into ``dst`` (container ``fmt``: ``h264`` for
    a raw elementary stream, ``matroska`` ...), packets as they are."""
    import av

    with av.open(str(src)) as i, av.open(str(dst), "w", format=fmt) as o:
        stream = getattr(i.streams, kind)[0]
        out = o.add_stream_from_template(stream)
        for pk in i.demux(stream):
            if pk.dts is not None:
                pk.stream = out
                o.mux(pk)
    return dst


def with_subtitle_tracks(src: Path, dst: Path, tracks: list[dict], offset_s: float = 0.0) -> Path:
    """``src``'s video and audio in a Matroska file with SubRip subtitle tracks, all timestamps
    shifted by ``offset_s``. Each track: ``cues`` [(start s, end s, text)], optional ``language``
    (ISO 639-2, e.g. ``chi``), ``default`` and ``forced`` flags."""
    import av

    def stamp(t: float) -> str:
        ms = int(round(t * 1000))
        return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    srts = []
    for k, tr in enumerate(tracks):
        f = dst.parent / f"{dst.stem}_track{k}.srt"
        f.write_text("".join(f"{i}\n{stamp(a)} --> {stamp(b)}\n{text}\n\n" for i, (a, b, text) in
                             enumerate(tr["cues"], 1)), encoding="utf-8")
        srts.append(av.open(str(f)))
    try:
        with av.open(str(src)) as i, av.open(str(dst), "w", format="matroska") as o:
            pairs = [(i, s, o.add_stream_from_template(s)) for s in i.streams if s.type in ("video", "audio")]
            for tr, f in zip(tracks, srts):
                out = o.add_stream_from_template(f.streams[0])
                if tr.get("language"):
                    out.metadata["language"] = tr["language"]
                flags = av.stream.Disposition(0)
                if tr.get("default"):
                    flags |= av.stream.Disposition.default
                if tr.get("forced"):
                    flags |= av.stream.Disposition.forced
                out.disposition = flags
                pairs.append((f, f.streams[0], out))
            for container, stream, out in pairs:
                for pk in container.demux(stream):
                    if pk.dts is None:
                        continue
                    shift = int(round(offset_s / pk.time_base))
                    pk.pts = None if pk.pts is None else pk.pts + shift
                    pk.dts += shift
                    pk.stream = out
                    o.mux(pk)
    finally:
        for f in srts:
            f.close()
    return dst


def noise(kind: str, seconds: float, rate: int, level_dbfs: float, seed: int = 7) -> np.ndarray:
    """Pink or brown noise at an RMS level (room tone, fan)."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(int(seconds * rate))
    if kind == "brown":
        x = np.cumsum(white)
        x -= np.convolve(x, np.ones(2001) / 2001, mode="same")  # keep it from drifting
    else:
        spec = np.fft.rfft(white)
        f = np.fft.rfftfreq(len(white), 1 / rate)
        spec[1:] /= np.sqrt(f[1:])
        spec[0] = 0
        x = np.fft.irfft(spec, len(white))
    x = x / (np.sqrt(np.mean(x ** 2)) + 1e-12) * 10 ** (level_dbfs / 20)
    return x.astype(np.float32)


def telephone(audio: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """300-3400 Hz band-pass, resampled to 8 kHz."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    sos = butter(6, [300, 3400], btype="bandpass", fs=rate, output="sos")
    y = sosfiltfilt(sos, audio)
    g = np.gcd(rate, 8000)
    return resample_poly(y, 8000 // g, rate // g).astype(np.float32), 8000


def side_by_side(talker: list[np.ndarray], still: np.ndarray, talker_left: bool, width: int = 1280,
                 height: int = 720, talker_scale: float = 0.5, still_scale: float = 0.5) -> list[np.ndarray]:
    """Frames of a 16:9 canvas with a talking face on one side and a still face on the other.

    ``*_scale`` is each picture's height as a fraction of the canvas height.
    """
    import cv2

    def fit(img, scale):
        h = int(height * scale)
        w = int(img.shape[1] * h / img.shape[0])
        return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)

    s = fit(still, still_scale)
    out = []
    for fr in talker:
        t = fit(fr, talker_scale)
        canvas = np.full((height, width, 3), 25, np.uint8)
        left, right = (t, s) if talker_left else (s, t)
        y = (height - left.shape[0]) // 2
        canvas[y:y + left.shape[0], 40:40 + left.shape[1]] = left
        y = (height - right.shape[0]) // 2
        x = width - 40 - right.shape[1]
        canvas[y:y + right.shape[0], x:x + right.shape[1]] = right
        out.append(canvas)
    return out


def two_talkers(left: list[np.ndarray], right: list[np.ndarray], width: int = 1280, height: int = 720,
                scale: float = 0.6) -> list[np.ndarray]:
    """Frames of a 16:9 canvas with two moving faces side by side (as many frames as the shorter)."""
    import cv2

    def fit(img):
        h = int(height * scale)
        return cv2.resize(img, (int(img.shape[1] * h / img.shape[0]), h), interpolation=cv2.INTER_AREA)

    out = []
    for a, b in zip(left, right):
        a, b = fit(a), fit(b)
        canvas = np.full((height, width, 3), 25, np.uint8)
        canvas[(height - a.shape[0]) // 2:(height - a.shape[0]) // 2 + a.shape[0], 40:40 + a.shape[1]] = a
        x = width - 40 - b.shape[1]
        canvas[(height - b.shape[0]) // 2:(height - b.shape[0]) // 2 + b.shape[0], x:x + b.shape[1]] = b
        out.append(canvas)
    return out


def with_decoy_video(src: Path, dst: Path, seconds: float = 3.5) -> Path:
    """A Matroska file whose first video stream is a small test pattern (not default) and whose
    second, default-flagged video stream is ``src``'s, with ``src``'s audio."""
    import av

    with av.open(str(src)) as i, av.open(str(dst), "w", format="matroska") as o:
        decoy = o.add_stream("mjpeg", rate=25)
        decoy.width, decoy.height, decoy.pix_fmt = 64, 48, "yuvj420p"
        v = o.add_stream_from_template(i.streams.video[0])
        a = o.add_stream_from_template(i.streams.audio[0])
        decoy.disposition = av.stream.Disposition(0)
        v.disposition = av.stream.Disposition.default
        for k in range(int(seconds * 25)):
            img = np.full((48, 64, 3), (k * 7) % 255, np.uint8)
            for pk in decoy.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                o.mux(pk)
        for pk in decoy.encode(None):
            o.mux(pk)
        omap = {i.streams.video[0].index: v, i.streams.audio[0].index: a}
        for pk in i.demux(i.streams.video[0], i.streams.audio[0]):
            if pk.dts is None:
                continue
            pk.stream = omap[pk.stream.index]
            o.mux(pk)
    return dst


def streamed_mkv(src: Path, dst: Path) -> Path:
    """``src``'s streams in Matroska written as to a pipe (``ffmpeg ... -f matroska - > dst``): a
    non-seekable output, so the header holds no duration."""
    import av

    class Pipe:  # write-only: no seek, so the muxer cannot go back to fill in the length
        def __init__(self, fh):
            self.fh = fh

        def write(self, b):
            return self.fh.write(b)

    with open(dst, "wb") as fh, av.open(str(src)) as i, av.open(Pipe(fh), "w", format="matroska") as o:
        omap = {s.index: o.add_stream_from_template(s) for s in i.streams if s.type in ("video", "audio")}
        for pk in i.demux():
            if pk.stream.index in omap and pk.dts is not None:
                pk.stream = omap[pk.stream.index]
                o.mux(pk)
    return dst



def damage_media_data(src: Path, dst: Path, n_bytes: int = 200, seed: int = 0) -> Path:
    """A copy of the MP4 ``src`` with ``n_bytes`` random bytes of its media data (the ``mdat``
    box; the index stays intact) overwritten: bit errors from a broken transfer or disk."""
    data = bytearray(Path(src).read_bytes())
    pos, start, end = 0, None, None
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        kind = bytes(data[pos + 4:pos + 8])
        header = 8
        if size == 1:
            size, header = int.from_bytes(data[pos + 8:pos + 16], "big"), 16
        elif size == 0:
            size = len(data) - pos
        if kind == b"mdat":
            start, end = pos + header, pos + size
            break
        pos += size
    assert start is not None, f"{src}: no mdat box"
    rng = np.random.default_rng(seed)
    for i in rng.integers(start, end, n_bytes):
        data[i] = int(rng.integers(0, 256))
    Path(dst).write_bytes(bytes(data))
    return Path(dst)
