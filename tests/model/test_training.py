"""Training recipe on a tiny local LLM: loss goes down, checkpoints hold trainable weights only,
kill-and-resume reproduces the uninterrupted loss curve, feature cache round trip."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")

from affectgpt.model import AffectGPTConfig, AffectGPTModel, Sample, label_target  # noqa: E402
from affectgpt.model.cache import FeatureCache  # noqa: E402
from affectgpt.recipes.train import TrainConfig, latest_checkpoint, load_trainable, train  # noqa: E402

LABELS = [["happy"], ["sad"], ["angry"], ["worried"]]


def _data(n=12):
    g = torch.Generator().manual_seed(0)
    out = []
    for i in range(n):
        k = i % 4
        v = torch.randn(4, 12, generator=g) + k  # the class is visible in the features
        a = None if i % 3 == 0 else torch.randn(3, 10, generator=g) - k
        out.append(Sample(visual=v, audio=a, subtitle="", target=label_target(LABELS[k])))
    return out


def _model(path):
    torch.manual_seed(0)
    return AffectGPTModel(AffectGPTConfig(llm_path=str(path), visual_dim=12, audio_dim=10, lora_r=4, lora_alpha=8))


def test_training_reduces_loss_and_saves_trainable_only(tiny_llm_dir, tmp_path):
    m = _model(tiny_llm_dir)
    res = train(m, _data(), TrainConfig(output_dir=str(tmp_path / "run"), max_steps=12, batch_size=4, lr=3e-3,
                                         save_every=6), progress=False)
    assert res["steps"] == 12 and len(res["losses"]) == 12
    assert sum(res["losses"][-3:]) < sum(res["losses"][:3])
    ck = latest_checkpoint(tmp_path / "run")
    assert ck.name == "checkpoint-12"
    from safetensors.torch import load_file

    keys = set(load_file(str(ck / "trainable.safetensors")))
    assert keys == set(m.trainable_state_dict()) and not any("embed_tokens" in k for k in keys)
    fresh = _model(tiny_llm_dir)
    load_trainable(fresh, ck / "trainable.safetensors")
    s = _data(1)
    s[0].target = None
    assert fresh.eval().generate(s, max_new_tokens=4) == m.eval().generate(s, max_new_tokens=4)


def test_kill_and_resume_gives_the_uninterrupted_loss_curve(tiny_llm_dir, tmp_path):
    cfg = dict(max_steps=8, batch_size=3, lr=3e-3, save_every=2, seed=7)
    full = train(_model(tiny_llm_dir), _data(), TrainConfig(output_dir=str(tmp_path / "a"), **cfg), progress=False)
    part = train(_model(tiny_llm_dir), _data(), TrainConfig(output_dir=str(tmp_path / "b"), **cfg),
                 stop_after_steps=5, progress=False)
    assert part["stopped_early"] and part["steps"] == 5
    resumed = train(_model(tiny_llm_dir), _data(), TrainConfig(output_dir=str(tmp_path / "b"), **cfg), progress=False)
    assert resumed["losses"] == full["losses"]  # checkpoint at 4, steps 5..8 replayed exactly, no duplicates
    steps = [json.loads(x)["step"] for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 9))


def test_mismatched_checkpoint_lists_keys(tiny_llm_dir, tmp_path):
    from safetensors.torch import save_file

    bad = tmp_path / "bad.safetensors"
    save_file({"not.a.key": torch.zeros(1)}, str(bad))
    with pytest.raises(ValueError, match=r"missing keys .*unexpected keys \['not.a.key'\]"):
        load_trainable(_model(tiny_llm_dir), bad)


def test_feature_cache_round_trip_and_resume(tmp_path):
    cache = FeatureCache(tmp_path, {"visual": "tiny", "audio": "tiny", "frames": 4})
    calls = []

    def enc(i):
        calls.append(i)
        return {"visual": torch.full((4, 3), float(len(i))), "audio": None}

    assert cache.fill(["a", "bb"], enc, progress=False) == 2
    assert cache.fill(["a", "bb", "ccc"], enc, progress=False) == 1 and calls == ["a", "bb", "ccc"]
    got = cache.get("bb")
    assert set(got) == {"visual"} and torch.equal(got["visual"], torch.full((4, 3), 2.0))
    other = FeatureCache(tmp_path, {"visual": "other"})
    assert "a" not in other  # another encoder signature never mixes features


def test_length_grouping_does_not_sort_batches_by_label():
    """Label answers differ in length by their emotion word; exact-length sorting would make
    single-label batches (the model then learns the batch, not the input)."""
    from affectgpt.recipes.train import _batches

    words = ["sad", "happy", "angry", "surprised"]
    samples = [Sample(None, None, "Kids are talking by the door", target=label_target([words[i % 4]]))
               for i in range(400)]
    cfg = TrainConfig(output_dir="unused", batch_size=8, group_by_length=True)
    batches = _batches(samples, cfg, epoch=0)
    assert sorted(i for b in batches for i in b) == list(range(400))
    mixed = [len({i % 4 for i in b}) for b in batches]
    assert sum(m >= 3 for m in mixed) / len(mixed) > 0.8
    # lengths that differ a lot are still grouped (less padding)
    long = [Sample(None, None, "x" * (300 if i % 2 else 10), target="t") for i in range(400)]
    assert all(len({i % 2 for i in b}) == 1 for b in _batches(long, cfg, epoch=0))


def test_bf16_checkpointing_accumulation_and_tensorboard(tiny_llm_dir, tmp_path):
    pytest.importorskip("tensorboard")
    cfg = TrainConfig(output_dir=str(tmp_path / "run"), max_steps=3, batch_size=2, grad_accum=2, lr=3e-3,
                      mixed_precision="bf16", gradient_checkpointing=True, tensorboard=True, save_every=3)
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state()  # accelerate keeps one precision per process
    try:
        res = train(_model(tiny_llm_dir), _data(), cfg, progress=False)
    finally:  # later tests train in fp32
        AcceleratorState._reset_state()
    assert res["steps"] == 3 and all(torch.isfinite(torch.tensor(res["losses"])))
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))


def test_gradient_accumulation_equals_the_larger_batch(tiny_llm_dir, tmp_path):
    """2 micro-batches of 2 accumulated = 1 batch of 4 (same samples, equal answer lengths)."""
    data = _data()
    for s in data:
        s.target = label_target(["happy"])
    common = dict(max_steps=3, lr=3e-3, group_by_length=False, save_every=3)
    def model():
        torch.manual_seed(0)
        return AffectGPTModel(AffectGPTConfig(llm_path=str(tiny_llm_dir), visual_dim=12, audio_dim=10, lora_r=4,
                                              lora_alpha=8, lora_dropout=0.0))

    a, b = model(), model()
    train(a, data, TrainConfig(output_dir=str(tmp_path / "a"), batch_size=2, grad_accum=2, **common), progress=False)
    train(b, data, TrainConfig(output_dir=str(tmp_path / "b"), batch_size=4, grad_accum=1, **common), progress=False)
    sa, sb = a.trainable_state_dict(), b.trainable_state_dict()
    assert all(torch.allclose(sa[k], sb[k], atol=1e-5) for k in sa)
