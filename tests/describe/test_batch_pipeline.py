"""`describe` batches on the pipeline executor: unreadable entries named, exit 1 with a count,
resume keyed on file identity (relative then absolute spelling), a parent SIGKILL that leaves no
worker behind, and the same records from the Ray executor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("mediapipe")

from affectgpt.cli import main  # noqa: E402


def _records(out):
    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines]


@pytest.fixture()
def clips(media):
    paths = [media.video(f"c{i}.mp4", seconds=1.0) for i in range(3)]
    folder = paths[0].parent
    (folder / "x.mp4").mkdir()
    (folder / "gone.mp4").symlink_to(folder / "nowhere.mp4")
    return folder


def test_unreadable_entries_get_records_and_the_batch_exits_1(clips, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["describe", str(clips), "--out", str(out), "--subtitle", "Fine.", "--no-asr", "-q"])
    text = capsys.readouterr()
    recs = _records(out)
    assert rc == 1
    assert len(recs) == 5 and len({r["path"] for r in recs}) == 5
    errors = {os.path.basename(r["path"]): r["error"] for r in recs if "error" in r}
    assert set(errors) == {"x.mp4", "gone.mp4"}
    assert "is a directory" in errors["x.mp4"] and "dangling symbolic link" in errors["gone.mp4"]
    assert "3 described (0 from the cache), 2 failed (unreadable input: 2)" in text.err  # run summaries go to stderr (a warning when inputs failed)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["failures_by_reason"] == {"unreadable input": 2} and stats["total"] == 5


def test_resume_with_the_folder_spelled_another_way_describes_nothing_again(clips, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(clips.parent)
    out = tmp_path / "out"
    args = ["--out", str(out), "--subtitle", "Fine.", "--no-asr", "-q", "--resume"]
    main(["describe", clips.name, *args])
    first = [r for r in _records(out) if "error" not in r]
    capsys.readouterr()
    main(["describe", str(clips.resolve()), *args])
    assert "3 described (3 from the cache)" in capsys.readouterr().err
    recs = _records(out)
    assert len(recs) == 5  # one record per entry, not one per spelling
    again = [r for r in recs if "error" not in r]
    assert [r["description"] for r in again] == [r["description"] for r in first]
    assert all(os.path.isabs(r["path"]) for r in recs)  # shown as spelled in this run


def test_parent_killed_alone_leaves_no_worker_and_resume_completes(media, tmp_path):
    import psutil

    paths = [media.video(f"k{i}.mp4", seconds=1.0) for i in range(6)]
    out = tmp_path / "out"
    cmd = [sys.executable, "-c", "from affectgpt.cli import main; raise SystemExit(main())", "describe",
           str(paths[0].parent), "--out", str(out), "--workers", "2", "--subtitle", "Fine.", "--no-asr", "-q",
           "--resume"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    workers = []
    while time.monotonic() < deadline and proc.poll() is None:
        workers = psutil.Process(proc.pid).children(recursive=True)
        if len(list((out / ".cache").rglob("*.json"))) >= 1:  # a record is done: kill mid-batch
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the batch finished before it could be killed"
    workers = psutil.Process(proc.pid).children(recursive=True) or workers
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    _, alive = psutil.wait_procs(workers, timeout=15)
    assert workers and not alive, "workers outlived their killed parent"
    assert subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300).returncode == 0
    recs = _records(out)
    assert sorted(os.path.basename(r["path"]) for r in recs) == sorted(p.name for p in paths)
    assert all("error" not in r for r in recs)


def test_ray_executor_gives_the_local_records(media, tmp_path):
    pytest.importorskip("ray")
    paths = [media.video(f"r{i}.mp4", seconds=1.0) for i in range(2)]
    common = [str(p) for p in paths] + ["--subtitle", "Fine.", "--no-asr", "-q"]
    assert main(["describe", *common, "--out", str(tmp_path / "local")]) == 0
    assert main(["describe", *common, "--out", str(tmp_path / "ray"), "--executor", "ray", "--workers", "1"]) == 0

    def stable(r):
        return {k: v for k, v in r.items() if k not in ("timings_s", "timing")}

    assert [stable(r) for r in _records(tmp_path / "ray")] == [stable(r) for r in _records(tmp_path / "local")]


def test_ctrl_c_keeps_the_finished_records_and_says_so_in_one_line(media, tmp_path):
    paths = [media.video(f"i{i}.mp4", seconds=1.0) for i in range(8)]
    out = tmp_path / "out"
    cmd = [sys.executable, "-c", "from affectgpt.cli import main; raise SystemExit(main())", "describe",
           str(paths[0].parent), "--out", str(out), "--subtitle", "Fine.", "--no-asr", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((out / ".cache").rglob("*.json"))) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the batch finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted (finished records are kept: rerun with --resume)" in err and "Traceback" not in err
    done = len(list((out / ".cache").rglob("*.json")))
    recs = _records(out)
    assert len(recs) >= 2 and len(recs) == done  # every finished record reached results.jsonl
    assert not (out / "stats.json").exists()  # not marked complete


def test_two_runs_never_write_one_output_folder_at_once(media, tmp_path):
    from affectgpt.errors import InputError
    from affectgpt.pipeline.store import output_lock

    clip = media.video("a.mp4", seconds=1.0)
    out = tmp_path / "out"
    with output_lock(out, "describe run"):
        cmd = [sys.executable, "-c", "from affectgpt.cli import main; raise SystemExit(main())", "describe",
               str(clip), "--out", str(out), "--subtitle", "Fine.", "--no-asr", "-q"]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert res.returncode == 2
        assert f"another describe run is writing to this folder (process {os.getpid()})" in res.stderr
        with pytest.raises(InputError, match="another describe run is writing"):
            with output_lock(out, "describe run"):
                pass  # flock is per open file: the same process is refused too
    assert main(["describe", str(clip), "--out", str(out), "--subtitle", "Fine.", "--no-asr", "-q"]) == 0


def test_folders_take_every_media_container_and_say_what_they_leave_out(media, tmp_path, caplog):
    from affectgpt.pipeline.inputs import collect_inputs

    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in ("a.aiff", "b.m2ts", "c.MXF", "d.vob", "e.oga", "notes.txt", "clip.srt", "mystery.xyz"):
        (folder / name).write_bytes(b"x")
    with caplog.at_level("WARNING"):
        got = [p.name for p in collect_inputs([folder])]
    assert got == ["a.aiff", "b.m2ts", "c.MXF", "d.vob", "e.oga"]
    assert "1 file(s) left out, not media by their name (e.g. mystery.xyz)" in caplog.text
