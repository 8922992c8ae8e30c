"""``given``: the labels were extracted beforehand (upstream ``-openset.npz``, CSV/JSONL ``labels``)."""

from __future__ import annotations

from collections.abc import Sequence

from affectgpt.bench.extractors.base import LabelExtractor, register_extractor
from affectgpt.bench.labels import parse_label_list

__all__ = ["GivenExtractor"]


@register_extractor("given")
class GivenExtractor(LabelExtractor):
    """Parses label-list strings; the scorer feeds it the prediction set's ``labels``."""

    uses_given_labels = True

    def __init__(self, **_: object):
        pass

    def extract(self, texts: Sequence[str]) -> list[list[str]]:
        return [parse_label_list(t) for t in texts]
