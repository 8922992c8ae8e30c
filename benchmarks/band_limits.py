"""Band limits and background sound against the voice cues: which cues each distorts, and
whether the acoustic analyzer detects it and drops or flags those cues
(:func:`affectgpt.analyzers.acoustic.audio_band`, :func:`~affectgpt.analyzers.acoustic.fundamental_cut`,
:func:`~affectgpt.analyzers.acoustic.speech_to_background_db`).

Each clip (every 15th RAVDESS file over all actors, and the CREMA-D 16 kHz files) is band-limited
five ways: none, an 11.025 kHz rate, an 8 kHz rate, a 300 Hz high-pass (8th order) and a
telephone line (300-3400 Hz band-pass at an 8 kHz rate); and mixed with a tune of harmonic
notes (film music) or pink noise 15, 10 and 5 dB below the speech. For every cue the shift of its
eGeMAPS feature from the unfiltered clip is measured in population SD (RAVDESS neutral norms of
the clip's gender), over the cues the analyzer keeps and over those it drops.

Targets: narrow-band flagged on <= 5% of full-band and 11.025 kHz clips and on >= 95% of 8 kHz and
telephone clips; the fundamental cut flagged on <= 5% of clips that keep their low band and on
>= 80% of high-passed and telephone clips; the cues kept move by <= 1.5 SD (90th percentile)
under every band limit; background sound flagged (or dropped) on <= 10% of unmixed clips and
on >= 80% of clips with music or noise 10 dB down, and every cue dropped on >= 80% of clips
with it 5 dB down.

Usage: python benchmarks/band_limits.py [--data-dir DIR]; exits 1 on a miss.
"""

from __future__ import annotations

import argparse
import sys
import time

from _common import data_dir, print_table


