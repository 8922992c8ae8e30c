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

    def file_of(self, sample_id: str) -> Path:
        """The safetensors file that holds (or will hold) a sample."""
        return self._path(sample_id)

    def __contains__(self, sample_id: str) -> bool:
        return self._path(sample_id).is_file()

    def put(self, sample_id: str, tensors: dict[str, torch.Tensor | None], meta: dict | None = None) -> None:
        """Store a sample's tensors (``None`` = absent modality) and optional JSON metadata."""
        from safetensors.torch import save_file

        p = self._path(sample_id)
        p.parent.mkdir(exist_ok=True)
        tmp = p.with_suffix(f".{os.getpid()}.tmp")  # one per process: workers may write the same sample
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

    def fill(self, ids: Iterable[str], encode: Callable[[str], dict], progress: bool = True, executor=None) -> int:
        """Encode every id not cached yet (an :mod:`affectgpt.pipeline` run; in this process by
        default, since ``encode`` is usually a closure); returns how many were encoded now.

        Raises:
            AffectGPTError: some ids could not be encoded (after the others were stored), naming
                how many and the first failure.
        """
        from affectgpt.errors import AffectGPTError
        from affectgpt.pipeline import FunctionStep, run_map

        todo = [i for i in ids if i not in self]

        def one(record: dict) -> dict:
            self.put(record["id"], encode(record["id"]))
            return {"id": record["id"]}

        res = run_map(FunctionStep(one, name="encode"), [{"id": i} for i in todo], executor, progress=progress,
                      desc="encode")
        if res.failures:
            raise AffectGPTError(f"{len(res.failures)} of {len(todo)} samples could not be encoded "
                                 f"(the rest are cached); first: {res.failures[0]['error']}")
        return len(todo)
