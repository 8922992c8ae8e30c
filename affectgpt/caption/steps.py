"""The MER-Caption steps (PAPER §1.2-1.4): per-modality clues, the merge into one description,
open-vocabulary labels, and the low-level (speaker, length) and high-level (crowd vote) filters.

Every filter adds a decision ``{"keep": bool, "reason": str}`` under ``record["decisions"][name]``;
``record["kept"]`` is True when every decision keeps. Nothing is deleted: dropped samples stay in
the export's ``samples.jsonl`` with their reasons.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator

import numpy as np

from affectgpt.pipeline import MapStep, Step

__all__ = ["MERGE_PROMPT", "AUDIO_CLUE_PROMPT", "VIDEO_CLUE_PROMPT", "ClueStep", "EndpointClueStep", "LocalClueStep", "MergeStep", "LabelStep", "SpeakerFilter", "LengthFilter", "CrowdFilter",
           "merge_prompt"]

#: the paper's merge instruction (App. G), verbatim
MERGE_PROMPT = ("Please act as an expert in the field of emotions. We provide acoustic and visual clues that may be "
                "related to the character's emotional state, along with the original subtitle of the video. Please "
                "analyze which parts can infer the emotional state and explain the reasons. During the analysis, "
                "please integrate the textual, audio, and visual clues.")

_POLARITY = {"happy": "positive", "angry": "negative", "sad": "negative", "fearful": "negative",
             "disgusted": "negative", "neutral": "neutral", "surprised": "neutral"}


def _decide(record: dict, name: str, keep: bool, reason: str) -> dict:
    out = dict(record)
    decisions = dict(out.get("decisions") or {})
    decisions[name] = {"keep": bool(keep), "reason": reason}
    out["decisions"] = decisions
    out["kept"] = all(d["keep"] for d in decisions.values())
    return out


def _clue_sentences(description: str) -> dict[str, str]:
    """Split a describe description into its visual / acoustic / lexical sentences."""
    out = {"visual": "", "acoustic": "", "lexical": ""}
    for sentence in re.split(r"(?<=[.!?])\s+(?=In the |Overall|Note)", description):
        if sentence.startswith("In the video"):
            out["visual"] = sentence
        elif sentence.startswith("In the audio"):
            out["acoustic"] = sentence
        elif sentence.startswith("In the text"):
            out["lexical"] = sentence
    return out


class ClueStep(MapStep):
    """Per-modality clues from the offline describe analyzers (acoustic, visual, lexical, ASR), plus
    what the filters need: the speaker check, the per-modality classifier distributions (the
    crowd's voters) and describe's own description and labels. Timings are left out, so the
    record is the same on every run."""

    name = "clues"

    def __init__(self, asr: bool = True, frames: int = 8, data_dir: str | None = None):
        self.asr, self.frames, self.data_dir = asr, frames, data_dir

    def settings(self) -> dict:
        from affectgpt import __version__

        return {"asr": self.asr, "frames": self.frames, "affectgpt": __version__}

    def _config(self):
        from affectgpt.describe.pipeline import DescribeConfig

        return DescribeConfig(asr=self.asr, frames=self.frames, data_dir=self.data_dir)

    def setup(self) -> None:
        from affectgpt.describe.batch import shared_describer

        shared_describer(self._config())

    def process(self, record: dict) -> dict:
        from affectgpt.describe.batch import shared_describer

        r = shared_describer(self._config()).describe(record["path"], record.get("subtitle"))
        transcript = r.get("transcript") or {}
        return {
            "id": record["id"], "path": record["path"],
            "subtitle": transcript.get("text", ""), "subtitle_source": transcript.get("source", "none"),
            "language": (r.get("language") or {}).get("text"),
            "duration_s": r.get("duration_s"),
            "clues": _clue_sentences(r["description"]),
            "missing": r.get("missing", {}),
            "modality_probs": r.get("modality_probs", {}),
            "faces": {k: v for k, v in (r.get("faces") or {}).items()
                      if k in ("n_faces", "uncertain", "uncertain_reason", "speaker_mouth_motion", "speaker_speaks")},
            "speech_s": (r.get("speech") or {}).get("speech_s"),
            "describe": {"description": r["description"], "labels": r["labels"],
                         "sentiment": r["sentiment"]["label"], "basic": r["basic"]},
        }


def merge_prompt(record: dict) -> str:
    """The merge request for one sample: the paper's instruction, the clues and the subtitle."""
    clues = record.get("clues") or {}
    return (f"{MERGE_PROMPT}\n\nAcoustic clues: {clues.get('acoustic') or 'none'}\n"
            f"Visual clues: {clues.get('visual') or 'none'}\n"
            f"Subtitle: {record.get('subtitle') or 'none'}")


class MergeStep(MapStep):
    """One description per sample: ``describe`` (the deterministic writer, offline), ``openai``
    (an OpenAI-compatible chat endpoint; timeouts and 5xx retried with backoff) or
    ``transformers`` (a local model folder). An empty or malformed reply is a failure record."""

    name = "merge"

    def __init__(self, backend: str = "describe", url: str | None = None, model: str | None = None,
                 timeout_s: float = 120.0, retries: int = 3, max_tokens: int = 512):
        self.backend, self.url, self.model = backend, url, model
        self.timeout_s, self.retries, self.max_tokens = timeout_s, retries, max_tokens
        self._llm = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_llm": None}

    @property
    def resources(self) -> dict:  # a local model on a GPU machine runs as a GPU actor pool on Ray
        if self.backend == "transformers":
            import torch

            return {"num_gpus": 1} if torch.cuda.is_available() else {"num_cpus": 1}
        return {"num_cpus": 1}

    def settings(self) -> dict:
        return {"backend": self.backend, "model": self.model, "max_tokens": self.max_tokens,
                "prompt": MERGE_PROMPT if self.backend != "describe" else None}

    def setup(self) -> None:
        from affectgpt.bench.extractors.llm import OpenAIChatBackend, TransformersBackend

        if self.backend == "openai":
            if not self.url or not self.model:
                raise ValueError("merge.backend openai needs merge.url and merge.model")
            self._llm = OpenAIChatBackend(self.url, self.model, timeout_s=self.timeout_s, retries=self.retries,
                                          max_tokens=self.max_tokens)
        elif self.backend == "transformers":
            if not self.model:
                raise ValueError("merge.backend transformers needs merge.model (a local model folder)")
            self._llm = TransformersBackend(self.model, max_tokens=self.max_tokens)

    def process(self, record: dict) -> dict:
        if self.backend == "describe":
            text = record["describe"]["description"]
        else:
            text = (self._llm.complete(merge_prompt(record)) or "").strip()
            if not text:
                raise ValueError(f"{record['id']}: the merge model returned an empty description")
        return {**record, "description": text, "merge_backend": self.backend}


class LabelStep(MapStep):
    """Open-vocabulary labels of each description through the bench extractors (``lexicon``
    offline; ``llm`` with the paper's Appendix E prompt) or, with the describe writer, the labels it
    gave (``given``: its descriptions also cite cue words such as "lowered" or "pressed" that a word
    spotter would take for labels); and the sentiment the labels imply (emotion-wheel polarity)."""

    name = "labels"

    def __init__(self, extractor: str = "lexicon", profile: str = "paper", data_dir: str | None = None,
                 url: str | None = None, model: str | None = None):
        self.extractor, self.profile, self.data_dir, self.url, self.model = extractor, profile, data_dir, url, model
        self._ex = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_ex": None}

    def settings(self) -> dict:
        return {"extractor": self.extractor, "profile": self.profile, "model": self.model}

    def setup(self) -> None:
        from affectgpt.bench.extractors import get_extractor
        from affectgpt.emotions import load_vocabulary

        vocab = load_vocabulary(self.profile, self.data_dir)
        kwargs = {"vocabulary": vocab}
        if self.extractor == "llm":
            kwargs.update(model=self.model, base_url=self.url)
        self._ex = get_extractor("lexicon" if self.extractor == "given" else self.extractor, **kwargs)

    def process(self, record: dict) -> dict:
        if self.extractor == "given":  # the labels the describe writer gave with its description
            labels = list(record["describe"]["labels"])
        else:
            labels = self._ex.extract([record["description"]])[0]
        sentiment = self._ex.to_sentiment([labels])[0]
        out = {**record, "openset": list(labels), "description_sentiment": sentiment}
        missing = record.get("missing") or {}
        if all(m in missing for m in ("video", "audio", "text")):
            # no face, voice or words measured: a description of nothing is no training sample
            why = "; ".join(f"{m}: {missing[m]}" for m in ("video", "audio", "text"))
            return _decide(out, "labels", False, f"nothing could be analysed ({why})")
        if not labels:  # PAPER §4 "Filtering": keep pairs whose description yields an emotion list
            return _decide(out, "labels", False, "no emotion label could be extracted from the description")
        return _decide(out, "labels", True, f"{len(labels)} emotion label(s) extracted")


def _load_callable(spec: str):
    """``package.module:function`` -> the function (a plug-in named in a caption config)."""
    import importlib

    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise ValueError(f"{spec!r}: name a plug-in as package.module:function")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"{spec!r}: cannot load the plug-in ({exc})") from None


