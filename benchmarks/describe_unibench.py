"""The default describe pipeline on the public MER-UniBench test sets, from their subtitles.

The media of these sets are not public, so only the text path runs (audio and video are
reported missing). Each set's subtitles go through ``Describer.describe_texts``; the outputs
are written in the benchmark's prediction format and scored by ``affectgpt bench`` (labels
as given, sentiment as given by the pipeline), beside AffectGPT's published numbers
(audio + video + text, paper Table 2). CMU-MOSEI has no public subtitle file here.

Usage: python benchmarks/describe_unibench.py [--data-dir DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _common import data_dir

SETS = {  # name -> (subtitle folder, ground-truth CSV)
    "mer2023": "mer2023-dataset-process", "meld": "meld-process", "iemocapfour": "iemocap-process",
    "cmumosi": "cmumosi-process", "sims": "sims-process", "simsv2": "simsv2-process",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir")
    ap.add_argument("--out", help="keep the prediction CSVs and reports here")
    a = ap.parse_args()
    d = data_dir(a.data_dir)
    out = Path(a.out or tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    from affectgpt.bench import ScoreSettings, load_ground_truth, load_subtitles, report_json, score
    from affectgpt.bench.published import AFFECTGPT_TABLE2
    from affectgpt.describe.export import write_predictions_csv
    from affectgpt.describe.pipeline import DescribeConfig, Describer

    desc = Describer(DescribeConfig(data_dir=str(d)))
    rows = []
    for name, folder in SETS.items():
        gt_path = d / "merunibench/gt_csv" / f"{name}.csv"
        gt = load_ground_truth(name, gt_path)
        notes: list[str] = []
        subs = load_subtitles(d / "merunibench/dataset" / folder, duplicates="last", warnings=notes)
        for n in notes:
            print("note:", n)
        texts = [subs.get(n, "") for n in gt.names]
        results = desc.describe_texts(gt.names, texts)
        pred = out / f"{name}-predictions.csv"
        write_predictions_csv(results, pred)
        for profile in ("paper",):
            r = score(ScoreSettings(name, str(gt_path), str(pred), extractor="given", profile=profile,
                                    data_dir=str(d), bootstrap=1000))
            (out / f"{name}-{profile}.json").write_text(report_json(r), encoding="utf-8")
            rows.append((gt.dataset, r["metric"], r["score"], r["ci95"], AFFECTGPT_TABLE2[name],
                         sum(1 for t in texts if not t.strip())))
    print("| dataset | metric | describe (text only) | 95% CI | AffectGPT (A+V+T, paper) | empty subtitles |")
    print("|---|---|---|---|---|---|")
    for ds, metric, s, ci, paper, empty in rows:
        print(f"| {ds} | {metric} | {s:.2f} | {ci[0]:.2f}-{ci[1]:.2f} | {paper:.2f} | {empty} |")
    print(f"\npredictions and reports in {out}")
    desc.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
