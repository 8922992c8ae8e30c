"""The caption export (``DIR/export/``) and run report (``DIR/report.md`` + ``DIR/plots/``).

Files, all written atomically and the same bytes on every run of the same inputs and settings:

* ``openset.csv`` (``name,openset``) and ``reason.csv`` (``name,reason``): the MER2025 track
  files, kept samples only;
* ``samples.jsonl`` and ``samples.parquet``: every input sample, kept or dropped or failed, with
  its clues, description, labels, vote and decisions (nested fields as JSON text in parquet);
* ``sharegpt.json``: kept samples in the ShareGPT / LLaMA-Factory chat format;
* ``train_manifest.csv``: ``name,path,subtitle,target,label`` of the kept samples (target = the
  paper's label sentence, label = the OV labels);
* ``hf/``: a Hugging Face ``datasets`` folder (``load_from_disk``), when ``datasets`` is installed.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

from affectgpt.pipeline import Writer
from affectgpt.pipeline.store import atomic_write_bytes, atomic_write_text

__all__ = ["ExportWriter", "write_report", "SHAREGPT_QUESTION"]

SHAREGPT_QUESTION = ("<video>\nThe subtitle of this video is: {subtitle}\nPlease infer the person's emotional state and "
                     "provide your reasoning process.")


def _csv(rows: list[list]) -> bytes:
    buf = io.StringIO()
    from affectgpt.io import spreadsheet_safe

    w = csv.writer(buf, lineterminator="\n")
    for r in rows:
        w.writerow([spreadsheet_safe(x) if isinstance(x, str) and i > 0 else x for i, x in enumerate(r)])
    return buf.getvalue().encode("utf-8")


def _openset(labels: list[str]) -> str:
    return "[" + ", ".join(repr(x) for x in labels) + "]"


def _abs(path: str) -> str:
    """Media paths in the export are absolute: the files are read from anywhere (train, LLaMA-Factory)."""
    return str(Path(path).resolve())


def _target(labels: list[str]) -> str:
    return f"The character's emotional state is {', '.join(labels) if labels else 'neutral'}."


class ExportWriter(Writer):
    """Writes every export file from the final records (see the module doc)."""

    name = "export"

    def __init__(self, out_dir: str | Path, hf: bool = True):
        self.out_dir, self.hf = str(out_dir), hf

    def settings(self) -> dict:
        return {"out_dir": self.out_dir}

    def write(self, records: list[dict]) -> None:
        out = Path(self.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        kept = [r for r in records if r.get("kept") and "error" not in r]
        atomic_write_bytes(out / "openset.csv", _csv([["name", "openset"]] + [[r["id"], _openset(r["openset"])]
                                                                           for r in kept]))
        atomic_write_bytes(out / "reason.csv", _csv([["name", "reason"]] + [[r["id"], r["description"]] for r in kept]))
        atomic_write_text(out / "samples.jsonl", "".join(
            json.dumps({**r, "kept": bool(r.get("kept")) and "error" not in r}, ensure_ascii=False, sort_keys=True)
            + "\n" for r in records))
        sharegpt = [{"id": r["id"], "video": _abs(r["path"]), "conversations": [
            {"from": "human", "value": SHAREGPT_QUESTION.format(subtitle=r.get("subtitle") or "none")},
            {"from": "gpt", "value": r["description"]}]} for r in kept]
        atomic_write_text(out / "sharegpt.json", json.dumps(sharegpt, ensure_ascii=False, indent=1) + "\n")
        atomic_write_bytes(out / "train_manifest.csv", _csv(
            [["name", "path", "subtitle", "target", "label"]]
            + [[r["id"], _abs(r["path"]), r.get("subtitle", ""), _target(r["openset"]), ", ".join(r["openset"])]
               for r in kept]))
        self._parquet(out / "samples.parquet", records)
        if self.hf:
            self._hf(out / "hf", kept)

    @staticmethod
    def _flat(r: dict) -> dict:
        return {"name": r["id"], "path": r.get("path", ""), "kept": bool(r.get("kept")), "error": r.get("error", ""),
                "subtitle": r.get("subtitle", ""), "description": r.get("description", ""),
                "openset": list(r.get("openset") or []), "sentiment": r.get("description_sentiment", ""),
                "decisions": json.dumps(r.get("decisions") or {}, sort_keys=True, ensure_ascii=False),
                "vote": json.dumps(r.get("vote") or {}, sort_keys=True, ensure_ascii=False),
                "clues": json.dumps(r.get("clues") or {}, sort_keys=True, ensure_ascii=False)}

    def _parquet(self, path: Path, records: list[dict]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist([self._flat(r) for r in records])
        buf = pa.BufferOutputStream()
        pq.write_table(table, buf, compression="zstd")
        atomic_write_bytes(path, buf.getvalue().to_pybytes())

    def _hf(self, path: Path, kept: list[dict]) -> None:
        try:
            import datasets
        except ImportError:
            return
        datasets.disable_progress_bars()
        import shutil
        import tempfile

        rows = [{k: v for k, v in self._flat(r).items() if k not in ("error", "kept")} for r in kept]
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=".hf-"))
        try:
            datasets.Dataset.from_list(rows).save_to_disk(str(tmp / "hf"))
            if path.exists():
                shutil.rmtree(path)
            (tmp / "hf").rename(path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def write_report(out_dir: str | Path, records: list[dict], steps: list[dict], config: dict,
                 length_bounds: tuple[float, float] | None, plots: bool = True) -> Path:
    """``report.md`` (counts per step, drop reasons, OV label distribution, lengths, modality
    agreement, vote margins) and its PNG plots under ``plots/``; returns the report path."""
    out = Path(out_dir)
    ok = [r for r in records if "error" not in r]
    kept = [r for r in ok if r.get("kept")]
    failed = [r for r in records if "error" in r]
    drops = Counter()
    for r in ok:
        for name, d in (r.get("decisions") or {}).items():
            if not d["keep"]:
                drops[name] += 1
    labels = Counter(x for r in kept for x in r.get("openset") or [])
    lengths = [len(r["description"]) for r in ok if "description" in r]
    votes = [r["vote"] for r in ok if r.get("vote")]
    pair = Counter()
    pair_n = Counter()
    for v in votes:
        names = sorted(v["voters"])
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                pair_n[(a, b)] += 1
                pair[(a, b)] += v["voters"][a] == v["voters"][b]
    margins = Counter(v["emotion_margin"] for v in votes)
    lines = [f"# MER-Caption run: {config.get('name')}", "",
             f"{len(records)} samples: {len(kept)} kept, {len(ok) - len(kept)} dropped, {len(failed)} failed.", "",
             "## Steps", "", "| step | total | cached | processed | failed | seconds |", "|---|---|---|---|---|---|"]
    for s in steps:
        name = s["step"].rsplit("-", 1)[0]  # the signature's hash says which settings; the name reads better
        lines.append(f"| {name} | {s.get('total', '')} | {s.get('cached', '-')} | {s.get('processed', '-')} | "
                     f"{s.get('failed', '-')} | {s.get('seconds', '')} |")
    lines += ["", "## Drop reasons", "", "| filter | dropped |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(drops.items())] or ["| (none) | 0 |"]
    fails = Counter(r.get("reason", "error") for r in failed)
    if fails:
        lines += ["", "## Failures", "", "| reason | count |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in sorted(fails.items())]
        lines += ["", "| sample | error |", "|---|---|"]
        lines += [f"| {r['id']} | {str(r['error']).replace('|', '/')} |" for r in failed[:50]]
        if len(failed) > 50:
            lines.append(f"| ... | {len(failed) - 50} more in export/samples.jsonl |")
    lines += ["", "## Open-vocabulary labels of kept samples (top 50)", "", "| label | count |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(labels.items(), key=lambda kv: (-kv[1], kv[0]))[:50]]
    if lengths:
        bounds = "" if length_bounds is None else f"; cut lines {length_bounds[0]:.0f} and {length_bounds[1]:.0f}"
        lines += ["", "## Description length (characters)", "",
                  f"min {min(lengths)}, median {sorted(lengths)[len(lengths) // 2]}, max {max(lengths)}{bounds}."]
    if pair_n:
        lines += ["", "## Agreement between modalities (same basic emotion)", "", "| pair | agree | of |", "|---|---|---|"]
        lines += [f"| {a}-{b} | {pair[(a, b)]} | {n} |" for (a, b), n in sorted(pair_n.items())]
    if margins:
        lines += ["", "## Emotion vote margins (winner minus runner-up)", "", "| margin | samples |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in sorted(margins.items())]
    if plots and ok:
        try:
            made = _plots(out / "plots", lengths, length_bounds, labels, margins)
            lines += ["", "## Plots", ""] + [f"![{p.stem}](plots/{p.name})" for p in made]
        except ImportError:
            lines += ["", "(plots need: pip install 'affectgpt[plot]')"]
    path = out / "report.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def _plots(folder: Path, lengths, bounds, labels: Counter, margins: Counter) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    made = []
    meta = {"Software": None, "Creation Time": None}  # no timestamps: the same bytes on every run
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(lengths, bins=min(30, max(5, len(lengths) // 2)), color="#4c72b0")
    if bounds is not None:
        for x in bounds:
            ax.axvline(x, color="#c44e52", linestyle="--")
    ax.set_xlabel("description length (characters)")
    ax.set_ylabel("samples")
    fig.tight_layout()
    fig.savefig(folder / "length_hist.png", dpi=100, metadata=meta)
    plt.close(fig)
    made.append(folder / "length_hist.png")
    top = sorted(labels.items(), key=lambda kv: (-kv[1], kv[0]))[:50]
    if top:
        fig, ax = plt.subplots(figsize=(6, max(2.5, 0.22 * len(top))))
        ax.barh([k for k, _ in top][::-1], [v for _, v in top][::-1], color="#55a868")
        ax.set_xlabel("kept samples")
        fig.tight_layout()
        fig.savefig(folder / "labels_top50.png", dpi=100, metadata=meta)
        plt.close(fig)
        made.append(folder / "labels_top50.png")
    if margins:
        fig, ax = plt.subplots(figsize=(4, 3))
        ks = sorted(margins)
        ax.bar([str(k) for k in ks], [margins[k] for k in ks], color="#8172b2")
        ax.set_xlabel("emotion vote margin")
        ax.set_ylabel("samples")
        fig.tight_layout()
        fig.savefig(folder / "vote_margins.png", dpi=100, metadata=meta)
        plt.close(fig)
        made.append(folder / "vote_margins.png")
    return made
