"""Acoustic cues (openSMILE eGeMAPSv02) and the speech-emotion head (Whisper encoder embedding).

A **speech gate** comes first (Silero VAD, :mod:`affectgpt.media.vad`): no speech (silence,
room tone, fan noise, music) or less than :data:`MIN_SPEECH_S` of it leaves the audio
modality missing with the reason; nothing is measured from non-speech.

Cues are measured against a **reference that fits the speaker**:

* ``population`` — English speech (the language identified by the ASR or the subtitle):
  means and standard deviations of each eGeMAPS descriptor over neutral/calm RAVDESS
  training speech, by gender (chosen from the clip's median pitch; stored in the head card).
* ``speaker`` — any other or unknown language (an ordinary Mandarin speaker has a wider
  pitch range and another syllable rate than neutral English speech, so English norms would
  call them extreme): 1 s windows of the clip are compared with the speaker's own median over
  the clip (robust SD from the median absolute deviation); a cue names the window where the
  voice departs from itself. Needs 3 windows with speech; otherwise no vocal cue is given.
  The most departing of many windows departs a lot even in calm speech (the largest of 40
  windows is routinely 2-9 SD), so a departure is reported only beyond what neutral speech of
  one speaker reaches in as many windows (:class:`WindowCalibration`, measured on RAVDESS
  training actors; ``benchmarks/window_cues.py``). Timeline windows use the single-window
  threshold of the same calibration, on either path.

A cue whose feature is undefined (no voiced frame: pitch, jitter, shimmer, HNR; no voiced
segment: speaking rate) is never reported. **Band limits** are measured on the speech and
recorded with the source's sample rate and channels (:func:`audio_band`); the cues each limit
distorts are dropped and the rest are flagged:

* the upper band cut (**narrow-band**: a native rate of 8 kHz or less, or no energy within 40 dB
  of the peak above :data:`UPPER_EDGE_HZ`, 4.5 kHz): :data:`UPPER_CUT_DISTORTS` (loudness, jitter, shimmer);
* the **fundamental cut** (the lower band edge above :data:`FUNDAMENTAL_CUT_SHARE` of the voice's
  low pitch, as behind a telephone's 300 Hz high-pass with a low voice):
  :data:`FUNDAMENTAL_CUT_DISTORTS` (pitch, jitter, shimmer, HNR, speaking rate).

A telephone line (300-3400 Hz) has both. Measured on 112 RAVDESS and CREMA-D clips
(``benchmarks/band_limits.py``): an 8 kHz rate moves pitch level and range by under 0.25
population SD (90th percentile) but loudness by 1.9, jitter by 2.3 and shimmer by 1.4; an
11.025 kHz rate moves no cue by more than 1.6 (jitter) and is not narrow-band; a 300 Hz
high-pass moves pitch range by 7.1, jitter by 10, shimmer by 3.2, HNR by 2.2 and speaking
rate by 2.4.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from affectgpt.analyzers.base import Cue, ModalityResult, merge_to_basic, strength_of
from affectgpt.analyzers.heads import Head, load_head, packaged_head_path
from affectgpt.errors import AffectGPTError
from affectgpt.media.vad import SpeechActivity, detect_speech

__all__ = ["AcousticAnalyzer", "egemaps", "CUE_FEATURES", "WINDOW_ONLY", "is_silent", "normalize_level",
           "clipping_mode", "CLIPPED_FLAG_SHARE", "CLIPPED_DROP_SHARE", "CLIPPING_DISTORTS",
           "DAMAGED_DROP_SHARE", "BACKGROUND_DROP_DB", "BACKGROUND_FLAG_DB", "speech_to_background_db",
           "background_mode", "window_background_db", "window_limits", "background_spans", "WINDOW_BACKGROUND_CONTEXT_S", "cue_limits", "db_above", "MIN_SPEECH_S", "MIN_BASELINE_WINDOWS", "UPPER_EDGE_HZ", "audio_band", "UPPER_CUT_DISTORTS",
           "FUNDAMENTAL_CUT_SHARE", "FUNDAMENTAL_CUT_DISTORTS", "band_drops", "fundamental_cut", "egemaps_lld",
           "mask_non_speech", "CUE_SPEECH_PAD_S",
           "window_functionals", "timeline_lld", "WindowCalibration", "load_window_calibration", "packaged_window_calibration"]

SR = 16_000

#: eGeMAPS functionals turned into cues: name -> (feature, phrase when high, phrase when low, unit)
CUE_FEATURES = {
    "pitch_level": ("F0semitoneFrom27.5Hz_sma3nz_percentile50.0", "a raised pitch", "a lowered pitch", "st"),
    "pitch_range": ("F0semitoneFrom27.5Hz_sma3nz_pctlrange0-2", "a wide pitch range", "a flat, monotone pitch", "st"),
    "loudness": ("loudness_sma3_amean", "a loud voice", "a soft, quiet voice", "sone"),
    "loudness_variation": ("loudness_sma3_stddevNorm", "a strongly varying loudness", "an even loudness", ""),
    "speaking_rate": ("VoicedSegmentsPerSec", "a fast speaking rate", "a slow speaking rate", "1/s"),
    "jitter": ("jitterLocal_sma3nz_amean", "an unsteady (jittery) voice", "a steady voice", ""),
    "shimmer": ("shimmerLocaldB_sma3nz_amean", "a rough, shimmering voice", "a smooth voice", "dB"),
    "hnr": ("HNRdBACF_sma3nz_amean", "a clear, harmonic voice", "a breathy or hoarse voice", "dB"),
}


#: cues only meaningful within one recording (gain differs between recordings)
WINDOW_ONLY = {"loudness"}
#: less voiced speech than this (s) is too little for vocal analysis
MIN_SPEECH_S = 0.5
#: windows with speech needed for the speaker's own baseline (fewer: no speaker-relative cue),
#: counted at :data:`REFERENCE_HOP_S` spacing
MIN_BASELINE_WINDOWS = 3
REFERENCE_HOP_S = 0.5
#: the speaker path's 1 s windows slide by this much (s)
SPEAKER_HOP_S = 0.1
#: an upper band edge (-40 dB) below this (Hz) means narrow-band audio: the upper band is cut
#: (8 kHz telephone and old recordings reach 4 kHz at most; an 11.025 kHz rate reaches 4.6-5.5 kHz
#: on RAVDESS and CREMA-D speech and is not narrow-band)
UPPER_EDGE_HZ = 4500.0
#: cues the upper band cut distorts (the harmonics above the edge are lost)
UPPER_CUT_DISTORTS = frozenset({"loudness", "jitter", "shimmer"})
#: the fundamental counts as cut when the lower band edge (-40 dB) lies above this share of the
#: voice's low pitch (the 20th percentile of F0)
FUNDAMENTAL_CUT_SHARE = 0.8
#: cues the fundamental cut distorts (the pitch tracker and the voicing decision lose F0)
FUNDAMENTAL_CUT_DISTORTS = frozenset({"pitch_level", "pitch_range", "jitter", "shimmer", "hnr", "speaking_rate"})
#: clipped audio (samples cut at full scale): above this share of samples the cues clipping
#: distorts are flagged, above :data:`CLIPPED_DROP_SHARE` they are dropped. Clipping flattens the
#: waveform's peaks, which reads as a smoother, steadier, evener voice: jitter, shimmer and HNR
#: move by several SD and the loudness contour is capped (measured on CREMA-D at +15 / +30 dB).
CLIPPED_FLAG_SHARE = 0.001
CLIPPED_DROP_SHARE = 0.01
CLIPPING_DISTORTS = {"jitter", "shimmer", "hnr", "loudness", "loudness_variation"}
#: damaged audio (packets the decoder rejected: bit errors, a broken transfer): any share flags
#: every voice cue, at least this share drops them all (each rejected packet is a gap of silence
#: and its neighbours decode to glitches that read as pitch, loudness and voice-quality jumps)
DAMAGED_DROP_SHARE = 0.01
#: background sound under the speech (music, noise), as the speech-to-background ratio (dB) of
#: :func:`speech_to_background_db`: below :data:`BACKGROUND_DROP_DB` every voice cue is dropped,
#: below :data:`BACKGROUND_FLAG_DB` every cue is flagged. Measured with ``benchmarks/band_limits.py``
#: (108 RAVDESS/CREMA-D clips): a tune of harmonic notes 10 dB below the speech moves the cues by
#: 6.4 population SD (90th percentile; pitch level by 3.5, pitch range by 8.8, jitter by 7.5); it is
#: flagged on 100% of such clips, all cues dropped on 99% at 5 dB, unmixed clips flagged on 3.7%.
#: Music 15 dB down still moves pitch range by several SD (flagged on 76%); pink noise 15 dB down
#: reads about 1.5 dB higher and is flagged on 6%. The demo film clip reads 19.7 dB.
BACKGROUND_DROP_DB = 10.0
BACKGROUND_FLAG_DB = 15.0
#: the background level needs this much time (s) away from the speech (0.2 s from any segment)
MIN_BACKGROUND_S = 0.3
#: a timeline window's background is judged from the sound within this many seconds of it
#: (:func:`window_background_db`): music that plays under part of a clip flags the windows it
#: plays in, not the whole clip's
WINDOW_BACKGROUND_CONTEXT_S = 0.5
#: plain names of the cues, for notes
CUE_NAMES = {"pitch_level": "pitch level", "pitch_range": "pitch range", "loudness": "loudness",
             "loudness_variation": "loudness variation", "speaking_rate": "speaking rate", "jitter": "jitter",
             "shimmer": "shimmer", "hnr": "HNR"}
#: cues whose feature is undefined without voiced frames / voiced segments
_NEEDS_VOICING = {"pitch_level", "pitch_range", "jitter", "shimmer", "hnr"}
_F0_MEAN = "F0semitoneFrom27.5Hz_sma3nz_amean"
_F0_LOW = "F0semitoneFrom27.5Hz_sma3nz_percentile20.0"
_RATE = "VoicedSegmentsPerSec"
_WINDOW_NAMES = tuple(f for f, *_ in CUE_FEATURES.values()) + (_F0_MEAN,)
#: languages whose speakers the packaged population norms (RAVDESS, North-American English) fit
NORM_LANGUAGES = {"en"}


@dataclass(frozen=True)
class WindowCalibration:
    """How far a window's voice departs from the speaker's own median in neutral speech, so that
    a speaker-relative cue is reported only beyond it (``weights/window_cues.json``, written by
    :func:`affectgpt.analyzers.training.calibrate_window_cues`).

    Why: a clip of 20 s has about 40 one-second windows; the largest of 40 departures of neutral
    speech is routinely 2-9 "SD" (jitter and shimmer are heavy-tailed in 1 s), so without this
    every clip on the speaker path read as several strong cues.

    Attributes:
        clip: cue -> ``(a, b)``: the clip summary (the most departing 1 s window, 0.1 s hop) of a
            clip with ``n`` speech windows (at 0.5 s spacing) reports a cue only when
            ``|z| >= a + b * ln(n)``, the fitted upper quantile ``clip_quantile`` of that largest
            departure over neutral clips. Below the smallest ``n`` measured (``card["n_range"]``)
            ``n`` is held there; above the largest a rising fit is extrapolated (the largest of ``n``
            departures grows more slowly than ``ln n``, so that errs towards fewer cues) and a
            falling one is held at the largest.
        window: window length (s, as a string key) -> cue -> threshold on ``|z|`` for one
            timeline window (the quantile ``window_quantile`` of single windows of neutral speech
            of that length). A window uses the longest length measured that does not exceed its own
            (a shorter window is noisier; under the shortest, the shortest).
        card: how the numbers were measured (data, counts, quantiles, seed).
    """

    clip: dict[str, tuple[float, float]]
    window: dict[str, dict[str, float]]
    card: dict = field(default_factory=dict)

    def clip_threshold(self, cue: str, n_windows: int) -> float:
        """Smallest ``|z|`` the clip summary reports for ``cue`` with ``n_windows`` speech windows
        (0 for a cue not calibrated)."""
        if cue not in self.clip:
            return 0.0
        a, b = self.clip[cue]
        lo, hi = self.card.get("n_range", (1, 1))
        n = max(n_windows, lo, 1)
        if b < 0:
            n = min(n, hi)  # a falling fit is not extrapolated downwards: held at the most windows measured
        return float(a + b * np.log(n))

    def window_threshold(self, cue: str, length_s: float = 2.0) -> float:
        """Smallest ``|z|`` a single timeline window of ``length_s`` seconds reports for ``cue``
        (0 when not calibrated)."""
        if not self.window:
            return 0.0
        lengths = sorted(self.window, key=float)
        fits = [k for k in lengths if float(k) <= length_s + 1e-6]
        return float(self.window[fits[-1] if fits else lengths[0]].get(cue, 0.0))


def load_window_calibration(path) -> WindowCalibration:
    """Read a ``window_cues.json`` written by :func:`~affectgpt.analyzers.training.calibrate_window_cues`.

    Raises:
        InputError: the file is not such a calibration: a key missing, a number not finite or
            negative where a threshold is, ``n_range`` not two counts (names the path and the problem).
    """
    import json
    import math

    from affectgpt.errors import InputError

    try:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        clip = {str(k): (float(v[0]), float(v[1])) for k, v in d["clip"].items()}
        window = {str(float(length)): {str(c): float(t) for c, t in v.items()} for length, v in d["window"].items()}
        card = d.get("card", {})
        if not isinstance(card, dict):
            raise TypeError("'card' is not an object")
        lo, hi = (int(x) for x in card.get("n_range", (1, 1)))
        numbers = [x for ab in clip.values() for x in ab] + [t for v in window.values() for t in v.values()]
        if not all(math.isfinite(x) for x in numbers) or any(t < 0 for v in window.values() for t in v.values()):
            raise ValueError("a threshold is not a finite, non-negative number")
        if not 1 <= lo <= hi:
            raise ValueError(f"n_range {lo}-{hi} is not a range of window counts from 1")
    except (KeyError, TypeError, IndexError, ValueError, AttributeError) as exc:
        raise InputError(path, f"not a window-cue calibration ({type(exc).__name__}: {exc})") from exc
    return WindowCalibration(clip, window, {**card, "n_range": [lo, hi]})


@lru_cache(maxsize=1)
def packaged_window_calibration() -> WindowCalibration | None:
    """The packaged calibration (``affectgpt/analyzers/weights/window_cues.json``), None when absent."""
    from importlib import resources

    p = Path(str(resources.files("affectgpt.analyzers").joinpath("weights/window_cues.json")))
    if not p.is_file():
        return None
    try:
        return load_window_calibration(p)
    except AffectGPTError as exc:  # a damaged installation: warn, and report every departure (no threshold)
        import logging

        logging.getLogger(__name__).warning("%s; voice cues are reported without thresholds "
                                            "(reinstall affectgpt, or run `affectgpt heads train window_cues`)", exc)
        return None


def audio_band(audio: np.ndarray, native_rate: int = 0) -> dict:
    """Band edges of speech audio (16 kHz mono) and whether it is narrow-band.

    The edges are the highest and lowest frequencies (Hz; the lowest searched from 40 Hz, above
    mains hum and rumble) whose power is within 40 dB of the spectral peak (Welch PSD, 2048-point
    segments: 7.8 Hz resolution). Narrow-band: a native rate of 8 kHz or less, or an upper edge
    below :data:`UPPER_EDGE_HZ`.

    Returns:
        ``{"bandwidth_hz": upper edge, "band_low_hz": lower edge, "narrowband": bool}`` (edges
        None for less than 1024 samples or digital silence).
    """
    from scipy.signal import welch

    rate_narrow = bool(native_rate and native_rate <= 8000)
    if len(audio) < 2048:
        return {"bandwidth_hz": None, "band_low_hz": None, "narrowband": rate_narrow}
    f, p = welch(audio.astype(np.float64), SR, nperseg=2048)
    if p.max() <= 0:
        return {"bandwidth_hz": None, "band_low_hz": None, "narrowband": False}
    within = p > p.max() * 1e-4
    edge = float(f[np.where(within)[0].max()])
    low = float(f[np.where(within & (f >= 40.0))[0].min()]) if (within & (f >= 40.0)).any() else None
    return {"bandwidth_hz": round(edge), "band_low_hz": None if low is None else round(low),
            "narrowband": rate_narrow or edge < UPPER_EDGE_HZ}


def fundamental_cut(band_low_hz: float | None, low_f0_semitones: float | None) -> bool:
    """Whether the band's lower edge (Hz) lies above :data:`FUNDAMENTAL_CUT_SHARE` of the voice's
    low pitch: the 20th percentile of the voiced F0, in semitones above 27.5 Hz as eGeMAPS writes
    it. False without an edge or a pitch (0, None or NaN: no voiced frame)."""
    if band_low_hz is None or low_f0_semitones is None or not np.isfinite(low_f0_semitones) or low_f0_semitones <= 0:
        return False
    return bool(band_low_hz > FUNDAMENTAL_CUT_SHARE * 27.5 * 2 ** (float(low_f0_semitones) / 12))


def band_drops(info: dict) -> tuple[frozenset[str], str | None]:
    """(cues to drop, flag for the other cues) of the band limits recorded in ``info`` (the
    ``audio`` section: ``narrowband``, ``fundamental_cut``)."""
    drop: set[str] = set()
    flags = []
    if info.get("narrowband"):
        drop |= UPPER_CUT_DISTORTS
        flags.append("narrow-band audio")
    if info.get("fundamental_cut"):
        drop |= FUNDAMENTAL_CUT_DISTORTS
        flags.append("fundamental cut")
    return frozenset(drop), "; ".join(flags) or None


def band_note(info: dict, others_flagged: bool = True) -> str | None:
    """A sentence on the band limits recorded in ``info`` and the cues they cost (None: none);
    ``others_flagged=False`` when no other cue is left to flag."""
    dropped, _ = band_drops(info)
    if not dropped:
        return None
    what = []
    if info.get("narrowband"):
        what.append(f"narrow-band audio (about {info.get('bandwidth_hz')} Hz wide"
                    + (f", {info['sample_rate']} Hz sampling)" if info.get("sample_rate") else ")"))
    if info.get("fundamental_cut"):
        what.append(f"the voice's fundamental is cut (nothing below about {info.get('band_low_hz')} Hz, "
                    "as on a telephone line)")
    names = ", ".join(CUE_NAMES.get(c, c) for c in sorted(dropped))
    what = " and ".join(what)
    tail = "; the other voice cues are flagged." if others_flagged else "."
    return f"{what[0].upper()}{what[1:]}: {names} cues were not measured{tail}"


def cue_limits(info: dict | None) -> tuple[frozenset[str], dict[str, list[str]]]:
    """``(cues not measured, flags of each cue kept)`` from the measurement limits recorded in an
    ``audio`` section: band limits (:func:`band_drops`), ``clipping``, ``damage`` and
    ``background`` (each ``"flag"`` or ``"drop"``). A damage or background ``"drop"`` leaves no
    cue. The one place the analyzer, the timeline and the notes read these limits from."""
    info = info or {}
    if "drop" in (info.get("damage"), info.get("background")):
        return frozenset(CUE_FEATURES), {}
    band_drop, band_flag = band_drops(info)
    clipping = info.get("clipping")
    background = (f"background sound under part of the speech ({spans_text(info['background_spans'])})"
                  if info.get("background_spans") else
                  f"background sound (speech {db_above(info['snr_db'])} it)" if info.get("background") else "")
    dropped = set(band_drop) | (CLIPPING_DISTORTS if clipping == "drop" else set())
    flags: dict[str, list[str]] = {}
    for cue in CUE_FEATURES:
        if cue in dropped:
            continue
        f = ([band_flag] if band_flag else []) + (
            ["clipped audio"] if clipping == "flag" and cue in CLIPPING_DISTORTS else []) + (
            ["damaged audio"] if info.get("damage") == "flag" else []) + (
            [background] if info.get("background") == "flag" else [])
        if f:
            flags[cue] = f
    return frozenset(dropped), flags


TARGET_DBFS = -26.0


def speech_to_background_db(audio: np.ndarray, speech: SpeechActivity | None, guard_s: float = 0.2) -> float | None:
    """Speech-to-background ratio (dB) of 16 kHz audio: the mean power of the 50 ms frames
    inside the speech segments over the background power, the 25th percentile of the frames at
    least ``guard_s`` from any segment (the low percentile keeps speech the voice detector missed
    out of it): those in the pauses between the first and the last segment when they last
    :data:`MIN_BACKGROUND_S` or more (music under the dialogue sounds there, an intro before it
    does not), else all of them (the sound around the speech). The background is subtracted from
    the speech power first. Digitally silent frames are left out of
    the background. None when fewer than :data:`MIN_BACKGROUND_S` of such frames exist (speech
    throughout: not measurable) or the audio holds non-finite samples; 99.0 when the frames away
    from the speech are digital silence."""
    if speech is None or not speech.segments:
        return None
    n = SR // 20
    k = len(audio) // n
    if k == 0:
        return None
    power = np.mean(audio[: k * n].astype(np.float64).reshape(k, n) ** 2, axis=1)
    t = (np.arange(k) + 0.5) * n / SR
    inside = np.zeros(k, bool)
    near = np.zeros(k, bool)
    for a, b in speech.segments:
        inside |= (t >= a) & (t < b)
        near |= (t >= a - guard_s) & (t < b + guard_s)
    if (~near).sum() * n / SR < MIN_BACKGROUND_S or not inside.any() or not np.isfinite(power).all():
        return None
    # the pauses between the lines first: music under the dialogue sounds there, music before or
    # after it (an intro, a sting) does not; the clip's surroundings only when the pauses are too short
    first, last = speech.segments[0][0], speech.segments[-1][1]
    pauses = ~near & (t > first) & (t < last)
    away = power[pauses] if pauses.sum() * n / SR >= MIN_BACKGROUND_S else power[~near]
    sounding = away[away > 1e-10]  # digital silence (a silent lead-in, a filled gap) is no background level
    if len(sounding) * n / SR < MIN_BACKGROUND_S:
        return 99.0
    background = float(np.percentile(sounding, 25))
    return float(10 * np.log10(max(float(np.mean(power[inside])) / background - 1.0, 1e-3)))


def window_background_db(audio: np.ndarray, speech: SpeechActivity | None, start_s: float, end_s: float,
                         context_s: float = WINDOW_BACKGROUND_CONTEXT_S) -> float | None:
    """Speech-to-background ratio (dB) of one stretch of 16 kHz ``audio``:
    :func:`speech_to_background_db` over ``[start_s - context_s, end_s + context_s)`` with the
    speech inside it. None when that stretch has no speech, or too little sound away from the
    speech to measure (:data:`MIN_BACKGROUND_S`): the clip's value then stands for it."""
    if speech is None or not speech.segments:
        return None
    lo = max(0.0, start_s - context_s)
    hi = min(len(audio) / SR, end_s + context_s)
    if hi - lo <= 0 or not any(b > lo and a < hi for a, b in speech.segments):
        return None
    # speech just outside the stretch still keeps its guard band out of the background
    guard = 0.2
    near = tuple((a - lo, b - lo) for a, b in speech.segments if b > lo - guard and a < hi + guard)
    snr = speech_to_background_db(audio[int(round(lo * SR)):int(round(hi * SR))],
                                  SpeechActivity(near, hi - lo), guard_s=guard)
    # 99.0: only digital silence around this speech (a late audio start, a zero-filled gap), no
    # level to judge by: the clip's value stands
    return None if snr == 99.0 else snr


