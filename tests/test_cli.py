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


def test_log_options_go_before_or_after_the_subcommand(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AFFECTGPT_VERBOSE", "")  # -v sets it; restored after the test
    missing = str(tmp_path / "none.csv")
    for argv in (["-q", "bench", "score", "--dataset", "meld", "--predictions", missing, "--labels", missing],
                 ["bench", "score", "--dataset", "meld", "--predictions", missing, "--labels", missing, "--quiet"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("affectgpt: error: ") and "none.csv" in err and "Traceback" not in err
    assert main(["bench", "score", "--dataset", "meld", "--predictions", missing, "--labels", missing, "-v"]) == 2
    assert "Traceback" in capsys.readouterr().err  # -v adds the traceback for debugging


def test_infer_subtitle_tables_read_like_describe_tables(tmp_path):
    """`infer --subtitles`: any encoding describe reads (GBK here), headers ignoring case, the English
    column by default (AffectGPT's prompts quote English subtitles), --subtitle-column to choose."""
    import argparse

    from affectgpt.cli import _subtitle_map

    table = tmp_path / "subs.csv"
    table.write_bytes("Name,Chinese,English\nclip1,我很生气,I am angry\n'-x2,nan,I am glad\n".encode("gbk"))
    args = argparse.Namespace(subtitles=str(table), subtitle=None, subtitle_column=None)
    assert _subtitle_map(args, []) == {"clip1": "I am angry", "-x2": "I am glad"}
    args.subtitle_column = "chinese"
    assert _subtitle_map(args, []) == {"clip1": "我很生气", "-x2": ""}
