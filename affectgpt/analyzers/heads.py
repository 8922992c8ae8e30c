"""Small classifier heads: standardise -> (optional hidden layer) -> softmax, stored as ``.npz``.

Heads are trained with scikit-learn (see :mod:`affectgpt.analyzers.training`) and run with
NumPy only, so inference needs no training libraries and is fast. Each file carries its
class names, feature names, temperature and a JSON card (data, licence, metrics).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from affectgpt.errors import AffectGPTError

__all__ = ["Head", "load_head", "packaged_head_path"]


@dataclass
class Head:
    """A softmax classifier over standardised features.

    ``z = clip((x - mean) / scale, ±clip)``, ``logits = (relu(z @ W1 + b1) if W1 else z) @ W + b``,
    probabilities = softmax(logits / temperature).
    """

    classes: list[str]
    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
    hidden_weight: np.ndarray | None = None
    hidden_bias: np.ndarray | None = None
    temperature: float = 1.0
    card: dict = field(default_factory=dict)
    clip: float = 5.0

    @property
    def n_features(self) -> int:
        return int(self.mean.shape[0])

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Raw scores [n, n_classes] for features [n, n_features] (or one vector)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float32))
        if x.shape[1] != self.n_features:
            raise AffectGPTError(f"head expects {self.n_features} features, got {x.shape[1]}")
        z = (x - self.mean) / self.scale
        # clip standardised features: inputs far outside the training data cannot produce
        # arbitrarily confident posteriors
        z = np.clip(np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0), -self.clip, self.clip)
        if self.hidden_weight is not None:
            z = np.maximum(z @ self.hidden_weight + self.hidden_bias, 0)
        return z @ self.weight + self.bias

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities [n, n_classes]."""
        s = self.logits(x) / self.temperature
        s -= s.max(axis=1, keepdims=True)
        e = np.exp(s)
        return e / e.sum(axis=1, keepdims=True)

    def save(self, path: str | Path) -> None:
        arrays = {"mean": self.mean, "scale": self.scale, "weight": self.weight, "bias": self.bias,
                  "temperature": np.array(self.temperature, np.float32),
                  "classes": np.array(self.classes), "card": np.array(json.dumps(self.card, sort_keys=True))}
        if self.hidden_weight is not None:
            arrays.update(hidden_weight=self.hidden_weight, hidden_bias=self.hidden_bias)
        np.savez_compressed(path, **arrays)


def load_head(path: str | Path) -> Head:
    """Read a head saved by :meth:`Head.save` (no pickle involved)."""
    with np.load(path, allow_pickle=False) as z:
        get = lambda k: z[k].astype(np.float32) if k in z.files else None  # noqa: E731
        return Head(classes=[str(c) for c in z["classes"]], mean=get("mean"), scale=get("scale"),
                    weight=get("weight"), bias=get("bias"), hidden_weight=get("hidden_weight"),
                    hidden_bias=get("hidden_bias"), temperature=float(z["temperature"]),
                    card=json.loads(str(z["card"])))


def packaged_head_path(name: str) -> Path:
    """Path of a head shipped in ``affectgpt/analyzers/weights/<name>.npz``."""
    p = Path(str(resources.files("affectgpt.analyzers").joinpath(f"weights/{name}.npz")))
    if not p.is_file():
        raise AffectGPTError(f"{p}: packaged head '{name}' is missing; retrain it with "
                             f"`affectgpt heads train {name} --data-dir DIR`")
    return p