def background_spans(audio: np.ndarray, speech: SpeechActivity | None, window_s: float = 2.0) -> list[dict]:
    """Stretches of a clip's speech with background sound loud enough to flag or drop the voice
    cues, judged window by window (``window_s`` windows from the first speech onset to the last
    offset, :func:`window_background_db`); neighbouring windows with the same verdict are merged.
    This finds music under part of a clip, which the clip's single ratio
    (:func:`speech_to_background_db`, from the quietest quarter of all its pauses) misses.

    Returns ``[{"start_s", "end_s", "snr_db" (the lowest in the stretch), "cues" ("flag" or
    "drop")}]`` in seconds of the clip (empty without speech)."""
    if speech is None or not speech.segments:
        return []
    first, last = speech.segments[0][0], speech.segments[-1][1]
    n = max(1, int(np.ceil((last - first) / window_s - 1e-6)))
    spans: list[dict] = []
    for i in range(n):
        a, b = first + i * window_s, min(last, first + (i + 1) * window_s)
        snr = window_background_db(audio, speech, a, b)
        mode = background_mode(None if snr is None else round(snr, 1))
        if not mode:
            continue
        if spans and spans[-1]["cues"] == mode and abs(spans[-1]["end_s"] - round(a, 3)) < 1e-6:
            spans[-1]["end_s"] = round(b, 3)
            spans[-1]["snr_db"] = min(spans[-1]["snr_db"], round(snr, 1))
        else:
            spans.append({"start_s": round(a, 3), "end_s": round(b, 3), "snr_db": round(snr, 1), "cues": mode})
    return spans


