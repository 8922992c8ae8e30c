"""``bench run``: report folder contents, failures recorded, resume without duplicates."""

from __future__ import annotations

import json

import numpy as np
import pytest

from affectgpt.bench.run import load_run_config, run_benchmark
from affectgpt.cli import main


@pytest.fixture()
def setup(tmp_path, tiny_data):
    gt = tmp_path / "gt.csv"
    gt.write_text("name,label\na,happy\nb,sad\nc,neutral\nd,sad\n", encoding="utf-8")
    ov = tmp_path / "ov.csv"
    ov.write_text("name,openset\na,\"['sunny', 'blue']\"\nb,[gloomy]\n", encoding="utf-8")
    m1 = tmp_path / "m1"
    m1.mkdir()
    np.savez(m1 / "checkpoint_000001-openset.npz", filenames=np.array(["a", "b", "c", "d"]),
             fileitems=np.array(["[sunny]", "[blue, glad]", "[]", "[merry]"]))
    (tmp_path / "m2.jsonl").write_text(
        "\n".join(json.dumps({"name": n, "labels": x}) for n, x in [("a", ["sad"]), ("b", ["sad"]), ("d", [])]),
        encoding="utf-8")
    (tmp_path / "m2ov.csv").write_text("name,labels\na,[sunny]\nb,[merry]\n", encoding="utf-8")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        "name: tiny\nselect: last\nbootstrap: 50\n"
        f"datasets:\n  mer2023: {{labels: {gt}}}\n  ovmerd: {{labels: {ov}}}\n"
        "models:\n"
        f"  - name: model one\n    predictions: {{mer2023: {m1}, mer2024: {m1}}}\n"
        f"  - name: model two\n    predictions: {{mer2023: {tmp_path / 'm2.jsonl'}, ovmerd: {tmp_path / 'm2ov.csv'}}}\n"
        f"  - name: broken\n    predictions: {{mer2023: {tmp_path / 'missing.csv'}}}\n",
        encoding="utf-8")
    return cfg, tiny_data


def test_run_writes_report_folder_and_records_failures(tmp_path, setup):
    cfg_path, data = setup
    out = tmp_path / "out"
    res = run_benchmark(load_run_config(cfg_path, str(data)), out, str(data), progress=False)
    r1 = res["models"]["model one"]["mer2023"]
    # wheels 1,3,4,5: a hit, b hit, d miss (neutral c excluded); wheel 2 lists "blue" under glad in its
    # last row, so there "sad" maps to glad and d's "merry" hits too
    assert r1["score"] == pytest.approx(100 * (4 * 2 / 3 + 1) / 5)
    assert res["models"]["model two"]["ovmerd"]["ovmer_metrics"]["M-avg"] is not None
    assert [f["model"] for f in res["failures"]] == ["broken"] and "missing.csv" in res["failures"][0]["error"]
    assert res["skipped"][0]["dataset"] == "mer2024"
    md = (out / "report.md").read_text()
    assert "| model one |" in md and "73.33" in md and "## Failures" in md and "OV-MER metrics" in md
    assert (out / "samples" / "model-one__mer2023.csv").read_text().splitlines()[0].startswith("name,target,labels")
    assert (out / "plots" / "scores.png").stat().st_size > 1000
    assert any(p.startswith("plots/confusion_") for p in res["plots"])
    assert json.loads((out / "results.json").read_text())["table"]["model one"]["mean"] is None


def test_rerun_resumes_without_rescoring(tmp_path, setup):
    cfg_path, data = setup
    out = tmp_path / "out"
    cfg = load_run_config(cfg_path, str(data))
    run_benchmark(cfg, out, str(data), progress=False, plots=False)
    report = out / "reports" / "model-one__mer2023.json"
    before = report.stat().st_mtime_ns
    (out / "reports" / "model-two__ovmerd.json").unlink()  # as if the run was killed before this pair
    res = run_benchmark(cfg, out, str(data), progress=False, plots=False)
    assert report.stat().st_mtime_ns == before
    assert (out / "reports" / "model-two__ovmerd.json").is_file()
    assert sorted(p.name for p in (out / "reports").iterdir()) == [
        "model-one__mer2023.json", "model-two__mer2023.json", "model-two__ovmerd.json"]
    assert res["models"]["model one"]["mer2023"]["score"] == pytest.approx(100 * (4 * 2 / 3 + 1) / 5)


