"""The MER-UniBench datasets: a registry of specs and ground-truth readers.

Sizes, splits and label spaces follow the paper (PAPER §3.1, Table 11) and the upstream
dataset classes (UPSTREAM §2.1).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from affectgpt.bench.io import check_array, check_unique, load_npz, read_csv_rows, sha256_file
from affectgpt.bench.labels import parse_label_list
from affectgpt.errors import InputError

__all__ = ["DatasetSpec", "GroundTruth", "DATASETS", "UNIBENCH", "get_dataset", "load_ground_truth", "load_subtitles",
           "default_labels", "TASK_METRIC"]

Task = Literal["basic", "sentiment", "ov"]

#: The primary metric of each task type.
TASK_METRIC = {"basic": "hit_rate", "sentiment": "waf", "ov": "ew_fscore"}


@dataclass(frozen=True)
class DatasetSpec:
    """One benchmark test set.

    Attributes:
        name: registry key (lower case).
        title: display name used in reports (paper's column header).
        task: ``basic`` (hit rate), ``sentiment`` (2-class WAF) or ``ov`` (EW F-score).
        test_size: expected number of test samples.
        label_file: ground-truth file inside the upstream ``<name>-process`` folder.
        split_key: key of the test split inside an upstream label npz.
        classes: index -> class name for integer labels (basic sets).
        session: keep only names whose 5th character equals this (IEMOCAP Session 5).
        gt_asset: registry key of the plain-CSV ground truth in the data directory.
        paper_score: AffectGPT (A, V, T) in the paper's Table 2, for side-by-side reports.
    """

    name: str
    title: str
    task: Task
    test_size: int
    label_file: str
    split_key: str = "test_corpus"
    classes: tuple[str, ...] = ()
    session: str | None = None
    gt_asset: str | None = None
    paper_score: float | None = None
    notes: str = ""

    @property
    def metric(self) -> str:
        """Name of the primary metric."""
        return TASK_METRIC[self.task]


_MER_CLASSES = ("worried", "happy", "neutral", "angry", "surprise", "sad")

DATASETS: dict[str, DatasetSpec] = {
    s.name: s
    for s in [
        DatasetSpec("mer2023", "MER2023", "basic", 411, "label-6way.npz", "test1_corpus", _MER_CLASSES,
                    gt_asset="gt-mer2023", paper_score=78.54),
        DatasetSpec("mer2024", "MER2024", "basic", 1169, "label-6way.npz", "test1_corpus", _MER_CLASSES,
                    paper_score=78.80, notes="ground truth not public"),
        DatasetSpec("meld", "MELD", "basic", 2610, "label.npz", "test_corpus",
                    ("anger", "joy", "sadness", "neutral", "disgust", "fear", "surprise"),
                    gt_asset="gt-meld", paper_score=55.65),
        DatasetSpec("iemocapfour", "IEMOCAP", "basic", 1241, "label_4way.npz", "whole_corpus",
                    ("happy", "sad", "neutral", "anger"), session="5", gt_asset="gt-iemocapfour",
                    paper_score=60.54),
        DatasetSpec("cmumosi", "CMU-MOSI", "sentiment", 686, "label.npz", gt_asset="gt-cmumosi", paper_score=81.30),
        DatasetSpec("cmumosei", "CMU-MOSEI", "sentiment", 4659, "label.npz", gt_asset="gt-cmumosei", paper_score=80.90),
        DatasetSpec("sims", "CH-SIMS", "sentiment", 457, "label.npz", gt_asset="gt-sims", paper_score=88.49),
        DatasetSpec("simsv2", "CH-SIMS v2", "sentiment", 1034, "label.npz", gt_asset="gt-simsv2", paper_score=86.18),
        DatasetSpec("ovmerdplus", "OV-MERD+", "ov", 532, "ovlabel.csv", paper_score=62.52,
                    notes="ground truth not public"),
        DatasetSpec("ovmerd", "OV-MERD", "ov", 332, "ovlabel.csv", gt_asset="gt-ovmerd",
                    notes="the 332-sample OV-MERD of the OV-MER paper"),
    ]
}

#: The nine sets whose primary scores make the MER-UniBench mean (paper order).
UNIBENCH = ("mer2023", "mer2024", "meld", "iemocapfour", "cmumosi", "cmumosei", "sims", "simsv2", "ovmerdplus")


def get_dataset(name: str) -> DatasetSpec:
    """Look up a dataset spec; unknown names get a did-you-mean suggestion."""
    key = name.strip().lower()
    if key in DATASETS:
        return DATASETS[key]
    close = difflib.get_close_matches(key, DATASETS, n=2)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    raise ValueError(f"unknown dataset {name!r}.{hint} Known: {', '.join(DATASETS)}")


def default_labels(spec: DatasetSpec | str, data_dir=None) -> Path:
    """The public test-split ground truth of a dataset: the data directory's copy, else the one
    ``affectgpt data fetch merunibench`` (or ``ovmerd``) cached.

    Raises:
        MissingAssetError: not found; the message names the ``data fetch`` command.
        InputError: the dataset's ground truth is not public (MER2024, OV-MERD+): pass labels.
    """
    from affectgpt.config import asset_path

    spec = get_dataset(spec) if isinstance(spec, str) else spec
    if spec.gt_asset is None:
        raise InputError(None, f"the ground truth of {spec.title} is not public ({spec.notes}); pass --labels "
                         "with your copy")
    return asset_path(spec.gt_asset, data_dir)


@dataclass
class GroundTruth:
    """Test-set ground truth in name order of the source file.

    ``targets`` holds class names (basic), valences (sentiment) or label lists (ov).
    """

    dataset: str
    names: list[str]
    targets: list
    source: str
    sha256: str
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.names)


_LABEL_COLS = ("label", "emo", "emotion")
_VALENCE_COLS = ("valence", "val", "score")
_OV_COLS = ("openset", "ovlabel", "labels")


def _from_npz(spec: DatasetSpec, path: Path, trust_pickle: bool) -> tuple[list[str], list]:
    arrays = load_npz(path, trust_pickle=trust_pickle)
    if spec.split_key not in arrays:
        raise InputError(path, f"no split {spec.split_key!r}; found {sorted(arrays)}")
    corpus = check_array(path, spec.split_key, arrays[spec.split_key], "O", 0).item()
    if not isinstance(corpus, dict):
        raise InputError(path, f"split {spec.split_key!r} is not a name -> label dict")
    names, targets = [], []
    for name, item in corpus.items():
        name = str(name)
        if spec.session is not None and (len(name) < 5 or name[4] != spec.session):
            continue
        if not isinstance(item, dict) or ("emo" not in item and "val" not in item):
            raise InputError(path, f"entry {name!r} lacks 'emo'/'val'")
        names.append(name)
        if spec.task == "sentiment":
            targets.append(float(item["val"]))
        else:
            emo = item["emo"]
            if not isinstance(emo, str):
                idx = int(emo)
                if not 0 <= idx < len(spec.classes):
                    raise InputError(path, f"entry {name!r}: class index {idx} outside {list(spec.classes)}")
                emo = spec.classes[idx]
            targets.append(emo.strip().lower())
    return names, targets


def _from_csv(spec: DatasetSpec, path: Path) -> tuple[list[str], list]:
    cols = {"basic": _LABEL_COLS, "sentiment": _VALENCE_COLS, "ov": _OV_COLS}[spec.task]
    header, rows = read_csv_rows(path, required=["name"], any_of=list(cols))
    col = next(c for c in cols if c in header)
    check_unique(path, [(line, r["name"].strip()) for line, r in rows])
    names, targets = [], []
    for line, r in rows:
        name = r["name"].strip()
        if not name:
            raise InputError(path, "empty name", row=line)
        raw = r[col]
        if spec.task == "sentiment":
            try:
                value = float(raw)
            except ValueError:
                raise InputError(path, f"valence {raw!r} is not a number", row=line) from None
            if math.isnan(value):
                raise InputError(path, "valence is NaN", row=line)
            targets.append(value)
        elif spec.task == "basic":
            label = raw.strip().lower()
            if not label:
                raise InputError(path, "empty label", row=line)
            if label.isdigit() and spec.classes:
                label = spec.classes[int(label)]
            targets.append(label)
        else:
            targets.append(parse_label_list(raw))
        names.append(name)
    return names, targets


def load_ground_truth(spec: DatasetSpec | str, path: str | Path, trust_pickle: bool = False) -> GroundTruth:
    """Read a test set's ground truth.

    ``path`` may be an upstream ``<name>-process`` folder (its ``label*.npz`` or
    ``ovlabel.csv`` is used), an upstream label npz (needs ``trust_pickle``: it is pickled),
    an ``ovlabel.csv``-style file, or a plain CSV with ``name`` and one of
    label/valence/openset columns.
    """
    spec = get_dataset(spec) if isinstance(spec, str) else spec
    path = Path(path)
    if path.is_dir():
        candidates = [path / spec.label_file, path / f"{spec.name}.csv", path / "ovlabel.csv"]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise InputError(path, f"folder has none of {[c.name for c in candidates]} for dataset {spec.name}")
        path = found
    if not path.exists():
        raise InputError(path, "ground-truth file not found")
    if path.suffix == ".npz":
        names, targets = _from_npz(spec, path, trust_pickle)
    else:
        names, targets = _from_csv(spec, path)
    if not names:
        raise InputError(path, "no ground-truth samples")
    gt = GroundTruth(spec.name, names, targets, str(path), sha256_file(path))
    if len(gt) != spec.test_size:
        gt.warnings.append(f"{len(gt)} ground-truth samples, expected {spec.test_size} for {spec.title}")
    return gt


_SUBTITLE_FILES = ("transcription-engchi-polish.csv", "transcription_merge.csv", "subtitle_eng.csv")


def load_subtitles(path: str | Path, language: str = "english", duplicates: str = "error",
                   warnings: list[str] | None = None) -> dict[str, str]:
    """Read subtitles: an upstream ``<name>-process`` folder or its ``transcription-engchi-polish.csv``
    (columns name, chinese, english), or any CSV with ``name`` and ``english``/``chinese``/``subtitle``/``text``.

    Returns name -> subtitle in ``language`` (empty cells give ""). A repeated name is an
    error by default; ``duplicates="last"`` keeps the last row (upstream's dict behaviour; the
    public IEMOCAP file repeats some names) and appends a note to ``warnings``.
    """
    path = Path(path)
    if path.is_dir():
        found = next((path / f for f in _SUBTITLE_FILES if (path / f).is_file()), None)
        if found is None:
            raise InputError(path, f"folder has none of {list(_SUBTITLE_FILES)}")
        path = found
    cols = (language, "subtitle", "text", "english", "chinese")
    header, rows = read_csv_rows(path, required=["name"], any_of=list(cols))
    col = next(c for c in cols if c in header)
    if duplicates == "error":
        check_unique(path, [(line, r["name"].strip()) for line, r in rows])
    out: dict[str, str] = {}
    repeated = 0
    for _, r in rows:
        name = r["name"].strip()
        if name in out:
            repeated += 1
            if duplicates == "first":
                continue
        out[name] = (r[col] or "").strip()
    if repeated and warnings is not None:
        warnings.append(f"{path}: {repeated} repeated names, kept the {duplicates} row of each")
    return out
