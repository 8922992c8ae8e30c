"""Speed and memory of ``affectgpt describe`` on a 3.5 s 720p clip (2 CPU cores).

Measures cold start (a fresh process: imports, model loading and the first clip), warm
latency (median of 5 more clips in the same process, subtitle given, so no ASR) and warm
latency with offline ASR, and peak resident memory. Target: warm <= 2 s.

Usage: python benchmarks/bench_describe_speed.py [--clip PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import print_table

CHILD = r"""
import json, resource, statistics, sys, time
t0 = time.perf_counter()
from affectgpt.describe.pipeline import DescribeConfig, Describer
d = Describer(DescribeConfig())
first = d.describe(sys.argv[1], subtitle=sys.argv[2])
cold = time.perf_counter() - t0
warm = []
for _ in range(5):
    t = time.perf_counter(); d.describe(sys.argv[1], subtitle=sys.argv[2]); warm.append(time.perf_counter() - t)
d.describe(sys.argv[1])  # load ASR
asr = []
for _ in range(3):
    t = time.perf_counter(); r = d.describe(sys.argv[1]); asr.append(time.perf_counter() - t)
print(json.dumps({"cold": cold, "warm": statistics.median(warm), "warm_asr": statistics.median(asr),
                  "timings": first["timings_s"], "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clip", help="a clip to time (default: the synthetic 3.5 s 1280x720 sample)")
    a = ap.parse_args()
    from affectgpt.describe.sample import SAMPLE_SUBTITLE, build_sample_clip
    from affectgpt.media.probe import probe

    clip = Path(a.clip) if a.clip else build_sample_clip(Path(tempfile.mkdtemp()) / "sample720p.mp4")
    info = probe(clip)
    print(f"clip {clip.name}: {info.width}x{info.height}, {info.duration_s:.2f} s")
    out = subprocess.run([sys.executable, "-c", CHILD, str(clip), SAMPLE_SUBTITLE], capture_output=True, text=True)
    if out.returncode:
        print(out.stderr[-3000:])
        return 1
    m = json.loads(out.stdout.strip().splitlines()[-1])
    print("stage timings of the first call (s):", m["timings"])
    ok = print_table([
        ("cold start + first clip (s)", m["cold"], "report", True),
        ("warm, subtitle given (s, median of 5)", m["warm"], "<= 2", m["warm"] <= 2.0),
        ("warm, offline ASR (s, median of 3)", m["warm_asr"], "report", True),
        ("peak resident memory (MB)", m["rss_mb"], "report", True),
    ])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
