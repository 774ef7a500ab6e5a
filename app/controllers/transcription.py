"""Audio transcribed by the current model: the job, and the notes it found."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, Signal

from glissando.core.errors import GlissandoError
from glissando.core.session import ModelSession
from glissando.core.spectral.overview import audio_overview
from glissando.core.transcribe import transcribe, write_notes

from ..settings import Settings
from ..workers import CoreJob, JobRunner


class TranscriptionController(QObject):
    busyChanged = Signal(bool)
    progress = Signal(int, int)
    transcribed = Signal(object, object, object, object, object)  # (path, overview, notes, posteriors, vocabulary)
    notice = Signal(str, bool)

    def __init__(self, runner: JobRunner, settings: Settings, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.runner, self.settings = runner, settings
        self.session: Optional[ModelSession] = None
        self.job: Optional[CoreJob] = None
        self.source: Optional[Path] = None
        self.notes: list = []

    def set_session(self, session: Optional[ModelSession]) -> None:
        self.session = session

    def open(self, path: Path) -> Optional[CoreJob]:
        s = self.session
        if s is None or self.job is not None:
            return None
        path = Path(path)

        def work(progress, cancel):
            overview = audio_overview(path, s.spectral, progress=progress, cancel=cancel)
            notes, post = transcribe(s, path, progress=progress, cancel=cancel)
            return overview, notes, post

        def done(result) -> None:
            overview, notes, post = result
            self.source, self.notes = path, notes
            self.transcribed.emit(path, overview, notes, post, s.vocabulary)
            self.settings.add_recent(str(path))
            if not notes:
                self.notice.emit(f"{path}: no notes found (everything is below the level of a note).", False)

        def ended() -> None:
            self.job = None
            self.busyChanged.emit(False)

        self.job = CoreJob(work, name=f"Transcribing {path.name}", kind="transcription", session=s)
        self.busyChanged.emit(True)
        return self.runner.start(self.job, on_success=done, on_failure=lambda text: self.notice.emit(text, True),
                                 on_progress=self.progress.emit, on_end=ended)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def export(self, path: Path, fmt: str) -> None:
        if self.source is None:
            return
        try:
            write_notes(self.notes, path, fmt, force=True)
            self.notice.emit(f"Wrote {path}", False)
        except GlissandoError as exc:
            self.notice.emit(str(exc), True)
