"""MER-Caption: descriptive emotion datasets built as the paper did (PAPER §1): per-modality
clues, an LLM (or the deterministic describe writer) merging them with the subtitle into one
description, open-vocabulary labels, then low-level (speaker, length) and high-level (crowd vote)
filtering, every keep or drop recorded with its reason; on the project's executor (local or Ray)."""

from affectgpt.caption.config import PRESETS, load_caption_config
from affectgpt.caption.run import CaptionResult, build_steps, caption_run

__all__ = ["PRESETS", "load_caption_config", "CaptionResult", "build_steps", "caption_run"]
