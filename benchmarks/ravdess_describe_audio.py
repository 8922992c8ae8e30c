"""The describe pipeline's audio path on RAVDESS test speech, end to end: each file opened as a
:class:`~affectgpt.media.clip.Clip`, voice activity, the speech gate, then the acoustic
analyzer (the path ``affectgpt describe`` takes), speaker-independent (actors 21-24, 8 classes).

Targets (issue 8): accuracy >= 65% (the audio head scored 67.5% before the speech gate);
the gate lets through >= 99% of these clips (every one is speech).

Usage: python benchmarks/ravdess_describe_audio.py [--data-dir DIR]; exits 1 on a miss.
"""

from __future__ import annotations

import argparse
import sys
import time

from _common import data_dir, print_table, ravdess_rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir")
    a = ap.parse_args()
    d = data_dir(a.data_dir)
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score

    from affectgpt.analyzers.acoustic import AcousticAnalyzer
    from affectgpt.media.clip import Clip

    ac = AcousticAnalyzer()
    rows = ravdess_rows(d)
    t0 = time.perf_counter()
    pred, gated = [], []
    for r in rows:
        clip = Clip.open(d / "ravdess" / r["file"])
        res = ac.analyze(clip.audio, language="en", native_rate=clip.info.audio_rate, channels=clip.info.audio_channels)
        if not res.present:
            gated.append((r["file"], res.reason))
            pred.append("(missing)")
            continue
        pred.append(max(res.head_probs, key=res.head_probs.get))
    y = [r["emotion"] for r in rows]
    acc = 100 * accuracy_score(y, pred)
    f1 = 100 * f1_score(y, pred, average="macro", labels=sorted(set(y)))
    passed = 100 * (1 - len(gated) / len(rows))
    print(f"RAVDESS test: {len(rows)} clips in {time.perf_counter() - t0:.1f} s; gated out: {gated[:5]}")
    ok = print_table([
        ("RAVDESS test accuracy (describe audio path)", acc, ">= 65", acc >= 65),
        ("RAVDESS test macro-F1", f1, "report", True),
        ("clips through the speech gate (%)", passed, ">= 99", passed >= 99),
    ])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
