"""The errors core raises on purpose.

``GlissandoError`` and its subclasses are caused by the user's input or environment: front ends show
their message as is, without a traceback. Messages describe the problem in core's own terms, never a
front end's controls; the command line adds its flags where it catches them (cli.py), the desktop
app shows the plain message. ``Cancelled`` ends a job whose cancel predicate said stop (jobs.py).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Optional


def one_line(text: object) -> str:
    """Text on one line, its runs of spaces and line breaks made single spaces: a refusal is one line,
    also where it quotes a library's message (libsndfile, mido and safetensors ones may span several)."""
    return " ".join(str(text).split())


class GlissandoError(Exception):
    """An error caused by the user's input: its message is shown as is, without a traceback."""


class Cancelled(Exception):
    """Raised inside a job when its cancel predicate returned True."""


class OutputExists(GlissandoError):
    """An output file already exists and the caller did not ask to replace it."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        super().__init__(f"{self.path}: already exists")


class BadOutput(GlissandoError):
    """An output path that cannot or must not be written (a folder, a device, a missing or read-only
    folder, a system folder, one of the inputs): found before any work, whatever ``force`` says."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{self.path}: {reason}")


class BadInput(GlissandoError):
    """An input file that cannot be read at all (missing, a folder, a device or pipe, no permission)."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{self.path}: {reason}")


class UnknownFormat(GlissandoError):
    """An output format that is not one of ``choices``; ``given`` None: none was given, and the file
    name's suffix does not tell."""

    def __init__(self, path: str | os.PathLike, choices: Iterable[str], given: Optional[str] = None):
        self.path, self.choices, self.given = Path(path), tuple(choices), given
        what = f"unknown format {given!r}" if given else "cannot tell the format from the file name"
        super().__init__(f"{self.path}: {what}; it can be {', '.join(self.choices[:-1])} or {self.choices[-1]}")


class DeviceUnavailable(GlissandoError):
    """The compute device asked for is not present on this machine."""

    def __init__(self, device: str, reason: str):
        self.device = device
        super().__init__(f"device {device}: {reason}")
