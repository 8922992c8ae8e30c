"""Parsing label lists and sentiment words as the upstream scorer does."""

from __future__ import annotations

import json
import math
import re

__all__ = ["parse_label_list", "parse_sentiment", "sentiment_number", "SENTIMENT_VALUES"]

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


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def sentiment_number(value) -> int | None:
    """The sign of a numeric sentiment (MMSA-style regression output such as ``-1.280`` or
    ``0.64``: > 0 positive +1, < 0 negative -1, 0 neutral 0), or None when ``value`` is not a number."""
    text = str(value).strip()
    if not _NUMBER.match(text):
        return None
    x = float(text)
    return 1 if x > 0 else -1 if x < 0 else 0


def parse_sentiment(value) -> int:
    """Sentiment value: positive +1, negative -1, neutral 0 (words, case-insensitive), a number by
    its sign (the MMSA convention, see :func:`sentiment_number`); anything else (mixed, other) 0."""
    if value is None:
        return 0
    num = sentiment_number(value)
    if num is not None:
        return num
    return SENTIMENT_VALUES.get(str(value).strip().lower(), 0)
