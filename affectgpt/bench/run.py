"""``affectgpt bench run``: many models x datasets from one YAML config, into a report folder.

The folder gets ``report.md`` (a table shaped like the paper's Table 2), ``results.json``,
``reports/<model>__<dataset>.json`` (one score report each), ``samples/<model>__<dataset>.csv``
(per-sample rows) and PNG plots. Finished pairs are skipped on rerun when their settings
are unchanged, so an interrupted run resumes without duplicates. A pair that fails is
recorded with its error and the run goes on.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from affectgpt.bench.datasets import DATASETS, UNIBENCH, get_dataset
from affectgpt.bench.evaluate import ScoreSettings, report_json, score_full
from affectgpt.config import locate, missing_message, resolve_data_dir
from affectgpt.errors import AffectGPTError, InputError, MissingAssetError

__all__ = ["RunConfig", "ModelEntry", "load_run_config", "run_benchmark", "PRESETS"]

PRESETS = ("released",)


@dataclass
class ModelEntry:
    """A model under test: a display name and its predictions per dataset."""

    name: str
    predictions: dict[str, str]


@dataclass
class RunConfig:
    """A benchmark run: datasets (ground truth), models (predictions) and shared settings."""

    name: str
    datasets: dict[str, str]
    models: list[ModelEntry]
    profile: str = "paper"
    extractor: str = "given"
    select: str = "single"
    trust_pickle: bool = False
    bootstrap: int = 1000
    seed: int = 0
    llm_model: str | None = None
    llm_url: str | None = None
    extra: dict = field(default_factory=dict)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "model"


def load_run_config(source: str | Path, data_dir: str | None = None) -> RunConfig:
    """Read a run config from a path or a packaged preset name (``released``)."""
    if str(source) in PRESETS:
        text = resources.files("affectgpt.bench").joinpath(f"configs/{source}.yaml").read_text(encoding="utf-8")
        base = Path.cwd()
        where = f"preset {source}"
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(path, f"config not found (presets: {', '.join(PRESETS)})")
        text, base, where = path.read_text(encoding="utf-8"), path.parent, str(path)
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise InputError(where, f"invalid YAML: {exc}") from exc
    root = resolve_data_dir(data_dir or raw.get("data_dir"))

    def resolve(p: str) -> str:
        # "{data_dir}/REL": the data directory's REL, else the asset cache's (affectgpt data fetch)
        if p.startswith("{data_dir}/"):
            rel = p[len("{data_dir}/"):]
            found, _where = locate(rel, root)
            if found is None:
                raise MissingAssetError(f"{where}: " + missing_message(rel, root))
            return str(found)
        if "{data_dir}" in p:
            if root is None:
                raise InputError(where, "uses {data_dir} but no data directory is set (--data-dir or AFFECTGPT_DATA_DIR)")
            return p.replace("{data_dir}", str(root))
        return str(Path(p) if Path(p).is_absolute() else base / p)

    for key in ("datasets", "models"):
        if key not in raw:
            raise InputError(where, f"missing top-level key '{key}'")
    datasets = {}
    for name, spec in raw["datasets"].items():
        get_dataset(name)
        labels = spec.get("labels") if isinstance(spec, dict) else spec
        if not labels:
            raise InputError(where, f"dataset {name}: missing 'labels'")
        datasets[name] = resolve(str(labels))
    models = []
    seen = set()
    for i, m in enumerate(raw["models"]):
        if not isinstance(m, dict) or "name" not in m or "predictions" not in m:
            raise InputError(where, f"models[{i}] needs 'name' and 'predictions'")
        if m["name"] in seen:
            raise InputError(where, f"duplicate model name {m['name']!r}")
        seen.add(m["name"])
        models.append(ModelEntry(str(m["name"]), {k: resolve(str(v)) for k, v in m["predictions"].items()}))
    known = {f.name for f in RunConfig.__dataclass_fields__.values()}
    settings = {k: v for k, v in raw.items() if k in known and k not in ("datasets", "models", "name")}
    return RunConfig(name=str(raw.get("name", "run")), datasets=datasets, models=models, **settings,
                     extra={"data_dir": None if root is None else str(root)})


def _write_rows(path: Path, rows: list[dict]) -> None:
    from affectgpt.io import safe_row

    if not rows:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(safe_row(r) for r in rows)


def run_benchmark(cfg: RunConfig, out_dir: str | Path, data_dir: str | None = None,
                  progress: bool = True, plots: bool = True) -> dict:
    """Score every (model, dataset) pair of ``cfg`` into ``out_dir``; returns ``results.json``'s content."""
    from tqdm.auto import tqdm

    out = Path(out_dir)
    (out / "reports").mkdir(parents=True, exist_ok=True)
    data_dir = data_dir or cfg.extra.get("data_dir")
    pairs = [(m, d) for m in cfg.models for d in m.predictions]
    results: dict = {"name": cfg.name, "models": {}, "skipped": [], "failures": []}
    all_rows: dict[tuple[str, str], list[dict]] = {}
    for model, ds in tqdm(pairs, desc="bench", unit="pair", disable=not progress):
        results["models"].setdefault(model.name, {})
        if ds not in cfg.datasets:
            results["skipped"].append({"model": model.name, "dataset": ds,
                                       "reason": f"no ground truth configured ({DATASETS[ds].notes or 'not in config'})"
                                       if ds in DATASETS else "unknown dataset"})
            continue
        st = ScoreSettings(dataset=ds, labels=cfg.datasets[ds], predictions=model.predictions[ds],
                           select=cfg.select, extractor=cfg.extractor, profile=cfg.profile,
                           trust_pickle=cfg.trust_pickle, data_dir=data_dir, bootstrap=cfg.bootstrap,
                           seed=cfg.seed, llm_model=cfg.llm_model, llm_url=cfg.llm_url)
        stem = f"{_slug(model.name)}__{ds}"
        report_path = out / "reports" / f"{stem}.json"
        key_path = out / ".reuse" / f"{stem}.json"  # what the cached report was computed from
        key = _reuse_key(st)
        if report_path.is_file() and key_path.is_file():
            try:
                old = json.loads(report_path.read_text(encoding="utf-8"))
                same = json.loads(key_path.read_text(encoding="utf-8")) == key
            except (OSError, ValueError) as exc:
                results.setdefault("notes", []).append(f"{report_path}: cached report unreadable ({exc}); rescored")
                same = False
            if same:  # same settings and byte-identical inputs: the finished pair is reused
                results["models"][model.name][ds] = old
                rows = _read_rows(out / "samples" / f"{stem}.csv")
                if rows:
                    all_rows[(model.name, ds)] = rows  # plots are rebuilt from the per-sample file
                continue
        try:
            res = score_full(st)
        except (AffectGPTError, OSError, ValueError) as exc:
            results["failures"].append({"model": model.name, "dataset": ds, "error": str(exc)})
            continue
        _write_rows(out / "samples" / f"{stem}.csv", res.rows)
        all_rows[(model.name, ds)] = res.rows
        tmp = report_path.with_suffix(".tmp")
        tmp.write_text(report_json(res.report), encoding="utf-8")
        tmp.replace(report_path)  # atomic: a killed run never leaves a half-written report
        key_path.parent.mkdir(exist_ok=True)
        ktmp = key_path.with_suffix(".tmp")
        ktmp.write_text(json.dumps(key, sort_keys=True), encoding="utf-8")
        ktmp.replace(key_path)  # written last: a report without its key is never reused
        results["models"][model.name][ds] = res.report
    from affectgpt.bench.report import render_markdown, render_plots

    summary = _summary(results)
    results["table"] = summary
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "report.md").write_text(render_markdown(cfg, results), encoding="utf-8")
    if plots:
        results["plots"] = render_plots(results, out, all_rows)
    return results


