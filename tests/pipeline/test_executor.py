"""The executor's guarantees: failures recorded per record, a dying worker takes only its record,
unreadable entries get records, the cache keys on identity, and SIGKILLs at seeded random points
(of the whole group or of the parent alone) followed by a rerun give the bytes of an uninterrupted
run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _steps import EchoStep

from affectgpt.pipeline import collect_inputs, make_executor, media_records, run_map

HERE = Path(__file__).resolve().parent


def _inputs(n: int, **marks) -> list[dict]:
    recs = [{"id": f"r{i:03d}"} for i in range(n)]
    for key, where in marks.items():
        for i in where:
            recs[i][key] = True
    return recs


@pytest.mark.parametrize("workers", [1, 2])
def test_failures_are_records_and_the_rest_goes_on(workers):
    res = run_map(EchoStep(), _inputs(12, fail=[3, 7]), make_executor("local", workers), progress=False)
    assert [r["id"] for r in res.records] == [f"r{i:03d}" for i in range(12)]  # input order
    assert [r["id"] for r in res.failures] == ["r003", "r007"]
    assert res.failures[0]["reason"] == "ValueError" and "r003: asked to fail" in res.failures[0]["error"]
    assert res.stats["failures_by_reason"] == {"ValueError": 2} and res.stats["processed"] == 12


def test_a_dying_worker_takes_only_its_record():
    ref = run_map(EchoStep(), _inputs(20), progress=False).records
    res = run_map(EchoStep(), _inputs(20, die=[5, 14]), make_executor("local", 2), progress=False)
    died = [r for r in res.records if r.get("reason") == "worker died"]
    assert [r["id"] for r in died] == ["r005", "r014"] and "signal SIGKILL" in died[0]["error"]
    # the pool was rebuilt: every other record is there, identical to a run without deaths
    assert [r for r in res.records if "error" not in r] == [r for i, r in enumerate(ref) if i not in (5, 14)]


def test_every_entry_that_is_not_readable_media_gets_a_record(tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "good.mp4").write_bytes(b"\0" * 100)
    (clips / "x.mp4").mkdir()  # a directory named like a clip
    (clips / "gone.mp4").symlink_to(clips / "nowhere.mp4")  # a dangling link
    (clips / "empty.wav").write_bytes(b"")
    (clips / "notes.txt").write_text("not media", encoding="utf-8")
    recs = media_records(collect_inputs([str(clips)]))
    by_name = {Path(r["path"]).name: r for r in recs}
    assert set(by_name) == {"good.mp4", "x.mp4", "gone.mp4", "empty.wav"}
    assert "identity" in by_name["good.mp4"] and "error" not in by_name["good.mp4"]
    assert "is a directory" in by_name["x.mp4"]["error"]
    assert "dangling symbolic link" in by_name["gone.mp4"]["error"]
    assert "file is empty" in by_name["empty.wav"]["error"]
    res = run_map(EchoStep(), recs, progress=False)
    assert res.stats["failures_by_reason"] == {"unreadable input": 3} and res.stats["processed"] == 1


def test_cache_is_keyed_on_identity_not_spelling(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clips").mkdir()
    for i in range(3):
        (tmp_path / "clips" / f"c{i}.wav").write_bytes(bytes([i + 1]) * 10)
    rel = media_records(collect_inputs(["clips"]))
    absolute = media_records(collect_inputs([str(tmp_path / "clips")]))
    assert [r["path"] for r in rel] != [r["path"] for r in absolute]
    first = run_map(EchoStep(), rel, store=tmp_path / "cache", progress=False)
    again = run_map(EchoStep(), absolute, store=tmp_path / "cache", progress=False)
    assert first.stats["processed"] == 3 and again.stats["processed"] == 0 and again.stats["cached"] == 3
    assert [r["path"] for r in again.records] == [r["path"] for r in absolute]  # shown as spelled now
    # an edited file is a new input
    (tmp_path / "clips" / "c1.wav").write_bytes(b"changed!")
    assert run_map(EchoStep(), media_records(collect_inputs(["clips"])), store=tmp_path / "cache",
                   progress=False).stats["processed"] == 1


def _driver(out: Path, n: int, workers: int, kind: str = "local") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(HERE / "_kill_driver.py"), str(out), str(n), str(workers), kind],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def _check_output(path: Path) -> int:
    """No torn line, no duplicate: returns the number of records."""
    if not path.exists():
        return 0
    lines = path.read_text(encoding="utf-8").splitlines()
    ids = [json.loads(line)["id"] for line in lines]  # raises on a torn line
    assert len(ids) == len(set(ids)), "duplicated records"
    return len(ids)


def test_sigkill_at_random_points_then_rerun_gives_the_uninterrupted_bytes(tmp_path):
    import psutil

    n = 6000
    ref = tmp_path / "ref"
    assert _driver(ref, n, 2).wait(120) == 0
    expected = (ref / "results.jsonl").read_bytes()
    out = tmp_path / "killed"
    rng = random.Random(20261201)
    kills = 0
    for attempt in range(8):
        proc = _driver(out, n, 2)
        time.sleep(rng.uniform(0.3, 1.5))
        if proc.poll() is not None:
            break  # finished before this kill
        children = psutil.Process(proc.pid).children(recursive=True)
        if attempt % 2:  # the parent alone: its workers must not outlive it
            os.kill(proc.pid, signal.SIGKILL)
        else:  # the whole process group
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        kills += 1
        gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, f"workers outlived their parent: {[p.pid for p in alive]}"
        _check_output(out / "results.jsonl")
    assert kills >= 3
    assert _driver(out, n, 2).wait(120) == 0
    assert (out / "results.jsonl").read_bytes() == expected
    assert _check_output(out / "results.jsonl") == n
    assert not list(out.glob(".*.tmp"))


def test_records_without_a_file_identity_are_keyed_by_their_id(tmp_path):
    recs = _inputs(50)
    first = run_map(EchoStep(), recs, store=tmp_path / "c", progress=False)
    again = run_map(EchoStep(), recs, store=tmp_path / "c", progress=False)
    assert again.stats["cached"] == 50 and again.records == first.records
    assert len({r["digest"] for r in again.records}) == 50


def test_a_pipeline_is_a_list_of_steps_reader_map_writer(tmp_path):
    from affectgpt.pipeline import JsonlWriter, MediaReader, run_pipeline

    (tmp_path / "clips").mkdir()
    for i in range(4):
        (tmp_path / "clips" / f"c{i}.wav").write_bytes(bytes([i + 1]) * 8)
    (tmp_path / "clips" / "dir.wav").mkdir()
    steps = [MediaReader([tmp_path / "clips"]), EchoStep(), JsonlWriter(tmp_path / "out.jsonl")]
    res = run_pipeline(steps, make_executor("local", 2), store=tmp_path / "cache", progress=False)
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert lines == res.records and len(lines) == 5 and len(res.failures) == 1
    assert [s["step"].split("-")[0] for s in res.steps] == ["media", "echo", "jsonl"]
    again = run_pipeline(steps, make_executor("local", 2), store=tmp_path / "cache", progress=False)
    assert again.steps[1]["cached"] == 4 and again.records == res.records
