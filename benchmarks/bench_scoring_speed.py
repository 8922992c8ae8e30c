"""Speed targets of the scorer (issue: MER-UniBench scorer).

1. Score every shipped released output (all datasets with public ground truth, every
   checkpoint, given labels, best-checkpoint protocol, bootstrap CIs, per-sample CSVs and
   plots) through the CLI in a fresh process: < 10 s wall including start-up.
2. ``lexicon`` extraction over every shipped free-form answer: >= 5,000 outputs/s.

Usage: python benchmarks/bench_scoring_speed.py [--data-dir DIR]; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time

from _common import data_dir, print_table


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    d = data_dir(a.data_dir)
    walls = []
    for _ in range(a.repeats):
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "affectgpt.cli", "bench", "run", "released", "--data-dir", str(d),
                            "--out", out, "--quiet"], check=True, stdout=subprocess.DEVNULL)
            walls.append(time.perf_counter() - t0)
    wall = min(walls)

    from affectgpt.bench import read_predictions
    from affectgpt.bench.extractors import get_extractor

    texts = []
    for folder in sorted((d / "released_outputs").glob("*/*")):
        for ps in read_predictions(folder):
            if ps.text_path:
                texts.extend(ps.load_texts(trust_pickle=True).values())
    lex = get_extractor("lexicon", data_dir=str(d))
    lex.extract(texts[:200])  # warm-up
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        lex.extract(texts)
        best = max(best, len(texts) / (time.perf_counter() - t0))
    ok = print_table([
        ("bench run released: wall s (best of %d)" % a.repeats, wall, "< 10 s", wall < 10),
        (f"lexicon extraction: outputs/s ({len(texts)} texts)", best, ">= 5000/s", best >= 5000),
    ])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
