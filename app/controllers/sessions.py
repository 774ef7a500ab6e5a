"""The open models: loading them off the GUI thread, which one is current, closing them safely."""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject, QTimer, Signal

from glissando.core.session import ModelSession
from glissando.core.views import label_view

from ..settings import Settings
from ..workers import CoreJob, JobRunner

# What the launch leaves out waits until this long after the first model is in: the window's first frames
# with the model come first.
DEFERRED_IMPORTS_MS = 500


def _load(path: Optional[str], device: str) -> ModelSession:
    session = ModelSession(path, device)
    # The live engine starts on silence: encoded here, on the loading worker, the GUI thread finds it cached.
    session.silence_latent()
    # The navigator opens on the view a musician can play (pitch up, instruments across); its label sets are
    # encoded here too.
    session.add_view(label_view(session))
    session.use_view("labels")
    return session


def _import_deferred() -> None:
    """What the launch leaves out because the window does not need it to show (scipy.fft, for the render's
    transforms): imported on a worker once the model is in, so that the first note does not wait for it."""
    import scipy.fft  # noqa: F401


class SessionsController(QObject):
    currentChanged = Signal(object)  # the current ModelSession, or None when the last one closed
    sessionsChanged = Signal()  # the list of open models changed
    notice = Signal(str, bool)  # (text, is_error)

    def __init__(self, runner: JobRunner, settings: Settings, parent: Optional[QObject] = None,
                 other_runners: tuple[JobRunner, ...] = ()):
        super().__init__(parent)
        self.runner, self.settings = runner, settings
        self.runners = (runner, *other_runners)  # every runner whose jobs may hold a model
        self.sessions: list[ModelSession] = []
        self.current: Optional[ModelSession] = None
        self.loading = 0
        self.deferred_imported = False

    def titles(self) -> list[str]:
        """One line per open model; the same model opened twice is told apart by a number."""
        titles: list[str] = []
        for s in self.sessions:
            title = f"{s.path.parent.name} ({s.device.type})"
            copies = sum(t == title or t.startswith(title + " #") for t in titles)
            titles.append(f"{title} #{copies + 1}" if copies else title)
        return titles

    def open(self, path: Optional[str] = None, device: str = "auto", remember: bool = True) -> CoreJob:
        """Load a model (the shipped default when ``path`` is None) on a worker; it becomes current."""
        self.loading += 1

        def loaded(session: ModelSession) -> None:
            self.sessions.append(session)
            if remember and path:
                self.settings.set("model/last", str(session.path))
                self.settings.add_recent(str(session.path))
            self.sessionsChanged.emit()
            self.use(session)
            if not self.deferred_imported:
                self.deferred_imported = True
                QTimer.singleShot(DEFERRED_IMPORTS_MS, self, lambda: self.runner.start(CoreJob(
                    _import_deferred, name="Importing", kind="imports", with_callbacks=False)))

        def failed(text: str) -> None:
            self.notice.emit(text, True)
            if not self.sessions and path:  # the remembered model is gone or damaged: fall back to the default
                self.settings.set("model/last", "")
                self.open(None, device, remember=False)

        def ended() -> None:
            self.loading -= 1
            self.sessionsChanged.emit()

        job = CoreJob(_load, path, device, name="Loading the model", kind="model", with_callbacks=False)
        return self.runner.start(job, on_success=loaded, on_failure=failed, on_end=ended)

    def use(self, session: ModelSession) -> None:
        self.current = session
        self.currentChanged.emit(session)

    def use_index(self, index: int) -> None:
        if 0 <= index < len(self.sessions) and self.sessions[index] is not self.current:
            self.use(self.sessions[index])

    def close_session(self, index: int) -> None:
        """Close a model: the jobs running on it are cancelled and waited for first, so none of them
        finds its model gone mid-way."""
        if not 0 <= index < len(self.sessions):
            return
        session = self.sessions.pop(index)
        for runner in self.runners:
            runner.cancel_on(session)
        if session is self.current:
            self.current = None
            self.currentChanged.emit(None)  # the engine and other consumers let go of it first
        session.close()
        self.sessionsChanged.emit()
        if self.sessions:
            self.use(self.sessions[min(index, len(self.sessions) - 1)])

    def close_all(self) -> None:
        for session in self.sessions:
            session.close()
        self.sessions = []
        self.current = None