def test_cli_run_exit_code_reflects_failures(tmp_path, setup, capsys):
    cfg_path, data = setup
    rc = main(["bench", "run", str(cfg_path), "--out", str(tmp_path / "o"), "--data-dir", str(data), "--quiet", "--no-plots"])
    assert rc == 1 and "MER-UniBench report: tiny" in capsys.readouterr().out


def test_bad_config_is_named(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("name: x\nmodels: []\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"c\.yaml: missing top-level key 'datasets'"):
        load_run_config(bad)


def test_released_preset(tmp_path, data_dir):
    res = run_benchmark(load_run_config("released", str(data_dir)), tmp_path / "rel", str(data_dir),
                        progress=False, plots=False)
    table = res["table"]
    assert round(table["AffectGPT (released)"]["scores"]["mer2023"], 2) == 78.54
    assert {s["dataset"] for s in res["skipped"]} == {"mer2024", "ovmerdplus"}  # ground truth not public
    assert not res["failures"]


def test_rerun_rescores_a_pair_whose_predictions_changed(tmp_path, setup):
    cfg_path, data = setup
    out = tmp_path / "out"
    cfg = load_run_config(str(cfg_path), str(data))
    first = run_benchmark(cfg, out, str(data), progress=False, plots=False)
    before = first["models"]["model two"]["mer2023"]["score"]
    # the same file name, now answering every sample wrongly
    (tmp_path / "m2.jsonl").write_text(
        "\n".join(json.dumps({"name": n, "labels": ["merry"]}) for n in "abcd"), encoding="utf-8")
    again = run_benchmark(cfg, out, str(data), progress=False, plots=False)
    after = again["models"]["model two"]["mer2023"]["score"]
    fresh = run_benchmark(cfg, tmp_path / "fresh", str(data), progress=False, plots=False)
    assert after == fresh["models"]["model two"]["mer2023"]["score"] and after != before


def test_unreadable_cached_report_is_rescored_and_named(tmp_path, setup):
    cfg_path, data = setup
    out = tmp_path / "out"
    cfg = load_run_config(str(cfg_path), str(data))
    run_benchmark(cfg, out, str(data), progress=False, plots=False)
    bad = out / "reports" / "model-two__mer2023.json"
    assert bad.is_file()
    bad.write_text("{torn", encoding="utf-8")
    res = run_benchmark(cfg, out, str(data), progress=False, plots=False)
    assert any("model-two__mer2023.json" in n and "rescored" in n for n in res.get("notes", []))
    assert json.loads(bad.read_text(encoding="utf-8"))["score"] == res["models"]["model two"]["mer2023"]["score"]


def test_kill_mid_run_then_rerun_leaves_every_plot(tmp_path, data_dir):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    cmd = [sys.executable, "-c", "from affectgpt.cli import main; raise SystemExit(main())",
           "bench", "run", "released", "--data-dir", str(data_dir), "--out", str(out), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if list((out / "reports").glob("*.json")):  # the first pair is written: kill now
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    res = run_benchmark(load_run_config("released", str(data_dir)), out, str(data_dir), progress=False)
    assert res["table"]["AffectGPT (released)"]["scores"]["mer2023"] == pytest.approx(78.54, abs=0.005)
    assert "plots/scores.png" in res["plots"] and "plots/confusion_AffectGPT--released-__mer2023.png" in res["plots"]
    for rel in res["plots"]:
        assert (out / rel).stat().st_size > 1000, rel
