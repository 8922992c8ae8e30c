"""``affectgpt train`` / ``affectgpt infer``: YAML recipes (packaged or a path) with ``key=value`` overrides."""

from __future__ import annotations

import csv
import os
from importlib import resources
from pathlib import Path

import yaml

from affectgpt.errors import InputError
from affectgpt.model.configuration_affectgpt import AffectGPTConfig

__all__ = ["RECIPES", "load_recipe", "build_model", "train_recipe", "infer_recipe", "load_trained",
           "answer_media", "ANSWER_FIELDS"]

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


def _resolve_data_dir(cfg: dict, data_dir: str | os.PathLike | None) -> str | None:
    """The data directory: ``data_dir``, else ``$AFFECTGPT_DATA_DIR``, else ``data_dir`` in the
    config file; a ValueError when the recipe needs one (``mini``) and none is set."""
    from affectgpt.config import ENV_DATA_DIR, resolve_data_dir

    root = resolve_data_dir(data_dir)
    manifest = cfg.get("data", {}).get("manifest")
    if root is None and cfg.get("recipe") == "mini" and not (manifest and _is_media_manifest(manifest)):
        raise ValueError(f"the mini recipe reads RAVDESS, MELD and CREMA-D from a data directory: pass --data-dir "
                         f"or set {ENV_DATA_DIR} (or data_dir in ~/.config/affectgpt/config.yaml)")
    return None if root is None else str(root)


def _is_media_manifest(manifest: str) -> bool:
    """A CSV whose header has ``path`` and no ``features``: raw media to encode."""
    with open(manifest, encoding="utf-8") as fh:
        header = next(csv.reader(fh), [])
    return "path" in header and "features" not in header


