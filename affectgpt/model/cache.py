"""A frozen-encoder feature cache: encode each sample once, train many times from disk.

Each sample's modality tokens are stored as one safetensors file under a folder named by
the encoder signature (encoder names, settings), so a change of encoder never mixes features.
Writes are atomic (temporary file, then rename): an interrupted encoding run resumes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

__all__ = ["FeatureCache"]


class FeatureCache:
    """``cache.get(id)`` -> {"visual": tensor or absent, "audio": ...}; ``cache.put(id, tensors)``."""

    def __init__(self, root: str | os.PathLike, signature: dict):
        key = hashlib.sha256(json.dumps(signature, sort_keys=True).encode()).hexdigest()[:16]
        self.root = Path(root) / key
        self.root.mkdir(parents=True, exist_ok=True)
        sig = self.root / "signature.json"
        if not sig.exists():
            sig.write_text(json.dumps(signature, indent=2, sort_keys=True), encoding="utf-8")

    def _path(self, sample_id: str) -> Path:
        safe = hashlib.sha256(sample_id.encode()).hexdigest()[:24]
        return self.root / safe[:2] / f"{safe}.safetensors"

    def __contains__(self, sample_id: str) -> bool:
        return self._path(sample_id).is_file()

    def put(self, sample_id: str, tensors: dict[str, torch.Tensor | None], meta: dict | None = None) -> None:
        """Store a sample's tensors (``None`` = absent modality) and optional JSON metadata."""
        from safetensors.torch import save_file

        p = self._path(sample_id)
        p.parent.mkdir(exist_ok=True)
        tmp = p.with_suffix(".tmp")
        save_file({k: v.contiguous().float() for k, v in tensors.items() if v is not None}, str(tmp),
                  metadata={"id": sample_id, "meta": json.dumps(meta or {})})
        tmp.replace(p)

    def get(self, sample_id: str) -> dict[str, torch.Tensor]:
        from safetensors.torch import load_file

        return load_file(str(self._path(sample_id)))

    def meta(self, sample_id: str) -> dict:
        """The metadata stored with a sample ({} when none)."""
        from safetensors import safe_open

        with safe_open(str(self._path(sample_id)), framework="pt") as fh:
            return json.loads((fh.metadata() or {}).get("meta", "{}"))

    def fill(self, ids: Iterable[str], encode: Callable[[str], dict], progress: bool = True) -> int:
        """Encode every id not cached yet; returns how many were encoded now."""
        from tqdm.auto import tqdm

        todo = [i for i in ids if i not in self]
        for sample_id in tqdm(todo, desc="encode", disable=not progress or not todo, unit="sample"):
            self.put(sample_id, encode(sample_id))
        return len(todo)
