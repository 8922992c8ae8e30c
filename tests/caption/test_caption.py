"""`affectgpt caption run`: the offline preset end to end, its export and report, decisions with
reasons, bad manifests refused before work, SIGKILL then --resume giving the same export bytes,
and Ray giving the local export."""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("mediapipe")

from affectgpt.caption import caption_run, load_caption_config  # noqa: E402
from affectgpt.cli import main  # noqa: E402
from affectgpt.errors import InputError  # noqa: E402

#: export files compared byte for byte (hf/ holds a random fingerprint: compared by content)
EXPORT_FILES = ("openset.csv", "reason.csv", "samples.jsonl", "samples.parquet", "sharegpt.json", "train_manifest.csv")


@pytest.fixture()
def clips(tmp_path, data_dir):
    """The 6 CREMA-D clips and the demo clip (copies), and a corrupt file."""
    folder = tmp_path / "clips"
    folder.mkdir()
    for p in sorted((data_dir / "crema_d" / "video_mp4").glob("*.mp4"))[:3]:
        shutil.copyfile(p, folder / p.name)
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    return folder


def _cmd(cfg, inputs, out, data_dir, *extra):
    return [sys.executable, "-c", "from affectgpt.cli import main; raise SystemExit(main())", "caption", "run", cfg,
            "--input", *map(str, inputs), "--out", str(out), "--data-dir", str(data_dir), "--no-asr", "-q", *extra]


