"""Raw media -> model samples: the frozen encoders of a recipe run over video/audio files.

``mini`` uses :class:`~affectgpt.recipes.mini_data.MiniFeatures` (Whisper states per 2 s, face
blendshapes + FER probabilities per frame); ``paper`` / ``paper-qformer`` use
:class:`TowerFeatures` (face crops through a HF vision tower, 2 s clips through a HF speech
encoder), with their folders given in the recipe's ``encoders`` section. Tokens are cached on
disk, keyed by the file's content hash and the extractor's signature, so each file is encoded
once. A file without an audio stream, without a video stream or without a visible face gets
that modality masked (and says so), never an error.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch

from affectgpt.bench.io import sha256_file
from affectgpt.errors import InputError
from affectgpt.model.cache import FeatureCache
from affectgpt.model.modeling_affectgpt import Sample
from affectgpt.pipeline.base import MapStep

__all__ = ["TowerFeatures", "MediaSample", "TokenStep", "token_extractor", "media_samples"]


class TowerFeatures:
    """Paper-style tokens: ``frames`` face crops (224 px, aligned, speaker track of the media
    front end) through :class:`~affectgpt.model.encoders.VisionTower`, and 8 x 2 s audio clips
    through :class:`~affectgpt.model.encoders.SpeechTower`."""

    def __init__(self, visual_path: str, audio_path: str, frames: int = 8, device: str = "cpu",
                 dtype: str = "float32"):
        self.paths = {"visual": str(visual_path), "audio": str(audio_path)}
        self.frames, self.device, self.dtype = frames, device, dtype
        self._vision = self._speech = self._tracker = None
        self.signature = {"visual": _model_id(visual_path), "audio": _model_id(audio_path), "frames": frames,
                          "crop": 224, "audio_clips": "8x2s", "dtype": dtype}

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.close()
            self._tracker = None

    def audio(self, clip) -> torch.Tensor | None:
        """Speech-tower tokens of a :class:`~affectgpt.media.clip.Clip` (or a path)."""
        from affectgpt.media.clip import Clip
        from affectgpt.model.encoders import SpeechTower

        clip = clip if isinstance(clip, Clip) else Clip.open(clip)
        self._speech = self._speech or SpeechTower(self.paths["audio"], device=self.device, dtype=self.dtype)
        audio = clip.audio
        return self._speech.encode(audio) if audio is not None and len(audio) else None

    def visual(self, clip) -> torch.Tensor | None:
        """Vision-tower tokens of the speaking face's aligned 224 px crops (the one face front end)."""
        from affectgpt.media.clip import Clip
        from affectgpt.media.faces import FaceFrontEnd
        from affectgpt.model.encoders import VisionTower

        clip = clip if isinstance(clip, Clip) else Clip.open(clip)
        self._vision = self._vision or VisionTower(self.paths["visual"], device=self.device, dtype=self.dtype)
        self._tracker = self._tracker or FaceFrontEnd()
        faces = self._tracker.analyze(clip, clip.uniform_times(self.frames), clip.speech())
        if faces.speaker is None:
            return None
        return self._vision.encode(faces.crops(224))


def _model_id(path) -> str:
    """Name + hash of a model folder's config (identifies the encoder in cache signatures)."""
    cfg = Path(path) / "config.json"
    digest = hashlib.sha256(cfg.read_bytes()).hexdigest()[:12] if cfg.is_file() else "?"
    return f"{Path(path).name}:{digest}"


def token_extractor(cfg: dict):
    """The frozen feature extractor of a recipe (``mini`` or one with an ``encoders`` section)."""
    if cfg.get("recipe") == "mini":
        from affectgpt.recipes.mini_data import MiniFeatures

        return MiniFeatures()
    enc = cfg.get("encoders") or {}
    if not enc.get("visual_path") or not enc.get("audio_path"):
        raise ValueError("raw media needs encoders.visual_path (e.g. clip-vit-large-patch14) and "
                         "encoders.audio_path (e.g. chinese-hubert-large) in the recipe or via --set")
    return TowerFeatures(enc["visual_path"], enc["audio_path"], frames=enc.get("frames", 8),
                         device=enc.get("device", "cpu"), dtype=enc.get("dtype", "float32"))


@dataclass
class MediaSample:
    """One media file ready for the model, or the reason it is not."""

    name: str
    path: str
    sample: Sample | None = None
    missing: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def _tokens(extractor, clip) -> tuple[dict, dict[str, str]]:
    """Tokens of one opened clip (decoded once, shared by both modalities)."""
    info = clip.info
    out, missing = {}, {}
    if info.has_audio:
        out["audio"] = extractor.audio(clip)
        if out["audio"] is None:
            missing["audio"] = clip.audio_problem or "silent or empty audio"
    else:
        missing["audio"] = "no audio track"
    if info.has_video:
        try:
            out["visual"] = extractor.visual(clip)
        except InputError as exc:
            out["visual"], missing["video"] = None, exc.problem
        else:
            if out["visual"] is None:
                missing["video"] = "no face found"
    else:
        missing["video"] = "no video track"
    return out, missing