def _files_of(path) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        return sorted(q for q in p.rglob("*") if q.is_file())
    return [p] if p.is_file() else []


def _reuse_key(st: ScoreSettings) -> dict:
    """What a cached (model, dataset) report depends on: the settings and the SHA-256 of every
    prediction, ground-truth and synonym file (a changed file means a rescore)."""
    from affectgpt.bench.io import sha256_file

    inputs = {}
    for role, path in (("predictions", st.predictions), ("labels", st.labels), ("synonyms", st.synonyms)):
        if path:
            root = Path(path)
            inputs[role] = {str(f.relative_to(root) if root.is_dir() else f.name): sha256_file(f)
                            for f in _files_of(root)}
    return {"settings": _settings_view(st), "inputs": inputs}


def _read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))
    except (OSError, ValueError, csv.Error):
        return []


def _settings_view(st: ScoreSettings) -> dict:
    from dataclasses import asdict

    return {k: v for k, v in asdict(st).items() if k not in ("labels", "predictions", "data_dir", "synonyms")}


def _summary(results: dict) -> dict:
    """Per model: primary score per dataset and the MER-UniBench mean when all nine exist."""
    table = {}
    for model, reports in results["models"].items():
        scores = {ds: r.get("score") for ds, r in reports.items()}
        row = {"scores": scores}
        nine = [scores.get(d) for d in UNIBENCH]
        row["mean"] = sum(nine) / 9 if all(s is not None for s in nine) else None
        table[model] = row
    return table
