"""The emotion vocabulary and the paper's label mapping G_wk = wheel_k(synonym(word_form(label))).

See PAPER §3.3 (AffectGPT, ICML 2025) and the OV-MER metric family. One
:class:`EmotionVocabulary` holds the three tables and precomputes, for every known surface
form, its sector on every wheel and ring, so mapping a label is one dict lookup.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from affectgpt.config import asset_dir, asset_path, resolve_data_dir
from affectgpt.emotions.profiles import Profile, get_profile
from affectgpt.emotions.tables import (
    WheelRow,
    normalise_word,
    read_synonym_runs,
    read_wheel,
    read_word_forms,
)

__all__ = ["EmotionVocabulary", "load_vocabulary", "WHEELS", "LEVELS"]

WHEELS = (1, 2, 3, 4, 5)
LEVELS = (1, 2)


def _sector_maps(rows: list[WheelRow], conflict: str) -> tuple[dict[str, str], dict[str, str]]:
    """Map every word of one wheel to its level-1 (inner) and level-2 (middle) sector."""
    first_child: dict[str, str] = {}
    for r in rows:
        if r.level1 not in first_child or r.level2 < first_child[r.level1]:
            first_child[r.level1] = r.level2
    l1: dict[str, str] = {}
    l2: dict[str, str] = {}
    if conflict == "last-row":
        # Upstream builds a dict row by row, so the last row that lists a word wins.
        for r in rows:
            for w in (r.level1, r.level2, r.level3):
                l1[w] = r.level1
            l2[r.level1] = first_child[r.level1]
            l2[r.level2] = r.level2
            l2[r.level3] = r.level2
        return l1, l2
    # innermost-first: a word belongs where it sits on the innermost ring, first row among equals.
    rank1: dict[str, int] = {}
    rank2: dict[str, int] = {}
    for r in rows:
        for depth, w in enumerate((r.level1, r.level2, r.level3)):
            if depth < rank1.get(w, 99):
                rank1[w], l1[w] = depth, r.level1
        for depth, (w, sector) in enumerate(
            ((r.level1, first_child[r.level1]), (r.level2, r.level2), (r.level3, r.level2))
        ):
            if depth < rank2.get(w, 99):
                rank2[w], l2[w] = depth, sector
    return l1, l2


class EmotionVocabulary:
    """Word forms, synonyms and five emotion wheels, with the paper's mapping precomputed.

    Args:
        wheels: rows of wheel 1..5.
        synonym_runs: per run, (wheel word, synonyms) pairs.
        word_forms: (base word, forms) pairs.
        profile: tie-break rules (see :mod:`affectgpt.emotions.profiles`).
    """

    def __init__(
        self,
        wheels: dict[int, list[WheelRow]],
        synonym_runs: list[list[tuple[str, list[str]]]],
        word_forms: list[tuple[str, list[str]]],
        profile: str | Profile = "paper",
        sources: dict[str, str] | None = None,
    ):
        self.profile = get_profile(profile)
        self.sources = dict(sources or {})
        # form -> base words (every base word is also a form of itself)
        bases: dict[str, set[str]] = defaultdict(set)
        for base, forms in word_forms:
            bases[base].add(base)
            for f in forms:
                bases[f].add(base)
        self._bases = {f: tuple(sorted(b)) for f, b in bases.items()}
        # base word -> wheel word -> number of runs that link them (votes)
        votes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for run in synonym_runs:
            seen: set[tuple[str, str]] = set()
            for word, syns in run:
                for key in (word, *syns):
                    if (key, word) not in seen:
                        seen.add((key, word))
                        votes[key][word] += 1
        self._votes = {k: dict(v) for k, v in votes.items()}
        self._synonyms = {k: tuple(sorted(v)) for k, v in votes.items()}
        self._sectors: dict[tuple[int, int], dict[str, str]] = {}
        for k, rows in wheels.items():
            m1, m2 = _sector_maps(rows, self.profile.sector_conflict)
            self._sectors[(k, 1)], self._sectors[(k, 2)] = m1, m2
        self.wheels = tuple(sorted(wheels))
        self._depths: dict[int, dict[str, int]] = {}
        for k, rows in wheels.items():
            d: dict[str, int] = {}
            for r in rows:
                for i, w in enumerate((r.level1, r.level2, r.level3)):
                    d[w] = min(i, d.get(w, 9))
            self._depths[k] = d
        self._map = {key: self._precompute(*key) for key in self._sectors}
        self._case1 = {f: b[0] for f, b in self._bases.items()}
        self._case2 = {}
        for f, b in self._bases.items():
            syn = self._synonyms.get(b[0])
            if syn:
                self._case2[f] = syn[0]

    # -- construction helpers -------------------------------------------------------------
    def _candidates(self, form: str, depth: dict[str, int]) -> list[str]:
        """Wheel words reachable from a form, in the profile's preference order.

        ``depth`` gives each word's innermost ring on the wheel being mapped (0 = inner).
        """
        bases = self._bases[form]
        cands: set[str] = set()
        for b in bases:
            cands.update(self._synonyms.get(b, ()))
        if self.profile.tie_break == "alphabetical":
            return sorted(cands)
        direct = {form, *bases}

        def rank(c: str) -> tuple[int, int, int, str]:
            n = sum(self._votes.get(b, {}).get(c, 0) for b in bases)
            return (0 if c in direct else 1, -n, depth.get(c, 9), c)

        return sorted(cands, key=rank)

    def _precompute(self, wheel: int, level: int) -> dict[str, str]:
        sectors = self._sectors[(wheel, level)]
        depth = self._depths[wheel]
        out = {}
        for form in self._bases:
            for c in self._candidates(form, depth):
                if c in sectors:
                    out[form] = sectors[c]
                    break
        return out

    # -- public API -----------------------------------------------------------------------
    @property
    def forms(self) -> frozenset[str]:
        """Every surface form the vocabulary knows (labels outside it are dropped)."""
        return frozenset(self._bases)

    def sectors(self, wheel: int, level: int = 1) -> list[str]:
        """Sorted names of the sectors of one wheel ring."""
        return sorted(set(self._sectors[(wheel, level)].values()))

    def base_words(self, label: str) -> tuple[str, ...]:
        """Base words whose word forms include ``label`` (empty if unknown)."""
        return self._bases.get(normalise_word(label), ())

    def map_label(self, label: str, wheel: int, level: int = 1) -> str | None:
        """G_wk(label): the wheel-``wheel`` sector on ring ``level``, or ``None`` if dropped."""
        return self._map[(wheel, level)].get(normalise_word(label))

    def map_labels(self, labels: Iterable[str], wheel: int, level: int = 1) -> frozenset[str]:
        """Map a list of labels to the set of their sectors (unmappable labels dropped)."""
        table = self._map[(wheel, level)]
        return frozenset(s for s in (table.get(normalise_word(x)) for x in labels) if s is not None)

    def map_case1(self, labels: Iterable[str]) -> frozenset[str]:
        """OV-MER M1: alphabetically first base word of each label (word forms only)."""
        return frozenset(s for s in (self._case1.get(normalise_word(x)) for x in labels) if s)

    def map_case2(self, labels: Iterable[str]) -> frozenset[str]:
        """OV-MER M2: then alphabetically first wheel word among that base word's synonyms."""
        return frozenset(s for s in (self._case2.get(normalise_word(x)) for x in labels) if s)

    def mapper(self, scheme: str):
        """A function labels -> set for a metric scheme: ``m1``, ``m2`` or ``w{k}l{level}``."""
        if scheme == "m1":
            return self.map_case1
        if scheme == "m2":
            return self.map_case2
        if len(scheme) == 4 and scheme[0] == "w" and scheme[2] == "l":
            wheel, level = int(scheme[1]), int(scheme[3])
            return lambda labels: self.map_labels(labels, wheel, level)
        raise ValueError(f"unknown mapping scheme {scheme!r}")


@lru_cache(maxsize=8)
def _load_cached(profile_name: str, root: str | None, cache: str) -> EmotionVocabulary:
    profile = get_profile(profile_name)
    paths = {f"wheel{k}": asset_path(f"wheel{k}", root) for k in WHEELS}
    paths["synonym"] = asset_path("synonym", root)
    paths["format"] = asset_path(profile.format_asset, root)
    wheels = {k: read_wheel(paths[f"wheel{k}"]) for k in WHEELS}
    return EmotionVocabulary(
        wheels,
        read_synonym_runs(paths["synonym"]),
        read_word_forms(paths["format"]),
        profile,
        sources={k: str(v) for k, v in paths.items()},
    )


def load_vocabulary(profile: str = "paper", data_dir: str | os.PathLike | None = None) -> EmotionVocabulary:
    """Load (and cache) the vocabulary of a profile from the data directory, else the asset cache
    (``affectgpt data fetch wheels``). Raises :class:`MissingAssetError` naming a missing table."""
    root = resolve_data_dir(data_dir)
    return _load_cached(get_profile(profile).name, None if root is None else str(Path(root).resolve()),
                        str(asset_dir()))
