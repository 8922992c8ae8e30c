"""Where the package keeps its own files (models assembled from wheels, feature caches)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_CACHE_DIR", "cache_dir"]

ENV_CACHE_DIR = "AFFECTGPT_CACHE_DIR"


def cache_dir(*parts: str, create: bool = True) -> Path:
    """``$AFFECTGPT_CACHE_DIR`` or the user cache folder (platformdirs: ``~/.cache/affectgpt`` on
    Linux, honouring ``XDG_CACHE_HOME``), joined with ``parts``."""
    base = os.environ.get(ENV_CACHE_DIR)
    if not base:
        import platformdirs

        base = platformdirs.user_cache_dir("affectgpt", appauthor=False)
    path = Path(base).joinpath(*parts)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path
