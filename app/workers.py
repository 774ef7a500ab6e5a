"""Long core/ work on worker threads, reported back to the GUI thread through Qt signals.

superqt's WorkerBase does the thread plumbing (started / returned / errored / finished signals, an
abort flag); a CoreJob adds what core/ functions speak: a ``progress(done, total, message)`` callback
that becomes a signal and a ``cancel()`` predicate that reads the abort flag the Cancel button sets.
Failures reach the GUI as the exception object itself (``errored``); ``describe_failure`` turns it
into the sentence the user reads.
"""
from __future__ import annotations

import logging
import traceback
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, QThreadPool, Signal
from superqt.utils import WorkerBase
from superqt.utils._qthreading import WorkerBaseSignals

from glissando.core.errors import Cancelled, GlissandoError
from glissando.core.session import SessionClosed

log = logging.getLogger(__name__)


class CoreJobSignals(WorkerBaseSignals):
    progress = Signal(int, int, str)
    cancelled = Signal()


class CoreJob(WorkerBase):
    """Runs ``fn(*args, progress=..., cancel=..., **kwargs)`` (or plain ``fn(*args)`` without callbacks).

    ``kind`` names the feature the job belongs to ("midi", "transcription", ...); ``session`` is the
    model it runs on, so closing that model can cancel it first.
    """

    def __init__(self, fn: Callable, *args: Any, name: str = "job", kind: str = "", session: Any = None,
                 with_callbacks: bool = True, **kwargs: Any):
        super().__init__(SignalsClass=CoreJobSignals)
        self.setAutoDelete(False)  # the runner keeps it until its signals have been delivered
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.name, self.kind, self.session = name, kind, session
        self.with_callbacks = with_callbacks

    def cancel(self) -> None:
        self.quit()

    @property
    def is_cancelled(self) -> bool:
        return self.abort_requested

    def work(self) -> Any:
        kwargs = dict(self.kwargs)
        if self.with_callbacks:
            kwargs.update(progress=lambda done, total, message="": self.progress.emit(int(done), int(total), message),
                          cancel=lambda: self.abort_requested)
        try:
            result = self.fn(*self.args, **kwargs)
        except (Cancelled, SessionClosed):  # a model closed under a job ends it like a Cancel, not as an error
            self._abort_requested = True  # WorkerBase then delivers no result
        if self.abort_requested:
            self.cancelled.emit()
            return None
        return result


def describe_failure(job_name: str, exc: BaseException) -> str:
    """What the user reads when a job fails: their input's problem as is, a bug with its type."""
    if isinstance(exc, GlissandoError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return f"{job_name}: out of memory"
    log.error("%s failed:\n%s", job_name, "".join(traceback.format_exception(exc)))
    return f"{job_name} failed unexpectedly: {type(exc).__name__}: {exc}"


class JobRunner(QObject):
    """Starts jobs on its own pool, remembers the running ones, cancels and waits for them at close."""

    jobEnded = Signal(str)  # the kind of a job that ended (done, failed or cancelled)

    def __init__(self, parent: Optional[QObject] = None, max_threads: int = 4):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self.jobs: list[CoreJob] = []
        self.closed = False

    def start(self, job: CoreJob, on_success: Optional[Callable[[Any], None]] = None,
              on_failure: Optional[Callable[[str], None]] = None,
              on_progress: Optional[Callable[[int, int], None]] = None,
              on_cancel: Optional[Callable[[], None]] = None, on_end: Optional[Callable[[], None]] = None) -> CoreJob:
        if on_success:
            job.returned.connect(on_success)
        if on_failure:
            job.errored.connect(lambda exc, name=job.name: on_failure(describe_failure(name, exc)))
        if on_progress:
            job.progress.connect(lambda done, total, _message: on_progress(done, total))
        if on_cancel:
            job.cancelled.connect(on_cancel)
        if on_end:
            job.finished.connect(on_end)
        job.finished.connect(lambda j=job: self._forget(j))
        if self.closed:  # the window is closing: a job started now (a queued follow-up) would outlive it
            job.cancel()
            return job
        self.jobs.append(job)
        self.pool.start(job)
        return job

    def call(self, fn: Callable, *args: Any, name: str, session: Any = None,
             on_success: Optional[Callable[[Any], None]] = None,
             on_failure: Optional[Callable[[str], None]] = None,
             on_end: Optional[Callable[[], None]] = None) -> CoreJob:
        """A short model call that takes no progress or cancel callbacks (a decode, a label's latent)."""
        job = CoreJob(fn, *args, name=name, kind="decode", session=session, with_callbacks=False)
        return self.start(job, on_success=on_success, on_failure=on_failure, on_end=on_end)

    def _forget(self, job: CoreJob) -> None:
        if job in self.jobs:
            self.jobs.remove(job)
        self.jobEnded.emit(job.kind)

    @property
    def busy(self) -> bool:
        return bool(self.jobs)

    def cancel_on(self, session: Any) -> list[CoreJob]:
        """Cancel every job running on ``session``; returns them."""
        jobs = [j for j in self.jobs if j.session is session]
        for job in jobs:
            job.cancel()
        return jobs

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Cancel every job and wait for the pool to empty; True when it did within the timeout.
        No job starts afterwards."""
        self.closed = True
        for job in list(self.jobs):
            job.cancel()
        return self.pool.waitForDone(timeout_ms)


class LatestOnly(QObject):
    """Runs one call at a time on ``runner`` and, while one runs, keeps only the newest request.

    For views that follow the user's hand (cursor decoding, trajectory previews): a drag queues at
    most one more decode, so the result shown is never older than the previous one and the worker
    never falls behind the mouse.
    """

    def __init__(self, runner: JobRunner, name: str, on_result: Callable[[Any], None],
                 on_failure: Optional[Callable[[str], None]] = None, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.runner, self.name = runner, name
        self.on_result, self.on_failure = on_result, on_failure
        self.running: Optional[CoreJob] = None
        self.pending: Optional[tuple[Callable, tuple, Any]] = None

    def submit(self, fn: Callable, *args: Any, session: Any = None) -> None:
        self.pending = (fn, args, session)
        if self.running is None:
            self._start_pending()

    def _start_pending(self) -> None:
        if self.pending is None:
            return
        fn, args, session = self.pending
        self.pending = None
        self.running = self.runner.call(fn, *args, name=self.name, session=session, on_success=self.on_result,
                                        on_failure=self.on_failure, on_end=self._ended)

    def _ended(self) -> None:
        self.running = None
        self._start_pending()
