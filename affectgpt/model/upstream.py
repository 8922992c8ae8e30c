"""Loading the authors' released AffectGPT checkpoints (trainable-parameter ``.pth`` files).

The released run (attention pooling and attention pre-fusion, face or frame input) stores
only its trainable parameters under the key ``model``. Their names map onto this
implementation as follows (a prefix rule each; LoRA tensors keep their PEFT names):

=============================================  ==========================================
upstream                                       affectgpt
=============================================  ==========================================
``video_attention_mlp.*``                      ``visual_pool.score.*``
``video_proj.*``                               ``visual_proj.*``
``audio_attention_mlp.*``                      ``audio_pool.score.*``
``audio_llama_proj.*``                         ``audio_proj.*``
``multi_video_embs.*``                         ``prefusion.visual.*``
``multi_audio_embs.*``                         ``prefusion.audio.*``
``attention_mlp.*``                            ``prefusion.hidden.*``
``fc_att.*``                                   ``prefusion.weights.*``
``multi_llama_proj.*``                         ``fused_proj.*``
``llama_model.base_model.model.*lora_*``       ``llm.base_model.model.*lora_*``
``image_llama_proj.*``                         ignored (image input only, unused here)
=============================================  ==========================================

Q-Former variants use BERT blocks whose weights have no counterpart here; loading them is
refused with the list of keys.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from affectgpt.errors import UntrustedPickleError

__all__ = ["PREFIX_MAP", "IGNORED_PREFIXES", "map_upstream_keys", "load_upstream_checkpoint"]

PREFIX_MAP = {
    "video_attention_mlp.": "visual_pool.score.",
    "video_proj.": "visual_proj.",
    "audio_attention_mlp.": "audio_pool.score.",
    "audio_llama_proj.": "audio_proj.",
    "multi_video_embs.": "prefusion.visual.",
    "multi_audio_embs.": "prefusion.audio.",
    "attention_mlp.": "prefusion.hidden.",
    "fc_att.": "prefusion.weights.",
    "multi_llama_proj.": "fused_proj.",
    "llama_model.": "llm.",
}
IGNORED_PREFIXES = ("image_llama_proj.",)


def map_upstream_keys(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str], list[str]]:
    """(mapped state, ignored keys, keys with no mapping)."""
    mapped, ignored, unknown = {}, [], []
    for key, value in state.items():
        if key.startswith(IGNORED_PREFIXES):
            ignored.append(key)
            continue
        for old, new in PREFIX_MAP.items():
            if key.startswith(old):
                mapped[new + key[len(old):]] = value
                break
        else:
            unknown.append(key)
    return mapped, ignored, unknown


def load_upstream_checkpoint(model, path: str | os.PathLike, trust_pickle: bool = False) -> dict:
    """Load a released ``checkpoint_*.pth`` into ``model``; returns a report of the key mapping.

    Raises ``ValueError`` listing missing and unexpected keys (and shape mismatches) when the
    checkpoint does not fit the model's configuration.
    """
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises several types for pickled extras
        if not trust_pickle:
            raise UntrustedPickleError(path) from exc
        obj = torch.load(path, map_location="cpu", weights_only=False)
    state = obj.get("model", obj) if isinstance(obj, dict) else obj
    mapped, ignored, unknown = map_upstream_keys(state)
    expected = model.trainable_state_dict()
    # our learned "missing modality" embeddings have no upstream counterpart (upstream has no
    # missing-modality handling); they keep their zero initialisation
    own = sorted(k for k in expected if k.startswith("missing."))
    missing = sorted(set(expected) - set(mapped) - set(own))
    unexpected = sorted(set(mapped) - set(expected)) + unknown
    shapes = [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
              for k, v in mapped.items() if k in expected and tuple(v.shape) != tuple(expected[k].shape)]
    if missing or unexpected or shapes:
        raise ValueError(f"{path}: checkpoint does not match the model configuration; "
                         f"missing keys ({len(missing)}): {missing[:8]}; unexpected keys ({len(unexpected)}): "
                         f"{unexpected[:8]}; shape mismatches: {shapes[:4]}")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in mapped.items()}, strict=False)
    return {"loaded": len(mapped), "ignored": ignored, "not_in_upstream": own, "path": str(path)}