def spans_text(spans: list[dict]) -> str:
    """``"20.0-38.0 s"`` / ``"2.0-4.0 s, 9.5-12.0 s"`` for :func:`background_spans`."""
    return ", ".join(f"{s['start_s']:.1f}-{s['end_s']:.1f} s" for s in spans)


_SEVERITY = {None: 0, "flag": 1, "drop": 2}


def window_limits(band: dict | None, audio: np.ndarray, speech: SpeechActivity | None,
                  bounds: list[tuple[float, float]]) -> list[dict]:
    """The ``audio`` section (measurement limits, see :func:`cue_limits`) as each window in
    ``bounds`` is judged: a copy of ``band`` whose background (``snr_db``, ``background``) is the
    window's own (:func:`window_background_db`, ``snr_scope`` ``"window"``) where it can be
    measured and is not milder than the clip's verdict; else, when the clip has background only in
    part (``background_spans``), that of the stretches the window overlaps (``"part"``; none: no
    background); else the clip's (``"clip"``).
    Band limits, clipping and damage stay the clip's (the decoder does not say where a damaged
    packet was)."""
    band = dict(band or {})
    spans = band.pop("background_spans", None)
    # the clip's verdict as a floor, when it judged the clip as a whole (not from its stretches)
    clip_mode = None if spans is not None else band.get("background")
    out = []
    for a, b in bounds:
        w = dict(band)
        snr = window_background_db(audio, speech, a, b)
        if snr is None and spans is not None:
            near = [s["snr_db"] for s in spans if s["start_s"] < b and s["end_s"] > a]
            w.pop("background", None)
            if near:  # a stretch of the clip with background overlaps it
                w["snr_db"] = min(near)
                w["background"] = background_mode(w["snr_db"])
                w["snr_scope"] = "part"
            elif w.get("snr_db") is not None:  # none: the clip's ratio, which flags nothing
                w["snr_scope"] = "clip"
        elif snr is not None and _SEVERITY[background_mode(round(snr, 1))] >= _SEVERITY[clip_mode]:
            # the window's own ratio, unless milder than the clip's verdict: a clip flagged as a
            # whole has the background in most of its pauses, and a window's few pause frames
            # read a few dB higher
            w["snr_db"] = round(snr, 1)
            w.pop("background", None)
            if background_mode(w["snr_db"]):
                w["background"] = background_mode(w["snr_db"])
            w["snr_scope"] = "window"
        elif w.get("snr_db") is not None:
            w["snr_scope"] = "clip"
        out.append(w)
    return out


