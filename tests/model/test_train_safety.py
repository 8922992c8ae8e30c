"""Safe, exact resuming (issue 10, part 3): seeded model building, finished runs left alone,
torn metrics lines repaired, checkpoint state loaded without running pickled code, and the data
directory read from ``AFFECTGPT_DATA_DIR``."""

from __future__ import annotations

import csv
import json
import os
import random
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")

from affectgpt.errors import InputError  # noqa: E402
from affectgpt.model import AffectGPTConfig, AffectGPTModel, Sample, label_target  # noqa: E402
from affectgpt.recipes.run import infer_recipe, train_recipe  # noqa: E402
from affectgpt.recipes.train import TrainConfig, train  # noqa: E402

LABELS = ["happy", "sad", "angry", "worried"]


def _data(n=12):
    g = torch.Generator().manual_seed(0)
    out = []
    for i in range(n):
        k = i % 4
        a = None if i % 3 == 0 else torch.randn(3, 10, generator=g) - k
        out.append(Sample(visual=torch.randn(4, 12, generator=g) + k, audio=a, subtitle="",
                          target=label_target([LABELS[k]])))
    return out


def _model(path):
    torch.manual_seed(0)
    return AffectGPTModel(AffectGPTConfig(llm_path=str(path), visual_dim=12, audio_dim=10, lora_r=4, lora_alpha=8))


def _steps(run):
    return [json.loads(ln)["step"] for ln in (run / "metrics.jsonl").read_text().splitlines()]


def _manifest_recipe(tmp_path, llm, out, seed):
    from safetensors.torch import save_file

    manifest = tmp_path / "train.csv"
    if not manifest.exists():
        rows = []
        for i, s in enumerate(_data(6)):
            f = tmp_path / f"s{i}.safetensors"
            save_file({"visual": s.visual, **({"audio": s.audio} if s.audio is not None else {})}, str(f))
            rows.append({"name": f"s{i}", "features": f.name, "subtitle": "hi", "target": s.target})
        with open(manifest, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return {"recipe": "features",
            "model": {"llm_path": str(llm), "visual_dim": 12, "audio_dim": 10, "lora_r": 4, "lora_alpha": 8},
            "train": {"output_dir": str(out), "max_steps": 2, "batch_size": 2, "save_every": 2, "seed": seed},
            "data": {"manifest": str(manifest)}}


def test_fresh_runs_with_the_same_seed_are_bit_identical(tiny_llm_dir, tmp_path):
    from safetensors.torch import load_file

    runs = []
    for i, name in enumerate(("a", "b")):
        torch.manual_seed(100 + i)  # the global generators differ before each build ...
        random.seed(100 + i)
        np.random.seed(100 + i)
        res = train_recipe(_manifest_recipe(tmp_path, tiny_llm_dir, tmp_path / name, seed=5), progress=False)
        runs.append((res, load_file(str(tmp_path / name / "checkpoint-2" / "trainable.safetensors"))))
    (ra, wa), (rb, wb) = runs
    assert ra["losses"] == rb["losses"] and len(ra["losses"]) == 2  # ... the recipe's seed decides
    assert set(wa) == set(wb) and all(torch.equal(wa[k], wb[k]) for k in wa)
    other = train_recipe(_manifest_recipe(tmp_path, tiny_llm_dir, tmp_path / "c", seed=6), progress=False)
    assert other["losses"][0] != ra["losses"][0]  # the seed reaches the freshly built weights


def test_rerunning_a_finished_run_does_nothing(tiny_llm_dir, tmp_path):
    cfg = TrainConfig(output_dir=str(tmp_path / "run"), max_steps=3, batch_size=4, save_every=2)
    first = train(_model(tiny_llm_dir), _data(), cfg, progress=False)
    assert first["steps"] == 3 and first["finished"] and not first.get("already_finished")
    metrics = (tmp_path / "run" / "metrics.jsonl").read_bytes()
    folders = sorted(p.name for p in (tmp_path / "run").iterdir())
    for _ in range(2):
        again = train(_model(tiny_llm_dir), _data(), cfg, progress=False)
        assert again["already_finished"] and again["steps"] == 3 and "already finished" in again["message"]
        assert again["losses"] == first["losses"]
        assert (tmp_path / "run" / "metrics.jsonl").read_bytes() == metrics  # byte for byte
        assert sorted(p.name for p in (tmp_path / "run").iterdir()) == folders  # no checkpoint-4
    # a longer max_steps is not finished: the run continues from step 3
    more = train(_model(tiny_llm_dir), _data(), TrainConfig(**{**cfg.__dict__, "max_steps": 4}), progress=False)
    assert more["steps"] == 4 and _steps(tmp_path / "run") == [1, 2, 3, 4]


def test_a_torn_metrics_line_is_dropped_and_every_step_logged_once(tiny_llm_dir, tmp_path, monkeypatch):
    cfg = dict(max_steps=6, batch_size=3, lr=3e-3, save_every=2, seed=7)
    full = train(_model(tiny_llm_dir), _data(), TrainConfig(output_dir=str(tmp_path / "a"), **cfg), progress=False)
    run = tmp_path / "b"
    train(_model(tiny_llm_dir), _data(), TrainConfig(output_dir=str(run), **cfg), stop_after_steps=5, progress=False)
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as fh:  # killed while writing step 6
        fh.write('{"step": 6, "epoch": 1, "loss": 0.12')
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (replaced.append((str(a), str(b))), real_replace(a, b))[1])
    resumed = train(_model(tiny_llm_dir), _data(), TrainConfig(output_dir=str(run), **cfg), progress=False)
    assert resumed["losses"] == full["losses"]  # resumed from checkpoint-4: steps 5 and 6 replayed exactly
    assert _steps(run) == [1, 2, 3, 4, 5, 6]
    # rewritten through a temp file in the same folder, none left behind
    assert [(os.path.dirname(a), b) for a, b in replaced] == [(str(run), str(run / "metrics.jsonl"))]
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


