"""Sound design on one sound: its reconstructions for A/B listening, its timbre transfer, its latent path.

Opening a sound runs one job: the three versions of seed paper 000's A/B (original, NSGT inverse, the
model's reconstruction, each with its spectral convergence), the sound's latent path (for the navigator
and for keyframes) and its transcription (the notes the keyframes follow). A transfer is a second job and
adds a fourth version. Playback goes through the live engine as a clip, as a rendered note or MIDI render
does; the position shown while a version plays is the wall-clock time since it was sent (the engine reports
no clip position; its latency is a few blocks, under what a marker in the 3-D view shows).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from glissando.core.errors import GlissandoError
from glissando.core.midi import Note
from glissando.core.render import write_wav
from glissando.core.session import ModelSession
from glissando.core.trajectory import Keyframe
from glissando.core.transcribe import transcribe
from glissando.core.transfer import EXPRESSION, KEEP, SoundPath, Transfer, Version, reconstructions, sound_path
from glissando.core.transfer import VERSIONS as RECONSTRUCTIONS
from glissando.core.transfer import transfer as transfer_sound

from ..settings import Settings, export_peak_db, render_settings
from ..workers import CoreJob, JobRunner
from .live_audio import LiveAudioController

VERSIONS = (*RECONSTRUCTIONS, "transfer")
POSITION_MS = 33  # the playback marker's rate: 30 Hz, as the design asks of every GUI meter
# A keyframe taken from a note glides into the next one over this long: a played note changes within a few
# tens of milliseconds, and a longer glide would smear the melody the keyframes came from.
KEYFRAME_GLIDE = 0.04
# The part of a note whose latents make its keyframe: the attack and release sit near the neighbours'
# sounds (and the encoder's windows reach into them), the middle is the note itself.
NOTE_MIDDLE = (0.25, 0.75)


@dataclass
class _Opened:
    versions: list[Version]
    sound: SoundPath
    notes: list[Note]


def _open_sound(session: ModelSession, path: Path, settings: Any, progress, cancel) -> _Opened:
    """Reconstructions, latent path and notes of one sound, reported as one progress bar (in thousandths)."""

    def part(lo: float, hi: float):
        return lambda i, n, msg: progress(int(1000 * (lo + (hi - lo) * i / max(n, 1))), 1000, msg)

    sound = sound_path(session, path, progress=part(0.0, 0.1), cancel=cancel)
    versions = reconstructions(session, path, settings, progress=part(0.1, 0.9), cancel=cancel, sound=sound)
    notes, _ = transcribe(session, path, progress=part(0.9, 1.0), cancel=cancel)
    return _Opened(versions, sound, notes)


def keyframes_from_notes(sound: SoundPath, notes: list[Note], glide: float = KEYFRAME_GLIDE) -> list[Keyframe]:
    """One keyframe per note: the mean latent over the middle of the note, held until the next note starts
    (the last one for its own length), then a short glide into the next one."""
    keyframes = []
    ordered = sorted(notes, key=lambda n: n.start)
    for k, n in enumerate(ordered):
        lo = n.start + NOTE_MIDDLE[0] * n.duration
        hi = n.start + NOTE_MIDDLE[1] * n.duration
        inside = (sound.times >= lo) & (sound.times <= hi)
        if inside.any():
            latent = sound.latents[inside].mean(axis=0)
        else:  # a note shorter than the frame step: the path at its middle
            latent = sound.at(np.array([(lo + hi) / 2]))[0]
        slot = (ordered[k + 1].start - n.start) if k + 1 < len(ordered) else n.duration
        slot = max(slot, 0.02)
        label = {"midi": n.midi, "dynamics": n.dynamics, "instrument": n.instrument}
        keyframes.append(Keyframe(np.asarray(latent, dtype=np.float32), float(slot), label, min(glide, slot / 2)))
    return keyframes


class SoundDesignController(QObject):
    busyChanged = Signal(bool)
    progress = Signal(int, int)
    opened = Signal(object, float, int)  # (path, duration in seconds, number of notes heard)
    versionsChanged = Signal(object)  # {version name: spectral convergence, or None where it has none}
    transferred = Signal(str, object)  # (target instrument, warnings of the transfer)
    soundPathReady = Signal(object, object)  # (times (T,), latents (T, latent_dim)); (None, None) when cleared
    playingChanged = Signal(str)  # the version playing, "" when stopped
    playbackPosition = Signal(float)  # seconds into the version playing, at 30 Hz while it plays
    keyframesReady = Signal(list)  # core.trajectory.Keyframe objects, one per heard note
    notice = Signal(str, bool)

    def __init__(self, runner: JobRunner, live: LiveAudioController, settings: Settings,
                 parent: Optional[QObject] = None):
        super().__init__(parent)
        self.runner, self.live, self.settings = runner, live, settings
        self.session: Optional[ModelSession] = None
        self.job: Optional[CoreJob] = None
        self.source: Optional[Path] = None
        self.versions: dict[str, Version] = {}
        self.sound: Optional[SoundPath] = None
        self.notes: list[Note] = []
        self.result: Optional[Transfer] = None
        self.target: Optional[tuple[str, str, str, float]] = None  # (instrument, dynamics, method, expression)
        self.selected = "original"
        self.playing = ""
        self._played_from = 0.0  # where in the version the clip playing now started
        self._started_at = 0.0  # time.monotonic() when it was sent
        self._reopen = False  # a new model came while a job ran: open the source again once it ends
        self.position_timer = QTimer(self)
        self.position_timer.setInterval(POSITION_MS)
        self.position_timer.timeout.connect(self._tick)

    # -- model and source ----------------------------------------------------------------------------
    def set_session(self, session: Optional[ModelSession]) -> None:
        """Another model hears the sound differently: everything but the source is computed again."""
        if session is self.session:
            return
        self.session = session
        self.stop()
        self._clear()
        if session is not None and self.source is not None:
            if self.job is not None:
                self._reopen = True
                self.job.cancel()
            else:
                self.open(self.source)

    def _clear(self) -> None:
        self.versions, self.sound, self.notes, self.result, self.target = {}, None, [], None, None
        self.versionsChanged.emit({})
        self.soundPathReady.emit(None, None)

    def open(self, path: Path) -> Optional[CoreJob]:
        s = self.session
        if s is None:
            self.notice.emit("No model is loaded: a sound needs one to be reconstructed.", True)
            return None
        if self.job is not None:
            self.notice.emit("Sound design is busy: cancel it or wait before opening another sound.", True)
            return None
        path = Path(path)
        settings = render_settings(self.settings)

        def done(opened: _Opened) -> None:
            self.stop()
            self.source, self.sound, self.notes = path, opened.sound, opened.notes
            self.versions = {v.name: v for v in opened.versions}
            self.result, self.target = None, None
            duration = len(opened.versions[0].audio) / s.spectral.sample_rate
            self.opened.emit(path, duration, len(opened.notes))
            self._emit_versions()
            self.soundPathReady.emit(opened.sound.times, opened.sound.latents)
            self.settings.add_recent(str(path))
            if not opened.notes:
                self.notice.emit(f"{path.name}: no notes heard; it can be played and compared, not transferred "
                                 "or taken as keyframes.", False)

        self.job = CoreJob(_open_sound, s, path, settings, name=f"Reconstructing {path.name}", kind="sound design",
                           session=s)
        self.busyChanged.emit(True)
        return self.runner.start(self.job, on_success=done, on_failure=lambda text: self.notice.emit(text, True),
                                 on_progress=self.progress.emit, on_end=self._ended)

    def transfer(self, instrument: str, dynamics: str = KEEP, method: str = "shift",
                 expression: float = EXPRESSION) -> Optional[CoreJob]:
        s, path = self.session, self.source
        if s is None or path is None:
            self.notice.emit("Open a sound first: there is nothing to transfer.", True)
            return None
        if self.job is not None:
            return None
        warnings: list[str] = []
        settings = render_settings(self.settings)

        def work(progress, cancel) -> Transfer:
            # warn() runs on the worker: the list is read on the GUI thread only after the job has returned.
            return transfer_sound(s, path, instrument, dynamics, method, expression, settings, progress=progress,
                            cancel=cancel, warn=warnings.append)

        def done(result: Transfer) -> None:
            if self.playing == "transfer":
                self.stop()
            self.result, self.target = result, (instrument, dynamics, method, expression)
            self.versions["transfer"] = Version("transfer", result.audio, float("nan"))
            self._emit_versions()
            self.transferred.emit(instrument, list(warnings))
            for text in warnings:
                self.notice.emit(text, False)

        self.job = CoreJob(work, name=f"Transferring {path.name} to {instrument.replace('_', ' ')}",
                           kind="sound design", session=s)
        self.busyChanged.emit(True)
        return self.runner.start(self.job, on_success=done, on_failure=lambda text: self.notice.emit(text, True),
                                 on_progress=self.progress.emit, on_end=self._ended,
                                 on_cancel=lambda: self.notice.emit("Sound design cancelled", False))

    def _ended(self) -> None:
        self.job = None
        self.busyChanged.emit(False)
        if self._reopen:
            self._reopen = False
            if self.session is not None and self.source is not None:
                self.open(self.source)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    @property
    def busy(self) -> bool:
        return self.job is not None

    def _emit_versions(self) -> None:
        # The transfer's convergence against the original would measure how far the timbre moved, not how
        # well anything was reconstructed: it has none (None), and the panel names its instrument instead.
        self.versionsChanged.emit({name: (None if name == "transfer" else v.convergence)
                                   for name, v in self.versions.items()})

    # -- listening -----------------------------------------------------------------------------------
    def select(self, which: str) -> None:
        """The A/B switch: while a version plays, the chosen one takes over at the same point of the sound."""
        if which not in VERSIONS:
            return
        self.selected = which
        if self.playing and self.playing != which and which in self.versions:
            self.play(which, self.position())

    def play(self, which: Optional[str] = None, start: float = 0.0) -> None:
        which = which or self.selected
        version = self.versions.get(which)
        if version is None or self.session is None:
            self.notice.emit(f"There is no {which} version to play yet.", True)
            return
        self.selected = which
        rate = self.session.spectral.sample_rate
        offset = min(max(int(start * rate), 0), len(version.audio))
        self.live.play_rendered(version.audio[offset:])
        if self.live.engine is None and self.live.starting is None:
            return  # playback is off; the live controller said why
        self.playing, self._played_from, self._started_at = which, offset / rate, time.monotonic()
        self.position_timer.start()
        self.playingChanged.emit(which)
        self.playbackPosition.emit(self._played_from)

    def stop(self) -> None:
        was_playing = bool(self.playing)
        self.position_timer.stop()
        self.playing = ""
        if was_playing:
            self.live.stop_sound()
            self.playingChanged.emit("")

    def position(self) -> float:
        """Seconds into the sound of the version playing (0 when none plays)."""
        if not self.playing:
            return 0.0
        return self._played_from + time.monotonic() - self._started_at

    def latent_at(self, seconds: float) -> Optional[np.ndarray]:
        """The sound's latent at a time (for the marker that follows playback); numpy only."""
        if self.sound is None:
            return None
        return self.sound.at(np.array([seconds]))[0]

    def _tick(self) -> None:
        version = self.versions.get(self.playing)
        if version is None or self.session is None:
            self.stop()
            return
        t = self.position()
        if t >= len(version.audio) / self.session.spectral.sample_rate:
            self.position_timer.stop()
            self.playing = ""
            self.playingChanged.emit("")
            return
        self.playbackPosition.emit(t)

    # -- results -------------------------------------------------------------------------------------
    def export(self, which: str, path: Path) -> Optional[Path]:
        """One version as WAV, atomically, at the export level of the preferences."""
        version = self.versions.get(which)
        if version is None or self.session is None:
            self.notice.emit(f"There is no {which} version to export yet.", True)
            return None
        try:
            written = write_wav(path, version.audio, self.session.spectral.sample_rate, force=True,
                                peak_db=export_peak_db(self.settings))
        except GlissandoError as exc:
            self.notice.emit(str(exc), True)
            return None
        self.notice.emit(f"Wrote {written}", False)
        return written

    def keyframes_from_path(self) -> list[Keyframe]:
        """The sound's notes as trajectory keyframes (see keyframes_from_notes), also sent as keyframesReady."""
        if self.sound is None or not self.notes:
            self.notice.emit("Open a sound with notes first: its keyframes come from the notes heard in it.", True)
            return []
        keyframes = keyframes_from_notes(self.sound, self.notes)
        self.keyframesReady.emit(keyframes)
        return keyframes