class SpeakerFilter(MapStep):
    """Low-level filter 1: drop a sample whose visible face does not move its mouth while the voice
    is heard (the face front end's speaker check; PAPER §1.3 used TalkNet). Kept, with the reason,
    when it cannot be checked (no face, no speech).

    ``model`` plugs in an active-speaker model instead: ``package.module:function`` called as
    ``function(path, record) -> float`` (the probability that the visible person speaks) or
    ``-> None`` (cannot tell: kept, and said); the sample is kept when the probability is at least
    ``threshold``."""

    name = "speaker-filter"

    def __init__(self, model: str | None = None, threshold: float = 0.5):
        self.model, self.threshold = model, threshold
        self._fn = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_fn": None}

    def settings(self) -> dict:
        return {"model": self.model, "threshold": self.threshold}

    def setup(self) -> None:
        self._fn = _load_callable(self.model) if self.model else None

    def process(self, record: dict) -> dict:
        if self._fn is not None:
            p = self._fn(record["path"], record)
            if p is None:
                return _decide(record, "speaker", True, f"not checked: {self.model} could not tell")
            keep = float(p) >= self.threshold
            return _decide(record, "speaker", keep, f"{self.model}: speaking probability {float(p):.2f} "
                                                    f"{'>=' if keep else '<'} {self.threshold:g}")
        faces = record.get("faces") or {}
        if not faces.get("n_faces"):
            return _decide(record, "speaker", True, "not checked: no face")
        if "speaker_speaks" not in faces:
            return _decide(record, "speaker", True, "not checked: too little speech to match mouths to")
        if not faces["speaker_speaks"]:
            return _decide(record, "speaker", False, f"the visible face does not speak (mouth motion "
                                                     f"{faces.get('speaker_mouth_motion')} during speech)")
        return _decide(record, "speaker", True, "the visible face speaks")