class _Planted:
    """Unpickling this runs code: it opens (creates) a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_planted_pickles_are_refused_and_old_rng_files_still_load(tiny_llm_dir, tmp_path):
    cfg = TrainConfig(output_dir=str(tmp_path / "run"), max_steps=4, batch_size=4, save_every=2, seed=3)
    full = train(_model(tiny_llm_dir), _data(), TrainConfig(**{**cfg.__dict__, "output_dir": str(tmp_path / "f")}),
                 progress=False)
    train(_model(tiny_llm_dir), _data(), cfg, stop_after_steps=2, progress=False)
    ck = tmp_path / "run" / "checkpoint-2"
    for name in ("state.pt", "rng-0.pt"):
        torch.load(ck / name, weights_only=True)  # what is saved now is plain tensors / numbers
        shutil.copy(ck / name, tmp_path / name)
        marker = tmp_path / f"pwned-{name}"
        torch.save({"step": 2, "optimizer": _Planted(marker)}, ck / name)
        with pytest.raises(InputError, match=name.replace(".", r"\.")):
            train(_model(tiny_llm_dir), _data(), cfg, progress=False)
        assert not marker.exists()
        torch.load(ck / name, weights_only=False)  # the plant is live: a full unpickle runs it
        assert marker.exists()
        shutil.copy(tmp_path / name, ck / name)
    # an rng file of an older version (numpy's state as an ndarray) still resumes exactly
    rng = torch.load(ck / "rng-0.pt", weights_only=True)
    n = rng["numpy_rng"]
    rng["numpy_rng"] = (n["bit_generator"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                        n["cached_gaussian"])
    torch.save(rng, ck / "rng-0.pt")
    resumed = train(_model(tiny_llm_dir), _data(), cfg, progress=False)
    assert resumed["steps"] == 4 and resumed["losses"] == full["losses"]


def test_train_and_infer_take_the_data_dir_from_the_environment(tiny_llm_dir, tmp_path, monkeypatch):
    import affectgpt.recipes.mini_data as mini_data

    seen = []

    def fake_mini_samples(data_dir, cache, split, meld_limit=None):
        seen.append((str(data_dir), split))
        return [(f"s{i}", s, LABELS[i % 4]) for i, s in enumerate(_data(4))]

    monkeypatch.setattr(mini_data, "mini_samples", fake_mini_samples)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("AFFECTGPT_DATA_DIR", raising=False)
    run = tmp_path / "run"
    cfg = {"recipe": "mini",
           "model": {"llm_path": str(tiny_llm_dir), "visual_dim": 12, "audio_dim": 10, "lora_r": 4, "lora_alpha": 8},
           "train": {"output_dir": str(run), "max_steps": 1, "batch_size": 2, "save_every": 1}, "data": {}}
    with pytest.raises(ValueError, match=r"--data-dir.*AFFECTGPT_DATA_DIR"):
        train_recipe(cfg, progress=False)
    assert seen == [] and not run.exists()  # refused before anything was built or written
    monkeypatch.setenv("AFFECTGPT_DATA_DIR", str(tmp_path / "env-data"))
    assert train_recipe(cfg, progress=False)["steps"] == 1
    assert seen == [(str(tmp_path / "env-data"), "train")]
    rows = infer_recipe(None, str(run), str(tmp_path / "a.csv"), max_new_tokens=2, progress=False)
    assert len(rows) == 4 and seen[-1] == (str(tmp_path / "env-data"), "test")
    infer_recipe(None, str(run), str(tmp_path / "b.csv"), data_dir=str(tmp_path / "explicit"), max_new_tokens=2,
                 progress=False)
    assert seen[-1] == (str(tmp_path / "explicit"), "test")  # an explicit --data-dir wins
    monkeypatch.delenv("AFFECTGPT_DATA_DIR")
    with pytest.raises(ValueError, match=r"--data-dir.*AFFECTGPT_DATA_DIR"):
        infer_recipe(None, str(run), str(tmp_path / "c.csv"), progress=False)
