"""Throughput of the ``paper`` AffectGPT configuration at full size, with random weights (GPU).

Builds a Qwen2.5-7B-shaped LLM (hidden 3584, 28 layers, 28 heads / 4 KV heads, MLP 18944,
vocab 152064) from its config — nothing is downloaded — wraps it with the paper's LoRA
(r 16, alpha 32, dropout 0.05 on q/k/v/o/gate/up/down), and feeds cached encoder features
(8 face tokens of 768, 8 audio clips of 1024) with a ~300-token subtitle through the paper's
prompt. Measures:

* training samples/s (bf16, AdamW on the trainable weights, gradient checkpointing), target >= 20;
* batched inference clips/s for label answers (<= 32 new tokens, greedy), target >= 50.

Usage (on a GPU machine): python benchmarks/gpu_paper_throughput.py [--batch 8] [--infer-batch 64]
Exits 1 when a target is missed, 2 when no GPU is present. The project's tests never need it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time


def _tokenizer(path):
    """A byte-level BPE tokenizer trained on the prompt text (ids stay far below the vocab size)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from affectgpt.model import LABEL_QUESTION, PROMPT_TEMPLATE

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = [PROMPT_TEMPLATE, LABEL_QUESTION, "The character's emotional state is happy, sad, angry."] * 20
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=2000, special_tokens=["<unk>", "<pad>", "<s>", "</s>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", bos_token="<s>",
                                   eos_token="</s>")
    fast.save_pretrained(path)
    return fast


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--train-steps", type=int, default=10)
    ap.add_argument("--infer-batch", type=int, default=64)
    ap.add_argument("--layers", type=int, default=28, help="fewer layers for a quick smoke run")
    ap.add_argument("--smoke", action="store_true", help="tiny shapes on the CPU: checks the script, measures nothing")
    a = ap.parse_args()
    import torch

    if not torch.cuda.is_available() and not a.smoke:
        print("no GPU: this benchmark needs one (use --smoke to check the script on a CPU)")
        return 2
    dev = "cpu" if a.smoke else "cuda"
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from affectgpt.model import AffectGPTModel, Sample, label_target
    from affectgpt.model.builders import paper_config

    torch.manual_seed(0)
    path = tempfile.mkdtemp()
    tok = _tokenizer(path)
    shape = dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=a.layers,
                 num_attention_heads=28, num_key_value_heads=4)
    if a.smoke:
        shape = dict(vocab_size=4000, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                     num_attention_heads=4, num_key_value_heads=2)
        a.batch, a.train_steps, a.infer_batch = 2, 1, 2
    qcfg = Qwen2Config(**shape, max_position_embeddings=4096,
                       bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    with torch.device(dev):
        llm = Qwen2ForCausalLM(qcfg).to(torch.bfloat16)
    cfg = paper_config(path)
    model = AffectGPTModel(cfg, llm=llm, tokenizer=tok).to(dev)
    for n, p in model.named_parameters():
        if p.requires_grad:
            p.data = p.data.float()
    subtitle = " ".join(["I really did not expect this to happen today, honestly."] * 30)
    n_text = len(tok(subtitle)["input_ids"])

    def batch(n, target=True):
        return [Sample(torch.randn(8, 768), torch.randn(8, 1024), subtitle,
                       target=label_target(["happy", "surprised"]) if target else None) for _ in range(n)]

    model.llm.gradient_checkpointing_enable()
    model.llm.enable_input_require_grads()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    model.train()
    for i in range(a.train_steps + 2):
        if i == 2:
            sync()
            t0 = time.perf_counter()
        with torch.autocast(dev, dtype=torch.bfloat16):
            loss = model(batch(a.batch)).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    sync()
    train_sps = a.batch * a.train_steps / (time.perf_counter() - t0)
    model.eval()
    model.generate(batch(2, False), max_new_tokens=4)
    sync()
    t0 = time.perf_counter()
    with torch.autocast(dev, dtype=torch.bfloat16):
        model.generate(batch(a.infer_batch, False), max_new_tokens=32)
    sync()
    infer_cps = a.infer_batch / (time.perf_counter() - t0)
    if a.smoke:
        print(f"smoke run on the CPU passed (trainable {model.num_trainable():,} params); no numbers measured")
        return 0
    print(f"device {torch.cuda.get_device_name()}, torch {torch.__version__}, layers {a.layers}, subtitle {n_text} tokens, "
          f"trainable {model.num_trainable():,} params, peak memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
    print(f"{'measure':<40} {'value':>10}  target")
    print(f"{'training samples/s (batch %d)' % a.batch:<40} {train_sps:>10.2f}  >= 20")
    print(f"{'inference clips/s (batch %d, 32 tokens)' % a.infer_batch:<40} {infer_cps:>10.2f}  >= 50")
    return 0 if train_sps >= 20 and infer_cps >= 50 else 1


if __name__ == "__main__":
    sys.exit(main())
