"""Common types of the cue analyzers: measured cues and per-modality results."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["BASIC_CLASSES", "Cue", "ModalityResult", "strength_of", "merge_to_basic"]

#: The basic-emotion space shared by every head and the fusion (RAVDESS "calm" folds into neutral).
BASIC_CLASSES = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")

_ALIASES = {
    "calm": "neutral", "joy": "happy", "happiness": "happy", "sadness": "sad", "anger": "angry",
    "fear": "fearful", "disgust": "disgusted", "surprise": "surprised", "neutral": "neutral",
    "happy": "happy", "sad": "sad", "angry": "angry", "fearful": "fearful", "disgusted": "disgusted",
    "surprised": "surprised", "contempt": "disgusted", "worried": "fearful",
}


def merge_to_basic(classes, probs) -> dict[str, float]:
    """Sum a head's class probabilities into :data:`BASIC_CLASSES` (unknown classes are dropped)."""
    out = dict.fromkeys(BASIC_CLASSES, 0.0)
    for c, p in zip(classes, probs):
        key = _ALIASES.get(str(c).lower())
        if key:
            out[key] += float(p)
    total = sum(out.values())
    return {k: v / total for k, v in out.items()} if total > 0 else out


def strength_of(z: float) -> str | None:
    """Verbal strength of a deviation in standard deviations (None below 0.5 SD)."""
    a = abs(z)
    if a >= 2.0:
        return "strong"
    if a >= 1.0:
        return "moderate"
    if a >= 0.5:
        return "slight"
    return None


@dataclass
class Cue:
    """One measured cue.

    Attributes:
        modality: ``audio``, ``video`` or ``text``.
        name: machine name (``pitch_level``, ``smile`` ...).
        text: readable phrase used by the description writer ("a raised pitch").
        value: the measurement, in ``unit``.
        z: deviation from the baseline in standard deviations (None when not applicable).
        strength: ``slight``, ``moderate`` or ``strong``.
        start_s, end_s: when it was observed (None: the whole clip).
        flag: a caveat on the measurement (e.g. ``narrow-band audio``), or None.
    """

    modality: str
    name: str
    text: str
    value: float
    unit: str = ""
    z: float | None = None
    strength: str = "moderate"
    start_s: float | None = None
    end_s: float | None = None
    flag: str | None = None

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()
                if not (k == "flag" and v is None)}


@dataclass
class ModalityResult:
    """What one analyzer found: presence, class probabilities over :data:`BASIC_CLASSES`, cues."""

    modality: str
    present: bool
    reason: str | None = None
    probs: dict[str, float] | None = None
    head_probs: dict[str, float] | None = None
    cues: list[Cue] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        d = {"present": self.present, "reason": self.reason,
             "probs": None if self.probs is None else {k: round(v, 4) for k, v in self.probs.items()},
             "cues": [c.to_dict() for c in self.cues]}
        if self.head_probs is not None:
            d["head_probs"] = {k: round(v, 4) for k, v in self.head_probs.items()}
        d.update(self.extra)
        return d
