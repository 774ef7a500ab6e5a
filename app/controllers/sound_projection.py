"""A sound opened for sound design, drawn in the navigator: its latent path as a line, and a marker that
follows its playback (issue 14 item 3).

The path's latents come from the sound design job; projecting them into the view is numpy (a matrix product
for PCA, a nearest-node blend for the label lattice), cheap enough for the GUI thread at the 30 Hz of the
playback position. The latents are kept here so that another view draws the same sound again.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
from PySide6.QtCore import QObject, Signal

from glissando.core.session import ModelSession


class SoundProjection(QObject):
    pathProjected = Signal(object)  # (T, 3) points of the sound's path in the view, or None
    markerMoved = Signal(object)  # (3,) where the sound playing is now, or None when nothing plays

    def __init__(self, latent_at: Callable[[float], Optional[np.ndarray]], parent: Optional[QObject] = None):
        super().__init__(parent)
        self.latent_at = latent_at
        self.session: Optional[ModelSession] = None
        self.latents: Optional[np.ndarray] = None
        self.playing = ""

    def set_session(self, session: Optional[ModelSession]) -> None:
        # The sound design controller sends the new model's path (or None) itself once it has it.
        self.session = session
        self.refresh()

    def set_path(self, times: Optional[np.ndarray], latents: Optional[np.ndarray]) -> None:
        self.latents = None if latents is None or not len(latents) else np.asarray(latents, dtype=np.float32)
        if self.latents is None:
            self.markerMoved.emit(None)
        self.refresh()

    def refresh(self) -> None:
        """Project the path again (a new path, or another view)."""
        if self.session is None or self.latents is None:
            self.pathProjected.emit(None)
            return
        self.pathProjected.emit(self.session.project_3d(self.latents))

    def set_playing(self, which: str) -> None:
        self.playing = which
        if not which:
            self.markerMoved.emit(None)

    def follow(self, seconds: float) -> None:
        """The playback position: the marker goes where the sound is at that time."""
        if self.session is None or not self.playing:
            return
        latent = self.latent_at(seconds)
        if latent is not None:
            self.markerMoved.emit(self.session.project_3d(np.asarray(latent, dtype=np.float32)[None])[0])
