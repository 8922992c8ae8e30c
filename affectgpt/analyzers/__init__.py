"""Cue analyzers: acoustic (voice), visual (face) and lexical (words), each usable alone."""

from affectgpt.analyzers.base import BASIC_CLASSES, Cue, ModalityResult

__all__ = ["BASIC_CLASSES", "Cue", "ModalityResult"]
