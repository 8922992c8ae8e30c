"""Acoustic cues (openSMILE eGeMAPSv02) and the speech-emotion head (Whisper encoder embedding).

Cues are measured against a reference: the packaged head's card holds means and standard
deviations of each eGeMAPS descriptor over neutral/calm RAVDESS training speech, by gender
(chosen from the clip's median pitch). Over time windows, the clip's own median is the
baseline, so a timeline says where the speaker departs from themself.
"""

from __future__ import annotations

import time
from functools import lru_cache

import numpy as np

from affectgpt.analyzers.base import Cue, ModalityResult, merge_to_basic, strength_of
from affectgpt.analyzers.heads import Head, load_head, packaged_head_path
from affectgpt.errors import AffectGPTError

__all__ = ["AcousticAnalyzer", "egemaps", "CUE_FEATURES", "WINDOW_ONLY", "is_silent", "normalize_level"]

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
TARGET_DBFS = -26.0


def normalize_level(audio: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """Scale audio so its active part (loudest half of 50 ms frames) has ``target_dbfs`` RMS.

    Recording gain differs between files; features and the head see level-normalised audio
    (training and inference alike), so absolute loudness is never mistaken for emotion.
    """
    n = SR // 20
    if len(audio) < n:
        return audio
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

    def __init__(self, head: Head | None = None, encoder=None):
        from affectgpt.analyzers.speech_encoder import WhisperEncoder

        self.head = head or load_head(packaged_head_path("audio"))
        self.norms = self.head.card.get("norms", {})
        self.encoder = encoder or WhisperEncoder()

    def probs(self, audio: np.ndarray) -> np.ndarray:
        """Head probabilities for (already level-normalised) audio."""
        return self.head.predict_proba(self.encoder.embed(audio))[0]

    def _gender(self, names: list[str], feats: np.ndarray) -> str:
        f0 = feats[names.index("F0semitoneFrom27.5Hz_sma3nz_percentile50.0")]
        # 165 Hz is 30.5 semitones above 27.5 Hz: a common male/female boundary
        return "female" if f0 > 30.5 else "male"

    def _cues(self, names, feats, ref: dict, start=None, end=None) -> list[Cue]:
        cues = []
        for cue, (feat, hi, lo, unit) in CUE_FEATURES.items():
            if feat not in ref or (start is None and cue in WINDOW_ONLY):
                continue
            mean, std = ref[feat]
            value = float(feats[names.index(feat)])
            if not np.isfinite(value) or std <= 0:
                continue
            z = (value - mean) / std
            strength = strength_of(z)
            if strength:
                cues.append(Cue("audio", cue, hi if z > 0 else lo, value, unit, float(z), strength, start, end))
        return cues

    def analyze(self, audio: np.ndarray | None, duration_s: float | None = None) -> ModalityResult:
        """Analyse 16 kHz mono audio; a missing or silent track gives ``present=False`` with the reason."""
        t0 = time.perf_counter()
        if audio is None:
            return ModalityResult("audio", False, "no audio track")
        if is_silent(audio):
            return ModalityResult("audio", False, "silence (no audible speech)", seconds=time.perf_counter() - t0)
        audio = normalize_level(audio)
        names, feats = egemaps(audio)
        gender = self._gender(names, feats)
        ref = self.norms.get(gender, {})
        cues = self._cues(names, feats, ref)
        probs = self.probs(audio)
        head_probs = dict(zip(self.head.classes, map(float, probs)))
        result = ModalityResult("audio", True, probs=merge_to_basic(self.head.classes, probs), head_probs=head_probs,
                                cues=cues, extra={"reference": f"RAVDESS neutral speech ({gender} voices)"})
        result.seconds = time.perf_counter() - t0
        return result

    def window_cues(self, audio: np.ndarray, bounds: list[tuple[float, float]]) -> list[list[Cue] | None]:
        """Voice cues per time window, relative to the clip's own median over its windows.

        Returns one list per window (None for a silent or too-short window); empty lists
        everywhere when fewer than 3 windows have speech (no baseline to compare with).
        """
        per: list[np.ndarray | None] = []
        names = None
        if not is_silent(audio):
            audio = normalize_level(audio)  # one gain for the whole clip keeps windows comparable
        for a, b in bounds:
            seg = audio[int(a * SR):int(b * SR)]
            if len(seg) < SR // 2 or is_silent(seg):
                per.append(None)
                continue
            names, f = egemaps(seg)
            per.append(f)
        valid = [p for p in per if p is not None]
        if len(valid) < 3:
            return [None if p is None else [] for p in per]
        arr = np.array(valid)
        med = np.median(arr, axis=0)
        mad = np.median(np.abs(arr - med), axis=0) * 1.4826 + 1e-6
        ref = {f: (float(med[names.index(f)]), float(mad[names.index(f)])) for f, *_ in CUE_FEATURES.values()}
        return [None if p is None else self._cues(names, p, ref, a, b) for p, (a, b) in zip(per, bounds)]
