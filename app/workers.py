"""Long core/ work on a thread pool, reported back to the GUI thread through Qt signals.

core/ functions take plain ``progress`` and ``cancel`` callables; a Job adapts them: progress becomes
a signal, cancel reads a flag the Cancel button sets. Signals emitted on a pool thread reach their
GUI-thread slots queued, so the event loop keeps running while the work goes on.
"""
from __future__ import annotations

import logging
import threading
import traceback
from typing import Callable, Optional

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from glissando.core.jobs import Cancelled, GlissandoError

log = logging.getLogger(__name__)


class JobSignals(QObject):
    progress = Signal(int, int, str)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    ended = Signal()  # after any of the three above


class Job(QRunnable):
    """Runs ``fn(*args, progress=..., cancel=..., **kwargs)``; ``fn`` may also ignore both."""

    def __init__(self, fn: Callable, *args, name: str = "job", with_callbacks: bool = True, **kwargs):
        super().__init__()
        self.setAutoDelete(False)  # the runner keeps it until its signals have been delivered
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.name = name
        self.with_callbacks = with_callbacks
        self.signals = JobSignals()
        self._cancel = threading.Event()
        self.done = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:
        try:
            kwargs = dict(self.kwargs)
            if self.with_callbacks:
                kwargs.update(progress=lambda done, total, message="": self.signals.progress.emit(int(done), int(total), message),
                              cancel=self._cancel.is_set)
            result = self.fn(*self.args, **kwargs)
            if self._cancel.is_set():
                raise Cancelled()
            self.signals.succeeded.emit(result)
        except Cancelled:
            self.signals.cancelled.emit()
        except GlissandoError as exc:
            self.signals.failed.emit(str(exc))
        except MemoryError:
            self.signals.failed.emit(f"{self.name}: out of memory")
        except Exception as exc:  # a bug: report it in the window instead of losing it on a pool thread
            log.error("%s failed:\n%s", self.name, traceback.format_exc())
            self.signals.failed.emit(f"{self.name} failed unexpectedly: {type(exc).__name__}: {exc}")
        finally:
            self.done.set()
            self.signals.ended.emit()


class JobRunner(QObject):
    """Starts jobs, remembers the running ones, cancels and waits for all of them at close."""

    def __init__(self, parent: Optional[QObject] = None, max_threads: int = 4):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self.jobs: list[Job] = []
        self.closed = False

    def start(self, job: Job, on_success: Optional[Callable] = None, on_failure: Optional[Callable] = None,
              on_progress: Optional[Callable] = None, on_cancel: Optional[Callable] = None,
              on_end: Optional[Callable] = None) -> Job:
        if on_success:
            job.signals.succeeded.connect(on_success)
        if on_failure:
            job.signals.failed.connect(on_failure)
        if on_progress:
            job.signals.progress.connect(on_progress)
        if on_cancel:
            job.signals.cancelled.connect(on_cancel)
        if on_end:
            job.signals.ended.connect(on_end)
        job.signals.ended.connect(lambda j=job: self._forget(j))
        if self.closed:  # the window is closing: a job started now (a queued follow-up) would outlive it
            job.cancel()
            return job
        self.jobs.append(job)
        self.pool.start(job)
        return job

    def _forget(self, job: Job) -> None:
        if job in self.jobs:
            self.jobs.remove(job)

    @property
    def busy(self) -> bool:
        return any(not j.done.is_set() for j in self.jobs)

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Cancel every job and wait for the pool to empty; True when it did within the timeout.
        No job starts afterwards."""
        self.closed = True
        for job in list(self.jobs):
            job.cancel()
        return self.pool.waitForDone(timeout_ms)
