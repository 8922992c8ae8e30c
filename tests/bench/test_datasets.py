"""Dataset registry, ground truth and subtitle readers on the public MER-UniBench files."""

from __future__ import annotations

import pytest

from affectgpt.bench import DATASETS, UNIBENCH, load_ground_truth, load_subtitles
from affectgpt.errors import InputError, UntrustedPickleError

SIZES = {"mer2023": 411, "mer2024": 1169, "meld": 2610, "iemocapfour": 1241, "cmumosi": 686,
         "cmumosei": 4659, "sims": 457, "simsv2": 1034, "ovmerdplus": 532, "ovmerd": 332}


def test_registry_matches_the_paper():
    assert {k: v.test_size for k, v in DATASETS.items()} == SIZES
    assert len(UNIBENCH) == 9 and "ovmerd" not in UNIBENCH
    assert {DATASETS[d].metric for d in UNIBENCH} == {"hit_rate", "waf", "ew_fscore"}


@pytest.mark.parametrize("name", ["mer2023", "meld", "iemocapfour", "cmumosi", "cmumosei", "sims", "simsv2"])
def test_public_test_sets_load_with_expected_sizes(data_dir, name):
    gt = load_ground_truth(name, data_dir / "merunibench/gt_csv" / f"{name}.csv")
    assert len(gt) == SIZES[name] and not gt.warnings and len(gt.sha256) == 64


def test_upstream_npz_needs_trust_and_matches_csv(data_dir):
    folder = data_dir / "merunibench/dataset/meld-process"
    with pytest.raises(UntrustedPickleError, match="--trust-pickle"):
        load_ground_truth("meld", folder)
    npz = load_ground_truth("meld", folder, trust_pickle=True)
    csv = load_ground_truth("meld", data_dir / "merunibench/gt_csv/meld.csv")
    assert dict(zip(npz.names, npz.targets)) == dict(zip(csv.names, csv.targets))
    assert set(npz.targets) == {"anger", "joy", "sadness", "neutral", "disgust", "fear", "surprise"}


def test_size_mismatch_is_a_warning(tmp_path):
    p = tmp_path / "gt.csv"
    p.write_text("name,label\na,happy\n", encoding="utf-8")
    assert load_ground_truth("mer2023", p).warnings == ["1 ground-truth samples, expected 411 for MER2023"]


def test_subtitles(data_dir, tmp_path):
    subs = load_subtitles(data_dir / "merunibench/dataset/meld-process")
    gt = load_ground_truth("meld", data_dir / "merunibench/gt_csv/meld.csv")
    assert all(n in subs for n in gt.names)
    assert subs["train_dia0_utt1"] == "You must've had your hands full."
    zh = load_subtitles(data_dir / "merunibench/dataset/sims-process", language="chinese")
    assert zh["video_0001_0001"].startswith("我不想")
    with pytest.raises(InputError, match="has none of"):
        load_subtitles(tmp_path)


def test_subtitle_duplicates(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("name,english\na,one\nb,two\na,three\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"t\.csv, row 4: duplicate name 'a'"):
        load_subtitles(p)
    notes: list[str] = []
    assert load_subtitles(p, duplicates="last", warnings=notes)["a"] == "three"
    assert load_subtitles(p, duplicates="first")["a"] == "one" and "1 repeated names" in notes[0]
