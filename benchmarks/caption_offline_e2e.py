"""The `offline` MER-Caption preset over real clips of the data directory (issue 11).

    python benchmarks/caption_offline_e2e.py [--data-dir ../shared/data] [--ravdess 200] [--out runs/caption-e2e]

Inputs, given through one manifest with subtitles (no ASR):
* the 6 CREMA-D audio-visual clips (subtitle: the sentence the actor speaks),
* the AffectGPT demo clip (its English subtitle),
* a seeded (seed 0) subset of RAVDESS speech clips from the training actors 01-20 (audio only;
  subtitle: the statement).

Prints the run's counts and drop reasons, and the filter decisions on the CREMA-D clips beside
their crowd labels (voice, face and audio-visual majority votes of CREMA-D's raters). Writes the
export and report under --out. Exits 1 when the run has failures.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, ravdess_rows  # noqa: E402

CREMA_CODES = {"A": "anger", "D": "disgust", "F": "fear", "H": "happy", "N": "neutral", "S": "sad"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--ravdess", type=int, default=200)
    ap.add_argument("--out", default="runs/caption-e2e")
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args()
    from affectgpt.caption import caption_run, load_caption_config
    from affectgpt.pipeline import make_executor

    d = Path(a.data_dir)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [["name", "path", "english"]]
    with open(d / "crema_d" / "manifest.csv", encoding="utf-8") as fh:
        crema = [r for r in csv.DictReader(fh) if r["file"].startswith("video_mp4/")]
    for r in crema:
        rows.append([r["clip"], str((d / "crema_d" / r["file"]).resolve()), r["transcript"]])
    with open(d / "demo" / "demo_labels.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            rows.append([r["name"], str((d / "demo" / r["video"]).resolve()), r["subtitle_eng"]])
    pool = [r for r in ravdess_rows(d, "train")]
    for r in random.Random(0).sample(pool, min(a.ravdess, len(pool))):
        rows.append([f"ravdess_{Path(r['file']).stem}", str((d / "ravdess" / r["file"]).resolve()), r["transcript"]])
    manifest = out / "inputs.csv"
    with open(manifest, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    cfg = load_caption_config("offline", ["clues.asr=false"])
    t0 = time.perf_counter()
    res = caption_run(cfg, [str(manifest)], out, executor=make_executor("local", a.workers), resume=True,
                      data_dir=str(d))
    wall = time.perf_counter() - t0
    n = len(res.records)
    print(f"\n{n} samples in {wall:.1f} s: {len(res.kept)} kept, {n - len(res.kept) - len(res.failures)} dropped, "
          f"{len(res.failures)} failed")
    drops = Counter(k for r in res.records if "error" not in r for k, v in r["decisions"].items() if not v["keep"])
    print("drops by filter:", dict(sorted(drops.items())))
    rav = [r for r in res.records if r["id"].startswith("ravdess_") and "error" not in r]
    print(f"RAVDESS subset: {sum(r['kept'] for r in rav)} of {len(rav)} kept; speaker check: "
          f"{Counter(r['decisions']['speaker']['reason'] for r in rav).most_common(1)}")
    print("\nCREMA-D clips: filter decisions beside the crowd labels (voice / face / audio-visual majority)")
    print(f"{'clip':<17} {'acted':<8} {'crowd V/F/AV':<22} {'vote':<18} {'labels':<30} decision")
    by_id = {r["id"]: r for r in res.records}
    for c in crema:
        r = by_id[c["clip"]]
        crowd = "/".join(CREMA_CODES.get(c[k], c[k]) for k in ("perceived_voice", "perceived_face",
                                                                 "perceived_audiovisual"))
        if "error" in r:
            print(f"{c['clip']:<17} {c['emotion']:<8} {crowd:<22} failed: {r['error']}")
            continue
        vote = "/".join(r["vote"]["emotion"]) if r.get("vote") else "-"
        why = "kept" if r["kept"] else "dropped: " + "; ".join(
            f"{k}: {v['reason']}" for k, v in r["decisions"].items() if not v["keep"])
        print(f"{c['clip']:<17} {c['emotion']:<8} {crowd:<22} {vote:<18} {', '.join(r['openset']):<30} {why}")
    print(f"\nexport: {res.export_dir}; report: {res.report}")
    return 1 if res.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
