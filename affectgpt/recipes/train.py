"""LoRA training of AffectGPT with accelerate: CPU, one GPU, DDP/FSDP/DeepSpeed via accelerate's config.

Features: bf16/fp16/fp32, gradient accumulation and checkpointing, prompt-token masking (in
the model), length-grouped batches, checkpoints of the trainable weights only
(safetensors) plus optimiser/scheduler/RNG state for an exact resume after a kill, and
metrics in JSONL (optional TensorBoard).

Resuming is safe as well as exact: checkpoint state is read with ``torch.load(weights_only=True)``
(a planted pickle is refused, naming the file), a torn last line of ``metrics.jsonl`` (a kill
mid-write) is dropped and the file rewritten atomically, and rerunning a finished run does nothing.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pickle
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from affectgpt.model.modeling_affectgpt import AffectGPTModel, Sample
from affectgpt.pipeline.store import atomic_write_text

__all__ = ["TrainConfig", "train", "latest_checkpoint", "load_trainable", "seed_everything"]

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed python ``random``, numpy's global generator and torch (CPU and every CUDA device).

    Call it before the model is built, so that freshly initialised weights (LoRA, projections,
    fusion) are the same for the same seed."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class TrainConfig:
    """Settings of a training run (the model has its own :class:`AffectGPTConfig`).

    ``batch_size`` is per process; under ``accelerate launch`` with N processes each optimiser
    step sees N x batch_size x grad_accum samples. ``lr_modules`` is the learning rate of the
    modules trained from scratch (pooling, pre-fusion, projections, missing embeddings);
    ``None`` = ``lr``, which the LoRA weights always use.
    """

    output_dir: str
    epochs: int = 1
    max_steps: int | None = None
    batch_size: int = 4
    grad_accum: int = 1
    lr: float = 1e-4
    lr_modules: float | None = None
    weight_decay: float = 0.05
    warmup_steps: int = 0
    mixed_precision: str = "no"
    gradient_checkpointing: bool = False
    group_by_length: bool = True
    seed: int = 42
    save_every: int = 50
    tensorboard: bool = False


LENGTH_BUCKET = 64


def _batches(samples: list[Sample], cfg: TrainConfig, epoch: int) -> list[list[int]]:
    """Deterministic batch order of one epoch; with length grouping, batches hold samples of
    similar length (less padding) and the batch order is shuffled.

    Lengths are bucketed coarsely (``LENGTH_BUCKET`` characters) and the random order is kept
    inside a bucket: sorting on exact lengths would put label answers of the same length —
    often the same emotion word — into the same batch, and the model would learn the batch's
    label instead of the input."""
    rng = np.random.default_rng(cfg.seed + epoch)
    order = rng.permutation(len(samples)).tolist()
    if cfg.group_by_length:
        chunk = cfg.batch_size * 50
        grouped = []
        for i in range(0, len(order), chunk):
            part = order[i:i + chunk]
            part.sort(key=lambda j: (len(samples[j].target or "") + len(samples[j].subtitle or "")) // LENGTH_BUCKET)
            grouped.extend(part)  # a stable sort: random order within a bucket
        order = grouped
    batches = [order[i:i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
    if cfg.group_by_length:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def latest_checkpoint(output_dir: str | os.PathLike) -> Path | None:
    """The newest complete ``checkpoint-<step>`` folder, if any."""
    d = Path(output_dir)
    done = [p for p in d.glob("checkpoint-*") if (p / "COMPLETE").exists()]
    return max(done, key=lambda p: int(p.name.split("-")[1])) if done else None


def load_trainable(model: AffectGPTModel, path: str | os.PathLike) -> None:
    """Load trainable weights saved by :func:`train`; unknown or missing keys are an error."""
    from safetensors.torch import load_file

    state = load_file(str(path))
    expected = set(model.trainable_state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise ValueError(f"{path}: checkpoint does not match the model; missing keys {missing[:10]} "
                         f"({len(missing)}), unexpected keys {unexpected[:10]} ({len(unexpected)})")
    model.load_state_dict(state, strict=False)


def _trainable_state(acc, wrapped, model) -> dict:
    """The trainable state; under FSDP / DeepSpeed (sharded parameters) gathered by accelerate."""
    from accelerate.utils import DistributedType

    if acc.distributed_type not in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        return model.trainable_state_dict()
    names = set(model.trainable_state_dict())
    full = acc.get_state_dict(wrapped)  # collective: every process takes part
    return {k: v for k, v in full.items() if k in names}


def _numpy_numeric_globals() -> list:
    """The numpy globals an older rng file (``np.random.get_state()`` pickled as an ndarray)
    needs: array reconstruction and numeric dtypes only, nothing that runs code."""
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    return [_reconstruct, (_reconstruct, "numpy.core.multiarray._reconstruct"),
            (_reconstruct, "numpy._core.multiarray._reconstruct"), np.ndarray, np.dtype,
            type(np.dtype(np.uint32))]


def _load_plain(path: Path, legacy_numpy: bool = False) -> dict:
    """``torch.load(path, weights_only=True)``: tensors, numbers and plain containers only.

    Anything else (a pickled object, which could run code when loaded) is refused with an
    :class:`~affectgpt.errors.InputError` naming the file. ``legacy_numpy`` also admits the
    numeric numpy arrays that rng files of older versions hold."""
    from affectgpt.errors import InputError

    try:
        if legacy_numpy:
            with torch.serialization.safe_globals(_numpy_numeric_globals()):
                obj = torch.load(path, map_location="cpu", weights_only=True)
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, TypeError, AttributeError) as e:
        detail = next((ln.strip() for ln in str(e).splitlines() if "Unsupported" in ln or "error" in ln.lower()),
                      str(e).splitlines()[0] if str(e) else type(e).__name__)
        raise InputError(path, "refused to load this checkpoint file: it is not plain tensors/numbers "
                               "(torch.load weights_only=True) and could run code if unpickled, or it is "
                               f"damaged ({detail[:300]}). Delete the checkpoint folder to resume from an "
                               "earlier one, or start the run afresh.") from e
    if not isinstance(obj, dict):
        raise InputError(path, f"expected a dict of checkpoint state, found {type(obj).__name__}")
    return obj


def _rng_state() -> dict:
    """This process's RNG states as tensors / plain python values (loadable with weights_only)."""
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state = {"torch_rng": torch.get_rng_state(), "python_rng": random.getstate(),
             "numpy_rng": {"bit_generator": str(name), "keys": torch.from_numpy(keys.astype(np.int64)),
                           "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}}
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(rng: dict) -> None:
    """Restore what :func:`_rng_state` saved (or the numpy-array form of older versions)."""
    torch.set_rng_state(rng["torch_rng"])
    version, internal, gauss = rng["python_rng"]
    random.setstate((version, tuple(internal), gauss))
    n = rng["numpy_rng"]
    if isinstance(n, dict):
        keys = n["keys"].numpy() if isinstance(n["keys"], torch.Tensor) else np.asarray(n["keys"])
        np.random.set_state((n["bit_generator"], keys.astype(np.uint32), n["pos"], n["has_gauss"],
                             n["cached_gaussian"]))
    else:  # older checkpoints: the tuple of np.random.get_state()
        np.random.set_state(tuple(n))
    if "cuda_rng" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng["cuda_rng"])


def _read_metrics(path: Path) -> tuple[list[dict], list[str], bool]:
    """(records, their lines, clean) of a metrics file; lines that are not a JSON record with a
    ``step`` (a torn last line after a kill mid-write) are left out, and ``clean`` is False."""
    if not path.exists():
        return [], [], True
    text = path.read_text(encoding="utf-8", errors="replace")
    records, lines, clean = [], [], text == "" or text.endswith("\n")
    for ln in text.splitlines():
        if not ln.strip():
            continue
        try:
            rec = json.loads(ln)
        except ValueError:
            rec = None
        if isinstance(rec, dict) and isinstance(rec.get("step"), int):
            records.append(rec)
            lines.append(ln)
        else:
            clean = False
    return records, lines, clean


def _repair_metrics(path: Path, step: int) -> None:
    """Make ``metrics.jsonl`` hold steps 1..``step`` once each before resuming from checkpoint
    ``step``: torn/unparseable lines, records after the checkpoint and repeated steps are dropped;
    the file is rewritten atomically when anything changed."""
    records, lines, clean = _read_metrics(path)
    keep, last = [], 0
    for rec, ln in zip(records, lines):
        if last < rec["step"] <= step:
            keep.append(ln)
            last = rec["step"]
    if clean and len(keep) == len(lines):
        return
    dropped = sum(1 for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()) - len(keep)
    logger.warning("%s: dropped %d torn, unparseable or later-than-step-%d line(s) before resuming",
                   path, dropped, step)
    atomic_write_text(path, "".join(k + "\n" for k in keep), fsync=True)


def _save(acc, wrapped, model, optimizer, scheduler, step: int, epoch: int, batch_in_epoch: int, out: Path) -> Path:
    """Checkpoint: trainable weights + optimiser/scheduler (main process), RNG state per process;
    ``COMPLETE`` is written last, so an interrupted save is never resumed from."""
    from safetensors.torch import save_file

    ck = out / f"checkpoint-{step}"
    state = _trainable_state(acc, wrapped, model)
    if acc.is_main_process:
        ck.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(ck / "trainable.safetensors"))
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "step": step,
                    "epoch": epoch, "batch_in_epoch": batch_in_epoch}, ck / "state.pt")
    acc.wait_for_everyone()
    torch.save(_rng_state(), ck / f"rng-{acc.process_index}.pt")
    acc.wait_for_everyone()
    if acc.is_main_process:
        (ck / "COMPLETE").write_text("ok")
    return ck


