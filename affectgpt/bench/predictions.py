"""Reading model outputs: upstream npz files, CSV and JSONL, one file or a checkpoint folder.

Formats (see README "Prediction formats"):

* upstream ``<ckpt>.npz`` with a pickled ``name2reason`` dict (free-form answers; needs
  ``trust_pickle``), ``<ckpt>-openset.npz`` (``filenames``/``fileitems`` = extracted label
  lists) and ``<ckpt>-openset-sentiment.npz`` (sentiment word per sample);
* CSV with a ``name`` column and at least one of ``text``, ``labels``, ``sentiment``;
* JSONL with objects holding the same keys (``labels`` a list or a list string).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from affectgpt.bench.io import check_array, check_unique, load_npz, read_csv_rows, read_jsonl, sha256_file
from affectgpt.bench.labels import SENTIMENT_VALUES, parse_label_list, sentiment_number
from affectgpt.errors import InputError

__all__ = ["PredictionSet", "read_predictions"]

_SUFFIXES = ("-openset-sentiment", "-openset")
_EPOCH = re.compile(r"checkpoint_(\d+)")


@dataclass
class PredictionSet:
    """The outputs of one model checkpoint on one dataset.

    Any of ``texts`` (free-form answers), ``labels`` (already extracted) and
    ``sentiments`` (already mapped) may be missing. ``text_path`` points at an upstream
    pickled answer file that is read only when texts are needed.
    """

    checkpoint: str
    labels: dict[str, list[str]] | None = None
    sentiments: dict[str, str] | None = None
    texts: dict[str, str] | None = None
    text_path: str | None = None
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def epoch(self) -> int | None:
        """Training epoch parsed from an upstream checkpoint name, if any."""
        m = _EPOCH.search(self.checkpoint)
        return int(m.group(1)) if m else None

    def load_texts(self, trust_pickle: bool = False) -> dict[str, str]:
        """Free-form answers, reading the upstream pickled file on first use."""
        if self.texts is None:
            if self.text_path is None:
                where = self.sources.get("labels") or self.sources.get("table") or next(iter(self.sources.values()),
                                                                                      self.checkpoint)
                raise InputError(where, "no free-form answers (no text column) are available for this checkpoint, "
                                 "only labels; the lexicon and llm extractors read free-form text: add a text "
                                 "column, or use --extractor given")
            self.texts = _read_name2reason(Path(self.text_path), trust_pickle)
        return self.texts

    def hashes(self) -> dict[str, str]:
        """SHA-256 of every source file, by role."""
        return {role: sha256_file(p) for role, p in sorted(self.sources.items())}


def _read_name2reason(path: Path, trust_pickle: bool) -> dict[str, str]:
    arrays = load_npz(path, trust_pickle=trust_pickle)
    if "name2reason" not in arrays:
        raise InputError(path, f"no 'name2reason' entry; found {sorted(arrays)}")
    obj = check_array(path, "name2reason", arrays["name2reason"], "O", 0).item()
    if not isinstance(obj, dict):
        raise InputError(path, "'name2reason' is not a name -> text dict")
    return {str(k): "" if v is None else str(v) for k, v in obj.items()}


def _read_items(path: Path) -> dict[str, str]:
    arrays = load_npz(path, trust_pickle=False)
    missing = [k for k in ("filenames", "fileitems") if k not in arrays]
    if missing:
        raise InputError(path, f"missing array(s) {missing}; found {sorted(arrays)}")
    names = check_array(path, "filenames", arrays["filenames"], "USO", 1)
    items = check_array(path, "fileitems", arrays["fileitems"], "USO", 1)
    if len(names) != len(items):
        raise InputError(path, f"{len(names)} filenames but {len(items)} fileitems")
    names = [str(n) for n in np.asarray(names).tolist()]
    check_unique(path, list(enumerate(names)))
    return dict(zip(names, (str(x) for x in np.asarray(items).tolist())))


def _from_table(path: Path) -> PredictionSet:
    if path.suffix.lower() == ".jsonl":
        records = read_jsonl(path)
        header = sorted({k for _, r in records for k in r})
    else:
        header, records = read_csv_rows(path, required=["name"], any_of=["text", "labels", "sentiment"],
                                        lower_header=True)
    if "name" not in header:
        raise InputError(path, f"missing column 'name'; found {header}", row=1)
    if not any(c in header for c in ("text", "labels", "sentiment")):
        raise InputError(path, f"needs one of text, labels, sentiment; found {header}", row=1)
    names = []
    for line, r in records:
        _check_json_types(path, line, r)
        name = "" if r.get("name") is None else str(r.get("name")).strip()
        if not name:
            raise InputError(path, "missing or empty 'name'", row=line)
        names.append((line, name))
    check_unique(path, names)
    ps = PredictionSet(checkpoint=path.stem, sources={"table": str(path)})
    keys = [n for _, n in names]
    if "text" in header:
        ps.texts = {n: str(r.get("text") or "") for n, (_, r) in zip(keys, records)}
    if "labels" in header:
        ps.labels = {n: parse_label_list(r.get("labels")) for n, (_, r) in zip(keys, records)}
    if "sentiment" in header:
        ps.sentiments = {}
        for n, (line, r) in zip(keys, records):
            value = str(r.get("sentiment") if r.get("sentiment") is not None else "").strip()
            if value and value.lower() not in SENTIMENT_VALUES and sentiment_number(value) is None:
                raise InputError(path, f"sentiment {value!r} is neither positive/negative/neutral nor a number "
                                 "(MMSA convention: the sign gives the polarity)", row=line)
            ps.sentiments[n] = value
    return ps


def _check_json_types(path: Path, line: int, r: dict) -> None:
    """Refuse values of a JSONL record that no reading could mean (a CSV cell is always text).

    Raises:
        InputError: ``name`` not text or a whole number; ``text`` not text; ``labels`` not text
            (a comma list) or a list of texts; ``sentiment`` not text or a number.
    """
    def bad(key: str, want: str):
        v = r[key]
        raise InputError(path, f"{key!r} must be {want} (got {type(v).__name__} {json.dumps(v, ensure_ascii=False)[:60]})",
                         row=line)

    for key in ("name", "text", "labels", "sentiment"):
        v = r.get(key)
        if v is None or isinstance(v, str):
            continue
        if key == "name" and not (isinstance(v, int) and not isinstance(v, bool)):
            bad(key, "text or a whole number")
        if key == "text":
            bad(key, "text (the free-form answer)")
        if key == "labels" and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            bad(key, "a list of label words or a comma-separated text")
        if key == "sentiment" and (isinstance(v, bool) or not isinstance(v, (int, float))):
            bad(key, "positive/negative/neutral or a number")


def _stem(path: Path) -> tuple[str, str]:
    """(checkpoint id, role) of an upstream npz file."""
    stem = path.name[: -len(".npz")]
    for suffix, role in zip(_SUFFIXES, ("sentiment", "labels")):
        if stem.endswith(suffix):
            return stem[: -len(suffix)], role
    return stem, "texts"


def _from_npz_group(ckpt: str, files: dict[str, Path]) -> PredictionSet:
    ps = PredictionSet(checkpoint=ckpt, sources={r: str(p) for r, p in files.items()})
    if "labels" in files:
        ps.labels = {n: parse_label_list(v) for n, v in _read_items(files["labels"]).items()}
    if "sentiment" in files:
        ps.sentiments = _read_items(files["sentiment"])
    if "texts" in files:
        ps.text_path = str(files["texts"])
    return ps


def read_predictions(path: str | Path) -> list[PredictionSet]:
    """Read one prediction file or a folder of per-checkpoint outputs, sorted by epoch/name.

    A folder with no prediction files but exactly one subfolder (the upstream
    ``results-<dataset>/<run>/`` layout) is descended into.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "predictions not found")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".npz", ".csv", ".jsonl"))
        if not files:
            subdirs = [p for p in path.iterdir() if p.is_dir()]
            if len(subdirs) == 1:
                return read_predictions(subdirs[0])
            raise InputError(path, "folder holds no .npz/.csv/.jsonl prediction files")
    else:
        files = [path]
    groups: dict[str, dict[str, Path]] = {}
    tables: list[PredictionSet] = []
    for f in files:
        if f.suffix.lower() == ".npz":
            ckpt, role = _stem(f)
            groups.setdefault(ckpt, {})[role] = f
        else:
            tables.append(_from_table(f))
    if path.is_file() and path.suffix.lower() == ".npz":
        # A single upstream file: pick up its siblings of the same checkpoint.
        ckpt, _ = _stem(path)
        for role, suffix in (("labels", "-openset"), ("sentiment", "-openset-sentiment"), ("texts", "")):
            sib = path.with_name(f"{ckpt}{suffix}.npz")
            if sib.is_file():
                groups[ckpt].setdefault(role, sib)
    sets = tables + [_from_npz_group(c, g) for c, g in groups.items()]
    sets.sort(key=lambda s: (s.epoch if s.epoch is not None else -1, s.checkpoint))
    return sets