class LengthFilter(Step):
    """Low-level filter 2: a two-sided cut on description length in characters (PAPER §1.3), by
    quantiles of this run's lengths (``mode: quantile``) or fixed bounds (``mode: bounds``; the
    paper's figure puts them near 200 and 600). Dataset-level: it sees every record."""

    name = "length-filter"

    def __init__(self, mode: str = "quantile", low: float | None = None, high: float | None = None):
        """Raises ValueError: an unknown mode, ``low`` above ``high``, quantiles outside [0, 1], or
        ``bounds`` without both bounds given in characters."""
        if mode not in ("quantile", "bounds"):
            raise ValueError(f"filters.length.mode {mode!r}: use quantile or bounds")
        if mode == "bounds" and (low is None or high is None):
            raise ValueError("filters.length.mode=bounds needs filters.length.low and .high in characters "
                             "(the paper's figure puts them near 200 and 600)")
        low = 0.05 if low is None else float(low)
        high = 0.95 if high is None else float(high)
        if low > high:
            raise ValueError(f"filters.length.low ({low:g}) is above filters.length.high ({high:g})")
        if mode == "bounds" and high <= 1:
            raise ValueError(f"filters.length bounds {low:g}-{high:g} look like quantiles: with mode=bounds give "
                             "them in characters (the paper's figure puts them near 200 and 600)")
        if mode == "quantile" and not (0 <= low <= 1 and 0 <= high <= 1):
            raise ValueError(f"filters.length quantiles must lie in [0, 1] (got {low:g}, {high:g}); "
                             "for character bounds set filters.length.mode=bounds")
        self.mode, self.low, self.high = mode, low, high
        self.bounds: tuple[float, float] | None = None

    def settings(self) -> dict:
        return {"mode": self.mode, "low": self.low, "high": self.high}

    def run(self, records: Iterable[dict]) -> Iterator[dict]:
        records = list(records)
        lengths = [len(r["description"]) for r in records if "error" not in r]
        if self.mode == "bounds":
            lo, hi = float(self.low), float(self.high)
        elif lengths:
            lo, hi = (float(np.quantile(lengths, q, method="lower" if q < 0.5 else "higher"))
                      for q in (self.low, self.high))
        else:
            lo, hi = 0.0, float("inf")
        self.bounds = (lo, hi)
        for r in records:
            if "error" in r:
                yield r
                continue
            n = len(r["description"])
            keep = lo <= n <= hi
            why = f"{n} characters, within [{lo:.0f}, {hi:.0f}]" if keep else \
                f"{n} characters, outside [{lo:.0f}, {hi:.0f}]"
            yield _decide(r, "length", keep, why)


