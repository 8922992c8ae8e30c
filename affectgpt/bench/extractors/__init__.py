"""Label extractors: free-form answers -> emotion label lists (``given``, ``lexicon``, ``llm``)."""

from affectgpt.bench.extractors.base import EXTRACTORS, LabelExtractor, get_extractor, register_extractor
from affectgpt.bench.extractors.given import GivenExtractor
from affectgpt.bench.extractors.lexicon import LexiconExtractor
from affectgpt.bench.extractors.llm import LLMExtractor

__all__ = ["EXTRACTORS", "LabelExtractor", "get_extractor", "register_extractor",
           "GivenExtractor", "LexiconExtractor", "LLMExtractor"]
