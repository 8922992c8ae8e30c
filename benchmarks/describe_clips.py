"""Every CREMA-D audio-visual clip and the AffectGPT demo clip through the full describe pipeline.

Prints one row per clip (acted emotion from the file name, the fused top emotion, labels,
modalities, time) and the demo clip's full description. CREMA-D emotion codes: ANG angry,
DIS disgust, FEA fear, HAP happy, NEU neutral, SAD sad. The clips carry no subtitle file, so
speech is transcribed offline (English); the demo clip (Chinese speech) gets its English
subtitle from the data directory. Reported, not gated: six acted clips are far too few for
an accuracy target.

Usage: python benchmarks/describe_clips.py [--data-dir DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys

from _common import data_dir

CODES = {"ANG": "angry", "DIS": "disgusted", "FEA": "fearful", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir")
    ap.add_argument("--json", help="write all results here")
    a = ap.parse_args()
    d = data_dir(a.data_dir)
    from affectgpt.describe.pipeline import DescribeConfig, Describer

    desc = Describer(DescribeConfig(timeline=True, data_dir=str(d)))
    results = []
    print("| clip | acted | fused top | labels | modalities | transcript | time (s) |\n|---|---|---|---|---|---|---|")
    for clip in sorted((d / "crema_d" / "video_mp4").glob("*.mp4")):
        r = desc.describe(clip)
        results.append(r)
        top = max(r["basic"], key=r["basic"].get)
        mods = "".join(m[0].upper() for m, ok in r["modalities"].items() if ok)
        print(f"| {clip.name} | {CODES.get(clip.stem.split('_')[2], '?')} | {top} {r['basic'][top]:.2f} | "
              f"{', '.join(r['labels'])} | {mods} | {r['transcript']['text']} | {r['timings_s']['total']:.2f} |")
    demo = d / "demo" / "sample_00000000.mp4"
    row = next(csv.DictReader(open(d / "demo" / "demo_labels.csv", encoding="utf-8")))
    r = desc.describe(demo, subtitle=row["subtitle_eng"])
    results.append(r)
    top = max(r["basic"], key=r["basic"].get)
    print(f"| {demo.name} | (OV: {row['ov_labels_gt']}) | {top} {r['basic'][top]:.2f} | {', '.join(r['labels'])} | "
          f"VAT | (subtitle) | {r['timings_s']['total']:.2f} |")
    print("\nDemo clip description:\n" + r["description"])
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2, ensure_ascii=False)
    desc.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
