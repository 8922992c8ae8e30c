"""Accuracy of the describe pipeline's audio and text paths on held-out public data.

* RAVDESS speaker-independent test (actors 21-24, 8 classes), audio path: the packaged head
  on Whisper-encoder features computed by the analyzer from the audio files (level-normalised
  as in ``describe``). Target: accuracy >= 55%.
  Anchors: human raters ~62% on audio-only speech (RAVDESS paper); eGeMAPS + SVM 40-55%.
* MELD test (2,610 utterances), text path with the previous utterance as context:
  weighted F1 >= 55.

Usage: python benchmarks/bench_heads.py [--data-dir DIR]; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time

from _common import data_dir, print_table, ravdess_rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir")
    a = ap.parse_args()
    d = data_dir(a.data_dir)
    import numpy as np
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    from affectgpt.analyzers.acoustic import AcousticAnalyzer, normalize_level
    from affectgpt.analyzers.lexical import LexicalAnalyzer
    from affectgpt.media.audio import load_audio

    ac = AcousticAnalyzer()
    rows = ravdess_rows(d)
    t0 = time.perf_counter()
    probs = np.array([ac.probs(normalize_level(load_audio(d / "ravdess" / r["file"]))) for r in rows])
    pred = np.array(ac.head.classes)[probs.argmax(1)]
    y = np.array([r["emotion"] for r in rows])
    ra_acc, ra_f1 = 100 * accuracy_score(y, pred), 100 * f1_score(y, pred, average="macro")
    print(f"RAVDESS test: {len(rows)} clips in {time.perf_counter() - t0:.1f} s; classes {ac.head.classes}")
    print(confusion_matrix(y, pred, labels=ac.head.classes))

    lx = LexicalAnalyzer()
    meld = list(csv.DictReader(open(d / "meld/manifest.csv", encoding="utf-8")))
    index = {(r["split"], r["dialogue_id"], int(r["utterance_id"])): r["utterance"] for r in meld}
    test = [r for r in meld if r["split"] == "test"]
    prev = [index.get((r["split"], r["dialogue_id"], int(r["utterance_id"]) - 1), "") for r in test]
    t0 = time.perf_counter()
    p = lx.probs([r["utterance"] for r in test], prev)
    mp = np.array(lx.head.classes)[p.argmax(1)]
    my = np.array([r["emotion"] for r in test])
    me_wf1, me_acc = 100 * f1_score(my, mp, average="weighted"), 100 * accuracy_score(my, mp)
    p0 = lx.probs([r["utterance"] for r in test])
    me_wf1_noctx = 100 * f1_score(my, np.array(lx.head.classes)[p0.argmax(1)], average="weighted")
    print(f"MELD test: {len(test)} utterances in {time.perf_counter() - t0:.1f} s")
    ok = print_table([
        ("RAVDESS test accuracy (audio path, 8 classes)", ra_acc, ">= 55", ra_acc >= 55),
        ("RAVDESS test macro-F1 (audio path)", ra_f1, "report", True),
        ("MELD test weighted F1 (text path, context)", me_wf1, ">= 55", me_wf1 >= 55),
        ("MELD test accuracy (text path, context)", me_acc, "report", True),
        ("MELD test weighted F1 (utterance alone)", me_wf1_noctx, "report", True),
    ])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
