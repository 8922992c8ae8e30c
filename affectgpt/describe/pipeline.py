"""``describe``: raw media in, an evidence-based emotion description out (offline, CPU).

Steps: probe -> decode audio (16 kHz mono) and sample frames -> subtitle or offline ASR ->
acoustic, visual and lexical analyzers -> calibrated late fusion -> open-vocabulary labels,
sentiment, description -> optional timeline. Every missing modality is reported with its
reason and the others carry on.
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from affectgpt import __version__
from affectgpt.analyzers.base import ModalityResult, merge_to_basic
from affectgpt.describe.fusion import fuse, weight_from_card
from affectgpt.describe.writer import arousal_of, open_labels, sentiment_of, write_description
from affectgpt.errors import AffectGPTError, InputError

__all__ = ["DescribeConfig", "Describer", "SCHEMA"]

SCHEMA = "affectgpt.describe/1.0"
SR = 16_000


@dataclass
class DescribeConfig:
    """Settings of the describe pipeline.

    Attributes:
        frames: frames sampled uniformly for the clip-level visual analysis.
        timeline: compute per-window labels and cues.
        window_s: timeline window length in seconds.
        max_timeline_windows: longer clips get proportionally longer windows.
        asr: transcribe speech when no subtitle is given.
        language: ASR language (the packaged model is English-only).
        max_audio_s: analyse at most this much audio (memory bound on very long files).
        data_dir: data directory; with the wheel tables there, labels are kept to the benchmark vocabulary.
        weights: fusion weights per modality (default: from the heads' validation accuracy).
    """

    frames: int = 8
    timeline: bool = False
    window_s: float = 2.0
    max_timeline_windows: int = 120
    asr: bool = True
    language: str = "en"
    max_audio_s: float = 900.0
    data_dir: str | None = None
    weights: dict | None = None


def _versions() -> dict:
    import importlib.metadata as md

    out = {"affectgpt": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "av", "opensmile", "mediapipe", "faster-whisper", "transformers", "torch"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


class Describer:
    """Loads the analyzers once and describes many clips (each ``describe`` call is independent)."""

    def __init__(self, config: DescribeConfig | None = None):
        self.config = config or DescribeConfig()
        t0 = time.perf_counter()
        from affectgpt.analyzers.acoustic import AcousticAnalyzer
        from affectgpt.analyzers.lexical import LexicalAnalyzer
        from affectgpt.analyzers.visual import VisualAnalyzer

        self.acoustic = AcousticAnalyzer()
        self.lexical = LexicalAnalyzer()
        self.visual = VisualAnalyzer()
        self._asr = None
        self.known_forms = None
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

    def close(self) -> None:
        self.visual.close()

    @property
    def asr(self):
        if self._asr is None:
            from affectgpt.media.asr import Transcriber

            self._asr = Transcriber(language=self.config.language)
        return self._asr

    # -- one clip -------------------------------------------------------------------------
    def describe(self, path: str | Path, subtitle: str | None = None) -> dict:
        """Describe one media file; ``subtitle`` is text or a subtitle file (.srt/.vtt/.txt/.csv)."""
        from affectgpt.media.audio import load_audio
        from affectgpt.media.probe import probe
        from affectgpt.media.subtitles import Transcript, read_subtitles
        from affectgpt.media.video import sample_frames

        cfg = self.config
        timings: dict[str, float] = {}
        t_all = time.perf_counter()
        path = Path(path)
        info = probe(path)
        # decode
        t = time.perf_counter()
        audio = None
        if info.has_audio:
            audio = load_audio(path, max_duration_s=cfg.max_audio_s)
            if len(audio) == 0:
                audio = None
        frames = times = None
        frame_error = None
        if info.has_video:
            try:
                sample = sample_frames(path, cfg.frames)
                frames, times = sample.frames, sample.times_s
            except InputError as exc:
                frame_error = exc.problem
        timings["decode"] = time.perf_counter() - t
        duration = info.duration_s or (len(audio) / SR if audio is not None else 0.0)
        # text
        t = time.perf_counter()
        if subtitle:
            transcript = read_subtitles(subtitle, name=path.stem)
        elif cfg.asr and audio is not None:
            transcript = self.asr.transcribe(audio)
        else:
            transcript = Transcript([], "none")
        timings["transcribe"] = time.perf_counter() - t
        # analyzers
        energy = _energy_at(audio, times) if frames else None
        video = self.visual.analyze(frames, times, energy) if frames else ModalityResult(
            "video", False, frame_error or "no video track")
        timings["video"] = video.seconds
        audio_res = self.acoustic.analyze(audio)
        timings["audio"] = audio_res.seconds
        text_res = self.lexical.analyze(transcript.text, source="asr" if transcript.source == "asr" else "subtitle")
        timings["text"] = text_res.seconds
        results = {"video": video, "audio": audio_res, "text": text_res}
        fused = fuse(list(results.values()), self.weights)
        labels = open_labels(fused, arousal_of(audio_res), self.known_forms)
        sentiment, s_score = sentiment_of(fused, text_res.extra.get("sentiment") if text_res.present else None)
        description = write_description(results, fused, labels, sentiment)
        out = {
            "schema": SCHEMA,
            "file": path.name,
            "duration_s": round(duration, 3),
            "description": description,
            "labels": labels,
            "basic": {c: round(p, 4) for c, p in fused.items()},
            "sentiment": {"label": sentiment, "score": round(s_score, 4),
                          "polarity": "positive" if s_score > 0 else "negative"},
            "modalities": {m: r.present for m, r in results.items()},
            "missing": {m: r.reason for m, r in results.items() if not r.present},
            "cues": {m: [c.to_dict() for c in r.cues] for m, r in results.items()},
            "modality_probs": {m: (None if r.probs is None else {k: round(v, 4) for k, v in r.probs.items()})
                               for m, r in results.items()},
            "transcript": {"text": transcript.text, "source": transcript.source,
                           "segments": [asdict(s) for s in transcript.segments]},
            "faces": video.extra.get("faces", {"n_faces": 0}),
            "media": {"width": info.width, "height": info.height, "fps": round(info.fps, 3),
                      "rotation_deg": info.rotation_deg, "has_audio": info.has_audio, "has_video": info.has_video},
        }
        if cfg.timeline:
            t = time.perf_counter()
            out["timeline"] = self._timeline(path, info, audio, transcript, duration)
            timings["timeline"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t_all
        out["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
        out["settings"] = asdict(cfg)
        out["versions"] = _versions()
        return out

    # -- text only ------------------------------------------------------------------------
    def describe_texts(self, names: list[str], texts: list[str]) -> list[dict]:
        """Describe subtitles alone (no media): the same schema, audio and video marked missing.

        Batched: one embedding pass over all texts (used for benchmark sets without media).
        """
        from affectgpt.analyzers.base import Cue

        probs, sents = self.lexical.probs(texts, with_sentiment=True)
        out = []
        for name, text, p, sp in zip(names, texts, probs, sents):
            words = self.lexical.spotter.extract_one(text) if text.strip() else []
            text_res = ModalityResult("text", bool(text.strip()), None if text.strip() else "empty subtitle",
                                      probs=merge_to_basic(self.lexical.head.classes, p) if text.strip() else None,
                                      cues=[Cue("text", "emotion_word", f'the word "{w}"', 1.0) for w in words],
                                      extra={"text": text, "source": "subtitle",
                                             "sentiment": dict(zip(self.lexical.sentiment_head.classes, sp))})
            results = {"video": ModalityResult("video", False, "text-only input"),
                       "audio": ModalityResult("audio", False, "text-only input"), "text": text_res}
            fused = fuse(list(results.values()), self.weights)
            labels = open_labels(fused, None, self.known_forms)
            sentiment, score = sentiment_of(fused, text_res.extra["sentiment"] if text_res.present else None)
            out.append({"schema": SCHEMA, "file": name,
                        "description": write_description(results, fused, labels, sentiment),
                        "labels": labels, "basic": {c: round(v, 4) for c, v in fused.items()},
                        "sentiment": {"label": sentiment, "score": round(score, 4),
                                      "polarity": "positive" if score > 0 else "negative"},
                        "modalities": {m: r.present for m, r in results.items()},
                        "missing": {m: r.reason for m, r in results.items() if not r.present}})
        return out

    # -- timeline -------------------------------------------------------------------------
    def _timeline(self, path, info, audio, transcript, duration: float) -> list[dict]:
        from affectgpt.analyzers.acoustic import is_silent, normalize_level
        from affectgpt.media.video import sample_frames

        cfg = self.config
        if duration <= 0:
            return []
        win = max(cfg.window_s, duration / cfg.max_timeline_windows)
        n = max(1, int(duration // win))
        if duration - n * win >= 0.25 * win:  # a short tail (codec padding) joins the last window
            n += 1
        bounds = [(i * win, duration if i == n - 1 else (i + 1) * win) for i in range(n)]
        frames_by_win: dict[int, list] = {}
        if info.has_video:
            try:
                centres = [(a + b) / 2 for a, b in bounds]
                sample = sample_frames(path, times_s=centres)
                tracks = self.visual.tracker.track(sample.frames, sample.times_s)
                from affectgpt.media.faces import align_crop, choose_speaker

                speaker, _ = choose_speaker(tracks, len(sample.frames), _energy_at(audio, sample.times_s))
                if speaker is not None:
                    crops = [align_crop(sample.frames[o.frame], o, size=96) for o in speaker.observations]
                    probs = self.visual.fer.predict(crops)
                    for o, p in zip(speaker.observations, probs):
                        frames_by_win[o.frame] = [o, p]
            except InputError:
                pass
        texts = [transcript.text_between(a, b) for a, b in bounds]
        text_probs = self.lexical.probs(texts) if any(texts) else None
        windows = []
        from affectgpt.analyzers.visual import BLENDSHAPE_CUES, FER_CLASSES

        voice = self.acoustic.window_cues(audio, bounds) if audio is not None else [None] * len(bounds)

        for i, (a, b) in enumerate(bounds):
            parts = []
            entry: dict = {"start_s": round(a, 3), "end_s": round(b, 3)}
            if audio is not None:
                seg = audio[int(a * SR):int(b * SR)]
                if len(seg) >= SR // 2 and not is_silent(seg):
                    p = self.acoustic.probs(normalize_level(seg))
                    parts.append(ModalityResult("audio", True, probs=merge_to_basic(self.acoustic.head.classes, p)))
                if voice[i]:
                    entry["voice_cues"] = [f"{c.text} ({c.z:+.1f} SD vs the clip)" for c in voice[i][:3]]
            if i in frames_by_win:
                o, p = frames_by_win[i]
                parts.append(ModalityResult("video", True, probs=merge_to_basic(FER_CLASSES, p)))
                acts = {name: float(np.mean([o.blendshapes.get(s, 0.0) for s in shapes]))
                        for name, (shapes, _) in BLENDSHAPE_CUES.items()}
                entry["face_cues"] = {k: round(v, 3) for k, v in sorted(acts.items(), key=lambda kv: -kv[1])[:3]
                                      if v >= 0.15}
            if texts[i] and text_probs is not None:
                parts.append(ModalityResult("text", True, probs=merge_to_basic(self.lexical.head.classes, text_probs[i])))
                entry["text"] = texts[i]
            fused = fuse(parts, self.weights)
            entry["modalities"] = [p.modality for p in parts]
            entry["basic"] = {c: round(v, 4) for c, v in fused.items()}
            entry["label"] = max(fused, key=fused.get) if parts else None
            entry["labels"] = open_labels(fused, None, self.known_forms, max_labels=3) if parts else []
            windows.append(entry)
        return windows


def _energy_at(audio: np.ndarray | None, times: list[float] | None, half_s: float = 0.1) -> np.ndarray | None:
    """Audio RMS around each time (for matching mouth motion to speech)."""
    if audio is None or not times:
        return None
    h = int(half_s * SR)
    out = []
    for t in times:
        c = int(t * SR)
        seg = audio[max(0, c - h):c + h]
        out.append(float(np.sqrt(np.mean(seg.astype(np.float64) ** 2))) if len(seg) else 0.0)
    return np.array(out)

