"""A sample clip that exists on any machine: a data-directory clip, or one built from package assets.

Without a data directory, the clip is built from scikit-image's public-domain astronaut
portrait (NASA, Eileen Collins) with a slow zoom, and a synthetic voice (a source-filter
vowel synthesiser written here) with a rising, lively pitch; the subtitle is given as text.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from affectgpt.config import resolve_data_dir

__all__ = ["sample_clip", "build_sample_clip", "SAMPLE_SUBTITLE"]

SAMPLE_SUBTITLE = "We did it! I can't believe we actually won the whole thing!"


def _voice(duration_s: float, sr: int = 16_000, seed: int = 0) -> np.ndarray:
    """Vowel-like speech: harmonics of a rising F0, syllable envelope at ~4 Hz, two formants."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * sr)) / sr
    f0 = 190 + 70 * t / duration_s + 25 * np.sin(2 * np.pi * 1.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    src = sum(np.sin(k * phase) / k for k in range(1, 30)) + 0.02 * rng.standard_normal(len(t))
    out = np.zeros_like(src)
    for f, bw in ((700, 110), (1200, 120), (2600, 160)):
        r = np.exp(-np.pi * bw / sr)
        out += lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * f / sr), r * r], src)
    env = np.clip(np.sin(2 * np.pi * 4.2 * t) * 0.6 + 0.5, 0, 1) ** 1.5
    env *= np.minimum(1, np.minimum(t, duration_s - t) * 8)
    y = out * env
    return (0.5 * y / (np.abs(y).max() + 1e-9)).astype(np.float32)


def build_sample_clip(path: str | Path, duration_s: float = 3.5, width: int = 1280, height: int = 720,
                      fps: int = 25) -> Path:
    """Write the synthetic sample clip (H.264 + AAC) to ``path`` and return it."""
    import av
    import cv2
    from skimage import data

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    face = data.astronaut()[10:310, 110:410]  # head and shoulders: the face fills the frame
    sr = 48_000
    audio = _voice(duration_s, sr)
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.options = {"preset": "veryfast", "crf": "23"}
        as_ = c.add_stream("aac", rate=sr)
        as_.layout = "mono"
        n = int(duration_s * fps)
        for i in range(n):
            zoom = 1.0 + 0.1 * i / n
            side = int(height * 0.95 * zoom)
            img = cv2.resize(face, (side, side), interpolation=cv2.INTER_LINEAR)
            canvas = np.full((height, width, 3), 40, np.uint8)
            y0, x0 = (height - side) // 2, (width - side) // 2
            ys, xs = max(0, -y0), max(0, -x0)
            crop = img[ys:ys + height, xs:xs + width]
            canvas[max(0, y0):max(0, y0) + crop.shape[0], max(0, x0):max(0, x0) + crop.shape[1]] = crop
            for pkt in vs.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
                c.mux(pkt)
        for pkt in vs.encode():
            c.mux(pkt)
        hop = 1024
        for k in range(0, len(audio), hop):
            chunk = audio[k:k + hop]
            if len(chunk) < hop:
                chunk = np.pad(chunk, (0, hop - len(chunk)))
            frame = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
            frame.sample_rate = sr
            frame.pts = k
            for pkt in as_.encode(frame):
                c.mux(pkt)
        for pkt in as_.encode():
            c.mux(pkt)
    return path


def sample_clip(cache_dir: str | Path, data_dir: str | None = None) -> tuple[Path, str, str]:
    """(clip path, subtitle, origin): the AffectGPT demo clip from the data directory when
    configured, else the synthetic sample (built once into ``cache_dir``)."""
    root = resolve_data_dir(data_dir)
    if root is not None:
        demo = root / "demo" / "sample_00000000.mp4"
        labels = root / "demo" / "demo_labels.csv"
        if demo.is_file() and labels.is_file():
            row = next(csv.DictReader(open(labels, encoding="utf-8")))
            return demo, row.get("subtitle_eng", ""), "data directory: AffectGPT demo clip (MER2025 licence)"
    path = Path(cache_dir) / "affectgpt-sample.mp4"
    if not path.is_file():
        build_sample_clip(path)
    return path, SAMPLE_SUBTITLE, "synthetic: scikit-image astronaut portrait (public domain) + synthesised voice"