def db_above(snr_db: float) -> str:
    """``"12 dB above"`` / ``"no louder than"`` / ``"4 dB below"`` for a speech-to-background ratio."""
    if round(snr_db) > 0:
        return f"{snr_db:.0f} dB above"
    return "no louder than" if round(snr_db) == 0 else f"{-snr_db:.0f} dB below"


def background_mode(snr_db: float | None) -> str | None:
    """``"drop"`` (speech less than :data:`BACKGROUND_DROP_DB` above the background), ``"flag"``
    (less than :data:`BACKGROUND_FLAG_DB`) or None: what becomes of the voice cues."""
    if snr_db is None or not np.isfinite(snr_db) or snr_db >= BACKGROUND_FLAG_DB:
        return None
    return "drop" if snr_db < BACKGROUND_DROP_DB else "flag"


def clipping_mode(clipped_share: float | None) -> str | None:
    """``"drop"`` (at least :data:`CLIPPED_DROP_SHARE` of the samples at full scale), ``"flag"`` (at
    least :data:`CLIPPED_FLAG_SHARE`) or None: what becomes of the cues clipping distorts."""
    if clipped_share is None or clipped_share < CLIPPED_FLAG_SHARE:
        return None
    return "drop" if clipped_share >= CLIPPED_DROP_SHARE else "flag"


