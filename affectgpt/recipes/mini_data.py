"""Training and evaluation samples for the ``mini`` model, built from the data directory through
the media front end (features cached on disk, so they are computed once).

* RAVDESS speech (audio tokens + transcript as subtitle; no video), label answers;
* MELD utterances (subtitle only: both media modalities missing), label answers;
* CREMA-D audio-visual clips (visual tokens from the face front end + audio tokens).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from affectgpt.model.cache import FeatureCache
from affectgpt.model.modeling_affectgpt import Sample, label_target

__all__ = ["LABEL_WORDS", "MiniFeatures", "mini_samples"]

#: dataset label -> the word used in answers (and scored on the emotion wheels)
LABEL_WORDS = {"anger": "angry", "angry": "angry", "joy": "happy", "happy": "happy", "sadness": "sad", "sad": "sad",
               "fear": "fearful", "fearful": "fearful", "disgust": "disgusted", "surprise": "surprised",
               "surprised": "surprised", "neutral": "neutral", "calm": "calm", "ANG": "angry", "DIS": "disgusted",
               "FEA": "fearful", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
CLIP_S = 2.0
MAX_CLIPS = 8


class MiniFeatures:
    """Audio tokens (Whisper encoder states averaged per 2 s clip, [T <= 8, 384]) and visual
    tokens (52 blendshapes + 7 FER probabilities per sampled frame, [8, 59])."""

    signature = {"audio": "whisper-tiny.en-encoder-mean-per-2s", "visual": "blendshapes52+fer7", "frames": 8,
                 "level_dbfs": -26}

    def __init__(self):
        self._enc = None
        self._visual = None

    def close(self) -> None:
        if self._visual is not None:
            self._visual[0].close()
            self._visual = None

    def audio(self, clip) -> torch.Tensor | None:
        """Audio tokens of a :class:`~affectgpt.media.clip.Clip` or a file path."""
        from affectgpt.analyzers.acoustic import is_silent, normalize_level
        from affectgpt.analyzers.speech_encoder import WhisperEncoder
        from affectgpt.media.clip import Clip

        self._enc = self._enc or WhisperEncoder()
        clip = clip if isinstance(clip, Clip) else Clip.open(clip)
        audio = clip.audio
        if audio is None or is_silent(audio):
            return None
        states = self._enc.states(normalize_level(audio))  # 50 states per second
        per = int(CLIP_S * 50)
        clips = [states[i:i + per].mean(0) for i in range(0, len(states), per) if len(states[i:i + per]) >= per // 4]
        if len(clips) > MAX_CLIPS:
            clips = [clips[i] for i in np.linspace(0, len(clips) - 1, MAX_CLIPS).astype(int)]
        return torch.tensor(np.array(clips), dtype=torch.float32) if clips else None

    def visual(self, clip) -> torch.Tensor | None:
        """Visual tokens (blendshapes + FER) of the speaking face over 8 frames (the one face front end)."""
        from affectgpt.analyzers.visual import FerModel
        from affectgpt.media.clip import Clip
        from affectgpt.media.faces import FaceFrontEnd

        if self._visual is None:
            self._visual = (FaceFrontEnd(), FerModel())
        front, fer = self._visual
        clip = clip if isinstance(clip, Clip) else Clip.open(clip)
        faces = front.analyze(clip, clip.uniform_times(8), clip.speech())
        if faces.speaker is None:
            return None
        obs = faces.observations()
        names = sorted(obs[0].blendshapes)
        probs = fer.predict(faces.crops(96))
        rows = [np.concatenate([[o.blendshapes.get(n, 0.0) for n in names], p]) for o, p in zip(obs, probs)]
        return torch.tensor(np.array(rows), dtype=torch.float32)


def _read(path: Path) -> list[dict]:
    return list(csv.DictReader(open(path, encoding="utf-8")))


def mini_samples(data_dir: str | Path, cache_dir: str | Path, split: str, meld_limit: int | None = None,
                 seed: int = 0, progress: bool = True) -> list[tuple[str, Sample, str]]:
    """(id, sample, gold label word) for ``split`` = ``train`` or ``test`` (RAVDESS: actors 01-20 for
    train, 21-24 for test; MELD: its train/test splits, ``meld_limit`` random utterances at most)."""
    root = Path(data_dir)
    cache = FeatureCache(cache_dir, MiniFeatures.signature)
    feats = MiniFeatures()
    out: list[tuple[str, Sample, str]] = []
    rav = [r for r in _read(root / "ravdess/manifest.csv")
           if (r["split"] == "test") == (split == "test")]
    media = [(f"ravdess/{r['file']}", root / "ravdess" / r["file"], r["transcript"], r["emotion"], False) for r in rav]
    if split == "train":
        for clip in sorted((root / "crema_d/video_mp4").glob("*.mp4")):
            media.append((f"crema_d/{clip.name}", clip, "", clip.stem.split("_")[2], True))

    def encode(key):
        from affectgpt.media.clip import Clip

        _, path, _, _, has_video = next(m for m in media if m[0] == key)
        clip = Clip.open(path)  # decoded once for both modalities
        return {"audio": feats.audio(clip), "visual": feats.visual(clip) if has_video else None}

    cache.fill([m[0] for m in media], encode, progress=progress)
    for key, _, text, emo, _ in media:
        t = cache.get(key)
        word = LABEL_WORDS[emo]
        out.append((key, Sample(t.get("visual"), t.get("audio"), text, target=label_target([word])), word))
    meld = [r for r in _read(root / "meld/manifest.csv") if r["split"] == split]
    if meld_limit is not None and len(meld) > meld_limit:
        idx = np.random.default_rng(seed).choice(len(meld), meld_limit, replace=False)
        meld = [meld[i] for i in sorted(idx)]
    for r in meld:
        word = LABEL_WORDS[r["emotion"]]
        key = f"meld/{r['split']}/{r['dialogue_id']}/{r['utterance_id']}"
        out.append((key, Sample(None, None, r["utterance"], target=label_target([word])), word))
    return out
