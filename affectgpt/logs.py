"""Quiet third-party output: native log lines (MediaPipe, TFLite, absl) and progress bars.

Third-party libraries print to the process's stderr from C++ (MediaPipe's "Created
TensorFlow Lite XNNPACK delegate", absl warnings) where Python logging cannot reach them.
:func:`quiet_native` redirects file descriptor 2 while a model loads or runs, unless
``AFFECTGPT_VERBOSE`` is set (``--verbose`` on the CLI).
"""

from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["ENV_VERBOSE", "quiet_native", "quiet_libraries", "verbose"]

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
