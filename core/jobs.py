"""Plumbing shared by every long-running core function, and the checks of its input and output paths
that a command runs before any work (check_input, check_output, check_output_folder).

Long work takes a ``progress(done, total, message)`` callback and a ``cancel()`` predicate so
that the CLI can draw a tqdm bar and the GUI can drive a progress bar and a Cancel button,
without core/ knowing about either.
"""
from __future__ import annotations

import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

# The error types live in errors.py; they stay importable from here, where jobs raise them.
from .errors import BadInput, BadOutput, Cancelled, GlissandoError, OutputExists

__all__ = ["Cancelled", "CancelFn", "GlissandoError", "ProgressFn", "atomic_write", "check_cancel", "check_input",
           "check_output", "check_output_folder", "never_cancel", "no_progress"]

# Kernel and device file systems: a path under them is never a place for a user's output.
SYSTEM_FOLDERS = (Path("/proc"), Path("/sys"), Path("/dev"))

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


def _under_system_folder(path: Path) -> Optional[Path]:
    """The system folder a resolved path lies in, if any (/dev/shm is an ordinary, in-memory, file system)."""
    if Path("/dev/shm") in (path, *path.parents):
        return None
    return next((folder for folder in SYSTEM_FOLDERS if folder in (path, *path.parents)), None)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return a.resolve() == b.resolve()


def check_output(path: str | os.PathLike, force: bool = False, inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Refuse, before any work, an output path that cannot or must not be written: a folder, a device,
    pipe or socket, a path in a system folder (/proc, /sys, /dev), in a missing folder or one this
    process may not create files in, an existing read-only file, one of ``inputs``, or an existing
    file without ``force`` (OutputExists). Raises BadOutput or OutputExists naming the path and the reason.

    atomic_write replaces the file by a rename in its folder, so the folder's permission is what counts.
    """
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise BadOutput(path, "is a folder; give a file name")
    resolved = path.resolve()
    system = _under_system_folder(resolved)
    if system is not None:
        raise BadOutput(path, f"is in {system}, a system folder where no output can be written")
    for source in inputs:
        if _same_file(path, Path(source)):
            raise BadOutput(path, "is also an input; write the output to another file")
    try:
        st: Optional[os.stat_result] = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except OSError as exc:
        raise BadOutput(path, f"cannot be checked ({exc.strerror or exc})") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise BadOutput(path, "is a folder; give a file name")
        if not stat.S_ISREG(st.st_mode):
            raise BadOutput(path, "is not a regular file (a device, pipe or socket)")
        if not st.st_mode & 0o222 or not os.access(path, os.W_OK):
            raise BadOutput(path, "already exists and is read-only")
        if not force:
            raise OutputExists(path)
    parent = path.parent
    if not parent.is_dir():
        existing = next((p for p in (parent, *parent.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise BadOutput(path, f"{existing} is a file, not a folder")
        raise BadOutput(path, f"the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadOutput(path, f"cannot be written (no permission to create files in {parent})")
    try:
        read_only = bool(os.statvfs(parent).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    if read_only:
        raise BadOutput(path, f"cannot be written ({parent} is on a read-only file system)")
    return path


def check_output_folder(path: str | os.PathLike) -> Path:
    """Refuse, before any work, a folder outputs cannot be written into or created as: a file, a path in
    a system folder, or below a folder this process may not create files in (BadOutput)."""
    path = Path(path)
    system = _under_system_folder(path.resolve())
    if system is not None:
        raise BadOutput(path, f"is in {system}, a system folder where no output can be written")
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise BadOutput(path, "is a file, not a folder" if existing == path else f"{existing} is a file, not a folder")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise BadOutput(path, f"cannot be written (no permission to create files in {existing})")
    return path


def check_input(path: str | os.PathLike) -> Path:
    """Refuse, before any work, an input that cannot be read: missing, a folder, a device, pipe or
    socket (reading one could block for ever), or not readable by this process (BadInput)."""
    path = Path(path)
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise BadInput(path, "no such file") from None
    except OSError as exc:
        raise BadInput(path, f"cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise BadInput(path, "is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise BadInput(path, "is not a regular file (a device, pipe or socket)")
    if not os.access(path, os.R_OK):
        raise BadInput(path, "cannot be read (permission denied)")
    return path
