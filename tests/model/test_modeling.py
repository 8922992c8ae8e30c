"""The AffectGPT model on a tiny local LLM: pooling, both pre-fusions, LoRA, masking, missing modalities."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from affectgpt.model import AffectGPTConfig, AffectGPTModel, Sample, label_target  # noqa: E402
from affectgpt.model.fusion import TemporalPooling  # noqa: E402


def _samples(n=2, target=True):
    g = torch.Generator().manual_seed(1)
    out = []
    for i in range(n):
        out.append(Sample(visual=torch.randn(8, 12, generator=g), audio=torch.randn(5 + i, 10, generator=g),
                          subtitle="I can't believe we won!",
                          target=label_target(["happy", "surprised"]) if target else None))
    return out


def _model(path, **kw):
    torch.manual_seed(0)
    cfg = AffectGPTConfig(llm_path=str(path), visual_dim=12, audio_dim=10, lora_r=4, lora_alpha=8,
                          qformer_heads=2, **kw)
    return AffectGPTModel(cfg)


def test_pooling_variants():
    x = torch.randn(2, 5, 6)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    mean = TemporalPooling(6, "mean")(x, mask)
    assert torch.allclose(mean[0, 0], x[0, :3].mean(0), atol=1e-6)
    att = TemporalPooling(6, "attention")
    s = att.score(x).squeeze(-1) * mask
    assert torch.allclose(att(x, mask)[:, 0], (s[..., None] * x).sum(1), atol=1e-6)  # unnormalised, as upstream
    soft = TemporalPooling(6, "softmax")(x, mask)
    assert soft.shape == (2, 1, 6)
    q = TemporalPooling(6, "qformer", num_queries=3, heads=2)(x, mask)
    assert q.shape == (2, 3, 6)


@pytest.mark.parametrize("prefusion", ["attention", "qformer", "none"])
def test_forward_backward_trains_only_adapters(tiny_llm_dir, prefusion):
    m = _model(tiny_llm_dir, prefusion=prefusion)
    frozen = {n: p.clone() for n, p in m.llm.named_parameters() if not p.requires_grad}
    out = m(_samples())
    assert torch.isfinite(out.loss)
    out.loss.backward()
    trainable = {n for n, p in m.named_parameters() if p.requires_grad}
    assert any("lora_" in n for n in trainable) and "visual_proj.weight" in trainable
    assert not any("lora_" not in n and n.startswith("llm.") for n in trainable)
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1)
    opt.step()
    assert all(torch.equal(p, frozen[n]) for n, p in m.llm.named_parameters() if not p.requires_grad)
    assert set(m.trainable_state_dict()) == trainable


def test_prompt_tokens_are_masked(tiny_llm_dir):
    m = _model(tiny_llm_dir)
    embeds, mask, labels = m.build_inputs(_samples(1))
    target_ids = m.tokenizer(label_target(["happy", "surprised"]) + " ###", add_special_tokens=False)["input_ids"]
    supervised = labels[0][labels[0] != -100].tolist()
    assert supervised == target_ids + [m.tokenizer.eos_token_id]
    assert embeds.shape[:2] == labels.shape and int(mask.sum()) == labels.shape[1]


def test_missing_modality_is_masked_not_crashed(tiny_llm_dir):
    m = _model(tiny_llm_dir)
    s = _samples(2)
    s[0].visual = None
    s[1].audio = None
    slots = m.modality_embeddings(s)
    assert torch.equal(slots["video"][0, 0], m.missing["video"])
    assert torch.equal(slots["audio"][1, 0], m.missing["audio"])
    assert torch.isfinite(m(s).loss)


def test_long_subtitle_truncated_with_warning(tiny_llm_dir):
    m = _model(tiny_llm_dir, max_subtitle_tokens=8)
    s = _samples(1)
    s[0].subtitle = "happy sad angry " * 20
    with pytest.warns(UserWarning, match="truncated to 8"):
        m.build_inputs(s)
    s[0].subtitle = ""
    m.build_inputs(s)  # empty subtitle is fine


def test_generation_is_deterministic_and_left_padded(tiny_llm_dir):
    m = _model(tiny_llm_dir).eval()
    s = _samples(2, target=False)
    a = m.generate(s, max_new_tokens=6)
    b = m.generate(s, max_new_tokens=6)
    assert a == b and len(a) == 2
    _, mask, _ = m.build_inputs(s, for_generation=True)
    assert mask[:, -1].all()  # left padding: every row ends with a real token
    c = m.generate(s, max_new_tokens=6, do_sample=True, seed=3)
    d = m.generate(s, max_new_tokens=6, do_sample=True, seed=3)
    assert c == d


def test_bad_modality_width_is_named(tiny_llm_dir):
    m = _model(tiny_llm_dir)
    s = _samples(1)
    s[0].audio = torch.randn(4, 7)
    with pytest.raises(ValueError, match="modality width 7, config says 10"):
        m(s)


def test_config_validation():
    with pytest.raises(ValueError, match="prefusion must be"):
        AffectGPTConfig(llm_path="x", prefusion="concat")


def test_paper_lora_size_matches_table8():
    """LoRA r16 on q/k/v/o/gate/up/down of a Qwen2.5-7B-shaped LLM has 40,370,176 parameters
    (paper Table 8); built on the meta device, so nothing is allocated or downloaded."""
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from affectgpt.model.builders import paper_config

    cfg = paper_config("unused")
    qwen = Qwen2Config(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                       num_attention_heads=28, num_key_value_heads=4)
    with torch.device("meta"):
        llm = Qwen2ForCausalLM(qwen)
    llm = get_peft_model(llm, LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                                         target_modules=list(cfg.lora_targets), task_type="CAUSAL_LM"))
    assert sum(p.numel() for n, p in llm.named_parameters() if "lora_" in n) == 40_370_176


def test_feature_norm_standardises_with_training_statistics_and_is_saved(tiny_llm_dir):
    m = _model(tiny_llm_dir, feature_norm=True, match_embedding_scale=True)
    samples = _samples(4)
    for s in samples:  # a large shared offset, as Whisper states have
        s.audio = s.audio * 0.1 + 5.0
    m.fit_feature_stats(samples)
    audio = torch.cat([s.audio for s in samples])
    assert torch.allclose(m.audio_mean, audio.mean(0)) and torch.allclose(m.audio_std, audio.std(0))
    x, mask, _ = m._pad([s.audio for s in samples], 10, "cpu")
    z = m._normalise("audio", x, mask)
    assert abs(float(z[mask].mean())) < 1e-5 and abs(float(z[mask].std()) - 1) < 0.05
    assert not z[~mask].any()  # padding stays zero
    state = m.trainable_state_dict()
    assert {"audio_mean", "audio_std", "visual_mean", "visual_std"} <= set(state)
    # projections start at the spread of the LLM's token embeddings
    emb_std = float(m.llm.get_input_embeddings().weight.std())
    with torch.no_grad():
        out = m.audio_proj(torch.randn(4096, 10))
    assert 0.8 < float(out.std()) / emb_std < 1.2
    plain = _model(tiny_llm_dir)
    assert "audio_mean" not in plain.trainable_state_dict()
