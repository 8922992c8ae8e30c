"""CLI plumbing: data check, dataset list, label mapping."""

from __future__ import annotations

from affectgpt.cli import main


def test_data_check_lists_assets_and_fails_when_required_missing(tmp_path, capsys):
    rc = main(["data", "check", "--data-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 1 and "wheel1" in out and "MISSING" in out and "github.com/zeroQiaoba" in out


def test_data_check_finds_real_data(data_dir, capsys):
    assert main(["data", "check", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "MISSING" not in out and "gt-mer2023" in out


def test_datasets_listing(capsys):
    assert main(["bench", "datasets"]) == 0
    out = capsys.readouterr().out
    for name, size in [("mer2023", "411"), ("mer2024", "1169"), ("iemocapfour", "1241"), ("ovmerdplus", "532")]:
        assert name in out and size in out


def test_emotions_map(tiny_data, capsys):
    assert main(["emotions", "map", "sorrow", "zzz", "--data-dir", str(tiny_data)]) == 0
    out = capsys.readouterr().out
    assert "W1:down" in out and "zzz" in out
