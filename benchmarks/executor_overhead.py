"""The executor's own cost, and what parallel workers buy on a real describe batch (issue 10).

    python benchmarks/executor_overhead.py [--data-dir ../shared/data] [--records 10000] [--clips 30]

1. A no-op step over 10,000 records, with the per-record cache on (what every batch pays):
   in this process, with 2 local worker processes, and on 2 Ray actors (a local instance started
   here; its start-up is not counted). Targets: local workers <= 5 ms per record; Ray within 2x
   of the local workers.
2. A 30-clip describe batch (CREMA-D clips copied 5 times under new names, subtitle given, no ASR)
   with --workers 1 and --workers 2: clips/s of each (reported; 2 cores).

Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, print_table  # noqa: E402


def _noop(executor, n: int, store: Path) -> float:
    from affectgpt.pipeline import NoOpStep, run_map

    records = [{"id": f"rec-{i:06d}", "value": i} for i in range(n)]
    t0 = time.perf_counter()
    res = run_map(NoOpStep(), records, executor, store=store, resume=False, progress=False)
    dt = time.perf_counter() - t0
    assert len(res.records) == n and not res.failures
    return dt / n * 1000


def _describe(clips: list[Path], workers: int, out: Path) -> float:
    from affectgpt.describe.batch import describe_run
    from affectgpt.describe.pipeline import DescribeConfig
    from affectgpt.pipeline import make_executor

    t0 = time.perf_counter()
    res = describe_run(clips, out / "results.jsonl", DescribeConfig(asr=False), subtitle="I can't believe it.",
                       executor=make_executor("local", workers), progress=False)
    dt = time.perf_counter() - t0
    assert not res.failures, res.failures[:1]
    return len(clips) / dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--records", type=int, default=10000)
    ap.add_argument("--clips", type=int, default=30)
    ap.add_argument("--no-describe", action="store_true")
    a = ap.parse_args()
    from affectgpt.pipeline import make_executor
    from affectgpt.pipeline.ray import RayExecutor

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inproc = _noop(make_executor("local", 1), a.records, tmp / "s0")
        local = _noop(make_executor("local", 2), a.records, tmp / "s1")
        print(f"no-op, {a.records} records: in-process {inproc:.3f} ms/record, 2 local workers {local:.3f} ms/record")
        rows.append(("no-op: ms/record, 2 local workers", local, "<= 5", local <= 5))
        with RayExecutor(workers=2, init_kwargs={"num_cpus": 2}) as ray_ex:
            _noop(ray_ex, 200, tmp / "warm")  # start the instance and the actors once
            on_ray = _noop(ray_ex, a.records, tmp / "s2")
        print(f"no-op on 2 Ray actors: {on_ray:.3f} ms/record")
        rows.append(("no-op: ms/record, 2 Ray actors", on_ray, f"<= {2 * local:.2f}", on_ray <= 2 * local))
        if not a.no_describe:
            src = sorted((Path(a.data_dir) / "crema_d" / "video_mp4").glob("*.mp4"))
            if not src:
                raise SystemExit(f"{a.data_dir}/crema_d/video_mp4 has no clips: pass --data-dir")
            clips = []
            for i in range(a.clips):
                dst = tmp / "clips" / f"{i:02d}_{src[i % len(src)].name}"
                dst.parent.mkdir(exist_ok=True)
                shutil.copyfile(src[i % len(src)], dst)
                clips.append(dst)
            one = _describe(clips, 1, tmp / "d1")
            two = _describe(clips, 2, tmp / "d2")
            print(f"describe, {len(clips)} clips: --workers 1 {one:.2f} clips/s, --workers 2 {two:.2f} clips/s "
                  f"({two / one:.2f}x)")
            rows.append(("describe: clips/s, --workers 1", one, "report", True))
            rows.append(("describe: clips/s, --workers 2", two, "report", True))
    return 0 if print_table(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
