"""Rendering a benchmark run: a Markdown table shaped like the paper's Table 2, and PNG plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from affectgpt.bench.datasets import DATASETS, UNIBENCH

__all__ = ["render_markdown", "render_plots"]


def _fmt(x) -> str:
    return "—" if x is None else f"{x:.2f}"


def render_markdown(cfg, results: dict) -> str:
    """The run's report: main table, paper reference, per-dataset details, skips and failures."""
    cols = [d for d in UNIBENCH] + [d for d in DATASETS if d not in UNIBENCH]
    used = [d for d in cols if any(d in r for r in results["models"].values())]
    lines = [f"# MER-UniBench report: {results['name']}", ""]
    lines.append(f"Profile `{cfg.profile}`, extractor `{cfg.extractor}`, checkpoint selection `{cfg.select}`"
                 + (" (**chosen on the test set**, as upstream: optimistic)" if cfg.select == "best" else "")
                 + f", bootstrap {cfg.bootstrap} (seed {cfg.seed}).")
    lines += ["", "Primary metric: hit rate (basic emotions), 2-class weighted F1 (sentiment), "
              "emotion-wheel F-score (open vocabulary); all in %. Mean = MER-UniBench mean of the 9 sets, "
              "shown only when all 9 are scored.", ""]
    header = "| Model | " + " | ".join(DATASETS[d].title for d in used) + " | Mean |"
    lines += [header, "|" + "---|" * (len(used) + 2)]
    for model, row in results["table"].items():
        cells = [_fmt(row["scores"].get(d)) for d in used]
        lines.append(f"| {model} | " + " | ".join(cells) + f" | {_fmt(row['mean'])} |")
    paper = [_fmt(DATASETS[d].paper_score) for d in used]
    lines.append("| *AffectGPT, paper Table 2* | " + " | ".join(paper) + " | 74.77 |")
    lines += ["", "## Details", ""]
    lines.append("| Model | Dataset | Score | 95% CI | Secondary | Scored / total | Checkpoint |")
    lines.append("|---|---|---|---|---|---|---|")
    for model, reports in results["models"].items():
        for ds, r in reports.items():
            ci = r.get("ci95") or [None, None]
            sec = ", ".join(f"{k} {_fmt(v)}" for k, v in (r.get("secondary") or {}).items())
            lines.append(f"| {model} | {DATASETS[ds].title} | {_fmt(r.get('score'))} | "
                         f"{_fmt(ci[0])}–{_fmt(ci[1])} | {sec} | {r.get('n_scored', '—')} / {r.get('n_total', '—')} | "
                         f"{r.get('checkpoint', '')} |")
    ov = [(m, ds, r["ovmer_metrics"]) for m, reps in results["models"].items() for ds, r in reps.items()
          if r.get("ovmer_metrics")]
    if ov:
        keys = list(ov[0][2])
        lines += ["", "## OV-MER metrics (M1, M2, M3-Wk-Ll, M-avg)", "",
                  "| Model | Dataset | " + " | ".join(keys) + " |", "|" + "---|" * (len(keys) + 2)]
        for m, ds, met in ov:
            lines.append(f"| {m} | {DATASETS[ds].title} | " + " | ".join(_fmt(met[k]) for k in keys) + " |")
    if results["skipped"]:
        lines += ["", "## Skipped", ""] + [f"- {s['model']} / {s['dataset']}: {s['reason']}" for s in results["skipped"]]
    if results["failures"]:
        lines += ["", "## Failures", ""] + [f"- {f['model']} / {f['dataset']}: {f['error']}" for f in results["failures"]]
    any_report = next((r for reps in results["models"].values() for r in reps.values()), None)
    if any_report:
        lines += ["", f"Versions: {any_report['versions']}", ""]
    return "\n".join(lines) + "\n"


def render_plots(results: dict, out: Path, rows: dict) -> list[str]:
    """Bars of every dataset's score across models, and per-set confusion of mapped labels (wheel 1)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []
    plots = out / "plots"
    plots.mkdir(exist_ok=True)
    datasets = sorted({ds for reps in results["models"].values() for ds in reps})
    if datasets:
        fig, axes = plt.subplots(1, len(datasets), figsize=(3.2 * len(datasets), 3.6), squeeze=False)
        for ax, ds in zip(axes[0], datasets):
            models = [m for m, reps in results["models"].items() if ds in reps]
            vals = [results["models"][m][ds].get("score") or 0 for m in models]
            cis = [results["models"][m][ds].get("ci95") or [v, v] for m, v in zip(models, vals)]
            err = np.array([[v - (c[0] if c[0] is not None else v), (c[1] if c[1] is not None else v) - v]
                            for v, c in zip(vals, cis)]).T
            ax.bar(range(len(models)), vals, yerr=err, capsize=3, color="#4C72B0")
            if DATASETS[ds].paper_score:
                ax.axhline(DATASETS[ds].paper_score, color="#C44E52", ls="--", lw=1, label="paper")
                ax.legend(fontsize=7)
            ax.set_xticks(range(len(models)), models, rotation=45, ha="right", fontsize=7)
            ax.set_title(DATASETS[ds].title, fontsize=9)
            ax.set_ylim(0, 100)
        axes[0][0].set_ylabel("primary score (%)")
        fig.tight_layout()
        fig.savefig(plots / "scores.png", dpi=110)
        plt.close(fig)
        made.append("plots/scores.png")
    for (model, ds), rs in sorted(rows.items()):
        if DATASETS[ds].task != "basic" or not rs:
            continue
        gts = sorted({r["gt_w1"] for r in rs if r["gt_w1"]})
        preds = sorted({p for r in rs for p in r["pred_w1"].split("|") if p} | set(gts))
        mat = np.zeros((len(gts), len(preds) + 1))
        for r in rs:
            if not r["gt_w1"]:
                continue
            i = gts.index(r["gt_w1"])
            ps = [p for p in r["pred_w1"].split("|") if p]
            for p in ps:
                mat[i, preds.index(p)] += 1
            if not ps:
                mat[i, -1] += 1
        norm = mat / np.maximum(mat.sum(axis=1, keepdims=True), 1)
        fig, ax = plt.subplots(figsize=(1 + 0.7 * len(preds), 1 + 0.5 * len(gts)))
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(preds) + 1), preds + ["(none)"], rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(gts)), gts, fontsize=8)
        for i in range(len(gts)):
            for j in range(len(preds) + 1):
                if mat[i, j]:
                    ax.text(j, i, int(mat[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if norm[i, j] > 0.5 else "black")
        ax.set_xlabel("predicted sectors (wheel 1)")
        ax.set_ylabel("ground-truth sector")
        ax.set_title(f"{model} — {DATASETS[ds].title}", fontsize=9)
        fig.tight_layout()
        name = f"plots/confusion_{''.join(c if c.isalnum() else '-' for c in model)}__{ds}.png"
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        made.append(name)
    return made
