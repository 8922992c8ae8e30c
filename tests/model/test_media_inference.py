"""Frozen HF encoders (tiny CLIP / HuBERT built and saved here) and inference over raw media."""

from __future__ import annotations

import csv

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("av")

from affectgpt.cli import main  # noqa: E402
from affectgpt.model.encoders import SpeechTower, VisionTower, audio_clips  # noqa: E402


@pytest.fixture(scope="module")
def towers(tmp_path_factory):
    root = tmp_path_factory.mktemp("towers")
    torch.manual_seed(0)
    vision = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
              "image_size": 32, "patch_size": 8}
    text = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
            "vocab_size": 50, "max_position_embeddings": 16}
    transformers.CLIPModel(transformers.CLIPConfig(text_config=text, vision_config=vision, projection_dim=12)) \
        .save_pretrained(root / "clip")
    transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}) \
        .save_pretrained(root / "clip")
    transformers.HubertModel(transformers.HubertConfig(
        hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32, conv_dim=(8, 8),
        conv_stride=(5, 4), conv_kernel=(10, 4), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)) \
        .save_pretrained(root / "hubert")
    transformers.Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(root / "hubert")
    return root


def test_audio_clips_are_upstreams_constant_clips_per_video():
    short = audio_clips(np.ones(8000, np.float32))  # 0.5 s: zero-padded to 2 s, 8 identical windows
    assert short.shape == (8, 32000) and short[:, :8000].all() and not short[:, 8000:].any()
    long = audio_clips(np.arange(16000 * 20, dtype=np.float32))  # 20 s: 8 windows spread to the end
    assert long.shape == (8, 32000) and long[0, 0] == 0 and long[-1, -1] == 16000 * 20 - 1


def test_towers_load_from_folders_and_encode(towers):
    vision = VisionTower(towers / "clip")
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 255, (48, 40, 3), dtype=np.uint8) for _ in range(3)]
    feats = vision.encode(crops)
    assert feats.shape == (3, vision.dim) == (3, 12)  # CLIP: projected get_image_features
    assert torch.equal(feats, vision.encode(crops)) and not torch.allclose(feats[0], feats[1])
    speech = SpeechTower(towers / "hubert")
    audio = (0.1 * rng.standard_normal(16000 * 5)).astype(np.float32)
    a = speech.encode(audio)
    assert a.shape == (8, 16) and torch.isfinite(a).all()
    # the mean of the last 4 hidden layers, averaged over time, per 2 s clip
    inputs = speech.extractor(list(audio_clips(audio)), sampling_rate=16000, return_tensors="pt")
    with torch.no_grad():
        hs = speech.model(**inputs, output_hidden_states=True).hidden_states
    assert torch.allclose(a, torch.stack(hs[-4:]).mean(0).mean(1), atol=1e-6)


def _trained_run(tmp_path, llm, towers):
    """A run folder as ``affectgpt train`` leaves it (recipe.yaml + a complete checkpoint)."""
    import yaml
    from safetensors.torch import save_file

    from affectgpt.recipes.run import build_model

    cfg = {"recipe": "features",
           "model": {"llm_path": str(llm), "visual_dim": 12, "audio_dim": 16, "lora_r": 4, "lora_alpha": 8},
           "encoders": {"visual_path": str(towers / "clip"), "audio_path": str(towers / "hubert")},
           "train": {"output_dir": str(tmp_path / "run")}}
    run = tmp_path / "run"
    ck = run / "checkpoint-1"
    ck.mkdir(parents=True)
    torch.manual_seed(1)
    save_file({k: v.contiguous() for k, v in build_model(cfg).trainable_state_dict().items()},
              str(ck / "trainable.safetensors"))
    (ck / "COMPLETE").write_text("ok")
    (run / "recipe.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return run


def test_infer_over_raw_media_masks_missing_modalities_and_records_failures(tiny_llm_dir, towers, media, tmp_path,
                                                                             monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    run = _trained_run(tmp_path, tiny_llm_dir, towers)
    face = media.video("face.mp4", seconds=2.0)
    noface = media.video("noface.mp4", seconds=2.0, face=False, audio=None)
    speech = media.audio("speech.wav", seconds=1.0)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    out = tmp_path / "answers.csv"
    args = ["infer", "--checkpoint", str(run), "--data", str(face), str(noface), str(speech), str(broken),
            str(tmp_path / "missing.mp4"),
            "--out", str(out), "--subtitle", "I can't believe we won!", "--max-new-tokens", "4", "--quiet"]
    assert main(args) == 1  # one input failed: recorded, the rest answered
    rows = {r["name"]: r for r in csv.DictReader(open(out, encoding="utf-8"))}
    assert list(rows) == ["face", "noface", "speech", "broken", "missing"]
    assert "missing.mp4: file not found" in rows["missing"]["error"]
    assert rows["face"]["error"] == "" and rows["face"]["missing"] == ""
    assert "video: no face found" in rows["noface"]["missing"] and "audio: no audio track" in rows["noface"]["missing"]
    assert rows["speech"]["missing"] == "video: no video track"
    assert "broken.mp4" in rows["broken"]["error"] and rows["broken"]["text"] == ""
    # encoded once: a rerun reads the cache and gives the same answers (greedy decoding)
    cached = list((tmp_path / "cache" / "affectgpt" / "media-features").rglob("*.safetensors"))
    assert len(cached) == 3
    assert main(args[:-1] + ["--quiet"]) == 1
    again = {r["name"]: r for r in csv.DictReader(open(out, encoding="utf-8"))}
    assert again == rows


def test_describe_with_model_adds_the_models_answer(tiny_llm_dir, towers, media, tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    run = _trained_run(tmp_path, tiny_llm_dir, towers)
    clip = media.video("clip.mp4", seconds=2.0)
    out = tmp_path / "r.json"
    assert main(["describe", str(clip), "--subtitle", "We won!", "--model", str(run), "--max-new-tokens", "4",
                 "--json", str(out), "--quiet"]) == 0
    rec = json.loads(out.read_text())
    assert rec["model"]["checkpoint"] == str(run) and rec["model"]["error"] is None
    assert isinstance(rec["model"]["answer"], str) and rec["labels"]