def _media_manifest_samples(cfg: dict, manifest: str) -> list:
    """Samples of a media manifest (``name,path,subtitle,target,label``, e.g. the
    ``train_manifest.csv`` of a ``caption run`` export): the recipe's frozen encoders over each file
    (cached by content), the row's subtitle, and its target sentence. Files that cannot be encoded
    raise, naming how many and the first."""
    from affectgpt.errors import AffectGPTError
    from affectgpt.model.modeling_affectgpt import Sample
    from affectgpt.recipes.media_tokens import media_samples

    with open(manifest, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    base = Path(manifest).parent
    paths = [Path(r["path"]) if Path(r["path"]).is_absolute() else base / r["path"] for r in rows]
    items = media_samples(cfg, paths, _cache_root() / "media-features", asr=False, progress=False)
    bad = [m for m in items if m.sample is None]
    if bad:
        raise AffectGPTError(f"{manifest}: {len(bad)} of {len(items)} files could not be encoded; first: {bad[0].error}")
    return [(r["name"], Sample(m.sample.visual, m.sample.audio, r.get("subtitle", ""), target=r.get("target") or None),
             r.get("label", "")) for r, m in zip(rows, items)]


def _samples(cfg: dict, split: str, data_dir: str | None) -> list:
    manifest = cfg.get("data", {}).get("manifest")
    if manifest and _is_media_manifest(manifest):
        return _media_manifest_samples(cfg, manifest)
    if cfg.get("recipe") == "mini":
        from affectgpt.recipes.mini_data import mini_samples

        data_dir = _resolve_data_dir(cfg, data_dir)
        limit = cfg.get("data", {}).get("meld_train" if split == "train" else "meld_test")
        return mini_samples(data_dir, _cache_root() / "features", split, meld_limit=limit)
    manifest = cfg.get("data", {}).get("manifest")
    if not manifest:
        raise ValueError("set data.manifest to a features CSV (name, features, subtitle, target)")
    return _feature_samples(manifest)


def train_recipe(cfg: dict, data_dir: str | None = None, progress: bool = True) -> dict:
    """Train a recipe (resuming its output folder); returns :func:`~affectgpt.recipes.train.train`'s
    summary (``finished`` True and nothing trained when the run was already complete).

    The data directory is ``data_dir``, else ``$AFFECTGPT_DATA_DIR``, else the config file's. The
    random generators are seeded from ``train.seed`` before the model is built, so runs with the
    same seed start from the same weights and give the same losses."""
    from affectgpt.recipes.train import TrainConfig, seed_everything, train

    data_dir = _resolve_data_dir(cfg, data_dir)
    samples = [s for _, s, _ in _samples(cfg, "train", data_dir)]
    seed_everything(int(cfg.get("train", {}).get("seed", TrainConfig.seed)))
    model = build_model(cfg)
    model.fit_feature_stats(samples)  # no-op unless model.feature_norm
    out = Path(cfg["train"]["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return train(model, samples, TrainConfig(**cfg["train"]), progress=progress)


def load_trained(checkpoint: str | os.PathLike, cfg: dict | None = None):
    """(recipe, model in eval mode) from a run folder (its latest checkpoint and saved
    ``recipe.yaml``) or a ``trainable.safetensors`` file (then ``cfg`` is needed)."""
    from affectgpt.recipes.train import latest_checkpoint, load_trainable

    ck = Path(checkpoint)
    if not ck.exists():
        raise InputError(ck, "run folder or checkpoint not found")
    if not ck.is_dir() and ck.name != "trainable.safetensors":
        raise InputError(ck, "is neither a run folder nor a trainable.safetensors checkpoint")
    run = ck if ck.is_dir() else ck.parent.parent
    if cfg is None:
        saved = run / "recipe.yaml"
        if not saved.is_file():
            raise InputError(run, "no recipe.yaml in this run folder: pass the recipe too")
        cfg = yaml.safe_load(saved.read_text(encoding="utf-8"))
    if ck.is_dir():
        found = latest_checkpoint(ck)
        if found is None:
            raise InputError(ck, "holds no complete checkpoint-<step> folder")
        ck = found / "trainable.safetensors"
    model = build_model(cfg).eval()
    load_trainable(model, ck)
    return cfg, model


#: columns of the answers CSV (``name``/``text`` = the benchmark's prediction format)
ANSWER_FIELDS = ["name", "text", "gold", "missing", "error"]


def _generate(model, items: list[tuple[str, object, str]], batch_size: int, gen: dict, progress: bool) -> list[dict]:
    from tqdm.auto import tqdm

    rows = []
    for i in tqdm(range(0, len(items), batch_size), desc="generate", disable=not progress or not items):
        chunk = items[i:i + batch_size]
        for _, s, _ in chunk:
            s.target = None
        answers = model.generate([c[1] for c in chunk], **gen)
        rows += [{"name": n, "text": a, "gold": g} for (n, _, g), a in zip(chunk, answers)]
    return rows


def _write_answers(rows: list[dict], out_csv: str | os.PathLike) -> None:
    from affectgpt.io import safe_row

    with open(out_csv, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=ANSWER_FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(safe_row(r) for r in rows)


def infer_recipe(cfg: dict | None, checkpoint: str, out_csv: str, data_dir: str | None = None, batch_size: int = 16,
                 max_new_tokens: int = 16, limit: int | None = None, progress: bool = True,
                 do_sample: bool = False, seed: int | None = None, temperature: float = 1.0,
                 manifest: str | None = None) -> list[dict]:
    """Generate label answers for the recipe's test split (``mini``), its feature manifest, or
    ``manifest`` when given; writes the answers CSV (:data:`ANSWER_FIELDS`). The data directory
    (``mini``) is ``data_dir``, else ``$AFFECTGPT_DATA_DIR``, else the config file's."""
    cfg, model = load_trained(checkpoint, cfg)
    if manifest:
        cfg = {**cfg, "recipe": "features", "data": {**cfg.get("data", {}), "manifest": manifest}}
    data = _samples(cfg, "test", _resolve_data_dir(cfg, data_dir))[:limit]
    gen = {"max_new_tokens": max_new_tokens, "do_sample": do_sample, "seed": seed, "temperature": temperature}
    rows = _generate(model, data, batch_size, gen, progress)
    _write_answers(rows, out_csv)
    return rows


def answer_media(checkpoint: str, paths: list, out_csv: str | None = None, cfg: dict | None = None,
                 subtitles: dict[str, str] | None = None, asr: bool = True, batch_size: int = 8,
                 max_new_tokens: int = 32, do_sample: bool = False, seed: int | None = None,
                 temperature: float = 1.0, progress: bool = True, model=None, extractor=None,
                 executor=None) -> list[dict]:
    """Answers of a trained model for raw media files (video or audio), through the recipe's
    frozen encoders; files that cannot be read are recorded with their error, the rest go on.
    ``executor`` runs the encoding (:func:`affectgpt.pipeline.make_executor`; default: in this
    process); generation runs here."""
    from affectgpt.recipes.media_tokens import media_samples

    from affectgpt.media.clip import Clip

    if model is None:
        cfg, model = load_trained(checkpoint, cfg)
    items = media_samples(cfg, [p if isinstance(p, Clip) else Path(p) for p in paths], _cache_root() / "media-features",
                          subtitles, asr, progress, extractor=extractor, executor=executor)
    ok = [i for i, m in enumerate(items) if m.sample is not None]
    gen = {"max_new_tokens": max_new_tokens, "do_sample": do_sample, "seed": seed, "temperature": temperature}
    generated = _generate(model, [(items[i].name, items[i].sample, "") for i in ok], batch_size, gen, progress)
    answers = dict(zip(ok, generated))
    rows = []
    for i, m in enumerate(items):
        row = answers.get(i, {"name": m.name, "text": "", "gold": ""})
        row.update(missing=";".join(f"{k}: {v}" for k, v in sorted(m.missing.items())), error=m.error or "")
        rows.append(row)
    if out_csv:
        _write_answers(rows, out_csv)
    return rows


class ClipAnswerer:
    """A trained AffectGPT answering for clips another consumer has already opened (``describe
    --model``): the model loads once, and each :class:`~affectgpt.media.clip.Clip` is encoded
    from the audio and frames it already holds, with the transcript the describer already has.
    """

    def __init__(self, checkpoint: str | os.PathLike, max_new_tokens: int = 32):
        self.checkpoint = str(checkpoint)
        self.max_new_tokens = max_new_tokens
        self.cfg, self.model = load_trained(checkpoint)
        from affectgpt.recipes.media_tokens import token_extractor

        self.extractor = token_extractor(self.cfg)  # frozen encoders loaded once for all clips

    def close(self) -> None:
        self.extractor.close()

    def answer_text(self, text: str) -> dict:
        """``{checkpoint, answer, missing}`` from the text alone (audio and video masked as missing)."""
        from affectgpt.model.modeling_affectgpt import Sample

        row = _generate(self.model, [("text", Sample(None, None, text or ""), "")], 1,
                        {"max_new_tokens": self.max_new_tokens, "do_sample": False, "seed": None, "temperature": 1.0},
                        False)[0]
        return {"checkpoint": self.checkpoint, "answer": row["text"], "missing": "audio: not given; video: not given",
                "error": None}

    def answer(self, clip, text: str) -> dict:
        """``{checkpoint, answer, missing, error}`` for one opened clip and its transcript text."""
        row = answer_media(self.checkpoint, [clip], cfg=self.cfg, subtitles={clip.path.stem: text or ""}, asr=False,
                           max_new_tokens=self.max_new_tokens, progress=False, model=self.model,
                           extractor=self.extractor)[0]
        return {"checkpoint": self.checkpoint, "answer": row["text"], "missing": row["missing"],
                "error": row["error"] or None}