def normalize_level(audio: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """Remove the DC offset (the mean), then scale audio so its active part (loudest half of 50 ms
    frames) has ``target_dbfs`` RMS.

    Recording gain differs between files; features and the head see level-normalised audio
    (training and inference alike), so absolute loudness is never mistaken for emotion. A DC
    offset (a cheap recorder, a faulty interface) would otherwise count as level and bias the
    periodicity measures behind HNR, jitter and shimmer.
    """
    n = SR // 20
    if len(audio) < n:
        return audio
    audio = (audio - np.mean(audio, dtype=np.float64)).astype(np.float32)
    frames = audio[: len(audio) // n * n].reshape(-1, n).astype(np.float64)
    rms = np.sqrt(np.mean(frames ** 2, axis=1) + 1e-12)
    active = rms[rms >= np.median(rms)]
    level = np.sqrt(np.mean(active ** 2))
    if level < 1e-6:
        return audio
    gain = 10 ** (target_dbfs / 20) / level
    return np.clip(audio * gain, -1.0, 1.0).astype(np.float32)


@lru_cache(maxsize=4)
def _smile(feature_set: str, level: str = "Functionals"):
    try:
        import opensmile
    except ImportError as exc:
        raise AffectGPTError("acoustic analysis needs openSMILE: pip install 'affectgpt[describe]'") from exc
    return opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, feature_set),
                           feature_level=getattr(opensmile.FeatureLevel, level))


def egemaps(audio: np.ndarray) -> tuple[list[str], np.ndarray]:
    """eGeMAPSv02 functionals (88) of 16 kHz mono audio."""
    s = _smile("eGeMAPSv02")
    return list(s.feature_names), s.process_signal(audio, SR).values[0].astype(np.float32)


_LLD_HOP_S = 0.01


def egemaps_lld(audio: np.ndarray) -> tuple[list[str], np.ndarray]:
    """eGeMAPSv02 low-level descriptors [frames, 25] of 16 kHz mono audio (10 ms hop)."""
    s = _smile("eGeMAPSv02", "LowLevelDescriptors")
    return list(s.feature_names), s.process_signal(audio, SR).values.astype(np.float32)


def window_functionals(names: list[str], lld: np.ndarray, start_s: float, end_s: float) -> tuple[list[str], np.ndarray]:
    """The cue functionals of one window, from low-level descriptors computed once for the clip.

    Follows eGeMAPS's definitions (Eyben et al. 2016): F0 (semitones from 27.5 Hz), jitter,
    shimmer and HNR over voiced frames with a non-zero value ("nz"); undefined values are NaN; pitch range = 80th - 20th percentile;
    loudness mean and coefficient of variation; voiced segments per second. Used for
    within-speaker comparisons, where every window is measured the same way.
    """
    a, b = int(round(start_s / _LLD_HOP_S)), int(round(end_s / _LLD_HOP_S))
    x = lld[a:b]
    col = {n: x[:, i] for i, n in enumerate(names)}
    f0 = col["F0semitoneFrom27.5Hz_sma3nz"]
    voiced = f0 > 0
    loud = col["Loudness_sma3"]
    # undefined features are NaN (not 0): they must not pull a speaker's median down
    out = dict.fromkeys(_WINDOW_NAMES, float("nan"))
    out[_RATE] = 0.0
    out[_F0_MEAN] = 0.0
    if voiced.any():
        v = f0[voiced]
        out["F0semitoneFrom27.5Hz_sma3nz_percentile50.0"] = float(np.percentile(v, 50))
        out["F0semitoneFrom27.5Hz_sma3nz_pctlrange0-2"] = float(np.percentile(v, 80) - np.percentile(v, 20))
        out[_F0_MEAN] = float(v.mean())
        for lld_name, func in (("jitterLocal_sma3nz", "jitterLocal_sma3nz_amean"),
                               ("shimmerLocaldB_sma3nz", "shimmerLocaldB_sma3nz_amean"),
                               ("HNRdBACF_sma3nz", "HNRdBACF_sma3nz_amean")):
            vals = col[lld_name][voiced]
            vals = vals[vals != 0]  # "nz": over the non-zero values of that descriptor
            if len(vals):
                out[func] = float(vals.mean())
        starts = np.flatnonzero(np.diff(np.concatenate([[0], voiced.astype(np.int8)])) == 1)
        out[_RATE] = len(starts) / max(end_s - start_s, 1e-6)
    loud = loud[loud > 0]  # frames silenced outside the speech (:func:`mask_non_speech`) are not sound
    if len(loud):
        out["loudness_sma3_amean"] = float(loud.mean())
        if loud.mean() > 0:
            out["loudness_sma3_stddevNorm"] = float(loud.std() / loud.mean())
    return list(_WINDOW_NAMES), np.array([out[k] for k in _WINDOW_NAMES], np.float32)


#: below this loudest-50-ms level the audio is silence whatever the voice detector says (digital
#: silence, dither); between it and :func:`is_silent`'s -50 dBFS it is quiet: speech there is
#: analysed when the voice detector finds enough (a recording made far too low), else silence
SILENT_DBFS = -70.0


