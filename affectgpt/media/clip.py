"""One clip, read once: streams, timing, 16 kHz audio and frames on demand by time.

Every analyzer of ``describe``, the timeline, ``describe --model`` and the raw-media token
extraction share a :class:`Clip`. Opening it demuxes the file once (packets only for the
video, so no picture is decoded) and decodes the audio in the same pass; frames are decoded
later, in one pass, for all the times asked for together, and cached.

Timing: all times are seconds from the clip's **origin**, the earliest first timestamp of its
audio and video streams (MPEG-TS starts near 1.4 s, a cut MKV may start at 10 s, an MP4 edit
list may start audio slightly before 0). The duration is the streams' own extent (last
timestamp + its duration - origin), not the container header, so a truncated file is found
("decoded 1.6 of 3.5 s") and no frame is ever repeated to fill a gap. Files longer than
``max_duration_s`` are analysed over ``[0, max_duration_s]`` and say so in :attr:`Clip.span_s`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from affectgpt.errors import InputError
from affectgpt.media.probe import MediaInfo, open_container

__all__ = ["Clip", "FrameSample", "uniform_times", "SAMPLE_RATE", "KEEP_PACKETS_BELOW_S"]

SAMPLE_RATE = 16_000
#: clips shorter than this keep their compressed video packets in memory (frames decode from RAM)
KEEP_PACKETS_BELOW_S = 60.0
#: a header duration longer than the decoded extent by more than this (s, and 10 %) means a cut file
TRUNCATION_TOLERANCE_S = 0.25
#: a jump in audio timestamps longer than this (s) is filled with silence
GAP_FILL_S = 0.1
#: stereo whose mix is this much quieter (RMS) than its louder channel is taken as phase-cancelled:
#: about -16 dB. In-phase or independent channels mix to 0.7-1.4 times a channel; wide-stereo music
#: beside centred speech stays near 0.7; a voice whose channels are opposite in phase mixes to ~0.
CANCEL_RATIO = 0.15
#: a mean this far from 0 (-60 dBFS) is a DC offset, subtracted from the decoded audio: the voice
#: activity detector found 1.41 of 2.49 s of speech in the demo clip with an offset of 0.5
#: (ordinary recordings have means near 1e-5, and are left as decoded)
DC_OFFSET_MIN = 1e-3
_INV_SQRT2 = np.float32(1 / np.sqrt(2))


def _mono(frame, sides: list | None, energy: list | None = None) -> np.ndarray:
    """16 kHz mono samples of a resampled frame: the frame itself (already mono), or for planar
    stereo (L + R) / sqrt 2, FFmpeg's own downmix, with (L - R) / sqrt 2 appended to ``sides``
    and the channels' sums of squares added to ``energy`` ([left, right])."""
    arr = frame.to_ndarray()
    if sides is None:
        return arr.reshape(-1)
    left, right = arr[0], arr[1]
    sides.append((left - right) * _INV_SQRT2)
    if energy is not None:
        energy[0] += float(np.dot(left, left))
        energy[1] += float(np.dot(right, right))
    return (left + right) * _INV_SQRT2
#: container formats whose header duration excludes the start offset
_FROM_START_FORMATS = {"mpegts", "mpeg", "mpegtsraw", "mpegvideo"}


@dataclass
class FrameSample:
    """RGB frames (H x W x 3 uint8), their times in seconds from the clip origin, and frame size."""

    frames: list[np.ndarray]
    times_s: list[float]
    width: int
    height: int


def uniform_times(duration_s: float, n: int, start_s: float = 0.0) -> list[float]:
    """``n`` times at the centres of ``n`` equal segments of ``[start_s, start_s + duration_s]``."""
    if n <= 0:
        raise ValueError("number of frames must be positive")
    return [start_s + (i + 0.5) * duration_s / n for i in range(n)]


def seconds_text(t: float) -> str:
    """A time for a sentence: one decimal under 100 s ("3.5"), whole seconds above ("900")."""
    return f"{t:.1f}" if abs(t) < 100 else f"{t:.0f}"


def _default_stream(streams: list):
    """The stream flagged as default among ``streams``, else the first (None for none)."""
    import av

    for s in streams:
        try:
            if s.disposition & av.stream.Disposition.default:
                return s
        except (AttributeError, TypeError):
            break
    return streams[0] if streams else None


def _is_forced(stream) -> bool:
    """A forced subtitle track (only the lines in a foreign language, signs): not the dialogue."""
    import av

    try:
        return bool(stream.disposition & av.stream.Disposition.forced)
    except (AttributeError, TypeError):
        return False


