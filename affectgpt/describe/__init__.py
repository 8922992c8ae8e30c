"""``describe``: raw media in, an evidence-based emotion description out."""

from affectgpt.describe.pipeline import SCHEMA, DescribeConfig, Describer

__all__ = ["SCHEMA", "DescribeConfig", "Describer"]
