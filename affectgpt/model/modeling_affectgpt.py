"""The AffectGPT model: modality tokens -> pre-fusion -> projections -> LoRA-tuned causal LM.

Inputs are per-modality token sequences (visual: one vector per sampled face/frame; audio:
one vector per 2 s clip), produced by frozen encoders or read from a feature cache. The LLM
sees the paper's prompt (PAPER §2.2) with three multimodal slots — fused, audio, visual —
filled by projected embeddings, then the subtitle and the question. A missing modality is
replaced by a learned "missing" embedding, never a crash.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import nn

from affectgpt.model.configuration_affectgpt import AffectGPTConfig
from affectgpt.model.fusion import AttentionPreFusion, QFormerPreFusion, TemporalPooling

__all__ = ["AffectGPTModel", "Sample", "PROMPT_TEMPLATE", "LABEL_QUESTION", "DESCRIPTION_QUESTION",
           "label_target"]

IGNORE_INDEX = -100
#: the paper's prompt layout; {multi}, {audio}, {video} are embedding slots
PROMPT_TEMPLATE = ("###Human: The audio and video merged info is: <Multi>{multi}</Multi>. The audio content is as "
                   "follows: <Audio>{audio}</Audio>. Meanwhile, we uniformly sample raw frames from the video and "
                   "extract faces from these frames: <Video>{video}</Video>. The subtitle of this video is: "
                   "<Subtitle>{subtitle}</Subtitle>. Now, please answer my question based on all the provided "
                   "information. {question} ###Assistant: ")
#: the same layout (fused, audio, face slots, subtitle, question) without the connecting prose:
#: ~3x fewer prompt tokens, for small LLMs trained on CPUs (the ``mini`` recipe)
COMPACT_TEMPLATE = ("###Human: <Multi>{multi}</Multi> <Audio>{audio}</Audio> <Video>{video}</Video> "
                    "<Subtitle>{subtitle}</Subtitle> {question} ###Assistant: ")
TEMPLATES = {"paper": PROMPT_TEMPLATE, "compact": COMPACT_TEMPLATE}
LABEL_QUESTION = "Please recognize all possible emotional states of the character."
DESCRIPTION_QUESTION = ("As an expert in the field of emotions, please focus on the facial expressions, body "
                        "movements, tone, subtitle content, etc., in the video to discern clues related to the "
                        "emotions of the individual. Please provide a detailed description and ultimately "
                        "predict the emotional state of the individual in the video.")
_SLOTS = ("multi", "audio", "video")


def label_target(labels: list[str]) -> str:
    """The paper's label-answer target: "The character's emotional state is a, b, c."."""
    return "The character's emotional state is " + ", ".join(labels) + "."


@dataclass
class Sample:
    """One example. ``visual`` [T, Dv] and ``audio`` [T, Da] may be None (missing modality)."""

    visual: torch.Tensor | None
    audio: torch.Tensor | None
    subtitle: str = ""
    question: str = LABEL_QUESTION
    target: str | None = None