def _conditions():
    import numpy as np
    from scipy.signal import butter, resample_poly, sosfiltfilt

    def rate(up, down):
        return lambda x: resample_poly(resample_poly(x, up, down), down, up).astype(np.float32)

    def filt(kind, edge, order=8):
        sos = butter(order, edge, kind, fs=16000, output="sos")
        return lambda x: sosfiltfilt(sos, x).astype(np.float32)

    def mixed(kind, snr_db):
        def f(x, seed):
            from affectgpt.media.vad import detect_speech

            seg = detect_speech(x).segments
            sp = x[int(seg[0][0] * 16000):int(seg[-1][1] * 16000)] if seg else x
            if kind == "music":
                rng = np.random.default_rng(seed)
                t = np.arange(len(x)) / 16000
                hz = (220 * 2 ** (rng.integers(0, 12, len(x) // 4000 + 2) / 12))[(t * 4).astype(int)]
                ph = 2 * np.pi * np.cumsum(hz) / 16000
                bg = np.sin(ph) + 0.5 * np.sin(2 * ph) + 0.3 * np.sin(3 * ph)
            else:
                white = np.random.default_rng(seed).standard_normal(len(x))
                spec = np.fft.rfft(white)
                spec[1:] /= np.sqrt(np.fft.rfftfreq(len(x), 1 / 16000)[1:])
                bg = np.fft.irfft(spec, len(x))
            bg = bg * np.sqrt(np.mean(sp.astype(np.float64) ** 2) / np.mean(bg ** 2) / 10 ** (snr_db / 10))
            return (x + bg).astype(np.float32)
        return f

    hp = filt("highpass", 300)
    bandpass = filt("bandpass", [300, 3400], 6)
    # name -> (transform of 16 kHz audio, native rate the file would declare)
    return {"full band": (lambda x: x, 16000), "11.025 kHz rate": (rate(441, 640), 11025),
            "8 kHz rate": (rate(1, 2), 8000), "300 Hz high-pass": (hp, 16000),
            "telephone 300-3400 Hz": (lambda x: rate(1, 2)(bandpass(x)), 8000),
            **{f"{kind} {snr} dB down": (mixed(kind, snr), 16000) for kind in ("music", "noise") for snr in (15, 10, 5)}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir")
    ap.add_argument("--every", type=int, default=15, help="every N-th RAVDESS file (default 15)")
    a = ap.parse_args()
    d = data_dir(a.data_dir)
    import csv

    import numpy as np
    import soundfile as sf

    from affectgpt.analyzers.acoustic import CUE_FEATURES, AcousticAnalyzer, band_drops, egemaps, normalize_level

    with open(d / "ravdess/manifest.csv", encoding="utf-8") as fh:
        files = [d / "ravdess" / r["file"] for r in csv.DictReader(fh)][:: a.every]
    files += sorted((d / "crema_d/audio_16k_wav").glob("*.wav"))
    ac = AcousticAnalyzer()
    conds = _conditions()
    narrow = {c: [] for c in conds}
    background = {c: [] for c in conds}
    fcut = {c: [] for c in conds}
    kept = {c: [] for c in conds}
    dropped = {c: [] for c in conds}
    t0 = time.perf_counter()
    for f in files:
        x, sr = sf.read(f, dtype="float32")
        if x.ndim > 1:
            x = x.mean(1)
        assert sr == 16000, f"{f}: {sr} Hz"
        names, v0 = egemaps(normalize_level(x))
        gender = ac._gender(names, v0)
        for seed, (c, (fn, native)) in enumerate(conds.items()):
            y = fn(x, seed) if "dB down" in c else fn(x)
            res = ac.analyze(y, language="en", native_rate=native, channels=1)
            if not res.present:
                continue
            info = res.extra["audio"]
            narrow[c].append(bool(info.get("narrowband")))
            fcut[c].append(bool(info.get("fundamental_cut")))
            background[c].append(info.get("background"))
            drop, _ = band_drops(info)
            if info.get("background") == "drop" or info.get("damage") == "drop":
                drop = frozenset(CUE_FEATURES)
            _, v = egemaps(normalize_level(y))
            for cue, (feat, *_) in CUE_FEATURES.items():
                sd = ac.norms[gender][feat][1]
                shift = abs(float(v[names.index(feat)]) - float(v0[names.index(feat)])) / sd
                (dropped if cue in drop else kept)[c].append((cue, shift))
    print(f"{len(files)} clips x {len(conds)} band limits in {time.perf_counter() - t0:.0f} s")
    print(f"{'condition':<24} {'narrow-band %':>14} {'fund. cut %':>12} {'background %':>13} {'kept p90 SD':>12} "
          f"{'dropped p90 SD':>15}")
    p90 = {}
    for c in conds:
        k = [s for _, s in kept[c]]
        dr = [s for _, s in dropped[c]]
        p90[c] = float(np.percentile(k, 90)) if k else 0.0
        bg = 100 * np.mean([b is not None for b in background[c]])
        print(f"{c:<24} {100 * np.mean(narrow[c]):>14.1f} {100 * np.mean(fcut[c]):>12.1f} {bg:>13.1f} {p90[c]:>12.2f} "
              f"{(np.percentile(dr, 90) if dr else float('nan')):>15.2f}")
    worst = {c: max({cue for cue, _ in kept[c]},
                    key=lambda q: np.percentile([s for cue, s in kept[c] if cue == q], 90)) for c in conds if kept[c]}
    print("cue moving most among those kept:", worst)
    pct = lambda xs: 100 * float(np.mean(xs))  # noqa: E731
    rows = [
        ("narrow-band flagged, full band (%)", pct(narrow["full band"]), "<= 5", pct(narrow["full band"]) <= 5),
        ("narrow-band flagged, 11.025 kHz (%)", pct(narrow["11.025 kHz rate"]), "<= 5", pct(narrow["11.025 kHz rate"]) <= 5),
        ("narrow-band flagged, 8 kHz (%)", pct(narrow["8 kHz rate"]), ">= 95", pct(narrow["8 kHz rate"]) >= 95),
        ("narrow-band flagged, telephone (%)", pct(narrow["telephone 300-3400 Hz"]), ">= 95",
         pct(narrow["telephone 300-3400 Hz"]) >= 95),
    ]
    for c in ("full band", "11.025 kHz rate", "8 kHz rate"):
        rows.append((f"fundamental cut flagged, {c} (%)", pct(fcut[c]), "<= 5", pct(fcut[c]) <= 5))
    for c in ("300 Hz high-pass", "telephone 300-3400 Hz"):
        rows.append((f"fundamental cut flagged, {c} (%)", pct(fcut[c]), ">= 80", pct(fcut[c]) >= 80))
    for c in list(conds)[:5]:
        rows.append((f"cues kept, p90 shift (SD), {c}", p90[c], "<= 1.5", p90[c] <= 1.5))
    flagged = lambda c: pct([b is not None for b in background[c]])  # noqa: E731
    rows.append(("background flagged, unmixed (%)", flagged("full band"), "<= 10", flagged("full band") <= 10))
    for kind in ("music", "noise"):
        rows.append((f"background flagged, {kind} 10 dB down (%)", flagged(f"{kind} 10 dB down"), ">= 80",
                     flagged(f"{kind} 10 dB down") >= 80))
        dropped5 = pct([b == "drop" for b in background[f"{kind} 5 dB down"]])
        rows.append((f"all cues dropped, {kind} 5 dB down (%)", dropped5, ">= 80", dropped5 >= 80))
        rows.append((f"cues kept, p90 shift (SD), {kind} 15 dB down", p90[f"{kind} 15 dB down"], "report", True))
    return 0 if print_table(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