def _subtitle_choice(path: Path, subs: list, wanted: int | None) -> tuple[object | None, str | None]:
    """(the subtitle stream to read as text or None, why none is read or None).

    ``wanted`` (0-based among the subtitle streams) picks one; None takes, among the text streams
    (:data:`~affectgpt.media.subtitles.TEXT_SUBTITLE_CODECS`), the default-flagged one that is not
    forced, else the first not forced, else the first.

    Raises:
        InputError: ``wanted`` is not a subtitle stream of the file.
    """
    from affectgpt.media.subtitles import TEXT_SUBTITLE_CODECS

    if wanted is not None:
        if not 0 <= wanted < len(subs):
            raise InputError(path, (f"has no subtitle stream {wanted} (its subtitle streams are 0-{len(subs) - 1})"
                                    if len(subs) > 1 else f"has no subtitle stream {wanted} (only stream 0)"
                                    if subs else "has no subtitle stream"))
        s = subs[wanted]
        if s.codec_context.name not in TEXT_SUBTITLE_CODECS:
            return None, f"subtitle stream {wanted} is pictures ({s.codec_context.name}), not text: not read"
        return s, None
    texts = [s for s in subs if s.codec_context.name in TEXT_SUBTITLE_CODECS]
    if not texts:
        return None, (f"the file's subtitle streams are pictures ({', '.join(sorted({s.codec_context.name for s in subs}))}),"
                      " not text: not read" if subs else None)
    dialogue = [s for s in texts if not _is_forced(s)] or texts
    return _default_stream(dialogue), None


def _read_cues(packet, cues: list) -> str | None:
    """Decode one subtitle packet, appending (absolute start s, duration s or None, text) to ``cues``;
    returns a problem sentence when the packet cannot be decoded."""
    import av

    tb = packet.stream.time_base
    start = float(packet.pts * tb)
    dur = float(packet.duration * tb) if packet.duration else None
    try:
        decoded = packet.decode()
    except av.error.FFmpegError as exc:
        return f"a cue of the subtitle stream cannot be decoded ({exc})"
    # PyAV 18 yields the cues' rectangles (AssSubtitle); older versions yield SubtitleSets of them
    rects = [r for item in decoded for r in (item if hasattr(item, "__iter__") else [item])]
    for rect in rects:
        raw = getattr(rect, "dialogue", None) or getattr(rect, "text", None) or b""
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
        if text.strip():
            cues.append((start, dur, text))
    return None


def _embedded_transcript(stream, index: int, cues: list, origin: float, span_end: float):
    """(Transcript of the cues inside ``[0, span_end]`` on the clip's clock or None, why None)."""
    from affectgpt.language import has_words
    from affectgpt.media.subtitles import Segment, Transcript, cue_text

    segments = []
    for start, dur, raw in sorted(cues, key=lambda c: c[0]):
        a = start - origin
        b = a + dur if dur else None
        text = cue_text(raw, lines=True)
        if text and a < span_end and (b is None or b > 0):
            segments.append(Segment(text, round(max(a, 0.0), 3), None if b is None else round(min(b, span_end), 3)))
    lang = stream.language or (stream.metadata or {}).get("language")
    where = {"stream": index, "codec": stream.codec_context.name}
    if lang and lang != "und":
        where["track_language"] = lang
    if not segments or not has_words(" ".join(s.text for s in segments)):
        return None, f"subtitle stream {index} has no words in the analysed span"
    return Transcript(segments, "embedded", extra=where), None


#: pixel aspect ratios this close to 1 are taken as square (encoders write 359:360 and the like for
#: square video; the least non-square real format, PAL/NTSC DV 4:3, is 12:11 or 10:11)
SQUARE_PIXEL_TOLERANCE = 0.02


def _sample_aspect(stream) -> float:
    """The video's sample (pixel) aspect ratio: 1.0 for square pixels (within
    :data:`SQUARE_PIXEL_TOLERANCE`), unknown or implausible values."""
    for sar in (getattr(stream, "sample_aspect_ratio", None), getattr(stream.codec_context, "sample_aspect_ratio", None)):
        try:
            value = float(sar) if sar else 0.0
        except (TypeError, ValueError, ZeroDivisionError):
            value = 0.0
        if 0.2 <= value <= 5.0:
            return 1.0 if abs(value - 1.0) < SQUARE_PIXEL_TOLERANCE else value
    return 1.0


#: sample formats' full scale (integer formats: the largest magnitude; u8 is centred on 128)
_FULL_SCALE = {"u8": 128.0, "s16": 32768.0, "s32": 2.0 ** 31, "s64": 2.0 ** 63, "flt": 1.0, "dbl": 1.0}
#: the largest magnitude some codecs decode to (their full scale, below the sample format's):
#: G.711 mu-law peaks at 32124 and A-law at 32256 in 16-bit samples
_CODEC_FULL_SCALE = {"pcm_mulaw": 32124.0, "pcm_alaw": 32256.0}
#: a sample at or above this share of full scale counts as clipped
CLIP_LEVEL = 0.99


