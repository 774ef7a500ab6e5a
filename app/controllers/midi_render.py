"""A MIDI file rendered by the current model: its notes, the render job, the rendered audio."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PySide6.QtCore import QObject, Signal

from glissando.core.errors import GlissandoError
from glissando.core.midi import Note, notes_for_model
from glissando.core.render import render_notes, write_wav
from glissando.core.session import ModelSession

from ..settings import Settings, export_peak_db, render_settings
from ..workers import CoreJob, JobRunner


class MidiRenderController(QObject):
    fileOpened = Signal(object, object, object)  # (path, notes, warnings)
    stateChanged = Signal(bool, bool, bool)  # (has notes, busy, rendered)
    progress = Signal(int, int)
    rendered = Signal(object)  # the audio to play
    notice = Signal(str, bool)

    def __init__(self, runner: JobRunner, settings: Settings, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.runner, self.settings = runner, settings
        self.session: Optional[ModelSession] = None
        self.path: Optional[Path] = None
        self.notes: list[Note] = []
        self.audio: Optional[np.ndarray] = None
        self.job: Optional[CoreJob] = None
        self.instrument: Optional[str] = None  # None: each track's own General MIDI instrument

    def _state(self) -> None:
        self.stateChanged.emit(bool(self.notes), self.job is not None, self.audio is not None)

    def set_session(self, session: Optional[ModelSession]) -> None:
        self.session = session
        if session is not None and self.path is not None:
            self.open(self.path)

    def set_instrument(self, instrument: Optional[str]) -> None:
        self.instrument = instrument
        if self.path is not None:
            self.open(self.path)

    def open(self, path: Path) -> bool:
        s = self.session
        if s is None:
            return False
        warnings: list[str] = []
        ranges = {i: s.instrument_range(i) for i in s.instruments}
        try:
            notes = notes_for_model(path, s.instruments, s.dynamics, ranges, self.instrument, warn=warnings.append)
        except GlissandoError as exc:
            self.notice.emit(str(exc), True)
            return False
        self.path, self.notes, self.audio = Path(path), notes, None
        self.fileOpened.emit(self.path, notes, warnings)
        self._state()
        self.settings.add_recent(str(path))
        return True

    def render(self, then: Optional[Callable[[np.ndarray], None]] = None,
               interpolation: Optional[str] = None) -> Optional[CoreJob]:
        if not self.notes or self.session is None or self.job is not None:
            return None
        settings = render_settings(self.settings, interpolation)

        def done(audio: np.ndarray) -> None:
            self.audio = audio
            if then is not None:
                then(audio)

        def ended() -> None:
            self.job = None
            self._state()

        self.job = CoreJob(render_notes, self.session, list(self.notes), settings, name="Rendering the MIDI file",
                           kind="midi", session=self.session)
        self._state()
        return self.runner.start(self.job, on_success=done, on_failure=lambda text: self.notice.emit(text, True),
                                 on_progress=self.progress.emit, on_end=ended,
                                 on_cancel=lambda: self.notice.emit("Render cancelled", False))

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def play(self, interpolation: Optional[str] = None) -> None:
        if self.audio is not None:
            self.rendered.emit(self.audio)
        elif self.notes:
            self.render(then=self.rendered.emit, interpolation=interpolation)

    def export(self, path: Path, interpolation: Optional[str] = None) -> None:
        """Write the render (rendering first when needed) as WAV, atomically, at the export level of the
        preferences (the render kept for playback is not normalized)."""
        if not self.notes or self.session is None:
            self.notice.emit("Open a MIDI file first: nothing to export.", True)
            return
        rate = self.session.spectral.sample_rate
        peak_db = export_peak_db(self.settings)

        def write(audio: np.ndarray) -> None:
            try:
                write_wav(path, audio, rate, force=True, peak_db=peak_db)
                self.notice.emit(f"Wrote {path}", False)
            except GlissandoError as exc:
                self.notice.emit(str(exc), True)

        if self.audio is not None:
            write(self.audio)
        else:
            self.render(then=write, interpolation=interpolation)
