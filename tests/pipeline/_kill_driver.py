"""A batch run the kill tests SIGKILL at random points: N records through EchoStep with W workers,
results rewritten atomically every 20 ms (so kills land mid-rewrite) and at the end.

    python _kill_driver.py OUT_DIR N WORKERS [executor]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _steps import EchoStep  # noqa: E402

from affectgpt.pipeline import make_executor, run_map, write_jsonl  # noqa: E402
from affectgpt.pipeline.store import remove_stale_temporaries  # noqa: E402


def main() -> int:
    out, n, workers = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    kind = sys.argv[4] if len(sys.argv) > 4 else "local"
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)
    inputs = [{"id": f"rec-{i:05d}"} for i in range(n)]

    def partial(records):
        write_jsonl(out / "results.jsonl", [r for r in records if r is not None])

    ex = make_executor(kind, workers)
    res = run_map(EchoStep(sleep_s=0.001, width=256), inputs, ex, store=out / ".cache", progress=False,
                  on_progress=partial, every_s=0.02)
    write_jsonl(out / "results.jsonl", res.records)
    (out / "DONE").write_text(str(res.stats["processed"]), encoding="utf-8")
    return 1 if res.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
