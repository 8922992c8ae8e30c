"""Caption pipeline configuration: a packaged preset (``offline``, ``paper``) or a YAML file,
with ``--set key.sub=value`` overrides, validated before any work starts."""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path

import yaml

from affectgpt.errors import InputError

__all__ = ["PRESETS", "load_caption_config"]

PRESETS = ("offline", "paper")

#: every setting a caption config may hold (a misspelled key is an error, with a suggestion)
KNOWN_KEYS = {
    "name", "clues.backend", "clues.asr", "clues.frames", "clues.url", "clues.audio_model", "clues.video_model",
    "clues.timeout_s", "clues.retries", "clues.max_tokens",
    "merge.backend", "merge.url", "merge.model", "merge.timeout_s", "merge.retries", "merge.max_tokens",
    "labels.extractor", "labels.url", "labels.model",
    "filters.speaker.enabled", "filters.speaker.model", "filters.speaker.threshold",
    "filters.length.enabled", "filters.length.mode", "filters.length.low", "filters.length.high",
    "filters.crowd.enabled", "filters.crowd.mode", "filters.crowd.voters", "filters.crowd.profile",
    "filters.crowd.extra_voters", "export.hf",
}
_NUMBERS = {"clues.frames": int, "clues.timeout_s": float, "clues.retries": int, "clues.max_tokens": int,
            "merge.timeout_s": float, "merge.retries": int, "merge.max_tokens": int,
            "filters.speaker.threshold": float, "filters.length.low": float, "filters.length.high": float}


def _flat(cfg: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in cfg.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and key not in ("filters.crowd.extra_voters",):
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


_BACKENDS = {"clues": ("offline", "openai", "transformers"), "merge": ("describe", "openai", "transformers"),
             "labels": ("given", "lexicon", "llm")}


def _set(cfg: dict, assignment: str) -> None:
    if "=" not in assignment:
        raise ValueError(f"--set {assignment!r}: expected key=value, e.g. filters.length.low=150")
    key, raw = assignment.split("=", 1)
    value = yaml.safe_load(raw) if raw else ""
    node = cfg
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ValueError(f"--set {assignment!r}: {part} is not a section")
    node[parts[-1]] = value


def load_caption_config(source: str | Path, overrides: list[str] | None = None) -> dict:
    """A caption config from a preset name or a YAML path, with ``overrides`` (``key=value``).

    Raises:
        InputError: unreadable YAML or an unknown backend / filter mode (naming the key).
    """
    if str(source) in PRESETS:
        text = resources.files("affectgpt.caption").joinpath(f"presets/{source}.yaml").read_text(encoding="utf-8")
        where = f"preset {source}"
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(path, f"caption config not found (presets: {', '.join(PRESETS)})")
        text, where = path.read_text(encoding="utf-8"), str(path)
    try:
        cfg = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise InputError(where, f"invalid YAML: {exc}") from exc
    cfg = copy.deepcopy(cfg)
    for assignment in overrides or []:
        _set(cfg, assignment)
    import difflib

    for key, value in _flat(cfg).items():
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key, sorted(KNOWN_KEYS), n=1)
            raise InputError(where, f"unknown setting {key!r}" + (f"; did you mean {close[0]!r}?" if close else
                                                                  f"; known: {', '.join(sorted(KNOWN_KEYS))}"))
        if key in _NUMBERS and value is not None:
            try:
                _NUMBERS[key](value)
            except (TypeError, ValueError):
                raise InputError(where, f"{key} = {value!r} is not a number") from None
    for section, allowed in _BACKENDS.items():
        sec = cfg.setdefault(section, {})
        key = "extractor" if section == "labels" else "backend"
        value = sec.get(key, allowed[0])
        if value not in allowed:
            raise InputError(where, f"{section}.{key} = {value!r}; choose one of {', '.join(allowed)}")
        sec[key] = value
    if cfg["labels"]["extractor"] == "given" and cfg["merge"]["backend"] != "describe":
        raise InputError(where, "labels.extractor given takes the describe writer's labels: use it with "
                         "merge.backend describe, or choose lexicon or llm")
    filters = cfg.setdefault("filters", {})
    length = filters.setdefault("length", {})
    if length.get("mode", "quantile") not in ("quantile", "bounds"):
        raise InputError(where, f"filters.length.mode = {length.get('mode')!r}; choose quantile or bounds")
    crowd = filters.setdefault("crowd", {})
    if crowd.get("mode", "E+S") not in ("E", "S", "E+S"):
        raise InputError(where, f"filters.crowd.mode = {crowd.get('mode')!r}; choose E, S or E+S")
    cfg.setdefault("name", Path(str(source)).stem)
    return cfg