def _count_clipped(frame, codec: str = "") -> tuple[int, int]:
    """(samples at or above :data:`CLIP_LEVEL` of full scale, samples) of a decoded audio frame,
    both rails counted. Full scale is the codec's (:data:`_CODEC_FULL_SCALE`) or the sample
    format's; float PCM can hold peaks beyond 1.0, so a float-PCM frame that does is not
    clipped."""
    name = frame.format.name.rstrip("p")
    full = _CODEC_FULL_SCALE.get(codec) or _FULL_SCALE.get(name)
    if full is None:
        return 0, 0
    arr = frame.to_ndarray()
    if name in ("flt", "dbl"):
        mag = np.abs(arr)
        if codec.startswith(("pcm_f32", "pcm_f64")) and mag.size and mag.max() > full * (1 + 1e-6):
            # float PCM holds peaks beyond 1.0: not cut. Lossy codecs (AAC, MP3, Opus) decode to
            # float too, and overshoot past 1.0 around a clipped source, so theirs still count.
            return 0, int(arr.size)
        return int(np.count_nonzero(mag >= CLIP_LEVEL * full)), int(arr.size)
    if name == "u8":
        arr = arr.astype(np.int16) - 128
    # integers: in float64, so that the negative rail (-32768: abs overflows in int16) counts too
    return int(np.count_nonzero(np.abs(arr.astype(np.float64)) >= CLIP_LEVEL * full)), int(arr.size)


def _is_cover_art(stream) -> bool:
    """An attached picture (album cover of an .m4a/.mp3) is not video."""
    import av

    try:
        return bool(stream.disposition & av.stream.Disposition.attached_pic)
    except (AttributeError, TypeError):
        return False


