"""Hit rate of the trained ``mini`` AffectGPT on RAVDESS test actors 21-24 and MELD test.

Generates label answers (greedy, <= 16 new tokens), extracts labels from the free text with
the offline ``lexicon`` extractor, and scores MER-UniBench hit rate (5 emotion wheels, level 1,
profile ``paper``; neutral ground truth excluded as in the benchmark). Also prints the
majority-label baseline (RAVDESS has 8 classes: chance 12.5%); the target is to beat it on
both sets. Also reports the training time recorded in the run's metrics (target <= 60 min).

Usage: python benchmarks/mini_model.py --run runs/mini [--data-dir DIR] [--meld-limit 400]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

from _common import data_dir, print_table


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--run", default="runs/mini")
    ap.add_argument("--data-dir")
    ap.add_argument("--meld-limit", type=int, default=400, help="random MELD test utterances (seeded); 0 = all")
    a = ap.parse_args()
    d = data_dir(a.data_dir)
    from affectgpt.bench import metrics as M
    from affectgpt.bench.extractors import get_extractor
    from affectgpt.emotions import WHEELS, load_vocabulary
    from affectgpt.recipes.run import infer_recipe, load_recipe

    cfg = load_recipe("mini", [f"data.meld_test={a.meld_limit or 'null'}"])
    out = Path(tempfile.mkdtemp()) / "answers.csv"
    rows = infer_recipe(cfg, a.run, str(out), str(d))
    metrics = [json.loads(ln) for ln in (Path(a.run) / "metrics.jsonl").read_text().splitlines() if ln]
    if metrics and "step_s" in metrics[0]:
        train_min = sum(m["step_s"] for m in metrics) / 60
    else:  # older runs: samples seen / the run's average rate
        t = json.loads((Path(a.run) / "train_config.json").read_text())["train"]
        train_min = len(metrics) * t["batch_size"] * t["grad_accum"] / metrics[-1]["samples_per_s"] / 60
    vocab = load_vocabulary("paper", d)
    lex = get_extractor("lexicon", vocabulary=vocab)
    mappers = [(lambda k: (lambda L: vocab.map_labels(L, k, 1)))(k) for k in WHEELS]
    table = []
    for name, prefix in (("RAVDESS test (actors 21-24)", "ravdess/"), ("MELD test", "meld/")):
        sub = [r for r in rows if r["name"].startswith(prefix)]
        gold = [r["gold"] for r in sub]
        pred = lex.extract([r["text"] for r in sub])
        hit = 100 * M.aggregate_hit_rate(M.hit_matrix(gold, pred, mappers))
        major = Counter(g for g in gold if g != "neutral").most_common(1)[0][0]
        base = 100 * M.aggregate_hit_rate(M.hit_matrix(gold, [[major]] * len(gold), mappers))
        exact = 100 * sum(g in p for g, p in zip(gold, pred)) / len(sub)
        print(f"{name}: {len(sub)} answers, e.g. {sub[0]['text']!r} (gold {sub[0]['gold']})")
        table += [(f"{name}: hit rate", hit, f"> {base:.2f}", hit > base),
                  (f"{name}: majority-label hit rate", base, "report", True),
                  (f"{name}: gold word in answer (%)", exact, "report", True)]
    table.append((f"training time ({len(metrics)} steps, min)", train_min, "<= 60", train_min <= 60))
    print(f"answers in {out}")
    return 0 if print_table(table) else 1


if __name__ == "__main__":
    sys.exit(main())