def _vote(labels: list[str]) -> tuple[list[str], int, int]:
    """(winners, their count, the runner-up's count) of a majority vote; several winners = a tie."""
    counts = Counter(labels)
    if not counts:
        return [], 0, 0
    ranked = counts.most_common()
    top = ranked[0][1]
    winners = sorted(k for k, v in ranked if v == top)
    second = next((v for _, v in ranked if v < top), 0)
    return winners, top, second


BASIC_VOTE_PROMPT = ("You are an expert in human emotions. From the clues and the subtitle below, answer with exactly "
                     "one word, the person's basic emotion: happy, sad, angry, fearful, disgusted, surprised or "
                     "neutral.")


def _ask_basic(llm, record: dict) -> str | None:
    """An endpoint voter: one basic-emotion word from the clues and subtitle; None (abstains) when
    the reply names none of them."""
    clues = record.get("clues") or {}
    reply = llm.complete(f"{BASIC_VOTE_PROMPT}\n\nClues: {clues.get('visual', '')} {clues.get('acoustic', '')}\n"
                         f"Subtitle: {record.get('subtitle') or 'none'}\nAnswer:").lower()
    found = [(reply.find(w), w) for w in _POLARITY if w in reply]
    return min(found)[1] if found else None


class CrowdFilter(MapStep):
    """High-level filter (PAPER §1.4, "model-based crowd-sourcing"): each voter (the audio, video
    and text heads, one per available modality) votes a basic emotion and, through its polarity, a
    sentiment; the majority wins (ties recorded, any tied label accepted). The description's OV labels
    agree with the emotion vote when they share a level-1 sector on any of the five emotion wheels
    (an empty label set counts as neutral: the upstream ``func_hit_or_not`` rule); its sentiment must
    equal the sentiment vote. ``mode`` E, S or E+S chooses the checks (the paper's Table 4).

    ``extra_voters`` adds models named in the config: ``{name, plugin: package.module:function}``
    (``function(record) -> basic emotion or None``) or ``{name, url, model}`` (an OpenAI-compatible
    endpoint asked for one basic-emotion word; a reply naming none abstains)."""

    name = "crowd-filter"

    def __init__(self, mode: str = "E+S", voters: list[str] | None = None, profile: str = "paper",
                 data_dir: str | None = None, extra_voters: list[dict] | None = None):
        self.mode, self.voters = mode, list(voters or ["audio", "video", "text"])
        self.profile, self.data_dir = profile, data_dir
        self.extra_voters = [dict(v) for v in extra_voters or []]
        for v in self.extra_voters:
            if not v.get("name") or not (v.get("plugin") or (v.get("url") and v.get("model"))):
                raise ValueError(f"crowd voter {v}: give a name and either plugin: package.module:function or "
                                 "url + model (an OpenAI-compatible endpoint)")
        self._vocab = None
        self._extra = []

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_vocab": None, "_extra": []}

    def settings(self) -> dict:
        return {"mode": self.mode, "voters": self.voters, "profile": self.profile,
                "extra_voters": [{k: v for k, v in e.items() if k != "api_key"} for e in self.extra_voters]}

    def setup(self) -> None:
        from affectgpt.emotions import load_vocabulary

        self._vocab = load_vocabulary(self.profile, self.data_dir)
        self._extra = []
        for v in self.extra_voters:
            if v.get("plugin"):
                self._extra.append((v["name"], _load_callable(v["plugin"])))
            else:
                from affectgpt.bench.extractors.llm import OpenAIChatBackend

                llm = OpenAIChatBackend(v["url"], v["model"], timeout_s=float(v.get("timeout_s", 60)),
                                        retries=int(v.get("retries", 3)), max_tokens=8)
                self._extra.append((v["name"], lambda rec, llm=llm: _ask_basic(llm, rec)))

    def _sectors(self, labels: list[str], wheel: int) -> set[str]:
        if not labels:
            return {"neutral"}
        out = set()
        for label in labels:
            if label.strip().lower() == "neutral":
                out.add("neutral")
                continue
            sector = self._vocab.map_label(label, wheel, level=1)
            if sector:
                out.add(sector)
        return out

    def emotion_agrees(self, labels: list[str], votes: list[str]) -> bool:
        """Level-1 overlap on any wheel between the description's labels and any winning vote."""
        from affectgpt.emotions import WHEELS

        return any(self._sectors(labels, w) & self._sectors([v], w) for w in WHEELS for v in votes)

    def process(self, record: dict) -> dict:
        probs = record.get("modality_probs") or {}
        emo = {v: max(probs[v], key=probs[v].get) for v in self.voters if probs.get(v)}
        for name, fn in self._extra:  # voters named in the config: a basic emotion, or None to abstain
            vote = fn(record)
            if vote is not None:
                vote = str(vote).strip().lower()
                if vote not in _POLARITY:
                    raise ValueError(f"{record['id']}: voter {name} answered {vote!r}, not one of "
                                     f"{', '.join(sorted(_POLARITY))}")
                emo[name] = vote
        if not emo:
            return _decide(record, "crowd", True, "not checked: no voter could measure this sample")
        e_win, e_top, e_second = _vote(list(emo.values()))
        s_win, s_top, s_second = _vote([_POLARITY.get(e, "neutral") for e in emo.values()])
        vote = {"voters": emo, "emotion": e_win, "emotion_margin": e_top - e_second,
                "sentiment": s_win, "sentiment_margin": s_top - s_second,
                "tie": len(e_win) > 1 or len(s_win) > 1}
        checks = []
        if "E" in self.mode:
            ok = self.emotion_agrees(record.get("openset") or [], e_win)
            checks.append((ok, f"labels {record.get('openset') or '[] (neutral)'} {'agree' if ok else 'disagree'} "
                               f"with the vote {'/'.join(e_win)}"))
        if "S" in self.mode:
            ok = record.get("description_sentiment") in s_win
            checks.append((ok, f"sentiment {record.get('description_sentiment')} {'matches' if ok else 'differs from'} "
                               f"the vote {'/'.join(s_win)}"))
        keep = all(ok for ok, _ in checks)
        out = _decide(record, "crowd", keep, "; ".join(why for _, why in checks))
        out["vote"] = vote
        return out


