"""Quiet third-party output: native log lines (MediaPipe, TFLite, absl) and progress bars.

Third-party libraries print to the process's stderr from C++ (MediaPipe's "Created
TensorFlow Lite XNNPACK delegate", absl warnings) where Python logging cannot reach them.
:func:`quiet_native` redirects file descriptor 2 while a model loads or runs, unless
``AFFECTGPT_VERBOSE`` is set (``--verbose`` on the CLI).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

__all__ = ["ENV_VERBOSE", "quiet_native", "quiet_libraries", "verbose", "setup_logging"]

ENV_VERBOSE = "AFFECTGPT_VERBOSE"


def verbose() -> bool:
    """Whether third-party output should be shown."""
    return os.environ.get(ENV_VERBOSE, "") not in ("", "0", "false")


@contextlib.contextmanager
def quiet_native():
    """Silence native writes to stderr inside the block (no-op when verbose)."""
    if verbose():
        yield
        return
    try:
        sys.stderr.flush()
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # pytest capture or no real stderr
        yield
        return
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def quiet_libraries() -> None:
    """Environment and logging settings that keep MediaPipe, TensorFlow Lite, transformers and
    Hugging Face quiet (call before they are imported; no-op when verbose)."""
    if verbose():
        return
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import logging

    for name in ("faster_whisper", "transformers", "absl", "mediapipe"):
        logging.getLogger(name).setLevel(logging.ERROR)


class _CliFormatter(logging.Formatter):
    """``affectgpt: error: ...`` / ``affectgpt: warning: ...`` / ``affectgpt: ...`` (info)."""

    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if record.exc_info:  # only passed with -v
            msg += "\n" + self.formatException(record.exc_info)
        if record.levelno >= logging.WARNING:
            return f"affectgpt: {record.levelname.lower()}: {msg}"
        if record.levelno <= logging.DEBUG:
            return f"affectgpt: debug [{record.name}]: {msg}"
        return f"affectgpt: {msg}"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each record (not the one at set-up)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def setup_logging(verbose: int = 0, quiet: bool = False) -> logging.Logger:
    """The command line's one logging setup: the ``affectgpt`` logger writes to stderr.

    ``quiet``: warnings and errors only; default: info; ``verbose`` >= 1: debug, and third-party
    native output is shown (``AFFECTGPT_VERBOSE``). Calling it again replaces the handler.
    """
    logger = logging.getLogger("affectgpt")
    for h in list(logger.handlers):
        if getattr(h, "_affectgpt_cli", False):
            logger.removeHandler(h)
    handler = _StderrHandler()
    handler._affectgpt_cli = True  # type: ignore[attr-defined]
    handler.setFormatter(_CliFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO))
    logger.propagate = False
    if verbose:
        os.environ[ENV_VERBOSE] = "1"
    return logger
