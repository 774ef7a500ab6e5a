"""The cursor in latent space: where it is, what it decodes to, picked notes and chords, and the mod wheel.

Moving the cursor is instant (a linear projection); decoding it (spectrum and label posteriors) runs
on the decoder thread, throttled to what the eye follows, and the newest position always wins.

A chord (or a duet) is held here, not in the Labels panel: the panel shows it and asks for changes, so the
same held notes drive the window, scripts and tests.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
from PySide6.QtCore import QObject, Signal
from superqt.utils import QSignalThrottler

from glissando.core.cli import MAX_CHORD_NOTES
from glissando.core.descriptors import descriptor_step
from glissando.core.errors import GlissandoError
from glissando.core.midi import Note
from glissando.core.render import render_notes
from glissando.core.session import ModelSession
from glissando.core.units import note_name

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
    noteRendered = Signal(object)  # audio of a picked note or chord
    # The held chord changed, or a change was refused: (held notes [(midi, dynamics, instrument)] lowest first,
    # what the navigator shows for them or why a change was refused, whether that text is a refusal/warning)
    chordChanged = Signal(object, str, bool)
    notice = Signal(str, bool)

    def __init__(self, runner: JobRunner, decoder: JobRunner, live: LiveAudioController, settings: Settings,
                 parent: Optional[QObject] = None):
        super().__init__(parent)
        self.runner, self.decoder, self.live, self.settings = runner, decoder, live, settings
        self.session: Optional[ModelSession] = None
        self.cursor_latent: Optional[np.ndarray] = None
        self.mod_origin: Optional[np.ndarray] = None  # the last picked label set's latent
        self.chord: list[tuple[int, str, str]] = []  # the held notes, lowest first (the voice slots' order)
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
        # The held notes stay through a change of model; what the navigator can show of them may not.
        self.chordChanged.emit(list(self.chord), self.chord_caption(), self._beyond_voices())
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
        self.in_background(session.label_distribution, midi, dynamics, instrument,
                           then=lambda d: self._place(session, d, seed=midi))
        self._sound(session, [(midi, dynamics, instrument)], "Playing the note")

    def _place(self, session: ModelSession, distribution, seed: int) -> None:
        """The cursor on a label set's posterior mean, a cloud of its samples shown around it."""
        if self.session is not session:  # placed for a model closed meanwhile
            return
        mean, std = distribution
        self.mod_origin = mean
        rng = np.random.default_rng(seed)
        samples = mean + std * rng.standard_normal((TARGET_SAMPLES, len(mean))).astype(np.float32)
        self.targetShown.emit(session.project_3d(samples))
        self.set_cursor(mean, play=False)

    def _sound(self, session: ModelSession, notes: list[tuple[int, str, str]], name: str) -> Optional[CoreJob]:
        """Notes that start and end together, rendered on a worker as `synth --notes "C4+E4"` renders a chord:
        overlapping notes go to separate voices, each reconstructed on its own, then mixed."""
        timed = [Note(0.0, NOTE_SECONDS, midi, dynamics, instrument) for midi, dynamics, instrument in notes]
        job = CoreJob(render_notes, session, timed, render_settings(self.settings), name=name, kind="note",
                      session=session)
        return self.runner.start(job, on_success=self.noteRendered.emit, on_failure=self._failed)

    # -- chords ------------------------------------------------------------------------------------
    def _beyond_voices(self) -> bool:
        s = self.session
        return s is not None and s.voices > 1 and len(self.chord) > s.voices

    def chord_caption(self) -> str:
        """What the navigator shows for the held notes with the current model, in a sentence."""
        s, n = self.session, len(self.chord)
        if s is None or n < 2:
            return ""
        if s.voices == 1:
            # The lowest note rather than the mean of the notes' latents: a single-note model never saw a mix, and
            # a blend of two notes' latents decodes to one note between them (the pitch grid's blends pass every
            # semitone in order: C4 and G4 average to about an E), which no one asked for. The lowest note is
            # also the first voice slot of a mixture model (slots lowest first), so the cursor goes where that
            # model's reading of the chord starts.
            return (f"This model hears one note at a time: the navigator shows the lowest note, "
                    f"{note_name(self.chord[0][0])}. Play sounds all {n}.")
        if n > s.voices:
            return (f"{n} notes are beyond this model's {s.voices} voices: Play sounds them, but the navigator "
                    f"cannot place a chord of more than {s.voices} notes.")
        return f"The navigator shows the chord's own latent (this model hears up to {s.voices} notes at once)."

    def _chord_changed(self) -> None:
        self.chordChanged.emit(list(self.chord), self.chord_caption(), self._beyond_voices())

    def _chord_refused(self, text: str) -> None:
        self.chordChanged.emit(list(self.chord), text, True)
        self.notice.emit(text, True)

    def add_to_chord(self, midi: int, dynamics: str, instrument: str) -> bool:
        """Hold one more note, each with its own dynamics and instrument. Refused, with the reason in the panel
        and the banner: a chord of MAX_CHORD_NOTES already (the limit of `synth --notes`), a note the
        instrument cannot play (the note named), the same note of the same instrument twice."""
        session = self.session
        if session is None:
            return False
        name = f"{note_name(midi)} {instrument.replace('_', ' ')}"
        if len(self.chord) >= MAX_CHORD_NOTES:
            self._chord_refused(f"A chord holds at most {MAX_CHORD_NOTES} notes: {name} was not added.")
            return False
        try:
            session.check_note(midi, dynamics, instrument)
        except GlissandoError as exc:
            self._chord_refused(f"{name} was not added: {exc}")
            return False
        if any(m == midi and i == instrument for m, _, i in self.chord):
            self._chord_refused(f"{name} is held already.")
            return False
        self.chord.append((midi, dynamics, instrument))
        self.chord.sort(key=lambda n: n[0])  # lowest first, as the voice slots are, stable for a unison
        self._chord_changed()
        return True

    def remove_from_chord(self, index: int) -> None:
        if 0 <= index < len(self.chord):
            del self.chord[index]
            self._chord_changed()

    def clear_chord(self) -> None:
        self.chord = []
        self._chord_changed()

    def play_chord(self) -> Optional[CoreJob]:
        """The held notes sound together, and the cursor goes to the mixture's latent: the symbol encoder's
        posterior of the whole label set for a mixture model; the lowest note's for a single-note model
        (chord_caption says why). A chord beyond a mixture model's voices sounds, but the cursor stays, and the
        panel says why. Returns the render job (None if nothing sounds)."""
        session, chord = self.session, list(self.chord)
        if session is None or not chord:
            return None
        try:
            for midi, dynamics, instrument in chord:
                session.check_note(midi, dynamics, instrument)  # held under another model, perhaps
        except GlissandoError as exc:
            self._chord_refused(str(exc))
            return None
        self.live.release(glide=0.02)
        seed = chord[0][0]
        if session.voices == 1 or len(chord) == 1:
            self.in_background(session.label_distribution, *chord[0], then=lambda d: self._place(session, d, seed))
        elif len(chord) <= session.voices:
            self.in_background(session.chord_distribution, chord, then=lambda d: self._place(session, d, seed))
        else:
            self._chord_refused(f"A chord of {len(chord)} notes is beyond this model's {session.voices} voices: "
                                f"the navigator shows at most {session.voices} notes at once (the chord still "
                                "sounds).")
        return self._sound(session, chord, "Playing the chord")

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