def is_silent(audio: np.ndarray, threshold_dbfs: float = -50.0) -> bool:
    """True when the loudest 50 ms frame is below ``threshold_dbfs`` (or the audio is shorter than 0.1 s)."""
    if len(audio) < SR // 10:
        return True
    n = SR // 20
    frames = audio[: len(audio) // n * n].reshape(-1, n)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    return 20 * np.log10(rms.max()) < threshold_dbfs


class AcousticAnalyzer:
    """Voice cues and speech-emotion probabilities for one clip's audio.

    Args:
        head: a trained head (default: the packaged ``audio`` head, trained on RAVDESS).
    """

    modality = "audio"

    def __init__(self, head: Head | None = None, encoder=None, calibration: WindowCalibration | None | bool = True):
        from affectgpt.analyzers.speech_encoder import WhisperEncoder

        self.head = head or load_head(packaged_head_path("audio"))
        self.norms = self.head.card.get("norms", {})
        #: thresholds for speaker-relative window cues (None: every departure of 0.5 SD or more is a cue)
        self.calibration = packaged_window_calibration() if calibration is True else (calibration or None)
        self.encoder = encoder or WhisperEncoder(threads=1)

    def probs(self, audio: np.ndarray) -> np.ndarray:
        """Head probabilities for (already level-normalised) audio."""
        return self.head.predict_proba(self.encoder.embed(audio))[0]

    def _gender(self, names: list[str], feats: np.ndarray) -> str:
        f0 = feats[names.index("F0semitoneFrom27.5Hz_sma3nz_percentile50.0")]
        # 165 Hz is 30.5 semitones above 27.5 Hz: a common male/female boundary
        return "female" if f0 > 30.5 else "male"

    def _cues(self, names, feats, ref: dict, start=None, end=None, band: dict | None = None,
              clipping: str | None = None) -> list[Cue]:
        """Cues of one feature vector against ``ref``. ``band`` (the ``audio`` section with the
        measurement limits: band, clipping, damage, background) drops the cues those limits
        distort and flags the rest (:func:`cue_limits`); ``clipping`` (``"flag"`` or ``"drop"``)
        stands for ``band["clipping"]`` when ``band`` lacks it."""
        info = dict(band or {})
        if clipping and not info.get("clipping"):
            info["clipping"] = clipping
        dropped, flags = cue_limits(info)
        cues = []
        f0_defined = float(feats[names.index(_F0_MEAN)]) > 0 if _F0_MEAN in names else False
        rate_defined = float(feats[names.index(_RATE)]) > 0 if _RATE in names else False
        for cue, (feat, hi, lo, unit) in CUE_FEATURES.items():
            if feat not in ref or (start is None and cue in WINDOW_ONLY and not ref.get("_speaker")):
                continue
            if cue in dropped:
                continue
            if (cue in _NEEDS_VOICING and not f0_defined) or (cue == "speaking_rate" and not rate_defined):
                continue  # undefined without voiced frames: never a cue
            mean, std = ref[feat]
            value = float(feats[names.index(feat)])
            if not np.isfinite(value) or std <= 0:
                continue
            z = (value - mean) / std
            strength = strength_of(z)
            if strength:
                c = Cue("audio", cue, hi if z > 0 else lo, value, unit, float(z), strength, start, end)
                if flags.get(cue):
                    c.flag = "; ".join(flags[cue])
                cues.append(c)
        return cues

    def gate(self, audio: np.ndarray | None, speech: SpeechActivity | None = None,
             problem: str | None = None) -> tuple[str | None, SpeechActivity | None]:
        """Why the audio cannot be analysed (None when it can) and its speech activity."""
        if audio is None:
            return problem or "no audio track", None
        if len(audio) < int(MIN_SPEECH_S * SR):
            return f"too short for vocal analysis ({len(audio) / SR:.2f} s of audio; needs {MIN_SPEECH_S} s of speech)", None
        if is_silent(audio, SILENT_DBFS):
            return "silence (no audible sound)", None
        speech = speech if speech is not None else detect_speech(audio)
        if is_silent(audio) and speech.speech_s < MIN_SPEECH_S:
            return "silence (no audible sound)", speech  # quiet, and no speech in it
        if speech.speech_s == 0:
            return "no speech detected (noise, music or silence)", speech
        if speech.speech_s < MIN_SPEECH_S:
            return (f"too little speech for vocal analysis ({speech.speech_s:.2f} s; needs {MIN_SPEECH_S} s)"), speech
        return None, speech

    def analyze(self, audio: np.ndarray | None, duration_s: float | None = None, *, speech: SpeechActivity | None = None,
                language: str | None = None, native_rate: int = 0, channels: int = 0,
                problem: str | None = None, clipped_share: float | None = None,
                damage: dict | None = None) -> ModalityResult:
        """Analyse 16 kHz mono audio after the speech gate.

        Args:
            audio: samples (None: no audio track).
            speech: voice activity (computed when not given).
            language: the clip's language (``en`` selects population norms; see module doc).
            native_rate, channels: of the source stream (recorded; 8 kHz or less = narrow-band, see
                :func:`audio_band`).
            problem: why ``audio`` is None, when known.
            clipped_share: share of the source's samples at full scale (:attr:`Clip.clipped_share
                <affectgpt.media.clip.Clip.clipped_share>`): recorded, and above
                :data:`CLIPPED_FLAG_SHARE` / :data:`CLIPPED_DROP_SHARE` the cues clipping distorts
                are flagged / dropped (:func:`clipping_mode`).
            damage: the decoder's rejected packets (:meth:`Clip.audio_damage
                <affectgpt.media.clip.Clip.audio_damage>`): recorded; any flags every voice cue,
                a share of :data:`DAMAGED_DROP_SHARE` or more drops them.

        Returns:
            ``present=False`` with the reason for no audio, silence, non-speech or too little
            speech; else probabilities, cues and ``extra`` (reference, band, speech seconds).
        """
        t0 = time.perf_counter()
        why, speech = self.gate(audio, speech, problem)
        info = {"sample_rate": native_rate or None, "channels": channels or None}
        clipping = clipping_mode(clipped_share)
        if clipped_share is not None:
            info["clipped_share"] = round(float(clipped_share), 5)
        if clipping:
            info["clipping"] = clipping
        if damage:
            info["damaged_packets"] = int(damage["damaged_packets"])
            info["damaged_share"] = float(damage["share"])
            info["damage"] = "drop" if damage["share"] >= DAMAGED_DROP_SHARE else "flag"
        if speech is not None:
            info["speech_s"] = round(speech.speech_s, 3)
        if audio is not None and not why:
            info.update(audio_band(audio[_speech_index(speech, len(audio))], native_rate))
            snr = speech_to_background_db(audio, speech)
            info["snr_db"] = None if snr is None else round(snr, 1)
            if background_mode(info["snr_db"]):  # judged on the value reported
                info["background"] = background_mode(info["snr_db"])
            else:  # music under part of the clip: its quiet pauses outvote the rest in the clip's ratio
                spans = background_spans(audio, speech)
                if spans:
                    info["background"] = "flag"
                    info["background_spans"] = spans
        if why:
            return ModalityResult("audio", False, why, extra={"audio": info}, seconds=time.perf_counter() - t0)
        # measure the speech, not the music, noise or silence around it
        audio, kept = speech_only(audio, speech)
        info["measured_s"] = round(len(audio) / SR, 3)
        audio = normalize_level(audio)
        extra = {"audio": info}
        # the cues read the speech alone (the head hears the padded speech, as it was trained)
        on_clock = speech if kept is None else joined_speech(speech, kept)
        cue_audio = mask_non_speech(audio, on_clock)
        if language in NORM_LANGUAGES:
            names, feats = egemaps(cue_audio)
            if cue_audio is not audio:
                # loudness as the population norms measured it: over the whole recording, pauses
                # included (silenced frames would read as a strongly varying loudness)
                full_names, full = egemaps(audio)
                feats = feats.copy()
                for f in ("loudness_sma3_amean", "loudness_sma3_stddevNorm"):
                    feats[names.index(f)] = full[full_names.index(f)]
            info["fundamental_cut"] = fundamental_cut(info.get("band_low_hz"),
                                                      float(feats[names.index(_F0_LOW)]))
            gender = self._gender(names, feats)
            extra["gender"] = gender
            ref = self.norms.get(gender, {})
            cues = self._cues(names, feats, ref, band=info, clipping=clipping)
            extra["reference"] = f"RAVDESS neutral speech ({gender} voices)"
            extra["reference_kind"] = "population"
        else:
            lld_names, lld = egemaps_lld(cue_audio)
            f0 = lld[:, lld_names.index("F0semitoneFrom27.5Hz_sma3nz")]
            voiced = f0[f0 > 0]
            info["fundamental_cut"] = fundamental_cut(info.get("band_low_hz"),
                                                      float(np.percentile(voiced, 20)) if voiced.size else None)
            gender = "female" if voiced.size and float(np.median(voiced)) > 30.5 else "male"
            extra["gender"] = gender
            cues, n_windows = self._speaker_cues(audio, on_clock,
                                                 info, floor=self.norms.get(gender, {}), lld=(lld_names, lld),
                                                 clipping=clipping)
            extra["reference_windows"] = n_windows
            if self.calibration is not None and n_windows >= MIN_BASELINE_WINDOWS:
                extra["departure_thresholds"] = info["departure_thresholds"] = self.clip_thresholds(n_windows)
            if n_windows < MIN_BASELINE_WINDOWS:
                extra["cues_not_measured"] = info["cues_not_measured"] = (
                    f"too little speech to compare the voice with the speaker's own: {n_windows} speech window(s) "
                    f"of 1 s, {MIN_BASELINE_WINDOWS} needed")
            if kept is not None:  # windows of the joined speech -> the clip's own clock
                cues = [_on_clip_clock(c, kept) for c in cues]
            drop_spans = [s for s in info.get("background_spans", []) if s["cues"] == "drop"]
            if drop_spans:  # a window under loud background sound measures nothing
                cues = [c for c in cues if c.start_s is None or not any(
                    s["start_s"] < c.end_s and s["end_s"] > c.start_s for s in drop_spans)]
            extra["reference"] = "the speaker's own voice over the clip"
            extra["reference_kind"] = "speaker"
            extra["reference_note"] = (f"no population norms for language {language!r}" if language
                                       else "language unknown") + ("; cues compare 1 s windows with the speaker's median"
                                                                     + ("; a cue is reported beyond what neutral speech "
                                                                        "reaches in as many windows (departure_thresholds)"
                                                                        if "departure_thresholds" in info else ""))
        band_dropped, _ = band_drops(info)
        if band_dropped:
            info["band_dropped_cues"] = sorted(band_dropped)
            extra["band_note"] = band_note(info)
        dropped, _ = cue_limits(info)
        if info.get("damage") == "drop":
            extra["cues_dropped_reason"] = (f"the audio is damaged: {info['damaged_packets']} packets could not be "
                                            "decoded")
        elif info.get("background") == "drop":
            extra["cues_dropped_reason"] = (f"background sound: the speech is {db_above(info['snr_db'])} the music "
                                            "or noise around it")
        extra["dropped_cues"] = sorted(dropped)
        probs = self.probs(audio)
        head_probs = dict(zip(self.head.classes, map(float, probs)))
        result = ModalityResult("audio", True, probs=merge_to_basic(self.head.classes, probs), head_probs=head_probs,
                                cues=cues, extra=extra)
        result.seconds = time.perf_counter() - t0
        return result

    def _speaker_cues(self, audio: np.ndarray, speech: SpeechActivity | None, band: dict | None,
                      window_s: float = 1.0, hop_s: float = SPEAKER_HOP_S, floor: dict | None = None,
                      lld: tuple | None = None, clipping: str | None = None) -> tuple[list[Cue], int]:
        """Cues of the 1 s windows that depart most from the speaker's median (one per cue kind),
        and the number of speech windows at 0.5 s spacing (below :data:`MIN_BASELINE_WINDOWS`
        nothing is compared: no cue). With a calibration, a cue is kept only when its departure
        exceeds what neutral speech reaches in as many windows
        (:meth:`WindowCalibration.clip_threshold`).

        The windows slide by ``hop_s`` (0.1 s) from the first speech onset: the most departing
        window then barely depends on where the grid falls (with a 0.5 s hop, the voice detector
        placing the onset 0.2 s later after a different lead-in moved a pitch-level cue from +5
        to +8 SD). Each window needs 0.4 s of speech.
        """
        t0 = speech.segments[0][0] if speech is not None and speech.segments else 0.0
        n = max(0, int((len(audio) / SR - t0 - window_s) / hop_s + 1e-6) + 1)
        every = max(1, int(round(REFERENCE_HOP_S / hop_s)))
        grid = [(i, (t0 + i * hop_s, t0 + i * hop_s + window_s)) for i in range(n)]
        if speech is not None:
            grid = [(i, (a, b)) for i, (a, b) in grid if speech.speech_in(a, b) >= 0.4 * window_s]
        per = self.window_cues(audio, [ab for _, ab in grid], normalise=False, band=band, floor=floor, lld=lld,
                               clipping=clipping, calibrated=False)
        n_speech = sum(p is not None for (i, _), p in zip(grid, per) if i % every == 0)
        if n_speech < MIN_BASELINE_WINDOWS:
            return [], n_speech
        best: dict[str, Cue] = {}
        for cues in per:
            for c in cues or []:
                if c.name == "speaking_rate":
                    continue  # voiced segments per second are not measurable in 1 s
                if c.name not in best or abs(c.z) > abs(best[c.name].z):
                    best[c.name] = c
        cal = self.calibration
        kept = [c for c in best.values() if cal is None or abs(c.z) >= cal.clip_threshold(c.name, n_speech)]
        return sorted(kept, key=lambda c: -abs(c.z)), n_speech

    def clip_thresholds(self, n_windows: int) -> dict[str, float]:
        """``{cue: smallest |z| reported}`` by the speaker path's clip summary for ``n_windows``
        speech windows (empty without a calibration)."""
        cal = self.calibration
        return {} if cal is None else {c: round(cal.clip_threshold(c, n_windows), 2) for c in cal.clip}

    def window_cues(self, audio: np.ndarray, bounds: list[tuple[float, float]], normalise: bool = True,
                    band: dict | None = None, speech: SpeechActivity | None = None,
                    floor: dict | None = None, lld: tuple | None = None,
                    clipping: str | None = None, calibrated: bool = True,
                    bands: list[dict] | None = None) -> list[list[Cue] | None]:
        """Voice cues per time window, relative to the clip's own median over its windows.

        The spread is the robust SD (1.4826 x median absolute deviation) of the windows, at
        least 5% of the median and, when ``floor`` gives population norms ``{feature: (mean,
        sd)}``, at least the population SD: a handful of windows cannot make an ordinary
        change look extreme. With ``calibrated`` and a calibration, a window's cue is kept only
        beyond what single windows of neutral speech reach
        (:meth:`WindowCalibration.window_threshold`).

        ``band`` holds the clip's measurement limits (:func:`cue_limits`); ``bands``, one such
        section per window (:func:`window_limits`), replaces it window by window.

        Returns one list per window (None for a window without enough speech); empty lists
        everywhere when fewer than 3 windows have speech (no baseline to compare with).
        """
        if bands is not None and len(bands) != len(bounds):
            raise ValueError(f"{len(bands)} measurement-limit sections for {len(bounds)} windows")
        per: list[np.ndarray | None] = []
        names = None
        audio, lld = timeline_lld(audio, speech, normalise, lld)
        for a, b in bounds:
            seg = audio[int(a * SR):int(b * SR)]
            enough = speech.speech_in(a, b) >= 0.25 if speech is not None else True
            if len(seg) < SR // 2 or is_silent(seg) or not enough or lld is None:
                per.append(None)
                continue
            names, f = window_functionals(lld[0], lld[1], a, b)
            per.append(f)
        # the baseline leaves out windows whose sound is not measurable (background sound
        # dropping their cues): music under part of a clip must not shift the rest's median
        valid = [p for i, p in enumerate(per)
                 if p is not None and (bands is None or bands[i].get("background") != "drop")]
        if len(valid) < MIN_BASELINE_WINDOWS:
            return [None if p is None else [] for p in per]
        arr = np.array(valid, dtype=np.float64)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: the feature is never defined
                med = np.nanmedian(arr, axis=0)
                mad = np.nanmedian(np.abs(arr - med), axis=0) * 1.4826
        # a floor on the spread: a feature that barely moves must not make tiny changes "strong"
        mad = np.maximum(mad, 0.05 * np.abs(med) + 1e-6)
        ref = {}
        for f, *_ in CUE_FEATURES.values():
            k = names.index(f)
            if not np.isfinite(med[k]) or np.sum(np.isfinite(arr[:, k])) < 3:
                continue  # fewer than 3 windows define it: no baseline
            spread = float(mad[k])
            if floor and f in floor:
                spread = max(spread, 1.0 * float(floor[f][1]))
            ref[f] = (float(med[k]), spread)
        ref["_speaker"] = True
        cal = self.calibration if calibrated else None
        return [None if p is None else
                [c for c in self._cues(names, p, ref, a, b, band=band if bands is None else bands[i], clipping=clipping)
                 if cal is None or abs(c.z) >= cal.window_threshold(c.name, b - a)]
                for i, (p, (a, b)) in enumerate(zip(per, bounds))]


def timeline_lld(audio: np.ndarray, speech: SpeechActivity | None, normalise: bool = True,
                 lld: tuple | None = None) -> tuple[np.ndarray, tuple | None]:
    """The audio as :meth:`AcousticAnalyzer.window_cues` reads it (level-normalised with one gain
    for the whole clip, which keeps windows comparable) and its eGeMAPS low-level descriptors over
    the speech (computed once for the clip, unless ``lld`` is given; None for silence)."""
    if normalise and not is_silent(audio, SILENT_DBFS):
        audio = normalize_level(audio)
    if lld is None and not is_silent(audio):
        lld = egemaps_lld(mask_non_speech(audio, speech))
    return audio, lld


def speech_only(audio: np.ndarray, speech: SpeechActivity | None, pad_s: float = 1.0,
                keep_whole: float = 0.6) -> tuple[np.ndarray, list | None]:
    """The speech of a clip: its speech segments padded by ``pad_s`` and joined.

    When they cover at least ``keep_whole`` of the clip the audio is returned whole (the heads
    were trained on whole utterances with their short pauses). Returns ``(audio, kept)`` with
    ``kept`` the ``(start, end)`` spans joined, or None when the audio is whole.
    """
    if speech is None or not speech.segments:
        return audio, None
    n = len(audio)
    spans: list[list[int]] = []
    for a, b in speech.segments:
        lo, hi = max(0, int((a - pad_s) * SR)), min(n, int((b + pad_s) * SR))
        if spans and lo <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], hi)
        else:
            spans.append([lo, hi])
    if sum(b - a for a, b in spans) >= keep_whole * n:
        return audio, None
    return np.concatenate([audio[a:b] for a, b in spans]), [(a / SR, b / SR) for a, b in spans]


