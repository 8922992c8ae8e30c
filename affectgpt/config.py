"""Where external data lives, and the registry of external assets the package reads.

Third-party tables and datasets are never bundled. Each is looked up, in order, in:

1. the *data directory*, chosen by an explicit argument (``--data-dir`` on the CLI), the
   environment variable ``AFFECTGPT_DATA_DIR``, or ``data_dir`` in
   ``$XDG_CONFIG_HOME/affectgpt/config.yaml``;
2. the *asset cache* that ``affectgpt data fetch`` fills (``$AFFECTGPT_ASSET_DIR``, else the
   platformdirs user data folder + ``assets``, e.g. ``~/.local/share/affectgpt/assets``), which
   has the same layout.

A missing asset raises :class:`MissingAssetError` naming the ``affectgpt data fetch GROUP`` that
brings it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from affectgpt.errors import MissingAssetError

__all__ = ["ENV_DATA_DIR", "ENV_ASSET_DIR", "ASSET_GROUPS", "Asset", "ASSETS", "resolve_data_dir", "asset_dir",
           "asset_group", "locate", "asset_path", "check_assets", "locate_packaged_file"]

ENV_DATA_DIR = "AFFECTGPT_DATA_DIR"
ENV_ASSET_DIR = "AFFECTGPT_ASSET_DIR"

#: ``affectgpt data fetch`` groups and the data-directory folders each one fills.
ASSET_GROUPS: dict[str, tuple[str, ...]] = {
    "wheels": ("emotion_wheel/",),
    "merunibench": ("merunibench/",),
    "ovmerd": ("ovmerd/",),
    "outputs": ("released_outputs/",),
}

_WHEEL_ORIGIN = "https://github.com/zeroQiaoba/AffectGPT (folder AffectGPT/emotion_wheel/)"
_WHEEL_2026_ORIGIN = (
    "https://github.com/zeroQiaoba/MERTools (MER2026/MER2026_Track2/emotion_wheel/format.csv)"
)
_MERBENCH_ORIGIN = "https://github.com/zeroQiaoba/MERTools (folder MERBench/dataset/)"
_OUTPUTS_ORIGIN = "https://github.com/zeroQiaoba/AffectGPT (folder AffectGPT/output/)"


@dataclass(frozen=True)
class Asset:
    """One external file the package can use.

    Attributes:
        key: registry name, e.g. ``wheel1``.
        relpath: path relative to the data directory.
        feature: which feature needs it (``emotions``, ``bench``, ``demo``).
        origin: where the public original lives.
        required: whether the feature cannot work without it.
    """

    key: str
    relpath: str
    feature: str
    origin: str
    required: bool = True


def _wheel_assets() -> list[Asset]:
    out = [Asset(f"wheel{k}", f"emotion_wheel/2025/wheel{k}.csv", "emotions", _WHEEL_ORIGIN) for k in range(1, 6)]
    out.append(Asset("synonym", "emotion_wheel/2025/synonym.csv", "emotions", _WHEEL_ORIGIN))
    out.append(Asset("format-2025", "emotion_wheel/2025/format.csv", "emotions", _WHEEL_ORIGIN))
    out.append(Asset("format-2026", "emotion_wheel/2026/format.csv", "emotions", _WHEEL_2026_ORIGIN))
    return out


ASSETS: dict[str, Asset] = {a.key: a for a in _wheel_assets()}
for _name in ("mer2023", "meld", "iemocapfour", "cmumosi", "cmumosei", "sims", "simsv2"):
    ASSETS[f"gt-{_name}"] = Asset(
        f"gt-{_name}", f"merunibench/gt_csv/{_name}.csv", "bench", _MERBENCH_ORIGIN, required=False
    )
ASSETS["gt-ovmerd"] = Asset(
    "gt-ovmerd", "ovmerd/ovlabel-gt.csv", "bench",
    "https://github.com/zeroQiaoba/MERTools (MER2024/ov_store/)", required=False,
)
ASSETS["released-outputs"] = Asset(
    "released-outputs", "released_outputs/affectgpt", "bench", _OUTPUTS_ORIGIN, required=False
)
ASSETS["ovmer-baselines"] = Asset(
    "ovmer-baselines", "released_outputs/ovmer_baselines", "bench",
    "https://github.com/zeroQiaoba/AffectGPT (folder OV-MER/output/results-ovmerd/)", required=False,
)


def _config_file_data_dir() -> str | None:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    cfg = Path(base) / "affectgpt" / "config.yaml"
    if not cfg.is_file():
        return None
    import yaml

    data = yaml.safe_load(cfg.read_text(encoding="utf-8")) or {}
    value = data.get("data_dir")
    return str(value) if value else None


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """Return the data directory, or ``None`` when none is configured."""
    for candidate in (explicit, os.environ.get(ENV_DATA_DIR), _config_file_data_dir()):
        if candidate:
            return Path(candidate).expanduser()
    return None


def asset_dir(create: bool = False) -> Path:
    """The asset cache: ``$AFFECTGPT_ASSET_DIR``, else platformdirs' user data folder + ``assets``."""
    base = os.environ.get(ENV_ASSET_DIR)
    if base:
        path = Path(base).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir("affectgpt", appauthor=False)) / "assets"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def asset_group(relpath: str) -> str | None:
    """The ``data fetch`` group that brings a data-directory path, or ``None`` (not fetchable)."""
    rel = relpath.replace(os.sep, "/").lstrip("./")
    for group, prefixes in ASSET_GROUPS.items():
        if any(rel.startswith(p) for p in prefixes):
            return group
    return None


