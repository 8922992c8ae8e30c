"""The describe API and CLI as an integrator uses them: settings checked before any model loads,
inputs given as one path, a list or a generator, subtitle tables keyed by clip stem, cached
records invalidated by an edited subtitle file, JSON on stdout, timelines for several clips,
output paths checked before the work, one Describer shared by threads."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import threading
from pathlib import Path

import numpy as np
import pytest

from affectgpt.describe.pipeline import DescribeConfig
from affectgpt.errors import InputError
from affectgpt.media.subtitles import clip_name, read_subtitle_table
from affectgpt.pipeline.inputs import collect_inputs


# -- settings ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,error,match", [
    ({"frames": 2.5}, TypeError, "frames .--frames. must be a whole number"),
    ({"frames": "8"}, TypeError, "frames .--frames. must be a whole number"),
    ({"frames_per_window": 0}, ValueError, "frames_per_window must be at least 1"),
    ({"max_timeline_windows": 0}, ValueError, "max_timeline_windows must be at least 1"),
    ({"model_max_new_tokens": -5}, ValueError, "must be at least 1"),
    ({"window_s": math.nan}, ValueError, "window_s .--window. must be a positive, finite"),
    ({"max_audio_s": math.inf}, ValueError, "max_audio_s .--max-seconds. must be a positive, finite"),
    ({"asr": "no"}, TypeError, "asr must be True or False"),
    ({"timeline": 1}, TypeError, "timeline must be True or False"),
    ({"audio_stream": True}, TypeError, "audio_stream .--audio-stream. must be a stream number"),
    ({"subtitle_stream": -1}, ValueError, "subtitle_stream .--subtitle-stream. must be 0 or more"),
    ({"weights": {"vidoe": 1.0}}, ValueError, "unknown modality 'vidoe'"),
    ({"weights": {"video": -1.0}}, ValueError, r"weights\['video'\] must be a finite number, 0 or more"),
    ({"weights": {"video": 0, "audio": 0.0, "text": 0}}, ValueError, "every modality weighted 0"),
    ({"data_dir": 123}, TypeError, "data_dir must be a path"),
    ({"subtitle_column": 5}, TypeError, "subtitle_column .--subtitle-column. must be a column name"),
    ({"model": "/nonexistent/run"}, ValueError, "/nonexistent/run: AffectGPT run folder"),
    ({"asr_model": "large-v9"}, ValueError, "large-v9: unknown ASR model"),
])
def test_bad_settings_are_refused_when_the_config_is_made(kwargs, error, match):
    with pytest.raises(error, match=match):
        DescribeConfig(**kwargs)


def test_good_settings_are_kept():
    import numpy as np

    cfg = DescribeConfig(frames=4, window_s=1, weights={"video": 0.0, "text": 2}, subtitle_stream=0)
    assert cfg.frames == 4 and cfg.window_s == 1 and cfg.subtitle_stream == 0
    # paths as pathlib.Path and NumPy integers are kept as plain values (records and cache keys are JSON)
    cfg = DescribeConfig(frames=np.int64(6), data_dir=Path("some") / "data")
    assert type(cfg.frames) is int and cfg.frames == 6 and cfg.data_dir == str(Path("some") / "data")
    json.dumps(dataclasses.asdict(cfg))


def test_fusion_leaves_out_a_modality_weighted_zero():
    from affectgpt.analyzers.base import BASIC_CLASSES, ModalityResult
    from affectgpt.describe.fusion import fuse

    video = ModalityResult("video", True, probs={c: (0.9 if c == "happy" else 0.1 / 6) for c in BASIC_CLASSES})
    text = ModalityResult("text", True, probs={c: (0.9 if c == "sad" else 0.1 / 6) for c in BASIC_CLASSES})
    only_text = fuse([video, text], {"video": 0.0})
    assert max(only_text, key=only_text.get) == "sad"
    assert fuse([video], {"video": 0.0}) == {c: 1 / len(BASIC_CLASSES) for c in BASIC_CLASSES}  # no signal, no crash


def test_cli_bad_settings_and_outputs_fail_before_any_model_loads(media, tmp_path, monkeypatch, capsys):
    from affectgpt import cli
    from affectgpt.describe import pipeline

    def boom(*a, **k):
        raise AssertionError("models were loaded")

    monkeypatch.setattr(pipeline.Describer, "__init__", boom)
    clip = media.video("a.mp4", seconds=1.0)
    other = media.video("b.mp4", seconds=1.0)
    cases = [
        (["--window", "nan", "--timeline"], "window_s (--window) must be a positive, finite number"),
        (["--max-seconds", "inf"], "max_audio_s (--max-seconds) must be a positive, finite number"),
        (["--model", str(tmp_path / "no-run")], "no-run: AffectGPT run folder (--model) not found"),
        (["--asr-model", "nonexistent"], "nonexistent: unknown ASR model"),
        (["--resume"], "--resume needs --out DIR"),
        (["--predictions", str(tmp_path / "nowhere" / "p.csv")], "folder " + str(tmp_path / "nowhere") + " does not exist"),
        (["--json", str(tmp_path)], "is a folder; give a file name"),
        (["--srt", str(tmp_path / "t.srt")], "2 inputs need a folder (one <clip>.srt each)"),
        (["--out", str(tmp_path / "run"), "--predictions", str(tmp_path / "run" / "results.jsonl")],
         "would overwrite the run's own results.jsonl in --out"),
        (["--out", str(tmp_path / "run"), "--json", str(tmp_path / "run" / "stats.json")],
         "would overwrite the run's own stats.json in --out"),
        (["--json", str(tmp_path / "x.csv"), "--predictions", str(tmp_path / "x.csv")],
         "would overwrite the --json output"),
        (["--json", str(clip)], "would overwrite an input"),
    ]
    for extra, message in cases:
        paths = [str(clip), str(other)] if "--srt" in extra else [str(clip)]
        assert cli.main(["describe", *paths, "--subtitle", "hi", *extra]) == 2, extra
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (extra, err)
    import cv2

    pics = tmp_path / "pics"
    pics.mkdir()
    for name in ("p1.png", "p2.png"):
        cv2.imwrite(str(pics / name), np.full((64, 64, 3), 128, np.uint8))
    before = (pics / "p1.png").read_bytes()
    assert cli.main(["describe", str(pics / "p1.png"), str(pics / "p2.png"), "--subtitle", "hi",
                     "--plot", f"{pics}/"]) == 2  # the plots would be p1.png and p2.png in that folder
    assert "would overwrite an input (p1.png)" in capsys.readouterr().err
    assert (pics / "p1.png").read_bytes() == before


def test_a_missing_data_directory_is_a_warning_not_an_error(tmp_path, caplog):
    """The README's first command passes --data-dir ../shared/data, absent on a fresh machine: the
    sample clip must still be described (synthetic), with a warning."""
    pytest.importorskip("mediapipe")
    from affectgpt import cli

    with caplog.at_level("WARNING"):
        assert cli.main(["describe", "--sample", "--data-dir", str(tmp_path / "nodata"), "-q", "--no-asr"]) == 0
    assert "nodata: data directory not found" in caplog.text


def test_run_folder_errors_name_the_folder(tmp_path):
    from affectgpt.recipes.run import load_trained

    with pytest.raises(InputError, match="no-run: run folder or checkpoint not found"):
        load_trained(tmp_path / "no-run")
    stray = tmp_path / "notes.txt"
    stray.write_text("x")
    with pytest.raises(InputError, match="notes.txt: is neither a run folder nor a trainable.safetensors"):
        load_trained(stray)


# -- inputs and subtitle tables ------------------------------------------------------------------------
def test_inputs_as_one_path_a_list_or_a_generator(media):
    a = media.video("a.mp4", seconds=1.0)
    (a.parent / "README.txt").write_text("not media")
    (a.parent / "a.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nhi\n")
    assert collect_inputs(str(a)) == [a]  # one path, not its characters
    assert collect_inputs(p for p in [a, Path(str(a.resolve()))]) == [a]  # a generator; one file named twice
    assert collect_inputs([str(a.parent / "*")]) == [a] == collect_inputs([a.parent])  # glob = folder


@pytest.mark.parametrize("name", ["clip01", "clip01.mp4", "clips/clip01.MP4", "C:\\data\\clip01.mkv", " clip01 "])
def test_clip_names_in_tables_are_file_stems(name):
    assert clip_name(name) == "clip01"


def test_subtitle_tables_semicolons_case_and_repeated_rows(tmp_path):
    t = tmp_path / "subs.csv"
    t.write_text("Name;Chinese;English\nclips/a.mp4;我很生气;I am angry\nb;开心;happy\nb;开心;happy\n",
                 encoding="utf-8")
    rows = read_subtitle_table(t)
    assert set(rows) == {"a", "b"} and rows["a"].text == "我很生气"
    assert read_subtitle_table(t, "english")["a"].text == "I am angry"
    t.write_text('name,chinese\nb,"第一行\n第二行"\na,"A：我很生气"\na,"x\ny"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"row 4: duplicate name 'a' with another text \(also on row 3\)"):
        read_subtitle_table(t)  # rows of the table, not lines of the file (row 2 spans two lines)
    t.write_text('name,chinese\nb,"第一行\n第二行"\na,"【音乐】她说：别担心【笑】"\n', encoding="utf-8")
    rows = read_subtitle_table(t)
    # lines joined, sound descriptions removed; a cell is speech, so 她说： ("she said:") stays
    # music is no speech; 【笑】 is the speaker laughing, kept as the word
    assert rows["b"].text == "第一行第二行" and rows["a"].text == "她说：别担心笑"
    assert rows["a"].extra["table_sha256"] == hashlib.sha256(t.read_bytes()).hexdigest()
    for body, message in [("name,english\na,one\na,two\n", "row 3: duplicate name 'a' with another text"),
                          ("name,english\n,one\n", "row 2: blank name"),
                          ("name,english\na,one,extra\n", "row 2: expected 2 cells, got 3"),
                          ("name,english\n", "has no rows"),
                          ("clip,english\na,one\n", "needs columns name and one of")]:
        t.write_text(body, encoding="utf-8")
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            read_subtitle_table(t)


# -- describing (models load) ------------------------------------------------------------------------
pytest.importorskip("mediapipe")
pytest.importorskip("opensmile")


def _records(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]


def test_batch_subtitles_match_by_stem_and_edited_subtitle_files_are_read_again(media, tmp_path, capsys):
    from affectgpt import cli

    clips = [media.video(f"c{i}.mp4", seconds=1.0) for i in range(2)]
    table = tmp_path / "subs.tsv"
    table.write_text(f"name\tenglish\n{clips[0].parent.name}/c0.mp4\tI am so happy today\nnot-here\tx\n",
                     encoding="utf-8")
    out = tmp_path / "run"
    assert cli.main(["describe", str(clips[0].parent), "--subtitles", str(table), "--out", str(out),
                     "--no-asr", "-q"]) == 0
    err = capsys.readouterr().err
    recs = {Path(r["path"]).name: r for r in _records(out)}
    assert recs["c0.mp4"]["transcript"]["text"] == "I am so happy today"
    assert recs["c1.mp4"]["transcript"]["source"] == "none"
    assert "no row for 1 of 2 clips (e.g. c1)" in err
    stats = json.loads((out / "stats.json").read_text())
    assert stats["subtitles_table"] == {"file": "subs.tsv", "sha256": hashlib.sha256(table.read_bytes()).hexdigest(),
                                        "clips_without_row": 1, "rows_unused": 1, "clips_with_empty_row": 0}
    assert "--no-asr" in err  # with ASR off nothing else reads the clip without a row
    # one subtitle file for every clip: editing it re-describes on --resume
    srt = tmp_path / "all.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nI am so happy today\n", encoding="utf-8")
    out2 = tmp_path / "run2"
    args = ["describe", str(clips[0]), "--subtitle", str(srt), "--out", str(out2), "--resume", "-q"]
    assert cli.main(args) == 0
    first = _records(out2)[0]
    assert first["transcript"]["sha256"] and first["input"]["size_bytes"] == clips[0].stat().st_size
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nI am furious\n", encoding="utf-8")
    assert cli.main(args) == 0
    again = _records(out2)[0]
    assert again["transcript"]["text"] == "I am furious" and again["transcript"]["sha256"] != first["transcript"]["sha256"]


def test_a_table_naming_no_clip_is_refused_and_empty_rows_are_counted(media, tmp_path, capsys):
    from affectgpt import cli

    clips = [media.video(f"c{i}.mp4", seconds=1.0) for i in range(2)]
    table = tmp_path / "subs.csv"
    table.write_text("name,chinese\nvideo_0001_0001,我很开心\n", encoding="utf-8")
    out = tmp_path / "run"
    assert cli.main(["describe", str(clips[0].parent), "--subtitles", str(table), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "subs.csv: no row names any of the 2 input clips" in err and "'c0'" in err
    assert not out.exists()  # refused before the run folder is touched
    table.write_text("name,chinese\nc0,我很开心\nc1,\n", encoding="utf-8")
    assert cli.main(["describe", str(clips[0].parent), "--subtitles", str(table), "--out", str(out),
                     "--no-asr", "-q"]) == 0
    assert "an empty subtitle for 1 of 2 clips (e.g. c1)" in capsys.readouterr().err
    assert json.loads((out / "stats.json").read_text())["subtitles_table"]["clips_with_empty_row"] == 1


def test_the_raw_video_id_clip_id_layout_is_named_video_id_clip_id(media, tmp_path, capsys):
    """CMU-MOSI/MOSEI and CH-SIMS ship Raw/<video_id>/<clip_id>.mp4; MER-UniBench names them <video_id>_<clip_id>."""
    import shutil

    from affectgpt import cli

    src = media.video("src.mp4", seconds=1.0)
    raw = tmp_path / "Raw"
    for vid in ("video_0001", "video_0002"):
        (raw / vid).mkdir(parents=True)
        shutil.copy(src, raw / vid / "0001.mp4")
    table = tmp_path / "sims.csv"
    table.write_text("name,chinese\nvideo_0001_0001,我很开心\nvideo_0002_0001,我很生气\n", encoding="utf-8")
    out, pred = tmp_path / "run", tmp_path / "pred.csv"
    args = ["describe", str(raw), "--subtitles", str(table), "--out", str(out), "--predictions", str(pred), "-q",
            "--no-asr"]
    assert cli.main(args) == 2  # by file stem both are '0001'
    err = capsys.readouterr().err
    assert "shares the name '0001'" in err and "--clip-names parent_stem" in err
    assert cli.main([*args, "--clip-names", "parent_stem", "--plot", f"{tmp_path / 'plots'}/"]) == 0
    recs = {r["name"]: r for r in _records(out)}
    assert set(recs) == {"video_0001_0001", "video_0002_0001"}
    assert recs["video_0002_0001"]["transcript"]["text"] == "我很生气"
    assert sorted(line.split(",")[0] for line in pred.read_text(encoding="utf-8").splitlines()[1:]) == \
        ["video_0001_0001", "video_0002_0001"]
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["video_0001_0001.png", "video_0002_0001.png"]
    assert json.loads((out / "stats.json").read_text())["clip_names"] == "parent_stem"


def test_json_on_stdout_and_timelines_for_several_clips(media, tmp_path, capsys):
    from affectgpt import cli

    a, b = media.video("a.mp4", seconds=1.0), media.video("b.mp4", seconds=1.0)
    assert cli.main(["describe", str(a), "--subtitle", "hi", "--json", "-", "-q", "--no-asr"]) == 0
    captured = capsys.readouterr()
    rec = json.loads(captured.out)  # stdout holds the JSON alone
    assert rec["file"] == "a.mp4" and rec["input"]["sha256"]
    folder = tmp_path / "srts"
    assert cli.main(["describe", str(a), str(b), "--subtitle", "hi", "--srt", f"{folder}/", "-q", "--no-asr"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["a.srt", "b.srt"]
    assert "-->" in (folder / "b.srt").read_text(encoding="utf-8")
    assert capsys.readouterr().out == ""  # -q and files written: nothing on stdout


def test_the_same_inputs_give_byte_identical_files(media, tmp_path):
    from affectgpt import cli

    a, b = media.video("a.mp4", seconds=1.5), media.video("b.mp4", seconds=1.5)
    for run in ("one", "two"):
        assert cli.main(["describe", str(a), str(b), "--subtitle", "I am so happy", "--out", str(tmp_path / run),
                         "--json", str(tmp_path / f"{run}.json"), "--no-asr", "-q"]) == 0
    assert (tmp_path / "one" / "results.jsonl").read_bytes() == (tmp_path / "two" / "results.jsonl").read_bytes()
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "two.json").read_bytes()
    assert "timings_s" not in (tmp_path / "one.json").read_text()
    assert cli.main(["describe", str(a), "--subtitle", "I am so happy", "--json", str(tmp_path / "t.json"),
                     "--timings", "--no-asr", "-q"]) == 0
    assert json.loads((tmp_path / "t.json").read_text())["timings_s"]["total"] > 0


def test_a_failed_single_input_writes_its_failure_record_as_the_json_object(tmp_path):
    from affectgpt import cli

    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    out = tmp_path / "r.json"
    assert cli.main(["describe", str(bad), "--json", str(out), "-q"]) == 1
    rec = json.loads(out.read_text())
    assert isinstance(rec, dict) and "bad.mp4" in rec["error"]


def test_one_describer_shared_by_threads_and_closed(media):
    from affectgpt.describe.pipeline import Describer

    clip = media.video("a.mp4", seconds=1.0)
    d = Describer(DescribeConfig(asr=False))
    results, errors = [], []

    def work():
        try:
            results.append(d.describe(clip, subtitle="I am happy"))
        except Exception as exc:  # noqa: BLE001 - the test reports any
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 3
    assert len({json.dumps(r["basic"], sort_keys=True) for r in results}) == 1
    d.close()
    with pytest.raises(RuntimeError, match="this Describer is closed"):
        d.describe(clip)
    with pytest.raises(RuntimeError, match="this Describer is closed"):
        d.describe_texts(["a"], ["I am happy"])
    d.close()  # twice: nothing


def test_modalities_weighted_zero_claim_nothing(media):
    from affectgpt.describe.pipeline import Describer

    clip = media.video("a.mp4", seconds=2.0)
    with Describer(DescribeConfig(asr=False, timeline=True, window_s=1.0, weights={"video": 0, "audio": 0})) as d:
        r = d.describe(clip)  # no text: only zero-weighted modalities were measured
    assert r["labels"] == [] and r["sentiment"]["score"] == 0
    assert all(w["label"] is None and w["labels"] == [] for w in r["timeline"])


def test_close_waits_for_the_call_in_progress(media):
    from affectgpt.describe.pipeline import Describer

    clip = media.video("a.mp4", seconds=2.0)
    d = Describer(DescribeConfig(asr=False))
    started, results, errors = threading.Event(), [], []
    original = d._describe_clip

    def slow(*args):
        started.set()
        return original(*args)

    d._describe_clip = slow

    def work():
        try:
            results.append(d.describe(clip, subtitle="I am happy"))
        except Exception as exc:  # noqa: BLE001 - the test reports any
            errors.append(exc)

    t = threading.Thread(target=work)
    t.start()
    assert started.wait(60)
    d.close()  # while the clip is being described
    t.join()
    assert not errors and results[0]["modalities"]["text"]


def test_describe_texts_checks_its_lists():
    from affectgpt.describe.pipeline import Describer

    with Describer(DescribeConfig(asr=False)) as d:
        with pytest.raises(ValueError, match="3 names but 2 texts"):
            d.describe_texts(["a", "b", "c"], ["I am happy", "sad"])
        with pytest.raises(TypeError, match="not a single string"):
            d.describe_texts("ab", "xy")
        with pytest.raises(TypeError, match=r"every text must be a string \(got NoneType\)"):
            d.describe_texts(["a"], [None])
        out = d.describe_texts((n for n in ["a", "b"]), (t for t in ["I am happy", "I am sad"]))
        assert [r["file"] for r in out] == ["a", "b"]
