"""Archive bombs are refused fast and in little memory (issue 9, item 6).

Builds, in a temporary folder, a MER2024 synonyms zip and an output ``.npz`` of about 1 MB each
that expand to about 1 GiB (one member of zeros, deflated), then times how long ``bench`` takes to
refuse each and how much the process's peak resident memory grows meanwhile.

    python benchmarks/bench_bombs.py

Targets: refused in under 0.5 s; peak memory grows by under 50 MB. Exits 1 on a miss.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table  # noqa: E402

EXPANDED = 1 << 30  # bytes of zeros inside the one member


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _bomb(path: Path, member: str, header: bytes) -> None:
    """A zip with one member: ``header`` then zeros, to EXPANDED bytes in all; streamed, never held."""
    chunk = b"\0" * (8 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open(member, "w", force_zip64=True) as fh:
            fh.write(header)
            left = EXPANDED - len(header)
            while left > 0:
                fh.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)


def _npy_header(n: int) -> bytes:
    import io

    import numpy as np
    from numpy.lib import format as npf

    buf = io.BytesIO()
    npf.write_array_header_1_0(buf, {"descr": np.dtype("<U1").str, "fortran_order": False, "shape": (n,)})
    return buf.getvalue()


def _refuse(fn, path: Path) -> tuple[float, float, str]:
    from affectgpt.errors import InputError

    before = _peak_mb()
    t0 = time.perf_counter()
    try:
        fn(path)
    except InputError as exc:
        message = str(exc)
    else:
        raise SystemExit(f"{path.name} was NOT refused")
    return time.perf_counter() - t0, _peak_mb() - before, message


def main() -> int:
    from affectgpt.bench.predictions import read_predictions
    from affectgpt.bench.synonyms import load_synonym_groups

    with tempfile.TemporaryDirectory() as tmp:
        zbomb = Path(tmp) / "openset-synonym.zip"
        nbomb = Path(tmp) / "checkpoint_000050-openset.npz"
        _bomb(zbomb, "sample_00000001.npy", _npy_header(EXPANDED // 4))
        _bomb(nbomb, "filenames.npy", _npy_header(EXPANDED // 4))
        rows = []
        for label, fn, path in (("synonyms zip", load_synonym_groups, zbomb),
                                ("output npz", lambda p: read_predictions(p)[0].labels, nbomb)):
            seconds, grew, message = _refuse(fn, path)
            print(f"{label}: {path.stat().st_size / 1e6:.2f} MB on disk, {EXPANDED / 2**30:.0f} GiB expanded -> {message}")
            rows.append((f"{label}: seconds to refuse", seconds, "< 0.5", seconds < 0.5))
            rows.append((f"{label}: peak memory growth (MB)", grew, "< 50", grew < 50))
    return 0 if print_table(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
