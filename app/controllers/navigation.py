"""The cursor in latent space: where it is, what it decodes to, picked notes and the mod wheel.

Moving the cursor is instant (a linear projection); decoding it (spectrum and label posteriors) runs
on the decoder thread, throttled to what the eye follows, and the newest position always wins.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
from PySide6.QtCore import QObject, Signal
from superqt.utils import QSignalThrottler

from glissando.core.descriptors import descriptor_step
from glissando.core.errors import GlissandoError
from glissando.core.midi import Note
from glissando.core.render import render_notes
from glissando.core.session import ModelSession

from ..settings import Settings, render_settings
from ..workers import CoreJob, JobRunner, LatestOnly
from .live_audio import LiveAudioController

CURSOR_GLIDE = 0.03  # seconds: the sound follows the hand without zipper noise between mouse events
DECODE_INTERVAL_MS = 30  # the views' refresh while dragging: about what the eye follows
NOTE_SECONDS = 0.8
TARGET_SAMPLES = 300
# One "brighter" / "louder" press moves the cursor this far in latent units: about a quarter of the spread of
# one label set's posterior, a change one hears without leaving the neighbourhood the ear was in.
DESCRIPTOR_STEP = 0.25


def _decode_view(session: ModelSession, latent: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    z = latent[None]
    return (session.bin_frequencies(), session.decode_magnitudes(z)[0],
            {family: p[0] for family, p in session.decode_symbols(z).items()})


class NavigationController(QObject):
    cursorMoved = Signal(object)  # the cursor's 3-D point, at once
    viewChanged = Signal(object)  # the LatentView now shown
    cursorDecoded = Signal(object, object, object)  # (bin frequencies, magnitudes, {family: probabilities})
    targetShown = Signal(object)  # 3-D samples of a picked note's posterior
    noteRendered = Signal(object)  # audio of a picked note
    notice = Signal(str, bool)

    def __init__(self, runner: JobRunner, decoder: JobRunner, live: LiveAudioController, settings: Settings,
                 parent: Optional[QObject] = None):
        super().__init__(parent)
        self.runner, self.decoder, self.live, self.settings = runner, decoder, live, settings
        self.session: Optional[ModelSession] = None
        self.cursor_latent: Optional[np.ndarray] = None
        self.mod_origin: Optional[np.ndarray] = None  # the last picked label set's latent
        self._decode = LatestOnly(decoder, "Decoding the cursor", self._decoded, self._failed, self)
        self._throttle = QSignalThrottler(parent=self)
        self._throttle.setTimeout(DECODE_INTERVAL_MS)
        self._throttle.triggered.connect(self._decode_now)

    def _failed(self, text: str) -> None:
        self.notice.emit(text, True)

    def _decoded(self, result) -> None:
        self.cursorDecoded.emit(*result)

    def _decode_now(self) -> None:
        if self.session is not None and self.cursor_latent is not None:
            self._decode.submit(_decode_view, self.session, self.cursor_latent, session=self.session)

    def in_background(self, fn: Callable, *args, then: Callable) -> None:
        """A short model call (a label's latent, a posterior) on the decoder thread, in order."""
        self.decoder.call(fn, *args, name="Encoding the labels", session=self.session, on_success=then,
                          on_failure=self._failed)

    def set_session(self, session: Optional[ModelSession], start: Optional[tuple[int, str, str]] = None) -> None:
        """A new current model: the cursor starts on ``start``'s label set, or on silence."""
        self.session, self.cursor_latent, self.mod_origin = session, None, None
        if session is None:
            return
        if start is None:
            self.in_background(session.silence_latent, then=lambda z: self.set_cursor(z, play=False))
        else:
            self.in_background(session.label_latent, *start, then=lambda z: self.set_cursor(z, play=False))

    def set_cursor(self, latent: np.ndarray, play: bool = True) -> None:
        if self.session is None:
            return
        self.cursor_latent = np.asarray(latent, dtype=np.float32)
        self.cursorMoved.emit(self.session.project_3d(self.cursor_latent[None])[0])
        if play:
            self.live.follow(self.cursor_latent, glide=CURSOR_GLIDE)
        self._throttle.throttle()

    def use_view(self, name: str) -> None:
        """Show the space through another view; the cursor stays on the same latent."""
        if self.session is None:
            return
        view = self.session.use_view(name)
        self.viewChanged.emit(view)
        if self.cursor_latent is not None:
            self.cursorMoved.emit(self.session.project_3d(self.cursor_latent[None])[0])

    def move_to(self, point_3d: np.ndarray) -> None:
        if self.session is not None and self.cursor_latent is not None:
            self.set_cursor(self.session.move_in_view(self.cursor_latent, point_3d))

    def play_cursor(self) -> None:
        if self.cursor_latent is not None:
            self.live.follow(self.cursor_latent)

    def pick(self, midi: int, dynamics: str, instrument: str) -> None:
        """A note chosen by its labels: the cursor goes to its posterior mean, and the note sounds."""
        session = self.session
        if session is None:
            return
        try:
            session.check_note(midi, dynamics, instrument)
        except GlissandoError as exc:
            self.notice.emit(str(exc), True)
            return
        self.live.release(glide=0.02)  # the picked note replaces whatever the cursor was holding

        def placed(distribution) -> None:
            mean, std = distribution
            self.mod_origin = mean
            rng = np.random.default_rng(midi)
            samples = mean + std * rng.standard_normal((TARGET_SAMPLES, len(mean))).astype(np.float32)
            self.targetShown.emit(session.project_3d(samples))
            self.set_cursor(mean, play=False)

        self.in_background(session.label_distribution, midi, dynamics, instrument, then=placed)
        note = Note(0.0, NOTE_SECONDS, midi, dynamics, instrument)
        job = CoreJob(render_notes, session, [note], render_settings(self.settings), name="Playing the note",
                      kind="note", session=session)
        self.runner.start(job, on_success=self.noteRendered.emit, on_failure=self._failed)

    def step(self, move: str, size: float = DESCRIPTOR_STEP) -> None:
        """One step of the cursor along a descriptor's local gradient ("brighter", "softer", ... of
        core.descriptors.MOVES). The gradient is decoded on the decoder thread, after any decode queued before
        it; the cursor then moves, plays and decodes as after any other move."""
        session, latent = self.session, self.cursor_latent
        if session is None or latent is None:
            return

        def arrived(z: np.ndarray) -> None:
            if self.session is session:  # not a step computed for a model closed meanwhile
                self.set_cursor(z)

        self.decoder.call(descriptor_step, session, latent.copy(), move, size, name=f"Moving {move}",
                          session=session, on_success=arrived, on_failure=self._failed)

    def set_mod_direction(self) -> None:
        """The mod wheel moves from the last picked label set towards where the cursor is now."""
        if self.cursor_latent is None or self.mod_origin is None:
            self.notice.emit("Pick a note first, then move the cursor where the mod wheel should lead.", False)
            return
        self.live.set_mod_direction(self.cursor_latent - self.mod_origin)
        self.notice.emit("The mod wheel now moves from the picked note towards this point.", False)
