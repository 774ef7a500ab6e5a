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


class GlissandoError(Exception):
    """An error caused by the user's input: its message is shown as is, without a traceback."""


class Cancelled(Exception):
    """Raised inside a job when its cancel predicate returned True."""


class OutputExists(GlissandoError):
    """An output file already exists and the caller did not ask to replace it."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        super().__init__(f"{self.path}: already exists")


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
