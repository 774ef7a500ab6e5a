"""Plumbing shared by every long-running core function.

Long work takes a ``progress(done, total, message)`` callback and a ``cancel()`` predicate so
that the CLI can draw a tqdm bar and the GUI can drive a progress bar and a Cancel button,
without core/ knowing about either.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

# The error types live in errors.py; they stay importable from here, where jobs raise them.
from .errors import Cancelled, GlissandoError  # noqa: F401

__all__ = ["Cancelled", "CancelFn", "GlissandoError", "ProgressFn", "atomic_write", "check_cancel", "never_cancel",
           "no_progress"]

ProgressFn = Callable[[int, int, str], None]
CancelFn = Callable[[], bool]


def no_progress(done: int, total: int, message: str = "") -> None:
    pass


def never_cancel() -> bool:
    return False


def check_cancel(cancel: Optional[CancelFn]) -> None:
    if cancel is not None and cancel():
        raise Cancelled()


@contextmanager
def atomic_write(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the block succeeds.

    An interrupted export therefore never leaves half a file where a good one was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix + ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates files readable by their owner only; give the result the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
