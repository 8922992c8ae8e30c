"""Plug-ins named in caption configs by the tests (package.module:function)."""

from __future__ import annotations


def never_speaks(path, record):
    """An active-speaker model that is sure nobody on screen speaks."""
    return 0.1


def cannot_tell(path, record):
    return None


def always_sad(record):
    """A crowd voter that always votes sad."""
    return "sad"


def bad_voter(record):
    return "melancholic"