class AffectGPTModel(nn.Module):
    """AffectGPT over precomputed (or freshly encoded) modality tokens.

    Args:
        config: the model configuration.
        llm, tokenizer: an already loaded LLM and tokenizer (tests); otherwise loaded with
            ``from_pretrained(config.llm_path)``.
    """

    def __init__(self, config: AffectGPTConfig, llm=None, tokenizer=None):
        super().__init__()
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.config = config
        dtype = getattr(torch, config.dtype)
        self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(config.llm_path)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        llm = llm or AutoModelForCausalLM.from_pretrained(config.llm_path, dtype=dtype)
        for p in llm.parameters():
            p.requires_grad_(False)
        if config.lora_r > 0:
            from peft import LoraConfig, get_peft_model

            targets = [t for t in config.lora_targets if any(n.endswith(t) for n, _ in llm.named_modules())]
            if not targets:
                raise ValueError(f"none of the LoRA targets {config.lora_targets} exist in the LLM")
            llm = get_peft_model(llm, LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                                                 lora_dropout=config.lora_dropout, target_modules=targets,
                                                 task_type="CAUSAL_LM"))
        self.llm = llm
        hidden = self.llm.get_input_embeddings().embedding_dim
        c = config
        self.visual_pool = TemporalPooling(c.visual_dim, c.temporal_pooling, c.num_queries, c.qformer_layers,
                                           c.qformer_heads, c.max_frames)
        self.audio_pool = TemporalPooling(c.audio_dim, c.temporal_pooling, c.num_queries, c.qformer_layers,
                                          c.qformer_heads, c.max_frames)
        if c.prefusion == "attention":
            self.prefusion = AttentionPreFusion(c.visual_dim, c.audio_dim)
        elif c.prefusion == "qformer":
            self.prefusion = QFormerPreFusion(c.visual_dim, c.audio_dim, c.num_fusion_queries, c.qformer_layers,
                                              c.qformer_heads, 2 * c.max_frames)
        else:
            self.prefusion = None
        width = max(c.visual_dim, c.audio_dim)
        self.visual_proj = nn.Linear(c.visual_dim, hidden)
        self.audio_proj = nn.Linear(c.audio_dim, hidden)
        self.fused_proj = nn.Linear(width, hidden) if self.prefusion is not None else None
        self.missing = nn.ParameterDict({k: nn.Parameter(torch.zeros(hidden)) for k in _SLOTS})
        if c.feature_norm:
            for name, dim in (("visual", c.visual_dim), ("audio", c.audio_dim)):
                self.register_buffer(f"{name}_mean", torch.zeros(dim))
                self.register_buffer(f"{name}_std", torch.ones(dim))
        if c.match_embedding_scale:
            target = float(self.llm.get_input_embeddings().weight.detach().float().std())
            for proj in (self.visual_proj, self.audio_proj, self.fused_proj):
                if proj is not None:  # unit-variance inputs -> outputs with the embeddings' spread
                    nn.init.normal_(proj.weight, std=target / proj.in_features ** 0.5)
                    nn.init.zeros_(proj.bias)

    # -- feature statistics ---------------------------------------------------------------
    _STAT_KEYS = ("visual_mean", "visual_std", "audio_mean", "audio_std")

    @torch.no_grad()
    def fit_feature_stats(self, samples: list[Sample]) -> None:
        """Set the per-dimension mean/std used by ``feature_norm`` from (training) samples."""
        if not self.config.feature_norm:
            return
        for name in ("visual", "audio"):
            rows = [getattr(s, name) for s in samples if getattr(s, name) is not None]
            if not rows:
                continue
            x = torch.cat([r.float() for r in rows])
            getattr(self, f"{name}_mean").copy_(x.mean(0))
            getattr(self, f"{name}_std").copy_(x.std(0).clamp(min=1e-4) if len(x) > 1 else torch.ones(x.shape[1]))

    def _normalise(self, name: str, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if not self.config.feature_norm:
            return x
        x = (x - getattr(self, f"{name}_mean")) / getattr(self, f"{name}_std")
        return x * mask[..., None].to(x.dtype)  # padding stays zero

    # -- parameters -----------------------------------------------------------------------
    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """Only the trained state: LoRA, pooling, fusion, projections, missing embeddings, and the
        feature statistics when ``feature_norm`` is on."""
        names = {n for n, p in self.named_parameters() if p.requires_grad}
        if self.config.feature_norm:
            names.update(self._STAT_KEYS)
        return {k: v for k, v in self.state_dict().items() if k in names}

    def num_trainable(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    # -- modality tokens ------------------------------------------------------------------
    def _pad(self, seqs: list[torch.Tensor | None], dim: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        t = max([s.shape[0] for s in seqs if s is not None] or [1])
        t = min(t, self.config.max_frames)
        x = torch.zeros(len(seqs), t, dim, device=device)
        mask = torch.zeros(len(seqs), t, dtype=torch.bool, device=device)
        present = torch.zeros(len(seqs), dtype=torch.bool, device=device)
        for i, s in enumerate(seqs):
            if s is None or s.shape[0] == 0:
                continue
            if s.shape[-1] != dim:
                raise ValueError(f"sample {i}: modality width {s.shape[-1]}, config says {dim}")
            s = s[: self.config.max_frames]
            x[i, : s.shape[0]] = s.to(device)
            mask[i, : s.shape[0]] = True
            present[i] = True
        return x, mask, present

    def modality_embeddings(self, samples: list[Sample]) -> dict[str, torch.Tensor]:
        """Embeddings of the three slots, each [B, K, hidden]; missing modalities are replaced."""
        device = self.visual_proj.weight.device
        v, vm, vp = self._pad([s.visual for s in samples], self.config.visual_dim, device)
        a, am, ap = self._pad([s.audio for s in samples], self.config.audio_dim, device)
        v, a = self._normalise("visual", v, vm), self._normalise("audio", a, am)
        out = {"video": self.visual_proj(self.visual_pool(v, vm)), "audio": self.audio_proj(self.audio_pool(a, am))}
        if self.prefusion is not None:
            out["multi"] = self.fused_proj(self.prefusion(v, a, vm, am))
            both = vp | ap
        else:
            out["multi"] = self.missing["multi"].expand(len(samples), 1, -1)
            both = torch.zeros_like(vp)
        for key, present in (("video", vp), ("audio", ap), ("multi", both)):
            miss = self.missing[key].to(out[key].dtype)
            out[key] = torch.where(present[:, None, None], out[key], miss.expand_as(out[key]))
        return out

    # -- text -----------------------------------------------------------------------------
    def _subtitle(self, text: str) -> str:
        ids = self.tokenizer(text or "", add_special_tokens=False)["input_ids"]
        if len(ids) > self.config.max_subtitle_tokens:
            warnings.warn(f"subtitle of {len(ids)} tokens truncated to {self.config.max_subtitle_tokens}", stacklevel=3)
            return self.tokenizer.decode(ids[: self.config.max_subtitle_tokens])
        return text or ""

    def _segments(self, sample: Sample) -> list[str | tuple[str]]:
        """Prompt as text pieces and slot markers ``("multi",)`` etc."""
        marker = {k: f"\x00{k}\x00" for k in _SLOTS}
        text = TEMPLATES[self.config.prompt].format(subtitle=self._subtitle(sample.subtitle), question=sample.question, **marker)
        pieces: list[str | tuple[str]] = []
        for part in text.split("\x00"):
            pieces.append((part,) if part in _SLOTS else part)
        return [p for p in pieces if p != ""]

    def build_inputs(self, samples: list[Sample], for_generation: bool = False):
        """(inputs_embeds [B, L, H], attention_mask [B, L], labels [B, L]); prompt tokens masked with -100.

        Training batches are right-padded; generation batches left-padded.
        """
        emb_layer = self.llm.get_input_embeddings()
        device = emb_layer.weight.device
        slots = self.modality_embeddings(samples)
        tok = self.tokenizer
        rows, labels = [], []
        for i, s in enumerate(samples):
            parts, labs = [], []
            if tok.bos_token_id is not None:
                ids = torch.tensor([tok.bos_token_id], device=device)
                parts.append(emb_layer(ids))
                labs.append(torch.full((1,), IGNORE_INDEX, device=device))
            for seg in self._segments(s):
                if isinstance(seg, tuple):
                    e = slots[seg[0]][i].to(emb_layer.weight.dtype)
                    parts.append(e)
                    labs.append(torch.full((e.shape[0],), IGNORE_INDEX, device=device))
                else:
                    ids = torch.tensor(tok(seg, add_special_tokens=False)["input_ids"], device=device, dtype=torch.long)
                    parts.append(emb_layer(ids))
                    labs.append(torch.full((len(ids),), IGNORE_INDEX, device=device))
            if s.target is not None and not for_generation:
                ids = tok(s.target + " ###", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
                ids = torch.tensor(ids, device=device, dtype=torch.long)
                parts.append(emb_layer(ids))
                labs.append(ids)
            rows.append(torch.cat(parts))
            labels.append(torch.cat(labs))
        length = max(r.shape[0] for r in rows)
        hidden = rows[0].shape[1]
        embeds = torch.zeros(len(rows), length, hidden, device=device, dtype=rows[0].dtype)
        mask = torch.zeros(len(rows), length, dtype=torch.long, device=device)
        lab = torch.full((len(rows), length), IGNORE_INDEX, dtype=torch.long, device=device)
        for i, (r, lb) in enumerate(zip(rows, labels)):
            n = r.shape[0]
            sl = slice(length - n, length) if for_generation else slice(0, n)
            embeds[i, sl], mask[i, sl], lab[i, sl] = r, 1, lb
        return embeds, mask, lab

    # -- training and generation ----------------------------------------------------------
    def forward(self, samples: list[Sample]):
        """Causal-LM loss over the answer tokens only."""
        embeds, mask, labels = self.build_inputs(samples)
        return self.llm(inputs_embeds=embeds, attention_mask=mask, labels=labels)

    @torch.no_grad()
    def generate(self, samples: list[Sample], max_new_tokens: int = 32, do_sample: bool = False,
                 temperature: float = 1.0, top_p: float = 0.9, seed: int | None = None) -> list[str]:
        """Answers for a batch (greedy by default; seeded sampling when ``do_sample``)."""
        if seed is not None:
            torch.manual_seed(seed)
        embeds, mask, _ = self.build_inputs(samples, for_generation=True)
        kwargs = {"do_sample": do_sample, "max_new_tokens": max_new_tokens,
                  "pad_token_id": self.tokenizer.pad_token_id, "eos_token_id": self.tokenizer.eos_token_id}
        if do_sample:
            kwargs.update(temperature=temperature, top_p=top_p)
        out = self.llm.generate(inputs_embeds=embeds, attention_mask=mask, **kwargs)
        texts = self.tokenizer.batch_decode(out, skip_special_tokens=True)
        return [t.split("###")[0].strip() for t in texts]