#: speech segments are widened by this (s) before the sound outside them is silenced for the cues
CUE_SPEECH_PAD_S = 0.1


def mask_non_speech(audio: np.ndarray, speech: SpeechActivity | None, pad_s: float = CUE_SPEECH_PAD_S) -> np.ndarray:
    """``audio`` with everything outside the speech segments (widened by ``pad_s``) set to zero:
    the voice cues are measured on the speech alone, not on music, noise or another sound next
    to it (which openSMILE would track as pitch and voice quality). Unchanged when ``speech``
    has no segment."""
    if speech is None or not speech.segments:
        return audio
    keep = np.zeros(len(audio), bool)
    for a, b in speech.segments:
        keep[max(0, int((a - pad_s) * SR)):min(len(audio), int((b + pad_s) * SR))] = True
    if keep.all():
        return audio
    out = audio.copy()
    out[~keep] = 0.0
    return out


def joined_to_clip_time(t: float, kept: list[tuple[float, float]], end: bool = False) -> float:
    """A time in the joined speech of :func:`speech_only` (s) -> the same instant on the clip's
    clock (s), given the ``kept`` spans. ``end``: a time exactly at a join belongs to the span
    before it (the end of a window), not to the next one."""
    offset = 0.0
    for a, b in kept:
        length = b - a
        if t < offset + length or (end and t <= offset + length):
            return round(a + max(0.0, t - offset), 3)
        offset += length
    return round(kept[-1][1], 3) if kept else t


