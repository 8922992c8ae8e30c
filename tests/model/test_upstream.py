"""Loading an upstream-style AffectGPT checkpoint: every key maps and the outputs match."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from torch import nn  # noqa: E402

from affectgpt.errors import UntrustedPickleError  # noqa: E402
from affectgpt.model import AffectGPTConfig, AffectGPTModel, Sample  # noqa: E402
from affectgpt.model.upstream import load_upstream_checkpoint  # noqa: E402

DV, DA = 12, 10


class UpstreamStyle(nn.Module):
    """The released attention configuration with upstream attribute names, scaled down,
    computing the modality tokens the upstream way (written from UPSTREAM §1.2)."""

    def __init__(self, llm, hidden):
        super().__init__()
        c = max(DV, DA)
        self.llama_model = llm
        self.image_llama_proj = nn.Linear(DV, hidden)
        self.video_attention_mlp = nn.Linear(DV, 1)
        self.video_proj = nn.Linear(DV, hidden)
        self.audio_attention_mlp = nn.Linear(DA, 1)
        self.audio_llama_proj = nn.Linear(DA, hidden)
        self.multi_video_embs = nn.Linear(DV, c)
        self.multi_audio_embs = nn.Linear(DA, c)
        self.attention_mlp = nn.Linear(2 * c, c)
        self.fc_att = nn.Linear(c, 2)
        self.multi_llama_proj = nn.Linear(c, hidden)

    def tokens(self, v, a):
        video = self.video_proj((self.video_attention_mlp(v) * v).sum(1))
        audio = self.audio_llama_proj((self.audio_attention_mlp(a) * a).sum(1))
        mv, ma = self.multi_video_embs(v.mean(1)), self.multi_audio_embs(a.mean(1))
        w = self.fc_att(self.attention_mlp(torch.cat([mv, ma], -1)))
        multi = self.multi_llama_proj(w[:, :1] * mv + w[:, 1:] * ma)
        return {"video": video, "audio": audio, "multi": multi}


def _ours(path):
    torch.manual_seed(1)
    return AffectGPTModel(AffectGPTConfig(llm_path=str(path), visual_dim=DV, audio_dim=DA, lora_r=4, lora_alpha=8))


def _upstream(path):
    torch.manual_seed(2)
    donor = _ours(path)  # a PEFT-wrapped LLM with the same LoRA layout, other random values
    for n, p in donor.llm.named_parameters():
        if "lora_B" in n:
            nn.init.normal_(p, std=0.5)  # non-zero so that the LoRA weights matter
    up = UpstreamStyle(donor.llm, donor.llm.get_input_embeddings().embedding_dim)
    trainable = {n for n, p in up.named_parameters() if p.requires_grad}
    return up, {k: v for k, v in up.state_dict().items() if k in trainable}


def test_every_key_maps_and_outputs_match(tiny_llm_dir, tmp_path):
    up, state = _upstream(tiny_llm_dir)
    ck = tmp_path / "checkpoint_000050_loss_0.527.pth"
    torch.save({"model": state, "epoch": 50}, ck)
    ours = _ours(tiny_llm_dir)
    report = load_upstream_checkpoint(ours, ck)
    assert report["ignored"] == ["image_llama_proj.weight", "image_llama_proj.bias"]
    assert report["loaded"] == len(ours.trainable_state_dict()) - 3  # all but our 3 "missing" embeddings
    g = torch.Generator().manual_seed(0)
    v, a = torch.randn(2, 8, DV, generator=g), torch.randn(2, 8, DA, generator=g)
    mine = ours.modality_embeddings([Sample(v[i], a[i]) for i in range(2)])
    theirs = up.tokens(v, a)
    for k in ("video", "audio", "multi"):
        assert torch.allclose(mine[k][:, 0], theirs[k], atol=1e-5), k
    ids = torch.tensor([[5, 6, 7, 8]])
    ours.eval(), up.eval()  # no LoRA dropout
    assert torch.allclose(ours.llm(input_ids=ids).logits, up.llama_model(input_ids=ids).logits, atol=1e-5)


def test_mismatched_checkpoint_is_refused_with_keys(tiny_llm_dir, tmp_path):
    _, state = _upstream(tiny_llm_dir)
    state.pop("fc_att.weight")
    state["video_Qformer.bert.layer.0.weight"] = torch.zeros(1)
    ck = tmp_path / "bad.pth"
    torch.save({"model": state}, ck)
    with pytest.raises(ValueError, match=r"missing keys \(1\): \['prefusion.weights.weight'\].*video_Qformer"):
        load_upstream_checkpoint(_ours(tiny_llm_dir), ck)


def test_pickled_extras_need_trust(tiny_llm_dir, tmp_path):
    import argparse

    _, state = _upstream(tiny_llm_dir)
    ck = tmp_path / "with_config.pth"
    torch.save({"model": state, "config": argparse.Namespace(lr=1e-5)}, ck)
    with pytest.raises(UntrustedPickleError):
        load_upstream_checkpoint(_ours(tiny_llm_dir), ck)
    assert load_upstream_checkpoint(_ours(tiny_llm_dir), ck, trust_pickle=True)["loaded"] > 0
