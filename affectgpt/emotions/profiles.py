"""Label-normalisation profiles: which tables and which tie-break rules are used.

``paper``
    Exactly the upstream behaviour of the 2025 release (AffectGPT ICML 2025, OV-MER): 2025
    ``format.csv``; candidates walked in alphabetical order; a word listed in several sectors
    of one wheel belongs to the sector of its last row. Use it to reproduce published numbers.

``corrected``
    The 2026 ``format.csv`` (which removes the positive roots from the rows of ``-less`` words,
    e.g. "fear" is no longer a form of "fearless") and a ranked tie-break instead of the
    alphabetical one. Candidates are ranked by:

    1. *directness*: a wheel word that is the label itself, or one of its base words, wins;
    2. *agreement*: how many (base word, synonym run) pairs point to the candidate — the 8
       GPT synonym runs act as votes, so a synonym given in all runs beats one given once;
    3. *centrality*: a word on an inner ring of the wheel being mapped (a sector's own name)
       beats one on the outer ring;
    4. alphabetical order, only to break exact ties (deterministic).

    A word listed in several sectors of one wheel belongs to the sector where it sits on the
    innermost ring, and among equals to its first row. With these rules "fear" maps to the
    fear sector of every wheel, where the paper profile sends it to joyful/genius sectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Profile", "PROFILES", "get_profile"]


@dataclass(frozen=True)
class Profile:
    """A named, documented choice of tables and tie-break rules."""

    name: str
    format_asset: str
    tie_break: Literal["alphabetical", "ranked"]
    sector_conflict: Literal["last-row", "innermost-first"]
    description: str


PROFILES: dict[str, Profile] = {
    "paper": Profile(
        "paper", "format-2025", "alphabetical", "last-row",
        "upstream 2025 behaviour: 2025 word forms, alphabetical tie-break, last row wins",
    ),
    "corrected": Profile(
        "corrected", "format-2026", "ranked", "innermost-first",
        "2026 word forms, ranked tie-break (direct > synonym-run votes > alphabetical)",
    ),
}


def get_profile(name: str | Profile) -> Profile:
    """Look up a profile by name; raises ``ValueError`` listing the valid names."""
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}") from None