def train(model: AffectGPTModel, samples: list[Sample], cfg: TrainConfig, resume: bool = True,
          stop_after_steps: int | None = None, progress: bool = True) -> dict:
    """Train the trainable weights of ``model`` on ``samples``; returns a summary.

    With ``resume`` (the default) the run continues from the newest complete checkpoint in
    ``cfg.output_dir``; a run whose checkpoint already reached the last step is left untouched
    (``finished`` is True in the summary, nothing is trained or written). ``stop_after_steps``
    ends the run early as if killed (used to test resuming).
    """
    from accelerate import Accelerator
    from tqdm.auto import tqdm

    out = Path(cfg.output_dir)
    seed_everything(cfg.seed)
    acc = Accelerator(mixed_precision=cfg.mixed_precision, gradient_accumulation_steps=cfg.grad_accum)
    n_proc = acc.num_processes
    steps_per_epoch = math.ceil(len(samples) / cfg.batch_size / n_proc / cfg.grad_accum)
    total = cfg.max_steps or steps_per_epoch * cfg.epochs
    metrics_path = out / "metrics.jsonl"
    ck = latest_checkpoint(out) if resume else None
    state = _load_plain(ck / "state.pt") if ck is not None else None
    if state is not None and state["step"] >= total:
        load_trainable(model, ck / "trainable.safetensors")  # the caller's model holds the trained weights
        msg = f"{out}: run already finished ({ck.name}, {total} steps); nothing to do"
        logger.info(msg)
        return {"steps": state["step"], "stopped_early": False, "finished": True, "already_finished": True,
                "message": msg,
                "output_dir": str(out), "losses": [r["loss"] for r in _read_metrics(metrics_path)[0]]}
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.json").write_text(json.dumps({"train": asdict(cfg), "model": model.config.to_dict()},
                                                      indent=2), encoding="utf-8")
    if cfg.gradient_checkpointing:
        model.llm.gradient_checkpointing_enable()
    groups: dict[tuple[bool, bool], list] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            groups.setdefault(("lora_" in name, p.ndim > 1), []).append(p)
    optimizer = torch.optim.AdamW(
        [{"params": ps, "weight_decay": cfg.weight_decay if decay else 0.0,
          "lr": cfg.lr if lora or cfg.lr_modules is None else cfg.lr_modules}
         for (lora, decay), ps in sorted(groups.items())], lr=cfg.lr)  # LoRA groups last

    def lr_lambda(step):
        if cfg.warmup_steps and step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        return 0.5 * (1 + math.cos(math.pi * min(1.0, step / max(1, total))))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    # the scheduler is not prepared: accelerate would step it once per process, and ``total`` is
    # already counted in optimiser steps
    model, optimizer = acc.prepare(model, optimizer)
    step, start_epoch, skip = 0, 0, 0
    if ck is not None:
        rng_file = ck / f"rng-{acc.process_index}.pt"
        rng = _load_plain(rng_file if rng_file.exists() else ck / "rng-0.pt", legacy_numpy=True)
        load_trainable(acc.unwrap_model(model), ck / "trainable.safetensors")
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, start_epoch, skip = state["step"], state["epoch"], state["batch_in_epoch"]
        _set_rng_state(rng)
        if acc.is_main_process:  # torn lines and records after the checkpoint go: each step once
            _repair_metrics(metrics_path, step)
    elif metrics_path.exists() and acc.is_main_process:
        metrics_path.unlink()
    acc.wait_for_everyone()
    writer = None
    if cfg.tensorboard and acc.is_main_process:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tensorboard"))
    unwrapped = acc.unwrap_model(model)
    bar = tqdm(total=total, initial=step, desc="train", disable=not progress or not acc.is_main_process, unit="step")
    t0, seen = time.perf_counter(), 0
    t_step = t0
    stopped = False
    log = open(metrics_path, "a", encoding="utf-8") if acc.is_main_process else None
    try:
        for epoch in range(start_epoch, cfg.epochs if cfg.max_steps is None else 10**9):
            batches = _batches(samples, cfg, epoch)
            per_rank = len(batches) // n_proc  # equal counts on every process (DDP needs it)
            batches = batches[acc.process_index::n_proc][:per_rank] if n_proc > 1 else batches
            for b_idx, batch in enumerate(batches):
                if epoch == start_epoch and b_idx < skip:
                    continue
                model.train()
                with acc.accumulate(model):
                    loss = model([samples[i] for i in batch]).loss  # the wrapped model: DDP syncs grads
                    acc.backward(loss)
                    optimizer.step()
                    scheduler.step() if acc.sync_gradients else None
                    optimizer.zero_grad()
                seen += len(batch) * n_proc
                if not acc.sync_gradients:
                    continue
                step += 1
                mean_loss = acc.reduce(loss.detach(), reduction="mean") if n_proc > 1 else loss.detach()
                now = time.perf_counter()
                rec = {"step": step, "epoch": epoch, "loss": round(float(mean_loss), 6),
                       "lr": scheduler.get_last_lr()[-1], "samples_per_s": round(seen / (now - t0), 3),
                       "step_s": round(now - t_step, 3)}
                t_step = now
                if log:
                    log.write(json.dumps(rec) + "\n")
                    log.flush()
                if writer:
                    writer.add_scalar("loss", rec["loss"], step)
                bar.update(1)
                if step % cfg.save_every == 0 or step == total:
                    _save(acc, model, unwrapped, optimizer, scheduler, step, epoch, b_idx + 1, out)
                if step >= total or (stop_after_steps is not None and step >= stop_after_steps):
                    stopped = step < total
                    break
            if step >= total or stopped:
                break
            skip = 0
    finally:
        if log:
            log.close()
    bar.close()
    if writer:
        writer.close()
    return {"steps": step, "stopped_early": stopped, "finished": step >= total, "output_dir": str(out),
            "losses": [r["loss"] for r in _read_metrics(metrics_path)[0]]}