def fetch_hint(relpath: str) -> str:
    """How to get a missing data-directory path: the ``data fetch`` command, or ``--data-dir``."""
    group = asset_group(relpath)
    if group:
        return f"run `affectgpt data fetch {group}` (or pass --data-dir)"
    return f"pass --data-dir (or set {ENV_DATA_DIR}) to a data directory that has it"


def locate(relpath: str, data_dir: str | os.PathLike | None = None) -> tuple[Path | None, str]:
    """Find a data-directory path: ``(path, "data dir" | "cache")`` or ``(None, "missing")``."""
    root = resolve_data_dir(data_dir)
    if root is not None and (root / relpath).exists():
        return root / relpath, "data dir"
    cached = asset_dir() / relpath
    if cached.exists():
        return cached, "cache"
    return None, "missing"


def missing_message(relpath: str, data_dir: str | os.PathLike | None = None, what: str = "") -> str:
    """The message for a path found neither in the data directory nor in the asset cache."""
    root = resolve_data_dir(data_dir)
    where = f"data directory {root}" if root is not None else "no data directory configured"
    return (f"{relpath}: not found{f' ({what})' if what else ''}; looked in: {where}; asset cache "
            f"{asset_dir()}. To get it, {fetch_hint(relpath)}.")


def asset_path(key: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Path of a registered asset (data directory first, then the asset cache).

    Raises :class:`MissingAssetError` naming where it looked, the public origin and the
    ``affectgpt data fetch`` command that brings it."""
    asset = ASSETS[key]
    path, _where = locate(asset.relpath, data_dir)
    if path is None:
        raise MissingAssetError(missing_message(asset.relpath, data_dir, f"asset '{key}', needed by "
                                                f"'{asset.feature}'; public original: {asset.origin}"))
    return path


def check_assets(data_dir: str | os.PathLike | None = None) -> list[tuple[Asset, Path | None, str]]:
    """Every registered asset with its resolved path and where it was found
    (``data dir``, ``cache`` or ``missing``)."""
    return [(asset, *locate(asset.relpath, data_dir)) for asset in ASSETS.values()]


def locate_packaged_file(explicit, env_var: str, package: str, relpath: str, install_hint: str) -> Path:
    """A model file: an explicit path, else ``$env_var``, else ``relpath`` inside an installed
    ``package`` (found without importing it). Raises ``AffectGPTError`` with the install hint."""
    import importlib.util

    from affectgpt.errors import AffectGPTError

    for cand in (explicit, os.environ.get(env_var)):
        if cand and Path(cand).is_file():
            return Path(cand)
    spec = importlib.util.find_spec(package)
    if spec and spec.submodule_search_locations:
        p = Path(list(spec.submodule_search_locations)[0]) / relpath
        if p.is_file():
            return p
    raise AffectGPTError(f"{Path(relpath).name} not found: {install_hint}, or set {env_var} to the file")