def test_offline_preset_end_to_end(clips, tmp_path, data_dir):
    cfg = load_caption_config("offline", ["clues.asr=false"])
    res = caption_run(cfg, [str(clips)], tmp_path / "out", progress=False, data_dir=str(data_dir))
    assert len(res.records) == 4 and [r["id"] for r in res.failures] == ["broken"]
    assert "broken.mp4" in res.failures[0]["error"]
    for r in res.records:
        if "error" in r:
            continue
        assert set(r["decisions"]) == {"labels", "speaker", "length", "crowd"}
        assert all(d["reason"] for d in r["decisions"].values())
        assert r["kept"] == all(d["keep"] for d in r["decisions"].values())
        assert r["clues"]["visual"].startswith("In the video") and r["clues"]["acoustic"].startswith("In the audio")
        assert set(r["vote"]["voters"]) <= {"audio", "video", "text"}
        assert r["subtitle"] == "" and "text" in r["missing"]  # no subtitle, no ASR: said, not invented
    export = tmp_path / "out" / "export"
    kept = {r["id"] for r in res.kept}
    with open(export / "openset.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["name"] for r in rows} == kept and all(r["openset"].startswith("[") for r in rows)
    samples = [json.loads(x) for x in (export / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(samples) == 4  # every input, kept, dropped or failed
    import pyarrow.parquet as pq

    assert pq.read_table(export / "samples.parquet").num_rows == 4
    share = json.loads((export / "sharegpt.json").read_text(encoding="utf-8"))
    assert {s["id"] for s in share} == kept
    assert all(s["conversations"][1]["from"] == "gpt" and s["conversations"][1]["value"] for s in share)
    with open(export / "train_manifest.csv", encoding="utf-8") as fh:
        manifest = list(csv.DictReader(fh))
    assert all(m["target"].startswith("The character's emotional state is") for m in manifest)
    datasets = pytest.importorskip("datasets")
    assert len(datasets.load_from_disk(str(export / "hf"))) == len(kept)
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "## Drop reasons" in report and "## Agreement between modalities" in report
    assert (tmp_path / "out" / "plots" / "length_hist.png").stat().st_size > 1000


def test_filters_follow_their_settings(clips, tmp_path, data_dir):
    base = ["clues.asr=false"]
    loose = caption_run(load_caption_config("offline", base + ["filters.crowd.enabled=false",
                                                                "filters.length.mode=bounds",
                                                                "filters.length.low=0", "filters.length.high=100000"]),
                        [str(clips)], tmp_path / "a", progress=False, data_dir=str(data_dir))
    tight = caption_run(load_caption_config("offline", base + ["filters.length.mode=bounds", "filters.length.low=0",
                                                                "filters.length.high=10"]),
                        [str(clips)], tmp_path / "b", progress=False, data_dir=str(data_dir))
    assert all("crowd" not in r["decisions"] for r in loose.records if "error" not in r)
    assert not tight.kept
    assert all("outside [0, 10]" in r["decisions"]["length"]["reason"] for r in tight.records if "error" not in r)


def test_a_clip_with_nothing_to_analyse_is_no_training_sample(tmp_path, data_dir):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fieldmedia as fm
    import numpy as np

    folder = tmp_path / "blank"
    folder.mkdir()
    fm.encode(folder / "black_silent.mp4", [np.zeros((120, 160, 3), np.uint8)] * 10, 10, None, 0)
    res = caption_run(load_caption_config("offline", ["clues.asr=false"]), [str(folder)], tmp_path / "out",
                      progress=False, data_dir=str(data_dir))
    (rec,) = res.records
    assert rec["kept"] is False and not res.kept
    assert rec["decisions"]["labels"]["reason"].startswith("nothing could be analysed (video: ")
    manifest = (tmp_path / "out" / "export" / "train_manifest.csv").read_text()
    assert "black_silent" not in manifest


def test_bad_manifests_are_refused_before_any_work(tmp_path, data_dir):
    clip = sorted((data_dir / "crema_d" / "video_mp4").glob("*.mp4"))[0]
    m = tmp_path / "m.csv"
    m.write_text(f"name,path,english\na,{clip},hi\nb,{tmp_path / 'gone.mp4'},x\na,{clip},again\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"m\.csv: refused before any work: 1 repeated name.*'a' \(rows 2 and 4\).*"
                                         r"1 missing file.*row 3"):
        caption_run(load_caption_config("offline"), [str(m)], tmp_path / "out", progress=False,
                    data_dir=str(data_dir))
    assert not (tmp_path / "out" / ".cache").exists() or not list((tmp_path / "out" / ".cache").rglob("*.json"))
    bad_cfg = tmp_path / "c.yaml"
    bad_cfg.write_text("merge: {backend: gpt5}\n", encoding="utf-8")
    assert main(["caption", "run", str(bad_cfg), "--input", str(m), "--out", str(tmp_path / "o")]) == 2


def test_manifest_subtitles_and_upstream_columns(tmp_path, data_dir):
    clips = sorted((data_dir / "crema_d" / "video_mp4").glob("*.mp4"))[:2]
    m = tmp_path / "m.jsonl"
    m.write_text("\n".join(json.dumps({"name": f"s{i}", "path": str(p), "chinese": "我太高兴了", "english": "I am so happy!"})
                           for i, p in enumerate(clips)) + "\n", encoding="utf-8")
    res = caption_run(load_caption_config("offline", ["clues.asr=false"]), [str(m)], tmp_path / "out",
                      progress=False, data_dir=str(data_dir))
    assert [r["id"] for r in res.records] == ["s0", "s1"]
    assert all(r["subtitle"] == "I am so happy!" for r in res.records)  # english before chinese


def test_sigkill_then_resume_gives_the_same_export_bytes(clips, tmp_path, data_dir):
    ref = tmp_path / "ref"
    assert subprocess.run(_cmd("offline", [clips], ref, data_dir), timeout=600,
                          capture_output=True).returncode == 1  # broken.mp4 is a recorded failure
    out = tmp_path / "killed"
    rng = random.Random(11)
    kills = 0
    for _ in range(4):
        proc = subprocess.Popen(_cmd("offline", [clips], out, data_dir, "--resume"), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(rng.uniform(4.0, 9.0))
        if proc.poll() is not None:
            break
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        kills += 1
    assert kills >= 1
    assert subprocess.run(_cmd("offline", [clips], out, data_dir, "--resume"), timeout=600,
                          capture_output=True).returncode == 1
    for name in EXPORT_FILES:
        assert (out / "export" / name).read_bytes() == (ref / "export" / name).read_bytes(), name
    assert (out / "report.md").read_text().split("## Steps")[0] == (ref / "report.md").read_text().split("## Steps")[0]


def test_ray_gives_the_local_export(clips, tmp_path, data_dir):
    pytest.importorskip("ray")
    assert main(["caption", "run", "offline", "--input", str(clips), "--out", str(tmp_path / "local"),
                 "--data-dir", str(data_dir), "--no-asr", "-q"]) == 1
    assert main(["caption", "run", "offline", "--input", str(clips), "--out", str(tmp_path / "ray"),
                 "--data-dir", str(data_dir), "--no-asr", "-q", "--executor", "ray", "--workers", "2"]) == 1
    for name in EXPORT_FILES:
        assert (tmp_path / "ray" / "export" / name).read_bytes() == (tmp_path / "local" / "export" / name).read_bytes()


def test_affectgpt_trains_on_the_caption_export_as_it_is(clips, tmp_path, data_dir, tiny_llm_dir):
    cfg = load_caption_config("offline", ["clues.asr=false", "filters.crowd.enabled=false", "filters.length.enabled=false"])
    res = caption_run(cfg, [str(clips)], tmp_path / "cap", progress=False, data_dir=str(data_dir))
    manifest = tmp_path / "cap" / "export" / "train_manifest.csv"
    assert len(res.kept) >= 2
    run = tmp_path / "run"
    sets = [f"model.llm_path={tiny_llm_dir}", f"data.manifest={manifest}", "train.max_steps=2", "train.batch_size=2",
            "train.grad_accum=1", f"train.output_dir={run}", "train.save_every=2"]
    assert main(["train", "mini", *sum((["--set", s] for s in sets), []), "-q"]) == 0
    assert (run / "checkpoint-2" / "trainable.safetensors").is_file()
    answers = tmp_path / "answers.csv"
    first = sorted(clips.glob("1001_*.mp4"))[0]
    assert main(["infer", "--checkpoint", str(run), "--data", str(first), "--out", str(answers), "--no-asr",
                 "--subtitle", "Don't forget a jacket", "--max-new-tokens", "4", "-q"]) == 0
    with open(answers, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["name"] for r in rows] == [first.stem] and rows[0]["error"] == ""


def test_plugged_in_speaker_model_and_crowd_voters(clips, tmp_path, data_dir, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    base = ["clues.asr=false", "filters.length.enabled=false"]
    res = caption_run(load_caption_config("offline", base + ["filters.speaker.model=_plugins:never_speaks",
                                                              "filters.crowd.enabled=false"]),
                      [str(clips)], tmp_path / "a", progress=False, data_dir=str(data_dir))
    ok = [r for r in res.records if "error" not in r]
    assert ok and not res.kept
    assert all(r["decisions"]["speaker"]["reason"] == "_plugins:never_speaks: speaking probability 0.10 < 0.5"
               for r in ok)
    voters = '[{name: sadbot, plugin: "_plugins:always_sad"}, {name: sadbot2, plugin: "_plugins:always_sad"}, ' \
             '{name: sadbot3, plugin: "_plugins:always_sad"}, {name: sadbot4, plugin: "_plugins:always_sad"}]'
    res = caption_run(load_caption_config("offline", base + [f"filters.crowd.extra_voters={voters}"]),
                      [str(clips)], tmp_path / "b", progress=False, data_dir=str(data_dir))
    for r in (r for r in res.records if "error" not in r):
        assert r["vote"]["voters"]["sadbot"] == "sad" and r["vote"]["emotion"] == ["sad"]  # 4 of at most 7
    res = caption_run(load_caption_config("offline", base + ['filters.crowd.extra_voters=[{name: x, plugin: '
                                                             '"_plugins:bad_voter"}]']),
                      [str(clips)], tmp_path / "c", progress=False, data_dir=str(data_dir))
    assert all("voter x answered 'melancholic'" in r["error"] for r in res.records if r["id"] != "broken")
    assert len(res.failures) == len(res.records)  # a bad voter is a recorded failure per sample, not a crash


def test_config_and_input_mistakes_are_usage_errors_found_before_work(clips, tmp_path, data_dir, monkeypatch, capsys):
    with pytest.raises(InputError, match="unknown setting 'filters.lenght.mode'; did you mean 'filters.length.mode'"):
        load_caption_config("offline", ["filters.lenght.mode=bounds"])
    with pytest.raises(InputError, match="filters.length.low = 'abc' is not a number"):
        load_caption_config("offline", ["filters.length.low=abc"])
    assert main(["caption", "run", "offline", "--input", str(tmp_path / "nothere"), "--out", str(tmp_path / "x"),
                 "--data-dir", str(data_dir), "--no-asr"]) == 2
    assert "nothere: input not found" in capsys.readouterr().err and not (tmp_path / "x").exists()
    for sets, msg in ((["filters.length.mode=bounds"], "look like quantiles"),
                      (["filters.length.low=0.9", "filters.length.high=0.1"], "is above filters.length.high")):
        args = [a for kv in sets for a in ("--set", kv)]
        assert main(["caption", "run", "offline", "--input", str(clips), "--out", str(tmp_path / "z"),
                     "--data-dir", str(data_dir), "--no-asr", *args]) == 2
        assert msg in capsys.readouterr().err and not (tmp_path / "z").exists()
    monkeypatch.delenv("AFFECTGPT_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    t0 = time.perf_counter()
    assert main(["caption", "run", "offline", "--input", str(clips), "--out", str(tmp_path / "y"), "--no-asr"]) == 2
    assert "affectgpt data fetch wheels" in capsys.readouterr().err
    assert time.perf_counter() - t0 < 30 and not (tmp_path / "y").exists()  # before the clue step


def test_export_paths_are_absolute_so_train_reads_them_from_anywhere(clips, tmp_path, data_dir, monkeypatch):
    monkeypatch.chdir(clips.parent)
    res = caption_run(load_caption_config("offline", ["clues.asr=false"]), [clips.name], "out", progress=False,
                      data_dir=str(data_dir))
    with open(Path("out") / "export" / "train_manifest.csv", encoding="utf-8") as fh:
        paths = [r["path"] for r in csv.DictReader(fh)]
    assert paths and all(Path(p).is_absolute() and Path(p).is_file() for p in paths)
    assert all(Path(s["video"]).is_absolute() for s in json.loads((Path("out") / "export" / "sharegpt.json").read_text()))
    failed = [json.loads(x) for x in (Path("out") / "export" / "samples.jsonl").read_text().splitlines()
              if "error" in json.loads(x)]
    assert failed and all(r["kept"] is False for r in failed)
    assert "| broken |" in Path("out", "report.md").read_text()
    assert res.failures


def test_one_caption_run_per_output_folder(tmp_path, data_dir):
    from affectgpt.pipeline.store import output_lock

    clip = sorted((data_dir / "crema_d" / "video_mp4").glob("*.mp4"))[0]
    out = tmp_path / "out"
    with output_lock(out, "caption run"):
        with pytest.raises(InputError, match="another caption run is writing to this folder"):
            caption_run(load_caption_config("offline", ["clues.asr=false"]), [str(clip)], out, progress=False,
                        data_dir=str(data_dir))
    assert not (out / ".cache").exists()  # nothing was started
