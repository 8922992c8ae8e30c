"""Steps used by the pipeline tests (importable by spawned workers: pytest puts this folder on sys.path)."""

from __future__ import annotations

import hashlib
import os
import time

from affectgpt.pipeline import MapStep


class EchoStep(MapStep):
    """A deterministic record from the input: a digest of its id, a payload of ``width`` characters.

    ``sleep_s`` per record; a record with ``die`` kills its own worker (SIGKILL); one with
    ``fail`` raises ValueError."""

    name = "echo"

    def __init__(self, sleep_s: float = 0.0, width: int = 64):
        self.sleep_s, self.width = sleep_s, width

    def settings(self) -> dict:
        return {"width": self.width}

    def process(self, record: dict) -> dict:
        if record.get("die"):
            os.kill(os.getpid(), 9)
        if record.get("fail"):
            raise ValueError(f"{record['id']}: asked to fail")
        if self.sleep_s:
            time.sleep(self.sleep_s)
        digest = hashlib.sha256(record["id"].encode()).hexdigest()
        out = {"id": record["id"], "digest": digest, "payload": (digest * 4)[: self.width]}
        if "path" in record:
            out["path"] = record["path"]
        return out
