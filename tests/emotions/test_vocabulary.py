"""The label mapping G_wk on synthetic tables (exact rules) and on the real 2025/2026 tables."""

from __future__ import annotations

import pytest

from affectgpt.emotions import EmotionVocabulary, load_vocabulary
from affectgpt.emotions.tables import read_synonym_runs, read_wheel, read_word_forms
from affectgpt.errors import InputError, MissingAssetError


def test_wheel_blank_cells_repeat_the_row_above(tiny_data):
    rows = read_wheel(tiny_data / "emotion_wheel/2025/wheel1.csv")
    assert [(r.level1, r.level2, r.level3) for r in rows[:2]] == [("glad", "cheerful", "sunny"), ("glad", "cheerful", "merry")]


def test_synonym_runs_are_read_per_run(tiny_data):
    runs = read_synonym_runs(tiny_data / "emotion_wheel/2025/synonym.csv")
    assert len(runs) == 2
    assert ("sunny", ["bright", "happy"]) in runs[0]
    assert ("sorrowful", ["grieving"]) in runs[1]


def test_unknown_label_is_dropped_and_forms_map_to_base(tiny_data):
    v = load_vocabulary("paper", tiny_data)
    assert v.map_label("zzz", 1) is None
    assert v.base_words("Sadness ") == ("sad",)
    assert v.map_label("sadness", 1) == "down"
    assert v.map_labels(["sadly", "gladness", "nothing"], 1) == frozenset({"down", "glad"})


def test_paper_profile_alphabetical_tie_break_follows_upstream_bug(tiny_data):
    # "happy" is a form of "joyless" in the 2025 table (the -less bug); joyless has no synonyms,
    # so the candidates of "happy" are glad/merry/sunny -> alphabetically "glad".
    v = load_vocabulary("paper", tiny_data)
    assert v.base_words("happy") == ("happy", "joyless")
    assert v.map_label("happy", 1) == "glad"


def test_last_row_wins_in_paper_profile_and_innermost_first_in_corrected(tiny_data):
    paper = load_vocabulary("paper", tiny_data)
    corrected = load_vocabulary("corrected", tiny_data)
    # wheel 2 lists "blue" under down (row 3) and again under glad (row 5)
    assert paper.map_label("blue", 2) == "glad"
    assert corrected.map_label("blue", 2) == "down"
    assert paper.map_label("blue", 1) == corrected.map_label("blue", 1) == "down"


def test_corrected_profile_prefers_direct_then_votes(tiny_data):
    v = load_vocabulary("corrected", tiny_data)
    # "sad" is a synonym of blue in 2 runs and of sorrowful in 1: votes pick blue (both in down)
    assert v.map_label("sad", 1) == "down"
    # a wheel word maps through itself even when alphabetically later candidates exist
    assert v.map_label("sunny", 1) == "glad"
    assert "happy" not in v.base_words("joyless")


def test_level2_ring(tiny_data):
    v = load_vocabulary("paper", tiny_data)
    assert v.map_label("sorrow", 1, level=2) == "gloomy"
    # a level-1 word maps to the alphabetically first of its level-2 children
    assert v.map_label("glad", 1, level=2) == "cheerful"
    assert v.sectors(1, 1) == ["down", "glad"]


def test_missing_table_names_file_and_origin(tmp_path):
    with pytest.raises(MissingAssetError) as exc:
        load_vocabulary("paper", tmp_path)
    assert "wheel1.csv" in str(exc.value) and "github.com/zeroQiaoba/AffectGPT" in str(exc.value)


def test_bad_table_columns_name_file(tiny_data):
    bad = tiny_data / "bad.csv"
    bad.write_text("name,forms\nx,y\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.csv, row 1: missing column"):
        read_word_forms(bad)


def test_unknown_profile():
    with pytest.raises(ValueError, match="choose one of"):
        EmotionVocabulary({}, [], [], profile="nope")


# -- real tables -----------------------------------------------------------------------------
def test_real_tables_sizes_and_documented_quirks(data_dir):
    v = load_vocabulary("paper", data_dir)
    assert len(v.forms) == 7386  # UPSTREAM §2.5: 7,386 distinct forms
    # PAPER §3.3 consequences of the alphabetical tie-break (reproduced by the released numbers)
    assert [v.map_label("fear", k) for k in range(1, 6)] == ["scared", "happy", "joyful", "genius", "joyful"]
    assert [v.map_label("surprise", k) for k in range(1, 6)] == ["surprised", "surprised", "powerful", "fear", None]
    assert v.map_label("happy", 5) == "powerful"
    assert v.map_label("neutral", 1) is None
    assert v.map_label("disgust", 3) is None and v.map_label("disgust", 5) is None


def test_corrected_profile_sends_fear_to_fear_sectors(data_dir):
    v = load_vocabulary("corrected", data_dir)
    assert [v.map_label("fear", k) for k in range(1, 6)] == ["scared", "fearful", "scared", "fear", "scared"]
    assert v.map_label("happy", 5) == "joyful"
