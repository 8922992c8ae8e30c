"""LoRA training of AffectGPT with accelerate: CPU, one GPU, DDP/FSDP/DeepSpeed via accelerate's config.

Features: bf16/fp16/fp32, gradient accumulation and checkpointing, prompt-token masking (in
the model), length-grouped batches, checkpoints of the trainable weights only
(safetensors) plus optimiser/scheduler/RNG state for an exact resume after a kill, and
metrics in JSONL (optional TensorBoard).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from affectgpt.model.modeling_affectgpt import AffectGPTModel, Sample

__all__ = ["TrainConfig", "train", "latest_checkpoint", "load_trainable"]


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
    torch.save({"torch_rng": torch.get_rng_state(), "python_rng": random.getstate(),
                "numpy_rng": np.random.get_state()}, ck / f"rng-{acc.process_index}.pt")
    acc.wait_for_everyone()
    if acc.is_main_process:
        (ck / "COMPLETE").write_text("ok")
    return ck


def train(model: AffectGPTModel, samples: list[Sample], cfg: TrainConfig, resume: bool = True,
          stop_after_steps: int | None = None, progress: bool = True) -> dict:
    """Train the trainable weights of ``model`` on ``samples``; returns a summary.

    ``stop_after_steps`` ends the run early as if killed (used to test resuming).
    """
    from accelerate import Accelerator
    from tqdm.auto import tqdm

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.json").write_text(json.dumps({"train": asdict(cfg), "model": model.config.to_dict()},
                                                      indent=2), encoding="utf-8")
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    acc = Accelerator(mixed_precision=cfg.mixed_precision, gradient_accumulation_steps=cfg.grad_accum)
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
    n_proc = acc.num_processes
    steps_per_epoch = math.ceil(len(samples) / cfg.batch_size / n_proc / cfg.grad_accum)
    total = cfg.max_steps or steps_per_epoch * cfg.epochs

    def lr_lambda(step):
        if cfg.warmup_steps and step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        return 0.5 * (1 + math.cos(math.pi * min(1.0, step / max(1, total))))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    # the scheduler is not prepared: accelerate would step it once per process, and ``total`` is
    # already counted in optimiser steps
    model, optimizer = acc.prepare(model, optimizer)
    step, start_epoch, skip = 0, 0, 0
    ck = latest_checkpoint(out) if resume else None
    metrics_path = out / "metrics.jsonl"
    if ck is not None:
        load_trainable(acc.unwrap_model(model), ck / "trainable.safetensors")
        state = torch.load(ck / "state.pt", weights_only=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, start_epoch, skip = state["step"], state["epoch"], state["batch_in_epoch"]
        rng_file = ck / f"rng-{acc.process_index}.pt"
        rng = torch.load(rng_file if rng_file.exists() else ck / "rng-0.pt", weights_only=False)
        torch.set_rng_state(rng["torch_rng"])
        random.setstate(rng["python_rng"])
        np.random.set_state(rng["numpy_rng"])
        if metrics_path.exists() and acc.is_main_process:  # drop records after the checkpoint: no duplicates
            keep = [ln for ln in metrics_path.read_text().splitlines() if ln and json.loads(ln)["step"] <= step]
            metrics_path.write_text("".join(k + "\n" for k in keep))
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
    return {"steps": step, "stopped_early": stopped, "output_dir": str(out),
            "losses": [json.loads(ln)["loss"] for ln in metrics_path.read_text().splitlines() if ln]}