class TokenStep(MapStep):
    """Raw media -> the recipe's frozen-encoder tokens, stored in a :class:`FeatureCache` keyed by
    the file's content hash (encoded once, ever), plus the subtitle or offline ASR transcript.

    Output record: ``{"id", "path", "name", "tokens_file", "missing", "text"}``. ``record["clip"]``
    may hold an opened :class:`~affectgpt.media.clip.Clip` (in-process runs only) to reuse its
    decoded audio and frames."""

    name = "tokens"

    def __init__(self, cfg: dict, cache_dir: str | Path, subtitles: dict[str, str] | None = None,
                 asr: bool = True, extractor=None):
        self.cfg, self.cache_dir, self.subtitles, self.asr = cfg, str(cache_dir), dict(subtitles or {}), asr
        self._extractor, self._own = extractor, extractor is None
        self._transcriber = self._cache = None

    def __getstate__(self) -> dict:  # workers build their own models
        state = dict(self.__dict__)
        state.update(_extractor=None, _own=True, _transcriber=None, _cache=None)
        return state

    def settings(self) -> dict:
        return {"recipe": self.cfg.get("recipe"), "encoders": self.cfg.get("encoders"), "asr": self.asr}

    def setup(self) -> None:
        if self._extractor is None:
            self._extractor, self._own = token_extractor(self.cfg), True
        self._cache = FeatureCache(self.cache_dir, self._extractor.signature)

    def close(self) -> None:
        if self._own and self._extractor is not None:
            self._extractor.close()
            self._extractor = None

    def process(self, record: dict) -> dict:
        from affectgpt.media.clip import Clip

        clip = record.get("clip")
        path = clip.path if clip is not None else Path(record["path"])
        key = sha256_file(path)
        if key in self._cache:
            missing = self._cache.meta(key).get("missing", {})
            has_audio = "audio" in self._cache.get(key)
        else:
            clip = clip or Clip.open(path)
            tensors, missing = _tokens(self._extractor, clip)
            self._cache.put(key, tensors, meta={"missing": missing, "file": path.name})
            has_audio = tensors.get("audio") is not None
        text = self.subtitles.get(path.stem)
        if text is None and self.asr and has_audio:
            from affectgpt.media.asr import Transcriber

            clip = clip or Clip.open(path)
            self._transcriber = self._transcriber or Transcriber()
            text = self._transcriber.transcribe(clip.audio).text
        return {"id": record["id"], "path": str(path), "name": path.stem, "tokens_file": str(self._cache.file_of(key)),
                "missing": missing, "text": text or ""}


def media_samples(cfg: dict, paths: list, cache_dir: str | Path, subtitles: dict[str, str] | None = None,
                  asr: bool = True, progress: bool = True, extractor=None, executor=None) -> list[MediaSample]:
    """Encode ``paths`` (cached) and attach subtitles: ``subtitles[stem]`` when given, else offline
    ASR (when ``asr``), else none. One :mod:`affectgpt.pipeline` run of :class:`TokenStep`: an entry
    that is not readable media, or fails, is recorded with its error and the rest go on.

    An item of ``paths`` may be an opened :class:`~affectgpt.media.clip.Clip` (shared with
    ``describe``; in-process only); each file is opened and decoded once for both modalities and
    the ASR. ``extractor`` (from :func:`token_extractor`) is reused and left open when given;
    otherwise one is built per worker and closed at its end. ``executor``: a local (default, in
    this process) or Ray executor from :func:`affectgpt.pipeline.make_executor`.
    """
    from safetensors.torch import load_file

    from affectgpt.media.clip import Clip
    from affectgpt.pipeline import media_records, run_map

    clips = [p for p in paths if isinstance(p, Clip)]
    if clips and len(clips) != len(paths):
        raise ValueError("media_samples: pass either paths or opened clips, not both")
    if clips:
        records = [{"id": str(c.path), "path": str(c.path), "clip": c} for c in clips]
    else:
        records = media_records([Path(p) for p in paths])
    step = TokenStep(cfg, cache_dir, subtitles, asr, extractor=extractor)
    res = run_map(step, records, executor, progress=progress, desc="encode")
    out = []
    for rec, given in zip(res.records, records):
        path = Path(given["path"])
        item = MediaSample(path.stem, str(path))
        if "error" in rec:
            item.error = rec["error"]
        else:
            tensors = load_file(rec["tokens_file"])
            item.sample = Sample(tensors.get("visual"), tensors.get("audio"), rec["text"])
            item.missing = rec["missing"]
        out.append(item)
    return out
