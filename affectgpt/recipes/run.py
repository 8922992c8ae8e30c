"""``affectgpt train`` / ``affectgpt infer``: YAML recipes (packaged or a path) with ``key=value`` overrides."""

from __future__ import annotations

import csv
import os
from importlib import resources
from pathlib import Path

import yaml

from affectgpt.errors import InputError
from affectgpt.model.configuration_affectgpt import AffectGPTConfig

__all__ = ["RECIPES", "load_recipe", "build_model", "train_recipe", "infer_recipe"]

RECIPES = ("mini", "paper", "paper-qformer")


def _set(cfg: dict, dotted: str, raw: str) -> None:
    keys = dotted.split(".")
    node = cfg
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = yaml.safe_load(raw)


def load_recipe(name_or_path: str, overrides: list[str] | None = None) -> dict:
    """Read a recipe and apply ``section.key=value`` overrides (values parsed as YAML)."""
    if name_or_path in RECIPES:
        text = resources.files("affectgpt.recipes").joinpath(f"configs/{name_or_path}.yaml").read_text(encoding="utf-8")
    else:
        p = Path(name_or_path)
        if not p.is_file():
            raise InputError(p, f"recipe not found (packaged: {', '.join(RECIPES)})")
        text = p.read_text(encoding="utf-8")
    cfg = yaml.safe_load(text) or {}
    for item in overrides or []:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not key=value")
        _set(cfg, *item.split("=", 1))
    return cfg


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "affectgpt"


def build_model(cfg: dict):
    from affectgpt.model.builders import prepare_smollm2
    from affectgpt.model.modeling_affectgpt import AffectGPTModel

    m = dict(cfg["model"])
    if not m.get("llm_path"):
        if cfg.get("recipe") != "mini":
            raise ValueError("set model.llm_path to a local LLM folder (e.g. Qwen2.5-7B-Instruct)")
        m["llm_path"] = str(prepare_smollm2(_cache_root() / "smollm2-135m-instruct"))
    return AffectGPTModel(AffectGPTConfig(**m))


def _feature_samples(manifest: str) -> list:
    from safetensors.torch import load_file

    from affectgpt.model.modeling_affectgpt import Sample

    rows = list(csv.DictReader(open(manifest, encoding="utf-8")))
    out = []
    for i, r in enumerate(rows, start=2):
        path = Path(manifest).parent / r["features"] if r.get("features") else None
        if path is not None and not path.is_file():
            raise InputError(manifest, f"features file {path} not found", row=i)
        t = load_file(str(path)) if path else {}
        out.append((r["name"], Sample(t.get("visual"), t.get("audio"), r.get("subtitle", ""),
                                      target=r.get("target") or None), r.get("label", "")))
    return out


def _samples(cfg: dict, split: str, data_dir: str | None) -> list:
    if cfg.get("recipe") == "mini":
        from affectgpt.recipes.mini_data import mini_samples

        if not data_dir:
            raise ValueError("the mini recipe reads RAVDESS, MELD and CREMA-D: pass --data-dir")
        limit = cfg.get("data", {}).get("meld_train" if split == "train" else "meld_test")
        return mini_samples(data_dir, _cache_root() / "features", split, meld_limit=limit)
    manifest = cfg.get("data", {}).get("manifest")
    if not manifest:
        raise ValueError("set data.manifest to a features CSV (name, features, subtitle, target)")
    return _feature_samples(manifest)


def train_recipe(cfg: dict, data_dir: str | None = None, progress: bool = True) -> dict:
    from affectgpt.recipes.train import TrainConfig, train

    model = build_model(cfg)
    samples = [s for _, s, _ in _samples(cfg, "train", data_dir)]
    model.fit_feature_stats(samples)  # no-op unless model.feature_norm
    return train(model, samples, TrainConfig(**cfg["train"]), progress=progress)


def infer_recipe(cfg: dict, checkpoint: str, out_csv: str, data_dir: str | None = None, batch_size: int = 16,
                 max_new_tokens: int = 16, limit: int | None = None, progress: bool = True) -> list[dict]:
    """Generate label answers for the test split; writes ``name,text,gold`` CSV (benchmark format + gold)."""
    from tqdm.auto import tqdm

    from affectgpt.recipes.train import latest_checkpoint, load_trainable

    model = build_model(cfg).eval()
    ck = Path(checkpoint)
    if ck.is_dir():
        ck = (latest_checkpoint(ck) or ck) / "trainable.safetensors"
    load_trainable(model, ck)
    data = _samples(cfg, "test", data_dir)[:limit]
    rows = []
    for i in tqdm(range(0, len(data), batch_size), desc="infer", disable=not progress):
        chunk = data[i:i + batch_size]
        for s in (c[1] for c in chunk):
            s.target = None
        answers = model.generate([c[1] for c in chunk], max_new_tokens=max_new_tokens)
        rows += [{"name": n, "text": a, "gold": g} for (n, _, g), a in zip(chunk, answers)]
    with open(out_csv, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["name", "text", "gold"])
        w.writeheader()
        w.writerows(rows)
    return rows
