"""Write ``affectgpt/fetch_registry.csv`` (the SHA-256 table of ``affectgpt data fetch``).

Run against a data directory taken from the pinned upstream commits (``../shared/data``)::

    python tools/build_fetch_registry.py --data-dir ../shared/data

Each data-directory file is mapped back to its upstream repository and path (the origins listed in
the data directory's README and ../shared/UPSTREAM.md); its SHA-256 and size are recorded. Derived
tables (``emotion_wheel/2025/*.csv`` from the ``.xlsx`` sheets, ``merunibench/gt_csv/*.csv`` from the
label npz files) are not listed: ``data fetch`` rebuilds them.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
from pathlib import Path

AFFECTGPT = "zeroQiaoba/AffectGPT"
MERTOOLS = "zeroQiaoba/MERTools"

# data-directory dataset folder -> the MER-UniBench dataset whose test split its label file holds
GT_FROM = {
    "mer2023-dataset-process/label-6way.npz": "mer2023",
    "meld-process/label.npz": "meld",
    "iemocap-process/label_4way.npz": "iemocapfour",
    "cmumosi-process/label.npz": "cmumosi",
    "cmumosei-process/label.npz": "cmumosei",
    "sims-process/label.npz": "sims",
    "simsv2-process/label.npz": "simsv2",
}


def upstream(rel: str) -> tuple[str, str, str, str] | None:
    """(group, repo, upstream path, conversion) of a data-directory path, or None if not fetched."""
    parts = rel.split("/")
    if rel.startswith("emotion_wheel/2025/xlsx/"):
        return "wheels", AFFECTGPT, f"AffectGPT/emotion_wheel/{parts[-1]}", "xlsx"
    if rel == "emotion_wheel/2025/format.csv":
        return "wheels", AFFECTGPT, "AffectGPT/emotion_wheel/format.csv", "copy"
    if rel == "emotion_wheel/2026/format.csv":
        return "wheels", MERTOOLS, "MER2026/MER2026_Track2/emotion_wheel/format.csv", "copy"
    if rel.startswith("merunibench/dataset/"):
        sub = "/".join(parts[2:])
        conv = f"gt:{GT_FROM[sub]}" if sub in GT_FROM else "copy"
        return "merunibench", MERTOOLS, f"MERBench/dataset/{sub}", conv
    if rel == "ovmerd/ovlabel-gt.csv":
        return "ovmerd", MERTOOLS, "MER2024/ov_store/check-openset.csv", "copy"
    if rel == "ovmerd/emer-v1-gt-eng.csv":
        return "ovmerd", AFFECTGPT, "EMER/dataset-v1/gt-eng.csv", "copy"
    if rel == "ovmerd/emer-v2-descriptions.csv":
        return "ovmerd", AFFECTGPT, "EMER/dataset-v2/final-EMER-reason.csv", "copy"
    if rel.startswith("released_outputs/affectgpt/"):
        return "outputs", AFFECTGPT, "AffectGPT/output/" + "/".join(parts[2:]), "copy"
    if rel.startswith("released_outputs/ovmer_baselines/"):
        return "outputs", AFFECTGPT, "OV-MER/output/results-ovmerd/" + "/".join(parts[2:]), "copy"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "affectgpt" / "fetch_registry.csv"))
    a = ap.parse_args()
    root = Path(a.data_dir)
    rows = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        hit = upstream(rel)
        if hit is None:
            continue
        group, repo, up, conv = hit
        target = rel.replace("/xlsx/", "/").removesuffix(".xlsx") + ".csv" if conv == "xlsx" else rel
        data = path.read_bytes()
        rows.append([group, repo, up, hashlib.sha256(data).hexdigest(), len(data), target, conv])
    rows.sort()
    with open(a.out, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["group", "repo", "path", "sha256", "bytes", "target", "convert"])
        w.writerows(rows)
    print(f"{len(rows)} files -> {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