#: clue requests (after the paper's clue models' role; our wording): the audio model listens for
#: acoustic cues, the video model watches face, body and scene; the subtitle is given when known
AUDIO_CLUE_PROMPT = ("You are an expert in human emotions. Listen to the speech in this audio clip and describe "
                     "the acoustic cues that reveal the speaker's emotional state: tone, pitch, loudness, speaking "
                     "rate and voice quality. Then say which emotions these cues suggest.")
VIDEO_CLUE_PROMPT = ("You are an expert in human emotions. These frames are sampled in order from one video clip. "
                     "Describe the visual cues that reveal the main character's emotional state: facial expression, "
                     "gaze, head and body movement, and the scene. Then say which emotions these cues suggest.")


def _jpeg_data_url(rgb) -> str:
    import base64

    import cv2

    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ValueError("could not encode a frame as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _wav_base64(audio, rate: int) -> str:
    import base64
    import io
    import wave

    pcm = (np.clip(np.asarray(audio, dtype=np.float32), -1, 1) * 32767).astype("<i2").tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return base64.b64encode(buf.getvalue()).decode("ascii")


class EndpointClueStep(MapStep):
    """Clues from audio / video / omni models behind an OpenAI-compatible chat endpoint (e.g. vLLM
    serving Qwen2-Audio, Qwen2.5-VL or Qwen2.5-Omni): ``frames`` uniformly sampled frames sent as
    JPEG ``image_url`` parts, the audio as a 16 kHz WAV ``input_audio`` part, with the subtitle
    when known. Replaces the visual and acoustic clue sentences of the offline clue step (whose
    speaker check and classifier votes the filters still use); a modality the clip lacks keeps
    the offline sentence and says why."""

    name = "endpoint-clues"

    def __init__(self, url: str, audio_model: str | None, video_model: str | None, frames: int = 8,
                 timeout_s: float = 120.0, retries: int = 3, max_tokens: int = 256):
        self.url, self.audio_model, self.video_model, self.frames = url, audio_model, video_model, frames
        self.timeout_s, self.retries, self.max_tokens = timeout_s, retries, max_tokens
        self._audio = self._video = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_audio": None, "_video": None}

    def settings(self) -> dict:
        return {"audio_model": self.audio_model, "video_model": self.video_model, "frames": self.frames,
                "max_tokens": self.max_tokens, "prompts": [AUDIO_CLUE_PROMPT, VIDEO_CLUE_PROMPT]}

    def setup(self) -> None:
        from affectgpt.bench.extractors.llm import OpenAIChatBackend

        def backend(model):
            return None if not model else OpenAIChatBackend(self.url, model, timeout_s=self.timeout_s,
                                                            retries=self.retries, max_tokens=self.max_tokens)

        self._audio, self._video = backend(self.audio_model), backend(self.video_model)

    def process(self, record: dict) -> dict:
        from affectgpt.media.clip import SAMPLE_RATE, Clip

        clip = Clip.open(record["path"])
        subtitle = record.get("subtitle") or ""
        tail = f" The subtitle of this clip is: {subtitle}" if subtitle else ""
        clues = dict(record.get("clues") or {})
        sources = {}
        if self._video is not None and clip.info.has_video:
            sample = clip.frames_at(clip.uniform_times(self.frames), max_side=512, distinct=True)
            parts = [{"type": "text", "text": VIDEO_CLUE_PROMPT + tail}]
            parts += [{"type": "image_url", "image_url": {"url": _jpeg_data_url(f)}} for f in sample.frames]
            clues["visual"] = self._video.complete(parts).strip()
            sources["visual"] = self.video_model
        if self._audio is not None and clip.audio is not None and len(clip.audio):
            parts = [{"type": "text", "text": AUDIO_CLUE_PROMPT + tail},
                     {"type": "input_audio", "input_audio": {"data": _wav_base64(clip.audio, SAMPLE_RATE),
                                                             "format": "wav"}}]
            clues["acoustic"] = self._audio.complete(parts).strip()
            sources["acoustic"] = self.audio_model
        if not any(clues.get(k) for k in sources):
            raise ValueError(f"{record['path']}: the clue models returned empty answers")
        return {**record, "clues": clues, "clue_sources": sources}


class LocalClueStep(MapStep):
    """Clues from local transformers models, in-process (on Ray: a GPU actor pool when a GPU is
    present). ``video_model``: an image-text-to-text model folder (Llava, Qwen2-VL, ...; loaded
    with ``AutoProcessor`` + ``AutoModelForImageTextToText``), given ``frames`` uniformly sampled
    frames and :data:`VIDEO_CLUE_PROMPT` through its chat template. ``audio_model``: an
    audio-text-to-text model folder (Qwen2-Audio, ...; the class named by its config), given the
    16 kHz audio and :data:`AUDIO_CLUE_PROMPT`. Greedy decoding. Replaces the offline clue
    sentences it can; the offline step still gives the speaker check and the crowd's votes."""

    name = "local-clues"

    def __init__(self, video_model: str | None = None, audio_model: str | None = None, frames: int = 8,
                 max_tokens: int = 256, device: str | None = None):
        self.video_model, self.audio_model, self.frames = video_model, audio_model, frames
        self.max_tokens, self.device = max_tokens, device
        self._video = self._audio = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_video": None, "_audio": None}

    @property
    def resources(self) -> dict:
        import torch

        return {"num_gpus": 1} if torch.cuda.is_available() else {"num_cpus": 1}

    def settings(self) -> dict:
        def ident(path):
            if not path:
                return None
            import hashlib
            from pathlib import Path

            cfg = Path(path) / "config.json"
            return f"{Path(path).name}:{hashlib.sha256(cfg.read_bytes()).hexdigest()[:12] if cfg.is_file() else '?'}"

        return {"video_model": ident(self.video_model), "audio_model": ident(self.audio_model), "frames": self.frames,
                "max_tokens": self.max_tokens, "prompts": [AUDIO_CLUE_PROMPT, VIDEO_CLUE_PROMPT]}

    def setup(self) -> None:
        import torch
        import transformers

        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        if self.video_model and self._video is None:
            proc = transformers.AutoProcessor.from_pretrained(self.video_model)
            model = transformers.AutoModelForImageTextToText.from_pretrained(self.video_model).to(device).eval()
            self._video = (proc, model, device)
        if self.audio_model and self._audio is None:
            proc = transformers.AutoProcessor.from_pretrained(self.audio_model)
            arch = transformers.AutoConfig.from_pretrained(self.audio_model).architectures[0]
            model = getattr(transformers, arch).from_pretrained(self.audio_model).to(device).eval()
            self._audio = (proc, model, device)

    def _generate(self, proc, model, device, inputs) -> str:
        import torch

        inputs = {k: v.to(device) if hasattr(v, "to") else v for k, v in inputs.items()}
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=self.max_tokens, do_sample=False)
        return proc.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()

    def process(self, record: dict) -> dict:
        from PIL import Image

        from affectgpt.media.clip import SAMPLE_RATE, Clip

        clip = Clip.open(record["path"])
        subtitle = record.get("subtitle") or ""
        tail = f" The subtitle of this clip is: {subtitle}" if subtitle else ""
        clues, sources = dict(record.get("clues") or {}), {}
        if self._video is not None and clip.info.has_video:
            proc, model, device = self._video
            frames = [Image.fromarray(f) for f in clip.frames_at(clip.uniform_times(self.frames), max_side=512,
                                                                 distinct=True).frames]
            msgs = [{"role": "user", "content": [*({"type": "image"} for _ in frames),
                                                 {"type": "text", "text": VIDEO_CLUE_PROMPT + tail}]}]
            text = proc.apply_chat_template(msgs, add_generation_prompt=True)
            clues["visual"] = self._generate(proc, model, device, proc(images=frames, text=text, return_tensors="pt"))
            sources["visual"] = f"local:{self.video_model}"
        if self._audio is not None and clip.audio is not None and len(clip.audio):
            proc, model, device = self._audio
            msgs = [{"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": AUDIO_CLUE_PROMPT + tail}]}]
            text = proc.apply_chat_template(msgs, add_generation_prompt=True)
            inputs = proc(text=text, audio=[clip.audio], sampling_rate=SAMPLE_RATE, return_tensors="pt")
            clues["acoustic"] = self._generate(proc, model, device, inputs)
            sources["acoustic"] = f"local:{self.audio_model}"
        if sources and not any(clues.get(k) for k in sources):
            raise ValueError(f"{record['path']}: the local clue models returned empty answers")
        return {**record, "clues": clues, "clue_sources": sources}
