"""Recipes: YAML overrides, feature-manifest training and inference through the CLI."""

from __future__ import annotations

import csv

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")

from affectgpt.cli import main  # noqa: E402
from affectgpt.recipes.run import load_recipe  # noqa: E402


def test_packaged_recipes_and_overrides():
    for name in ("mini", "paper", "paper-qformer"):
        cfg = load_recipe(name)
        assert {"model", "train"} <= set(cfg)
    assert load_recipe("paper-qformer")["model"]["prefusion"] == "qformer"
    cfg = load_recipe("mini", ["train.max_steps=7", "model.lora_r=4", "data.new=x"])
    assert cfg["train"]["max_steps"] == 7 and cfg["model"]["lora_r"] == 4 and cfg["data"]["new"] == "x"
    with pytest.raises(ValueError, match="not key=value"):
        load_recipe("mini", ["oops"])


def test_train_and_infer_from_a_feature_manifest(tiny_llm_dir, tmp_path):
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(0)
    rows = []
    for i in range(6):
        f = tmp_path / f"s{i}.safetensors"
        tensors = {"visual": torch.randn(4, 12, generator=g)}
        if i % 2:
            tensors["audio"] = torch.randn(3, 10, generator=g)
        save_file(tensors, str(f))
        label = ["happy", "sad"][i % 2]
        rows.append({"name": f"s{i}", "features": f.name, "subtitle": "hello",
                     "target": f"The character's emotional state is {label}.", "label": label})
    manifest = tmp_path / "train.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"recipe: features\nmodel: {{llm_path: {tiny_llm_dir}, visual_dim: 12, audio_dim: 10, lora_r: 4, lora_alpha: 8}}\n"
        f"train: {{output_dir: {tmp_path / 'run'}, max_steps: 3, batch_size: 2, save_every: 3}}\n"
        f"data: {{manifest: {manifest}}}\n", encoding="utf-8")
    assert main(["train", str(recipe), "--quiet"]) == 0
    out = tmp_path / "answers.csv"
    assert main(["infer", str(recipe), "--checkpoint", str(tmp_path / "run"), "--out", str(out),
                 "--max-new-tokens", "4", "--quiet"]) == 0
    got = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [r["name"] for r in got] == [r["name"] for r in rows] and got[0]["gold"] == "happy"
    # the run folder describes itself: no recipe needed, a manifest given with --data
    assert (tmp_path / "run" / "recipe.yaml").is_file()
    out2 = tmp_path / "answers2.csv"
    assert main(["infer", "--checkpoint", str(tmp_path / "run"), "--data", str(manifest), "--out", str(out2),
                 "--max-new-tokens", "4", "--quiet"]) == 0
    assert list(csv.DictReader(open(out2, encoding="utf-8"))) == got


def test_missing_llm_path_is_explained():
    from affectgpt.recipes.run import build_model

    with pytest.raises(ValueError, match="model.llm_path"):
        build_model(load_recipe("paper"))
