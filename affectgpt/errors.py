"""Exceptions with messages that name the file, the row and the problem."""

from __future__ import annotations

from pathlib import Path

__all__ = ["AffectGPTError", "InputError", "NoOverlapError", "MissingAssetError", "UntrustedPickleError", "FetchError"]


class AffectGPTError(Exception):
    """Base class for every error this package raises on purpose.

    ``exit_code`` is the command line's exit status for it: 2 (usage or unreadable input) unless a
    subclass says 1 (bad data or a failed run)."""

    exit_code = 2


class InputError(AffectGPTError, ValueError):
    """A user-supplied file or value is malformed.

    The message always starts with the file (and row, when known) so a one-line
    report tells the user where to look.
    """

    def __init__(self, path: str | Path | None, problem: str, row: int | str | None = None):
        self.path = None if path is None else str(path)
        self.row = row
        self.problem = problem
        where = self.path or "<input>"
        if row is not None:
            where += f", row {row}"
        super().__init__(f"{where}: {problem}")


class NoOverlapError(InputError):
    """No prediction name matches the ground truth: a score would be meaningless (exit code 1)."""

    exit_code = 1


class MissingAssetError(AffectGPTError, FileNotFoundError):
    """An external asset (third-party table, dataset file) was not found in the data directory."""


class UntrustedPickleError(AffectGPTError):
    """A file needs pickle to load, and the caller did not opt in."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        super().__init__(
            f"{path}: this file stores pickled Python objects, which can run arbitrary code when "
            "loaded. Pass --trust-pickle (CLI) or trust_pickle=True (API) only for files from a "
            "source you trust."
        )


class FetchError(AffectGPTError):
    """A download failed (network, checksum) or a downloaded file could not be converted (exit 1)."""

    exit_code = 1
