"""The extractor interface: free-form model output -> ordered list of emotion labels."""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

__all__ = ["LabelExtractor", "register_extractor", "get_extractor", "EXTRACTORS"]

EXTRACTORS: dict[str, Callable[..., "LabelExtractor"]] = {}


class LabelExtractor(ABC):
    """Turns answers into label lists; ``name`` and :meth:`signature` go into every report."""

    name: str = "base"
    #: ``True`` when the extractor reads already extracted labels instead of free text.
    uses_given_labels: bool = False

    @abstractmethod
    def extract(self, texts: Sequence[str]) -> list[list[str]]:
        """Labels for each text, in order of appearance, without duplicates."""

    def to_sentiment(self, label_lists: Sequence[Sequence[str]]) -> list[str] | None:
        """Optional: map label lists to positive/negative/neutral (``None``: not supported)."""
        return None

    def signature(self) -> dict:
        """Settings that determine the output (recorded in reports)."""
        return {"name": self.name}


def register_extractor(name: str):
    """Class decorator adding an extractor to the registry under ``name``."""

    def deco(cls):
        cls.name = name
        EXTRACTORS[name] = cls
        return cls

    return deco


def get_extractor(name: str, **kwargs) -> LabelExtractor:
    """Build a registered extractor; unknown names get a did-you-mean hint."""
    if name not in EXTRACTORS:
        close = difflib.get_close_matches(name, EXTRACTORS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown extractor {name!r}.{hint} Known: {', '.join(sorted(EXTRACTORS))}")
    return EXTRACTORS[name](**kwargs)
