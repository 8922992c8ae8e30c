"""Data-parallel training through accelerate's own launcher (2 CPU processes, gloo backend)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")
from safetensors.torch import load_file  # noqa: E402

WORKER = Path(__file__).with_name("ddp_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(llm, out: Path, processes: int, batch: int) -> None:
    launcher = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or shutil.which("accelerate")
    cmd = [launcher, "launch", *(["--multi_gpu"] if processes > 1 else ["--cpu"]), "--num_processes", str(processes),
           "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
           str(WORKER), str(llm), str(out), str(batch)]
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[2])}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]


def test_two_process_ddp_equals_one_process_with_the_global_batch(tiny_llm_dir, tmp_path):
    _launch(tiny_llm_dir, tmp_path / "ddp", processes=2, batch=2)
    _launch(tiny_llm_dir, tmp_path / "single", processes=1, batch=4)
    r0, r1 = (load_file(str(tmp_path / "ddp" / f"rank-{i}.safetensors")) for i in (0, 1))
    single = load_file(str(tmp_path / "single" / "rank-0.safetensors"))
    assert set(r0) == set(single)
    for k in r0:  # gradients were all-reduced: both processes hold the same weights ...
        assert torch.equal(r0[k], r1[k]), k
        # ... and 2 x 2 samples per step train exactly like one process with 4 per step
        assert torch.allclose(r0[k], single[k], atol=1e-5), k
    run = tmp_path / "ddp" / "run"
    steps = [json.loads(ln)["step"] for ln in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]  # one writer, no duplicates
    ck = run / "checkpoint-3"
    assert (ck / "COMPLETE").exists() and (ck / "rng-0.pt").exists() and (ck / "rng-1.pt").exists()
