"""Shared fixtures: the real data directory (skipped when absent) and a tiny synthetic one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _real_data_dir() -> Path | None:
    for cand in (os.environ.get("AFFECTGPT_DATA_DIR"), REPO.parent / "shared" / "data"):
        if cand and (Path(cand) / "emotion_wheel" / "2025" / "wheel1.csv").is_file():
            return Path(cand)
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared third-party data (../shared/data or $AFFECTGPT_DATA_DIR); skips when absent."""
    d = _real_data_dir()
    if d is None:
        pytest.skip("third-party data not found: set AFFECTGPT_DATA_DIR or place it at ../shared/data")
    return d


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture()
def tiny_data(tmp_path: Path) -> Path:
    """A synthetic data directory with the real tables' layout and a handful of words.

    Wheel k (k = 1..5) has sectors "glad" (glad > cheerful > sunny) and "down"
    (down > gloomy > blue); wheel 2 also lists "blue" under "glad" in a later row.
    """
    root = tmp_path / "data"
    for k in range(1, 6):
        rows = "level1,level2,level3\nGlad,Cheerful,Sunny\n,,Merry\nDown,Gloomy,Blue\n,,Sorrowful\n"
        if k == 2:
            rows += "Glad,Cheerful,Blue\n"
        _write(root / "emotion_wheel" / "2025" / f"wheel{k}.csv", rows)
    syn = (
        "word_run1,synonym_run1,word_run2,synonym_run2\n"
        "sunny,\"bright, happy\",Sunny,\"happy\"\n"
        "merry,\"jolly, happy\",merry,\"jolly\"\n"
        "blue,\"sad, unhappy\",blue,\"sad\"\n"
        "sorrowful,\"sad\",sorrowful,\"grieving\"\n"
        "glad,\"happy\",glad,\"happy, pleased\"\n"
        "cheerful,\"\",cheerful,\"\"\n"
        "down,\"\",down,\"\"\n"
        "gloomy,\"\",gloomy,\"\"\n"
    )
    _write(root / "emotion_wheel" / "2025" / "synonym.csv", syn)
    forms = (
        "name,format\n"
        "happy,\"happy,happiness,happily\"\n"
        "sad,\"sad,sadness,sadly\"\n"
        "jolly,\"jolly,jollity\"\n"
        "sunny,\"sunny\"\n"
        "merry,\"merry\"\n"
        "blue,\"blue\"\n"
        "sorrowful,\"sorrowful,sorrow\"\n"
        "glad,\"glad,gladness\"\n"
        "cheerful,\"cheerful\"\n"
        "down,\"down\"\n"
        "gloomy,\"gloomy\"\n"
        "grieving,\"grieving,grief\"\n"
        "pleased,\"pleased\"\n"
        "bright,\"bright\"\n"
        "unhappy,\"unhappy,unhappiness\"\n"
        "joyless,\"joyless,happy\"\n"
    )
    _write(root / "emotion_wheel" / "2025" / "format.csv", forms)
    _write(root / "emotion_wheel" / "2026" / "format.csv", forms.replace('joyless,"joyless,happy"', 'joyless,"joyless"'))
    return root
