"""The Ray executor on a local Ray instance (``ray.init(num_cpus=2)``): the same bytes as the local
executor, and a dying actor takes only its record with it."""

from __future__ import annotations

import json

import pytest
from _steps import EchoStep

from affectgpt.pipeline import make_executor, run_map, write_jsonl

ray = pytest.importorskip("ray", reason="the Ray executor needs ray (pip install 'affectgpt[ray]')")


@pytest.fixture(scope="module")
def ray_executor():
    from affectgpt.pipeline.ray import RayExecutor

    ex = RayExecutor(workers=2, batch_size=16, init_kwargs={"num_cpus": 2})
    yield ex
    ex.close()


def _inputs(n, **marks):
    recs = [{"id": f"r{i:04d}"} for i in range(n)]
    for key, where in marks.items():
        for i in where:
            recs[i][key] = True
    return recs


def test_ray_gives_the_local_bytes(tmp_path, ray_executor):
    recs = _inputs(300, fail=[17])
    local = run_map(EchoStep(), recs, make_executor("local", 2), progress=False)
    on_ray = run_map(EchoStep(), recs, ray_executor, store=tmp_path / "cache", progress=False)
    write_jsonl(tmp_path / "local.jsonl", local.records)
    write_jsonl(tmp_path / "ray.jsonl", on_ray.records)
    assert (tmp_path / "local.jsonl").read_bytes() == (tmp_path / "ray.jsonl").read_bytes()
    assert on_ray.stats["executor"]["executor"] == "ray" and on_ray.stats["failures_by_reason"] == {"ValueError": 1}
    again = run_map(EchoStep(), recs, ray_executor, store=tmp_path / "cache", progress=False)
    assert again.stats["processed"] == 1 and again.records == on_ray.records  # only the failure is retried


def test_a_dying_ray_actor_takes_only_its_record(ray_executor):
    ref = run_map(EchoStep(), _inputs(40), progress=False).records
    res = run_map(EchoStep(), _inputs(40, die=[9]), ray_executor, progress=False)
    died = [r for r in res.records if "error" in r]
    assert [r["id"] for r in died] == ["r0009"] and died[0]["reason"] == "worker died"
    assert [r for r in res.records if "error" not in r] == [r for i, r in enumerate(ref) if i != 9]
    json.dumps(res.records)
