"""Throughput of the `offline` MER-Caption preset (issue 11).

    python benchmarks/caption_throughput.py [--data-dir ../shared/data] [--clips 30]

Builds N clips of about 3 s from the data directory (the demo clip and the CREMA-D clips, copied
under new names), gives each a subtitle (no ASR), and runs `caption run offline` locally with 1
and 2 workers and on Ray with 2 actors. Reports wall-clock clips/s of the whole run (model loading
included) and of the clue step alone (the per-clip cost, from the run statistics). Target: the
whole offline run at >= 2 clips/s on 2 cores (best of the local runs). Exits 1 on a miss.
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


def _run(inputs: Path, out: Path, executor, data_dir: str) -> tuple[float, float, int]:
    from affectgpt.caption import caption_run, load_caption_config

    cfg = load_caption_config("offline", ["clues.asr=false", "export.hf=false"])
    t0 = time.perf_counter()
    res = caption_run(cfg, [str(inputs)], out, executor=executor, progress=False, data_dir=data_dir, plots=False)
    wall = time.perf_counter() - t0
    clue = next(s for s in res.steps if s["step"].startswith("clues"))
    assert not res.failures, res.failures[:1]
    return len(res.records) / wall, clue["processed"] / max(clue["seconds"], 1e-9), len(res.kept)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--clips", type=int, default=30)
    ap.add_argument("--no-ray", action="store_true")
    a = ap.parse_args()
    from affectgpt.pipeline import make_executor

    src = sorted((Path(a.data_dir) / "crema_d" / "video_mp4").glob("*.mp4")) + \
        sorted((Path(a.data_dir) / "demo").glob("*.mp4"))
    if not src:
        raise SystemExit(f"no clips under {a.data_dir}: pass --data-dir")
    rows, best = [], 0.0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inputs = tmp / "clips"
        inputs.mkdir()
        lines = ["name,path,english"]
        for i in range(a.clips):
            dst = inputs / f"clip{i:03d}.mp4"
            shutil.copyfile(src[i % len(src)], dst)
            lines.append(f"clip{i:03d},{dst},I really can't believe this is happening right now.")
        manifest = tmp / "manifest.csv"
        manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
        runs = [("local, 1 worker", make_executor("local", 1)), ("local, 2 workers", make_executor("local", 2))]
        if not a.no_ray:
            from affectgpt.pipeline.ray import RayExecutor

            runs.append(("Ray, 2 actors", RayExecutor(workers=2, init_kwargs={"num_cpus": 2})))
        for label, ex in runs:
            whole, clue, kept = _run(manifest, tmp / label.replace(" ", "_").replace(",", ""), ex, a.data_dir)
            getattr(ex, "close", lambda: None)()
            print(f"{label}: {whole:.2f} clips/s whole run, {clue:.2f} clips/s clue step, {kept} of {a.clips} kept")
            rows.append((f"{label}: clips/s (whole run)", whole, "report", True))
            if label.startswith("local"):
                best = max(best, whole)
    rows.append(("best local run: clips/s", best, ">= 2", best >= 2))
    return 0 if print_table(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
