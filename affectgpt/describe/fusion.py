"""Late fusion of modality posteriors: a weighted geometric mean of calibrated probabilities.

Each head's probabilities are temperature-calibrated on its own validation split (see the
head cards). Fusion is a logarithmic opinion pool:
``p(c) ∝ Π_m ((1 - ε) p_m(c) + ε / K) ** (w_m / Σ w)`` over the modalities present. A missing
modality drops out and the weights of the others are renormalised, so one modality alone
gives exactly its own calibrated distribution. Default weights are each head's validation
accuracy above chance, ``(acc - 1/K) / (1 - 1/K)``.
"""

from __future__ import annotations

import numpy as np

from affectgpt.analyzers.base import BASIC_CLASSES, ModalityResult

__all__ = ["fuse", "weight_from_card", "DEFAULT_WEIGHTS"]

#: used when a head carries no validation accuracy (FER-2013 model: reported ~65% test accuracy, 7 classes)
DEFAULT_WEIGHTS = {"audio": 0.5, "video": 0.55, "text": 0.5}
EPS = 0.01


def weight_from_card(card: dict, n_classes: int, split: str) -> float | None:
    """Reliability weight from a head card's accuracy on ``split`` (None when absent)."""
    acc = card.get("metrics", {}).get(split, {}).get("accuracy")
    if acc is None:
        return None
    chance = 1.0 / n_classes
    return max(0.05, (acc / 100 - chance) / (1 - chance))


def fuse(results: list[ModalityResult], weights: dict[str, float] | None = None) -> dict[str, float]:
    """Fused distribution over :data:`BASIC_CLASSES` (uniform when no modality is present)."""
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    k = len(BASIC_CLASSES)
    # a modality weighted 0 is left out (all of them: no signal, as with nothing present)
    present = [r for r in results if r.present and r.probs is not None and weights.get(r.modality, 0.5) > 0]
    if not present:
        return {c: 1.0 / k for c in BASIC_CLASSES}
    total = sum(weights.get(r.modality, 0.5) for r in present)
    log_p = np.zeros(k)
    for r in present:
        p = np.array([r.probs[c] for c in BASIC_CLASSES])
        log_p += weights.get(r.modality, 0.5) / total * np.log((1 - EPS) * p + EPS / k)
    log_p -= log_p.max()
    p = np.exp(log_p)
    p /= p.sum()
    return {c: float(v) for c, v in zip(BASIC_CLASSES, p)}
