"""Parsing label lists and sentiment words as the upstream scorer does."""

from __future__ import annotations

import json
import math
import re

__all__ = ["parse_label_list", "parse_sentiment", "SENTIMENT_VALUES"]

_SPLIT = re.compile(r"[',\"]")

#: Upstream mapping of a sentiment answer to a value; anything else is 0 (PAPER §3.6).
SENTIMENT_VALUES = {"positive": 1, "negative": -1, "neutral": 0}


def parse_label_list(value) -> list[str]:
    """Turn an extracted-label value into a list of lower-cased labels.

    Accepts a list/tuple/array (returned as strings), a JSON list, or the upstream
    ``[a, b]`` / ``['a', 'b']`` strings. The string rule is upstream's ``string_to_list``:
    drop one leading ``[`` and one trailing ``]``, split on quotes and commas, strip, drop
    empty pieces, then lower-case.
    """
    if value is None:
        return []
    if isinstance(value, float) and math.isnan(value):
        return []
    if not isinstance(value, str):
        try:
            items = list(value)
        except TypeError:
            items = [value]
        return [str(x).strip().lower() for x in items if str(x).strip()]
    text = value.strip()
    if not text:
        return []
    if text.startswith("[") and text.endswith("]") and '"' in text:
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        if isinstance(loaded, list) and all(isinstance(x, str) for x in loaded):
            return [x.strip().lower() for x in loaded if x.strip()]
    if text.startswith("["):
        text = text[1:]
    if text.endswith("]"):
        text = text[:-1]
    return [p.strip().lower() for p in _SPLIT.split(text) if p.strip()]


def parse_sentiment(value) -> int:
    """Upstream sentiment value: positive +1, negative -1, anything else (neutral, mixed...) 0."""
    if value is None:
        return 0
    return SENTIMENT_VALUES.get(str(value).strip().lower(), 0)
