"""The AffectGPT model: configuration, pooling / pre-fusion modules and the LoRA-tuned LLM wrapper."""

from affectgpt.model.configuration_affectgpt import PAPER_LORA_TARGETS, AffectGPTConfig
from affectgpt.model.modeling_affectgpt import (
    DESCRIPTION_QUESTION,
    LABEL_QUESTION,
    PROMPT_TEMPLATE,
    AffectGPTModel,
    Sample,
    label_target,
)

__all__ = ["AffectGPTConfig", "PAPER_LORA_TARGETS", "AffectGPTModel", "Sample", "PROMPT_TEMPLATE",
           "LABEL_QUESTION", "DESCRIPTION_QUESTION", "label_target"]
