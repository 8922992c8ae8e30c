"""Helpers shared by the benchmark scripts: data directory, version line, result table."""

from __future__ import annotations

import os
import platform
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def data_dir(arg: str | None) -> Path:
    d = arg or os.environ.get("AFFECTGPT_DATA_DIR") or str(REPO.parent / "shared" / "data")
    if not (Path(d) / "released_outputs").is_dir():
        raise SystemExit(f"data directory {d} has no released_outputs/: pass --data-dir")
    return Path(d)


def print_table(rows: list[tuple[str, float, str, bool]]) -> bool:
    """Print measured vs target; returns True when every target is met."""
    import numpy as np

    from affectgpt import __version__

    print(f"affectgpt {__version__}, python {platform.python_version()}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs, {platform.machine()}")
    print(f"{'measure':<46} {'value':>12}  {'target':<14} ok")
    for name, value, target, ok in rows:
        print(f"{name:<46} {value:>12.2f}  {target:<14} {'yes' if ok else 'NO'}")
    return all(ok for *_, ok in rows)


def ravdess_rows(d: Path, split: str = "test") -> list[dict]:
    """Rows of the RAVDESS manifest in ``split`` (speaker-independent: test = actors 21-24)."""
    import csv

    with open(d / "ravdess/manifest.csv", encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if r["split"] == split]
