"""``affectgpt data fetch``: the public benchmark assets, downloaded on demand at pinned commits.

Every file comes from its upstream GitHub repository at a pinned commit (the commits the project's
reference data directory was taken from), is checked against the SHA-256 in
``affectgpt/fetch_registry.csv`` (written by ``tools/build_fetch_registry.py``), converted where the
package reads another form, and cached in the user data directory:

======================  =================================================================
group                   files (upstream repository: path)
======================  =================================================================
``wheels``              zeroQiaoba/AffectGPT ``AffectGPT/emotion_wheel/``: ``wheel1..5.xlsx``,
                        ``synonym.xlsx`` (converted to the CSV tables), ``format.csv`` (2025);
                        zeroQiaoba/MERTools ``MER2026/MER2026_Track2/emotion_wheel/format.csv``
``merunibench``         zeroQiaoba/MERTools ``MERBench/dataset/<name>-process/``: label npz files
                        (their test splits written as ``merunibench/gt_csv/<dataset>.csv``) and
                        subtitles
``ovmerd``              OV-MERD OV labels (MERTools ``MER2024/ov_store/check-openset.csv``) and
                        the EMER descriptions (AffectGPT ``EMER/``)
``outputs``             AffectGPT's released outputs (``AffectGPT/output/``) and the OV-MER
                        zero-shot baselines (``OV-MER/output/results-ovmerd/``)
======================  =================================================================

Downloading, checksums, retries and the temporary-file-then-rename discipline are pooch's
(https://www.fatiando.org/pooch). The raw-file host is ``https://raw.githubusercontent.com`` unless
``base_url`` / ``$AFFECTGPT_ASSET_BASE_URL`` names another serving the same
``<owner>/<repo>/<commit>/<path>`` layout (a mirror, or a test server on loopback).

Layout of the asset cache (``$AFFECTGPT_ASSET_DIR`` or platformdirs' user data dir + ``assets``):
the data-directory layout the package reads (``emotion_wheel/2025/wheel1.csv`` ...), plus
``.upstream/<owner>/<repo>/<commit>/<path>`` with the verified originals and
``fetch-manifest.json`` recording commits, base URL, versions and every file's SHA-256.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from affectgpt.config import ASSET_GROUPS, asset_dir
from affectgpt.errors import FetchError
from affectgpt.pipeline.store import atomic_write_bytes
from affectgpt.io import sha256_file

__all__ = ["PINS", "DEFAULT_BASE_URL", "ENV_BASE_URL", "RemoteFile", "FetchError", "FetchResult",
           "registry", "fetch_assets"]

log = logging.getLogger(__name__)

#: Upstream repositories and the commits every file is taken from.
PINS = {
    "zeroQiaoba/AffectGPT": "d961cab04ab2903fefb22a641331e1242949b15d",
    "zeroQiaoba/MERTools": "89120b780ab18b28349f0e37dcc12b8cc253cb02",
}
DEFAULT_BASE_URL = "https://raw.githubusercontent.com"
ENV_BASE_URL = "AFFECTGPT_ASSET_BASE_URL"
UPSTREAM_DIR = ".upstream"
MANIFEST = "fetch-manifest.json"


@dataclass(frozen=True)
class RemoteFile:
    """One upstream file of the fetch registry.

    Attributes:
        group: ``wheels``, ``merunibench``, ``ovmerd`` or ``outputs``.
        repo: ``owner/name`` on GitHub (its commit is ``PINS[repo]``).
        path: path inside the repository at that commit.
        sha256: expected SHA-256 of the file as downloaded (hex).
        size: its size in bytes.
        target: where the package reads it, relative to a data directory (after conversion).
        convert: ``copy``; ``xlsx`` (first sheet to CSV, byte for byte the data directory's
            table); ``gt:<dataset>`` (copy, and write that dataset's test split as
            ``merunibench/gt_csv/<dataset>.csv``).
    """

    group: str
    repo: str
    path: str
    sha256: str
    size: int
    target: str
    convert: str

    @property
    def key(self) -> str:
        """``<owner>/<repo>/<commit>/<path>``: the URL path under the base URL and the cache path."""
        return f"{self.repo}/{PINS[self.repo]}/{self.path}"


def registry() -> list[RemoteFile]:
    """Every fetchable file, from the package's ``fetch_registry.csv``."""
    text = resources.files("affectgpt").joinpath("fetch_registry.csv").read_text(encoding="utf-8")
    return [RemoteFile(r["group"], r["repo"], r["path"], r["sha256"], int(r["bytes"]), r["target"], r["convert"])
            for r in csv.DictReader(io.StringIO(text))]


def select_files(groups: list[str]) -> list[RemoteFile]:
    """The registry rows of ``groups`` (``all`` = every group). Unknown names raise ``ValueError``."""
    wanted = set()
    for g in groups:
        if g == "all":
            wanted |= set(ASSET_GROUPS)
        elif g in ASSET_GROUPS:
            wanted.add(g)
        else:
            raise ValueError(f"unknown asset group {g!r}; choose from {', '.join([*ASSET_GROUPS, 'all'])}")
    return [f for f in registry() if f.group in wanted]


@dataclass
class FetchResult:
    """What one ``fetch_assets`` call did.

    Attributes:
        root: the asset cache folder.
        downloaded: registry keys downloaded in this call.
        present: keys already cached with the right SHA-256 (not downloaded again).
        written: data-directory paths (re)written by conversion or copy.
    """

    root: Path
    downloaded: list[str]
    present: list[str]
    written: list[str]


