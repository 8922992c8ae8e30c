"""Worker for the multi-process test, started as
``ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes N ddp_worker.py LLM OUT BATCH``
(accelerate's launcher; on CPUs its processes talk over gloo).

Trains the tiny model on fixed synthetic samples (every target the same length, no dropout) and
writes each process's final trainable weights to ``OUT/rank-<i>.safetensors``.
"""

import os
import sys

import torch
from safetensors.torch import save_file

from affectgpt.model import AffectGPTConfig, AffectGPTModel
from affectgpt.model.modeling_affectgpt import Sample, label_target
from affectgpt.recipes.train import TrainConfig, train


def main(llm: str, out: str, batch: int) -> None:
    rank = int(os.environ.get("RANK", 0))
    torch.manual_seed(0)
    model = AffectGPTModel(AffectGPTConfig(llm_path=llm, visual_dim=6, audio_dim=5, lora_r=4, lora_alpha=8,
                                           lora_dropout=0.0, qformer_heads=2))
    g = torch.Generator().manual_seed(1)
    samples = [Sample(torch.randn(3, 6, generator=g), torch.randn(2, 5, generator=g), "",
                      target=label_target(["happy"])) for _ in range(16)]
    train(model, samples, TrainConfig(output_dir=f"{out}/run", max_steps=3, batch_size=batch, lr=1e-2,
                                      group_by_length=False, save_every=2), progress=False)
    save_file({k: v.contiguous() for k, v in model.trainable_state_dict().items()}, f"{out}/rank-{rank}.safetensors")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
