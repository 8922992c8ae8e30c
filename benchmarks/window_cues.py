"""Speaker-relative voice cues on held-out speakers: silent on neutral speech, found where the
voice turns emotional.

The speaker path (a clip of a language without population norms, e.g. Mandarin) compares 1 s
windows of a clip with the speaker's own median and reports the most departing window per cue;
the timeline does the same per 2 s window on every clip. Without a threshold the largest of
many windows of calm speech departs by 2-9 SD, so every clip read as several strong cues. The
packaged calibration (``affectgpt heads train window_cues``, RAVDESS training actors 01-16)
sets the thresholds; this script measures them on the validation and test actors (17-24), who
were not used:

* **neutral clips**: 2-12 neutral/calm utterances of one actor joined (10 per actor): the share
  with any clip-summary cue (before: the same analysis without the calibration), and timeline
  cues per 2 s window;
* **emotional inserts**: 2-6 neutral/calm utterances of the actor with one emotional utterance
  (angry, happy, fearful, surprised, disgust, sad; normal and strong intensity, statement 1)
  at a random place: the share with a cue whose window overlaps the emotional utterance, and
  with a cue elsewhere.

Usage: OMP_NUM_THREADS=1 python benchmarks/window_cues.py [--data-dir DIR]; exits 1 on a miss.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time

from _common import data_dir, print_table

HELD_OUT = tuple(f"{i:02d}" for i in range(17, 25))
EMOTIONS = ("angry", "happy", "fearful", "surprised", "disgust", "sad")


def _inserts(rows: list[dict], actor: str, seed: int) -> list[dict]:
    import numpy as np

    neutral = sorted(r["file"] for r in rows if r["actor"] == actor and r["emotion"] in ("neutral", "calm"))
    emotional = sorted((r["file"], r["emotion"], r["intensity"]) for r in rows
                       if r["actor"] == actor and r["emotion"] in EMOTIONS and r["statement"] == "01")
    rng = np.random.default_rng([seed, int(actor)])
    plans = []
    for f, emotion, intensity in emotional:
        k = int(rng.choice([2, 3, 4, 6]))
        files = [neutral[i] for i in rng.choice(len(neutral), k, replace=False)]
        pos = int(rng.integers(0, k + 1))
        files.insert(pos, f)
        plans.append({"files": files, "gaps_s": rng.uniform(0.1, 0.6, k + 1).tolist(), "target": pos,
                      "emotion": emotion, "intensity": intensity})
    return plans


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir")
    ap.add_argument("--per-actor", type=int, default=10, help="neutral clips per held-out actor")
    a = ap.parse_args()
    d = data_dir(a.data_dir)
    from affectgpt.analyzers.acoustic import SR, AcousticAnalyzer
    from affectgpt.analyzers.training import join_clips, neutral_concatenations
    from affectgpt.media.vad import detect_speech

    root = d / "ravdess"
    with open(root / "manifest.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    calibrated, plain = AcousticAnalyzer(), AcousticAnalyzer(calibration=False)
    if calibrated.calibration is None:
        raise SystemExit("no packaged calibration: run `affectgpt heads train window_cues --data-dir DIR`")
    t0 = time.perf_counter()
    null = neutral_concatenations(rows, list(HELD_OUT), a.per_actor, seed=1)
    any_cal = any_plain = strong_plain = windows = window_cues = 0
    for plan in null:
        audio, _ = join_clips(root, plan)
        res = calibrated.analyze(audio, language=None, native_rate=SR, channels=1)
        any_cal += bool(res.cues)
        before = plain.analyze(audio, language=None, native_rate=SR, channels=1).cues
        any_plain += bool(before)
        strong_plain += any(c.strength == "strong" for c in before)
        length = len(audio) / SR
        bounds = [(i * 2.0, (i + 1) * 2.0) for i in range(int(length // 2.0))]
        per = calibrated.window_cues(audio, bounds, speech=detect_speech(audio),
                                     floor=calibrated.norms.get(res.extra.get("gender", ""), {}))
        windows += sum(p is not None for p in per)
        window_cues += sum(len(p) for p in per if p)
    inserts = [p for actor in HELD_OUT for p in _inserts(rows, actor, seed=2)]
    hit = {"strong": 0, "normal": 0}
    n = {"strong": 0, "normal": 0}
    outside = outside_plain = 0
    for plan in inserts:
        audio, spans = join_clips(root, plan)
        res = calibrated.analyze(audio, language=None, native_rate=SR, channels=1)
        ea, eb = spans[plan["target"]]
        inside = [c for c in res.cues if c.end_s > ea and c.start_s < eb]
        n[plan["intensity"]] += 1
        hit[plan["intensity"]] += bool(inside)
        outside += len(inside) < len(res.cues)
        before = [c for c in plain.analyze(audio, language=None, native_rate=SR, channels=1).cues
                  if c.strength == "strong"]
        outside_plain += any(not (c.end_s > ea and c.start_s < eb) for c in before)
    print(f"{len(null)} neutral clips and {len(inserts)} emotional inserts of actors 17-24 in "
          f"{time.perf_counter() - t0:.0f} s")
    fa, fa0, fs0 = 100 * any_cal / len(null), 100 * any_plain / len(null), 100 * strong_plain / len(null)
    hs, hn = 100 * hit["strong"] / n["strong"], 100 * hit["normal"] / n["normal"]
    out = 100 * outside / len(inserts)
    per_window = window_cues / max(windows, 1)
    ok = print_table([
        ("neutral clips with a cue, uncalibrated (%)", fa0, "report", True),
        ("  ... with a strong cue, uncalibrated (%)", fs0, "report", True),
        ("neutral clips with a cue (%)", fa, "<= 20", fa <= 20),
        ("timeline cues per neutral 2 s window", per_window, "<= 0.08", per_window <= 0.08),
        ("strong-emotion inserts with a cue on them (%)", hs, ">= 65", hs >= 65),
        ("normal-emotion inserts with a cue on them (%)", hn, "report", True),
        ("inserts with a strong cue elsewhere, uncalibrated (%)", 100 * outside_plain / len(inserts), "report", True),
        ("inserts with a cue elsewhere (%)", out, "<= 15", out <= 15),
    ])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