def _xlsx_to_csv(src: Path) -> bytes:
    """The first sheet as CSV: empty cells as empty fields, values as stored (openpyxl)."""
    import openpyxl

    wb = openpyxl.load_workbook(src, read_only=True, data_only=True)
    try:
        ws = wb[wb.sheetnames[0]]
        buf = io.StringIO()
        w = csv.writer(buf)
        for row in ws.iter_rows(values_only=True):
            w.writerow(["" if v is None else v for v in row])
    finally:
        wb.close()
    return buf.getvalue().encode("utf-8")


def _gt_csv(src: Path, dataset: str) -> bytes:
    """A dataset's test split from an upstream label npz as ``name,label`` / ``name,valence`` CSV.

    The npz is pickled; it is loaded only after its SHA-256 matched the pinned registry entry.
    """
    from affectgpt.bench.datasets import get_dataset, load_ground_truth

    spec = get_dataset(dataset)
    gt = load_ground_truth(spec, src, trust_pickle=True)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["name", "valence" if spec.task == "sentiment" else "label"])
    for name, target in zip(gt.names, gt.targets):
        w.writerow([name, repr(float(target)) if spec.task == "sentiment" else target])
    return buf.getvalue().encode("utf-8")


def _outputs_of(item: RemoteFile, src: Path) -> dict[str, bytes | Path]:
    """Data-directory path -> bytes to write (or a path to copy) for one verified upstream file."""
    if item.convert == "xlsx":
        return {item.target: _xlsx_to_csv(src)}
    out: dict[str, bytes | Path] = {item.target: src}
    if item.convert.startswith("gt:"):
        dataset = item.convert[3:]
        out[f"merunibench/gt_csv/{dataset}.csv"] = _gt_csv(src, dataset)
    elif item.convert != "copy":
        raise FetchError(f"registry entry {item.key}: unknown conversion {item.convert!r}")
    return out



def fetch_assets(groups: list[str], base_url: str | None = None, root: str | os.PathLike | None = None,
                 retries: int = 3, timeout: float = 60.0, progress: bool = True) -> FetchResult:
    """Download, verify, convert and cache the files of ``groups``.

    Args:
        groups: asset groups (``wheels``, ``merunibench``, ``ovmerd``, ``outputs``) or ``all``.
        base_url: raw-file host replacing ``https://raw.githubusercontent.com``; default
            ``$AFFECTGPT_ASSET_BASE_URL`` or that host.
        root: asset cache folder; default :func:`affectgpt.config.asset_dir`.
        retries: extra attempts per file after a failed download or checksum (pooch waits 1 s,
            2 s, ... between them).
        timeout: seconds without data before a connection counts as failed.
        progress: show a progress bar over the files (stderr).

    Returns:
        A :class:`FetchResult`. Files already cached with the right SHA-256 are not downloaded.

    Raises:
        FetchError: a file could not be downloaded after the retries, its SHA-256 did not match
            (nothing is cached for it), or it could not be converted. Files fetched before the
            failure stay cached; a rerun fetches only what is missing.
        ValueError: an unknown group.
    """
    import pooch
    import requests
    from tqdm.auto import tqdm

    files = select_files(groups)
    base = (base_url or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL).rstrip("/")
    store = Path(root) if root is not None else asset_dir(create=True)
    store.mkdir(parents=True, exist_ok=True)
    cache = pooch.create(path=store / UPSTREAM_DIR, base_url=f"{base}/",
                         registry={f.key: f"sha256:{f.sha256}" for f in files}, retry_if_failed=retries)
    downloader = pooch.HTTPDownloader(progressbar=False, timeout=timeout)
    pooch.get_logger().setLevel(logging.DEBUG if log.isEnabledFor(logging.DEBUG) else logging.WARNING)
    manifest_path = store / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    manifest.setdefault("files", {})
    result = FetchResult(store, [], [], [])
    bar = tqdm(total=sum(f.size for f in files), unit="B", unit_scale=True, desc="fetch",
               disable=not progress, leave=False)
    try:
        for item in files:
            local = store / UPSTREAM_DIR / item.key
            cached = local.is_file() and sha256_file(local) == item.sha256
            url = f"{base}/{item.key}"
            try:
                path = Path(cache.fetch(item.key, downloader=downloader))
            except ValueError as exc:  # pooch: checksum mismatch after every retry
                raise FetchError(f"{url}: SHA-256 does not match the pinned value {item.sha256[:16]}... after "
                                 f"{retries + 1} attempt(s); nothing was cached for it ({exc})") from None
            except requests.RequestException as exc:
                raise FetchError(f"{url}: download failed after {retries + 1} attempt(s): "
                                 f"{type(exc).__name__}: {exc}") from None
            (result.present if cached else result.downloaded).append(item.key)
            for rel, data in _outputs_of(item, path).items():
                dest = store / rel
                if isinstance(data, Path):
                    if dest.is_file() and dest.stat().st_size == item.size and sha256_file(dest) == item.sha256:
                        continue
                    data = data.read_bytes()
                elif dest.is_file() and dest.read_bytes() == data:
                    continue
                atomic_write_bytes(dest, data)
                result.written.append(rel)
            manifest["files"][item.target] = {"url_path": item.key, "sha256": item.sha256, "bytes": item.size,
                                              "group": item.group, "convert": item.convert}
            bar.update(item.size)
    finally:
        bar.close()
        from affectgpt import __version__

        manifest.update({"pins": PINS, "base_url": base, "affectgpt": __version__, "pooch": pooch.__version__})
        manifest["files"] = dict(sorted(manifest["files"].items()))
        atomic_write_bytes(manifest_path, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
    for key in result.downloaded:
        log.info("downloaded %s", key)
    return result