def _to_rgb(frame, max_side: int | None, sar: float = 1.0) -> np.ndarray:
    """RGB array of a frame as it is displayed: non-square pixels (sample aspect ratio ``sar``,
    e.g. 4:3 HDV, 40:33 DV widescreen) resampled to square ones, and turned upright by its display
    matrix (counter-clockwise degrees). ``max_side`` bounds the longer displayed side."""
    rotation = int(round(getattr(frame, "rotation", 0) or 0)) % 360
    width, height = frame.width * sar, float(frame.height)
    scale = min(1.0, max_side / max(width, height)) if max_side else 1.0
    w, h = max(2, int(round(width * scale)) // 2 * 2), max(2, int(round(height * scale)) // 2 * 2)
    if (w, h) != (frame.width, frame.height) and (scale < 1 or sar != 1.0):
        frame = frame.reformat(width=w, height=h)
    img = frame.to_ndarray(format="rgb24")
    if rotation:
        img = np.ascontiguousarray(np.rot90(img, k=rotation // 90))
    return img


@dataclass
class _VideoIndex:
    """Presentation times (absolute seconds) of the video frames, sorted, and their end."""

    pts_s: np.ndarray
    end_s: float
    packets: list | None = None  # compressed packets, decode order (short clips only)
    sar: float = 1.0  # sample (pixel) aspect ratio: displayed width / stored width
    stream_index: int = 0  # the container's index of the video stream analysed (not always the first)


@dataclass
class Clip:
    """A media file opened once. Build with :meth:`Clip.open`.

    Attributes:
        path: the file.
        info: streams, size, rates; ``info.duration_s`` is the decoded extent (see module doc).
        audio: 16 kHz mono float32 over ``span_s`` (sample 0 = the origin), or None.
        audio_problem: why ``audio`` is None ("no audio track", "audio cannot be decoded ...").
        video_problem: why no frame can be had, or None.
        origin_s: absolute time of the clip's first timestamp (container clock).
        header_duration_s: what the container header claims.
        truncated: the header claims clearly more than decodes (a cut or damaged file).
        span_s: the analysed part ``(start, end)``; shorter than the clip for very long files.
        subtitles: the cues of the file's own text subtitle stream within the span
            (:class:`~affectgpt.media.subtitles.Transcript`, source ``embedded``), or None.
        subtitle_problem: why the file's subtitle streams gave no text (pictures, no cue in the
            span, undecodable), or None.
        clipped_share: share of the decoded source audio's samples (all channels, before
            resampling) at or above 99% of full scale; None without audio or for sample formats
            without a full scale.
        dc_offset: the mean of the mono 16 kHz audio (full scale 1.0) when it reached
            :data:`DC_OFFSET_MIN` and was subtracted before any analysis (voice activity, ASR,
            vocal cues), else None.
        audio_packets, audio_damaged_packets: audio packets decoded, and those the decoder
            rejected as damaged (skipped; their time is silence). See :meth:`audio_damage`.
        corrupt_frames: indices of the decoded video frames the decoder flagged corrupt (damaged
            data hidden by error concealment); filled as frames decode. See :meth:`frame_damage`.
    """

    path: Path
    info: MediaInfo
    audio: np.ndarray | None
    audio_problem: str | None
    video_problem: str | None
    origin_s: float
    header_duration_s: float
    truncated: bool
    span_s: tuple[float, float]
    _video: _VideoIndex | None = None
    _frame_cache: dict = field(default_factory=dict, repr=False)
    _speech: object = field(default=None, repr=False)
    decode_passes: int = 0
    audio_note: str | None = None  # how the audio was made mono when not by a plain mix
    dc_offset: float | None = None  # the constant offset removed from the audio (full scale 1.0), or None
    audio_start_s: float = 0.0  # where the audio stream starts (seconds from the origin; silence before it)
    subtitles: object = None  # Transcript of the file's own text subtitle stream (source "embedded"), or None
    subtitle_problem: str | None = None  # why the file's subtitle streams gave no text
    clipped_share: float | None = None  # share of the source audio's samples at full scale (clipping)
    goes_on: bool = False  # media seen beyond the analysed span of a file whose header gives no length
    audio_packets: int = 0  # audio packets decoded (damaged ones included)
    audio_damaged_packets: int = 0  # audio packets the decoder rejected (skipped; a gap of silence)
    corrupt_frames: set = field(default_factory=set, repr=False)  # frame indices the decoder flagged corrupt

    # -- opening --------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, max_duration_s: float | None = 900.0, decode_audio: bool = True,
             audio_stream: int | None = None, subtitles: bool = True, subtitle_stream: int | None = None) -> Clip:
        """Probe, demux and (optionally) decode the audio of ``path`` in one pass.

        With several audio streams (languages, commentary), the one flagged as default is analysed,
        else the first; ``audio_stream`` (0-based among the audio streams) picks another.
        ``info.audio_streams`` and ``info.audio_stream`` record the choice.

        A text subtitle stream of the file (SubRip/ASS in MKV, mov_text in MP4, WebVTT in WebM) is
        read in the same pass into :attr:`subtitles` (cues on the clip's clock, within the analysed
        span), unless ``subtitles`` is False: the default-flagged dialogue track, else the first
        (see :func:`_subtitle_choice`), or ``subtitle_stream`` (0-based among the subtitle
        streams). Picture subtitles (PGS, DVD) are not read; :attr:`subtitle_problem` says why
        no subtitle stream was read when the file has some.

        Raises:
            InputError: the file is missing, empty, a folder, not media, holds no stream, or has
                no audio stream ``audio_stream`` or subtitle stream ``subtitle_stream``.
        """
        import av

        path = Path(path)
        with open_container(path) as c:
            v = _default_stream([s for s in c.streams if s.type == "video" and not _is_cover_art(s)])
            audios = [s for s in c.streams if s.type == "audio"]
            if audio_stream is not None and not 0 <= audio_stream < len(audios):
                raise InputError(path, (f"has no audio stream {audio_stream} (its audio streams are 0-{len(audios) - 1})"
                                        if len(audios) > 1 else f"has no audio stream {audio_stream} (only stream 0)"
                                        if audios else "has no audio stream"))
            a = audios[audio_stream] if audio_stream is not None else _default_stream(audios)
            if v is None and a is None:
                raise InputError(path, "holds no audio or video stream")
            subs = [s for s in c.streams if s.type == "subtitle"]
            sub, subtitle_problem = _subtitle_choice(path, subs, subtitle_stream) if subtitles else (None, None)
            cues: list[tuple[float, float | None, str]] = []  # (absolute start, duration, text)
            # the header duration of the streams analysed (not of other audio or subtitle tracks)
            header = 0.0
            for s in (v, a):
                if s is not None and s.duration and s.time_base:
                    header = max(header, float(s.duration * s.time_base))
            if not header:
                header = (c.duration or 0) / 1_000_000
            streams = [s for s in (v, a) if s is not None]
            if v is not None:
                v.thread_type = "AUTO"
            limit = None if max_duration_s is None else float(max_duration_s)
            pts: list[float] = []
            vend = aend = 0.0
            packets: list | None = [] if v is not None else None
            first: dict[str, float] = {}
            chunks: list[np.ndarray] = []
            audio_start = None
            audio_problem = None if a is not None else "no audio track"
            # stereo is mixed here, as FFmpeg would ((L + R) / sqrt 2), keeping the side signal too:
            # when the channels cancel (one is phase-inverted) the side signal holds the sound
            stereo = a is not None and a.codec_context.channels == 2
            a_codec = a.codec_context.name if a is not None else ""
            resampler = (av.AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE) if stereo else
                         av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE) if a is not None else None)
            sides: list[np.ndarray] = []
            channel_energy = [0.0, 0.0]
            clip_counts = [0, 0]  # samples at full scale, samples (all channels, before resampling)
            rotation = 0
            rot_seen = False
            audio_done = video_done = False
            demux_error = None
            audio_errors, last_audio_error, audio_packets = 0, None, 0
            have = 0  # audio samples kept so far
            beyond = False  # a packet past max_duration_s was seen
            n_untimed = 0  # video packets without timestamps (raw elementary streams)
            filled: list[tuple[int, int]] = []  # (start, length) of the silence put into timestamp gaps
            try:
                for pk in c.demux(streams + ([sub] if sub is not None else [])):
                    if pk.stream.type == "subtitle":
                        if pk.pts is not None and pk.size:
                            subtitle_problem = _read_cues(pk, cues) or subtitle_problem
                        continue
                    untimed = pk.stream.type == "video" and pk.pts is None and pk.dts is None
                    if untimed and not pk.size:
                        continue  # flush packet
                    tb = pk.stream.time_base
                    kind = pk.stream.type
                    if pk.is_discard:
                        # before an MP4 edit list's start (or a decoder pre-roll): decoded for the
                        # frames after it, never shown, so it sets no time and no frame
                        if kind == "video" and packets is not None:
                            packets.append(pk)
                        elif kind == "audio" and decode_audio and audio_problem is None:
                            try:
                                for _ in pk.decode():  # FFmpeg drops the frames of a discarded packet
                                    pass
                            except av.error.FFmpegError:
                                pass
                        continue
                    t = None if pk.pts is None else float(pk.pts * tb)
                    if untimed:
                        # a raw elementary stream (.h264, .hevc) has no timestamps: its frames are
                        # spaced by the packet duration, else the stream's frame rate; they decode
                        # in presentation order, matched to these times by their index
                        step = float(pk.duration * tb) if pk.duration else 1.0 / float(v.guessed_rate or 25)
                        t = n_untimed * step
                        n_untimed += 1
                    if t is not None:
                        first.setdefault(kind, t)
                        first[kind] = min(first[kind], t)
                    origin = min(first.values()) if first else 0.0
                    if limit is not None and t is not None and t - origin > limit:
                        beyond = True
                        if kind == "video":
                            video_done = True
                        else:
                            audio_done = True
                        if (video_done or v is None) and (audio_done or a is None or not decode_audio):
                            break
                        continue
                    if kind == "video":
                        if t is not None:
                            pts.append(t)
                            dur = float(pk.duration * tb) if pk.duration else 0.0
                            vend = max(vend, t + dur)
                        if packets is not None:
                            packets.append(pk)
                            if len(pts) and pts[-1] - min(pts) > KEEP_PACKETS_BELOW_S and not n_untimed:
                                packets = None  # a long clip: frames will be reached by seeking (not
                                # without timestamps: a raw stream keeps its packets)
                        if not rot_seen:
                            try:
                                for fr in v.codec_context.decode(pk):
                                    rotation = int(round(getattr(fr, "rotation", 0) or 0)) % 360
                                    rot_seen = True
                            except av.error.FFmpegError:
                                pass
                    elif t is not None:
                        aend = max(aend, t + (float(pk.duration * tb) if pk.duration else 0.0))
                    if kind == "audio" and decode_audio and audio_problem is None:
                        audio_packets += 1
                        try:
                            for fr in pk.decode():
                                n_clip, n_all = _count_clipped(fr, a_codec)
                                clip_counts[0] += n_clip
                                clip_counts[1] += n_all
                                if audio_start is None and fr.time is not None:
                                    audio_start = float(fr.time)
                                elif fr.time is not None:
                                    # a gap in the timestamps (a skipped damaged packet, a splice):
                                    # fill it with silence so later audio stays aligned with the video
                                    expected = int(round((float(fr.time) - audio_start) * SAMPLE_RATE))
                                    if expected - have > GAP_FILL_S * SAMPLE_RATE:
                                        filled.append((have, expected - have))
                                        chunks.append(np.zeros(expected - have, np.float32))
                                        if stereo:
                                            sides.append(chunks[-1])
                                        have = expected
                                for out in resampler.resample(fr):
                                    arr = _mono(out, sides if stereo else None, channel_energy)
                                    chunks.append(arr)
                                    have += len(arr)
                        except av.error.FFmpegError as exc:
                            audio_errors += 1  # a damaged packet (a cut mid-frame): skip it, keep going
                            last_audio_error = str(exc)
            except av.error.FFmpegError as exc:
                demux_error = str(exc)  # a damaged tail: keep what was read
            if resampler is not None and decode_audio and audio_problem is None:
                try:
                    for out in resampler.resample(None):
                        chunks.append(_mono(out, sides if stereo else None, channel_energy))
                except av.error.FFmpegError:
                    pass
            v_index = v.index if v is not None else 0  # read while the container is open
            width = v.codec_context.width if v is not None else 0
            height = v.codec_context.height if v is not None else 0
            sar = _sample_aspect(v) if v is not None else 1.0
            width = int(round(width * sar)) if sar != 1.0 else width  # as displayed
            if rotation in (90, 270):
                width, height = height, width
            fmt = c.format.name if c.format is not None else ""
            fps = float(v.average_rate) if v is not None and v.average_rate else 0.0
            rate = a.codec_context.sample_rate if a is not None else 0
            channels = a.codec_context.channels if a is not None else 0
        origin = min(first.values()) if first else 0.0
        video_problem = None
        vindex = None
        if v is not None:
            if pts:
                arr = np.unique(np.array(pts, np.float64))
                if not vend or vend <= arr[-1]:
                    # the last frame lasts as long as the interval before it (variable frame rate: not the median)
                    step = float(arr[-1] - arr[-2]) if len(arr) > 1 else (1.0 / fps if fps else 0.04)
                    vend = float(arr[-1] + step)
                vindex = _VideoIndex(arr, vend, packets, sar, v_index)
            else:
                video_problem = "no video frame could be read"
        audio = None
        audio_note = None
        dc_offset = None
        audio_from = 0.0
        audio_end = origin
        if decode_audio and a is not None and audio_problem is None:
            if chunks:
                audio = np.concatenate(chunks).astype(np.float32, copy=False)
                if not np.isfinite(audio).all():  # NaN/inf samples (a float file written wrong) are no sound
                    audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
                    sides = [np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0) for x in sides]
                if sides:
                    mix_rms = float(np.sqrt(np.mean(audio ** 2)))
                    channel_rms = float(np.sqrt(max(channel_energy) / max(len(audio), 1)))
                    if channel_rms > 1e-4 and mix_rms < CANCEL_RATIO * channel_rms:
                        audio = np.concatenate(sides).astype(np.float32, copy=False)
                        audio_note = ("the two channels cancel when mixed (one is phase-inverted): "
                                      "their difference is analysed")
                # the offset of the decoded samples only: the silence put into timestamp gaps stays silent
                decoded = np.ones(len(audio), bool)
                for start, n in filled:
                    decoded[start:start + n] = False
                offset = float(np.mean(audio[decoded], dtype=np.float64)) if decoded.any() else 0.0
                if abs(offset) >= DC_OFFSET_MIN:  # a constant offset (cheap recorders) hides speech from the VAD
                    audio = audio.copy()
                    audio[decoded] -= np.float32(offset)
                    dc_offset = round(offset, 4)
                lead = int(round(((audio_start if audio_start is not None else origin) - origin) * SAMPLE_RATE))
                if lead > 0:  # audio starts after the video: keep sample 0 at the origin
                    audio = np.concatenate([np.zeros(lead, np.float32), audio])
                    audio_from = lead / SAMPLE_RATE
                elif lead < 0:
                    audio = audio[-lead:]
                if limit is not None:
                    audio = audio[: int(limit * SAMPLE_RATE)]
                audio_end = origin + len(audio) / SAMPLE_RATE
                if len(audio) == 0:
                    audio, audio_problem = None, "audio track is empty"
            else:
                why = last_audio_error or demux_error
                audio_problem = "audio track is empty" if why is None else f"audio cannot be decoded ({why})"
        elif a is not None and not decode_audio:
            audio_end = aend  # from packet timestamps
        ends = [audio_end]
        if vindex is not None:
            ends.append(vindex.end_s)
        extent = max(ends) - origin
        if extent <= 0 and header:
            extent = header
        # MPEG-TS/PS headers count from the first timestamp; other containers (MKV cut with an
        # offset) count from 0, so their start offset is not part of the clip
        claimed = header if fmt in _FROM_START_FORMATS or origin <= 0 else max(header - origin, 0.0)
        gap = claimed - extent
        truncated = (limit is None or extent < limit - 1e-6) and gap > max(TRUNCATION_TOLERANCE_S, 0.1 * claimed)
        duration = max(extent, claimed) if limit is not None and extent >= limit - 1e-6 else extent
        span_end = extent if limit is None else min(extent, limit)
        if vindex is not None and len(vindex.pts_s) >= 2 and vindex.pts_s[-1] > vindex.pts_s[0]:
            fps = (len(vindex.pts_s) - 1) / float(vindex.pts_s[-1] - vindex.pts_s[0])  # as decoded, not as declared
        info = MediaInfo(path=str(path), duration_s=float(duration), has_video=v is not None, has_audio=a is not None,
                         width=width, height=height, fps=fps, rotation_deg=rotation, sample_aspect_ratio=sar if v is not None else 1.0,
                         audio_rate=rate,
                         audio_channels=channels, audio_streams=len(audios),
                         audio_stream=audios.index(a) if a is not None else None, subtitle_streams=len(subs),
                         subtitle_stream=subs.index(sub) if sub is not None else None)
        transcript = None
        if sub is not None:
            transcript, why = _embedded_transcript(sub, subs.index(sub), cues, origin, float(span_end))
            subtitle_problem = why or subtitle_problem
        clipped = clip_counts[0] / clip_counts[1] if audio is not None and clip_counts[1] else None
        return cls(path, info, audio, audio_problem, video_problem, origin, float(claimed), bool(truncated),
                   (0.0, float(span_end)), vindex, audio_note=audio_note, subtitles=transcript,
                   subtitle_problem=subtitle_problem, clipped_share=clipped,
                   goes_on=bool(beyond and not header), dc_offset=dc_offset, audio_start_s=audio_from,
                   audio_packets=audio_packets, audio_damaged_packets=audio_errors if audio is not None else 0)

    # -- properties -----------------------------------------------------------------------
    @property
    def duration_s(self) -> float:
        """The clip's length in seconds (decoded extent; the header's claim for parts beyond the span)."""
        return self.info.duration_s

    @property
    def partial(self) -> bool:
        """True when only part of the clip is analysed (``span_s`` ends before the clip, or media
        was seen past it in a file whose header gives no length)."""
        return self.span_s[1] < self.duration_s - 0.5 or self.goes_on

    @property
    def frame_times(self) -> np.ndarray:
        """Times of every video frame within the span (seconds from the origin)."""
        if self._video is None:
            return np.zeros(0)
        t = self._video.pts_s - self.origin_s
        return t[t <= self.span_s[1] + 1e-6]

    def timing(self) -> dict:
        """Timing facts for reports: origin, header and decoded durations, analysed span, truncation."""
        out = {"origin_s": round(self.origin_s, 3), "duration_s": round(self.duration_s, 3),
               "header_duration_s": round(self.header_duration_s, 3),
               "analysed_span_s": [round(self.span_s[0], 3), round(self.span_s[1], 3)],
               "truncated": self.truncated, "partial": self.partial}
        vs = self.video_span_s
        if vs is not None:
            out["video_span_s"] = [round(vs[0], 3), round(vs[1], 3)]
        aspan = self.audio_span_s
        if aspan is not None:
            out["audio_span_s"] = [round(aspan[0], 3), round(aspan[1], 3)]
        if self.truncated:
            out["note"] = f"decoded {self.span_s[1]:.1f} of {self.header_duration_s:.1f} s (the file is cut or damaged)"
        elif self.goes_on:
            out["length_known"] = False
            out["note"] = (f"analysed {seconds_text(self.span_s[0])}-{seconds_text(self.span_s[1])} s; the file goes "
                           "on past that (its header gives no length; raise --max-seconds to analyse more)")
        elif self.partial:
            out["note"] = (f"analysed {seconds_text(self.span_s[0])}-{seconds_text(self.span_s[1])} s of "
                           f"{seconds_text(self.duration_s)} s (raise --max-seconds to analyse more)")
        return out

    def audio_damage(self) -> dict | None:
        """``{"damaged_packets", "packets", "share"}`` when the decoder rejected audio packets
        (bit errors, a damaged transfer), else None. Each rejected packet is skipped and its time
        left silent; the packets around it may still decode to glitches."""
        if not self.audio_damaged_packets:
            return None
        n = max(self.audio_packets, self.audio_damaged_packets)
        return {"damaged_packets": int(self.audio_damaged_packets), "packets": int(n),
                "share": round(self.audio_damaged_packets / n, 4)}

    def frame_damage(self) -> dict | None:
        """``{"corrupt_frames", "frames"}`` over the video frames decoded so far when the decoder
        flagged some of them corrupt (damaged data hidden by error concealment), else None."""
        decoded = {k for k, _ in self._frame_cache}
        bad = len(decoded & self.corrupt_frames)
        return {"corrupt_frames": bad, "frames": len(decoded)} if bad else None

    def speech(self):
        """Voice activity of the clip's audio (:class:`~affectgpt.media.vad.SpeechActivity`),
        computed once and shared by every consumer; None without audio."""
        if self.audio is None:
            return None
        if self._speech is None:
            from affectgpt.media.vad import detect_speech

            self._speech = detect_speech(self.audio)
        return self._speech

    @property
    def audio_span_s(self) -> tuple[float, float] | None:
        """``(start, end)`` of the audio stream in seconds from the origin, within the analysed
        span; None without decoded audio. The video may run on before or after it: no sound is
        there (the audio array holds silence before the start)."""
        if self.audio is None:
            return None
        a = max(self.span_s[0], self.audio_start_s)
        b = min(self.span_s[1], len(self.audio) / SAMPLE_RATE)
        return (a, b) if b > a else None

    @property
    def video_span_s(self) -> tuple[float, float] | None:
        """``(first frame, end of the last frame)`` in seconds from the origin, within the analysed
        span; None without video. The audio may run on before or after it: no frame is shown there."""
        if self._video is None or len(self._video.pts_s) == 0:
            return None
        a = max(self.span_s[0], float(self._video.pts_s[0] - self.origin_s))
        b = min(self.span_s[1], float(self._video.end_s - self.origin_s))
        return (a, b) if b > a else None

    def shown_until(self, times_s: list[float]) -> list[float]:
        """For frames presented at ``times_s``: when the next frame replaces each (the end of the
        video for the last frame)."""
        rel = self.frame_times
        vs = self.video_span_s
        end = vs[1] if vs is not None else self.span_s[1]
        out = []
        for t in times_s:
            k = int(np.searchsorted(rel, t + 1e-6, side="right"))
            out.append(float(rel[k]) if k < len(rel) else float(max(end, t)))
        return out

    def audio_between(self, start_s: float, end_s: float) -> np.ndarray | None:
        """Audio samples of ``[start_s, end_s)`` (None without audio)."""
        if self.audio is None:
            return None
        return self.audio[max(0, int(start_s * SAMPLE_RATE)):max(0, int(end_s * SAMPLE_RATE))]

    def uniform_times(self, n: int, start_s: float | None = None, end_s: float | None = None) -> list[float]:
        """``n`` frame-sampling times spread over ``[start_s, end_s]`` (default: the analysed span),
        kept to the part where the video shows frames (:attr:`video_span_s`): audio that runs on
        past the video gets no repeated last frame. Empty when the video shows nothing there."""
        a = self.span_s[0] if start_s is None else start_s
        b = self.span_s[1] if end_s is None else end_s
        vs = self.video_span_s
        if vs is not None:
            a, b = max(a, vs[0]), min(b, vs[1])
            if b <= a:
                return []
        return uniform_times(max(b - a, 1e-3), n, a)

    # -- frames ---------------------------------------------------------------------------
    def _nearest(self, times: list[float]) -> list[int]:
        """Index of the frame shown at each time (the last frame starting at or before it)."""
        rel = self._video.pts_s - self.origin_s
        idx = np.searchsorted(rel, np.asarray(times, np.float64), side="right") - 1
        return [int(i) for i in np.clip(idx, 0, len(rel) - 1)]

    def frames_at(self, times_s: list[float], max_side: int | None = None, distinct: bool = False,
                  on_frame=None) -> FrameSample:
        """RGB frames shown at ``times_s`` (seconds from the origin), upright, cached.

        All frames not yet cached are decoded in one pass. With ``distinct``, times that fall on
        the same frame return it once (fewer frames than asked). Frame times returned are the
        frames' own presentation times. ``on_frame(position, rgb, time_s)`` is called for each
        frame as soon as it is available (cached ones first, then in decoding order), so a
        consumer can work while later frames decode; ``position`` indexes the returned sample.

        Raises:
            InputError: no video stream, or no frame can be decoded.
        """
        if not self.info.has_video:
            raise InputError(self.path, "has no video stream")
        if self._video is None or len(self._video.pts_s) == 0:
            raise InputError(self.path, self.video_problem or "no video frame could be decoded")
        idx = self._nearest(list(times_s))
        if distinct:
            idx = list(dict.fromkeys(idx))
        rel = self._video.pts_s - self.origin_s
        emit = None
        if on_frame is not None:
            positions: dict[int, list[int]] = {}
            for pos, i in enumerate(idx):
                positions.setdefault(i, []).append(pos)

            def emit(i, img):
                for pos in positions.get(i, ()):
                    on_frame(pos, img, float(rel[i]))

            for i in dict.fromkeys(idx):
                if (i, max_side) in self._frame_cache:
                    emit(i, self._frame_cache[(i, max_side)])
        want = sorted({i for i in idx if (i, max_side) not in self._frame_cache})
        if want:
            self._decode(want, max_side, emit)
        got = [i for i in idx if (i, max_side) in self._frame_cache]
        if not got:
            raise InputError(self.path, "no video frame could be decoded")
        frames = [self._frame_cache[(i, max_side)] for i in got]
        h, w = frames[0].shape[:2]
        return FrameSample(frames, [float(rel[i]) for i in got], w, h)

    def _decode(self, indices: list[int], max_side: int | None, emit=None) -> None:
        import av

        def keep(k: int, img: np.ndarray) -> None:
            self._frame_cache[(k, max_side)] = img
            if emit is not None:
                emit(k, img)

        self.decode_passes += 1
        targets = {float(self._video.pts_s[i]): i for i in indices}
        remaining = set(targets)
        tol = 1e-4
        if self._video.packets is not None:
            with open_container(self.path) as c:
                stream = c.streams[self._video.stream_index]
                stream.thread_type = "AUTO"
                ctx = stream.codec_context

                def frames():
                    for pk in self._video.packets:
                        try:
                            yield from ctx.decode(pk)
                        except av.error.FFmpegError:
                            continue
                    try:
                        yield from ctx.decode(None)
                    except av.error.FFmpegError:
                        return

                # frames leave the decoder in presentation order; a frame that lost its
                # timestamp (flushed at the end) takes the next index
                want = {targets[x] for x in remaining}
                pts = self._video.pts_s
                k = -1
                for fr in frames():
                    t = fr.time
                    if t is not None and np.isfinite(t):
                        k = int(np.argmin(np.abs(pts - float(t))))
                    else:
                        k += 1
                    if k in want:
                        if getattr(fr, "is_corrupt", False):
                            self.corrupt_frames.add(k)
                        keep(k, _to_rgb(fr, max_side, self._video.sar))
                        want.discard(k)
                        if not want:
                            break
                    if k > max(want, default=-1):
                        break
            return
        # long clips: seek to the key frame before each target and decode up to it. Some
        # containers (MPEG-TS) land after the target: then seek earlier, and at last decode
        # forward from the start.
        with open_container(self.path) as c:
            stream = c.streams[self._video.stream_index]
            stream.thread_type = "AUTO"
            tb = stream.time_base
            start = float(self._video.pts_s[0])
            for target in sorted(remaining):
                for back_s in (0.0, 2.0, 10.0, 60.0, None):
                    got = self._seek_decode(c, stream, tb, target, start if back_s is None else target - back_s,
                                            tol, max_side, self._video.sar)
                    if got is not None:
                        img, corrupt = got
                        if corrupt:
                            self.corrupt_frames.add(targets[target])
                        keep(targets[target], img)
                        break
                    if got is None and back_s is None:
                        break

    @staticmethod
    def _seek_decode(c, stream, tb, target: float, seek_to: float, tol: float, max_side, sar: float = 1.0):
        """Seek to ``seek_to`` (absolute s) and decode up to the frame at ``target``: ``(RGB, whether
        the decoder flagged it corrupt)``, or None when the seek landed after the target or the
        frame cannot be decoded."""
        import av

        try:
            c.seek(max(0, int(seek_to / tb)), stream=stream, backward=True, any_frame=False)
            first = True
            for fr in c.decode(stream):
                if fr.time is None:
                    continue
                t = float(fr.time)
                if first and t > target + tol:
                    return None  # landed after the target
                first = False
                if abs(t - target) < tol:
                    return _to_rgb(fr, max_side, sar), bool(getattr(fr, "is_corrupt", False))
                if t > target + tol:
                    return None
        except av.error.FFmpegError:
            return None
        return None