def joined_speech(speech: SpeechActivity, kept: list[tuple[float, float]]) -> SpeechActivity:
    """``speech`` (clip clock) moved onto the clock of the joined speech of :func:`speech_only`, so
    that windows of the joined audio are still checked for speech (the padding around each segment
    is not speech)."""
    out, offset = [], 0.0
    for lo, hi in kept:
        for a, b in speech.segments:
            a2, b2 = max(a, lo), min(b, hi)
            if b2 > a2:
                out.append((offset + a2 - lo, offset + b2 - lo))
        offset += hi - lo
    return SpeechActivity(tuple(out), offset)


def _on_clip_clock(cue, kept: list[tuple[float, float]]):
    if cue.start_s is None:
        return cue
    import dataclasses

    start = joined_to_clip_time(cue.start_s, kept)
    end = None if cue.end_s is None else joined_to_clip_time(cue.end_s, kept, end=True)
    return dataclasses.replace(cue, start_s=start, end_s=end)


def _speech_index(speech: SpeechActivity | None, n: int) -> np.ndarray:
    """Sample mask of the speech segments (all samples when there are none)."""
    mask = np.zeros(n, bool)
    for a, b in (speech.segments if speech else ()):
        mask[int(a * SR):int(b * SR)] = True
    return mask if mask.any() else np.ones(n, bool)
