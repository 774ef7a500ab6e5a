"""Live sound: one real-time engine per current model, the MIDI keyboard feeding it, and their state.

The engine and the MIDI input run on their own threads; what they report reaches the GUI thread
through superqt's ``ensure_main_thread``, and the playback meter is read at a human rate (every
half second) rather than signalled per audio block.

Starting an engine (PortAudio's device scan, spawning the synthesis process and waiting for its first
answer) takes 0.5-3 s, so it runs on the controller's own worker while the window shows "starting
audio". Controls that arrive meanwhile are kept, the newest of each kind, and played once the engine is
up: the cursor's newest target (dropped by a release), the newest clip or trajectory (dropped by Stop),
the MIDI port chosen.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Optional

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from superqt.utils import ensure_main_thread

from glissando.core.playback import (
    AudioUnavailable,
    EngineSettings,
    LiveEngine,
    MidiNotes,
    MidiUnavailable,
    input_ports,
    output_devices,
)
from glissando.core.session import ModelSession
from glissando.core.spectral import SAMPLE_RATE

from ..settings import Settings
from ..workers import CoreJob, JobRunner, describe_failure

BLOCK_SIZES = (128, 256, 512, 1024)
LATENCY_BLOCKS = (1, 2, 3, 4)
TRAJECTORY_RELEASE = 0.08  # seconds of fade after a trajectory played live
METER_MS = 500
PORT_CHECK_MS = 2000
CLOSE_WAIT_MS = 10000  # what closing waits for an engine that is starting (its start's own limit is shorter)


class _Start:
    """One attempt to start an engine on the worker. The controller gives an attempt up (a newer start,
    a stop, the window closing) at any time; whoever comes second, the worker finishing the start or
    the controller giving up, stops the engine, so an engine is never left playing with nobody holding it."""

    def __init__(self, session: ModelSession):
        self.session = session
        self.lock = threading.Lock()
        self.engine: Optional[LiveEngine] = None
        self.abandoned = False
        self.no_device = False  # PortAudio found no output device: later starts need not try
        self.devices_listed = False  # PortAudio listed the devices: later starts need not list them again

    def keep(self, engine: LiveEngine) -> bool:
        """Worker: hand the started engine over; False if the attempt was given up meanwhile."""
        with self.lock:
            if self.abandoned:
                return False
            self.engine = engine
            return True

    def take(self) -> Optional[LiveEngine]:
        """GUI thread: end the attempt; its engine if it had started one (the caller keeps or stops it)."""
        with self.lock:
            self.abandoned = True
            engine, self.engine = self.engine, None
        return engine


def _start_engine(attempt: _Start, make: Callable[[], LiveEngine], list_devices: Optional[Callable]) -> None:
    if list_devices is not None:
        try:
            list_devices()  # sounddevice's import and PortAudio's device scan: the first start pays for them
        except AudioUnavailable:
            attempt.no_device = True
            raise
        attempt.devices_listed = True
    engine = make()
    engine.start()
    if not attempt.keep(engine):
        engine.stop()


class LiveAudioController(QObject):
    audioRendered = Signal(object)  # (audio, sample_rate): rendered audio just sent to the speakers
    started = Signal()  # an engine started and plays (start_for runs on a worker)
    stateChanged = Signal(str, str)  # (status text, tooltip)
    portsListed = Signal(list, str, str)  # (port names, notice, current port)
    midiStatus = Signal(str)  # what the live MIDI input is doing
    notice = Signal(str, bool)

    def __init__(self, settings: Settings, stream_factory: Optional[Callable] = None,
                 list_devices: Callable = output_devices, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.settings, self.stream_factory = settings, stream_factory
        self.list_devices = list_devices
        self.engine: Optional[LiveEngine] = None
        self.starting: Optional[_Start] = None  # the engine being started on the worker
        self.runner = JobRunner(self, max_threads=1)  # one start at a time: a restart waits for the one before
        self.devices_checked = stream_factory is not None  # a given stream needs no sound card
        # Controls that came while the engine started, the newest of each kind (see the module's docstring).
        self.pending_target: Optional[tuple[np.ndarray, Optional[float]]] = None
        self.pending_sound: Optional[tuple[Any, ...]] = None
        self.pending_port: Optional[str] = None
        self.sample_rate = SAMPLE_RATE  # the current model's, once one is in
        self.midi_in: Optional[MidiNotes] = None
        self.instrument = ""
        self.mod_direction: Optional[np.ndarray] = None
        self.audio_notice = ""
        self.no_audio_device = False  # no PortAudio or no output device: do not try at every click
        self.meter_timer = QTimer(self)
        self.meter_timer.timeout.connect(self.report_state)
        self.meter_timer.start(METER_MS)
        self.port_timer = QTimer(self)
        self.port_timer.timeout.connect(self._check_port)
        self.port_timer.start(PORT_CHECK_MS)

    @ensure_main_thread
    def _engine_notice(self, text: str) -> None:
        self.notice.emit(text, "lost" in text or "outside" in text)

    # -- the engine ----------------------------------------------------------------------------------
    def engine_settings(self) -> EngineSettings:
        # A hand-edited settings file must not keep the engine from starting: only the dialog's choices.
        block = self.settings.get("audio/block")
        latency = self.settings.get("audio/latency_blocks")
        return EngineSettings(block=block if block in BLOCK_SIZES else 256,
                              latency_blocks=latency if latency in LATENCY_BLOCKS else 2,
                              held_loops=bool(self.settings.get("audio/held_loops")),
                              interpolation=self.settings.get("render/interpolation"))

    @property
    def session(self) -> Optional[ModelSession]:
        """The model the engine plays, or is starting for; None without either."""
        if self.starting is not None:
            return self.starting.session
        return self.engine.session if self.engine is not None else None

    def start_for(self, session: Optional[ModelSession]) -> None:
        """(Re)open the engine on ``session`` with the current preferences, on the worker; None stops it.
        ``started`` is emitted once the engine plays."""
        port = self.pending_port or (self.midi_in.port_name if self.midi_in is not None else None)
        self.stop()
        if session is not None:
            self.sample_rate = session.spectral.sample_rate
        if session is None or self.no_audio_device or self.runner.closed:
            self.report_state()
            return
        device = self.settings.get("audio/device")
        settings, factory, notice = self.engine_settings(), self.stream_factory, self._engine_notice

        def make() -> LiveEngine:
            return LiveEngine(session, settings, stream_factory=factory, device=None if device < 0 else device,
                              on_notice=notice)

        attempt = self.starting = _Start(session)
        self.pending_port = port  # the keyboard keeps playing, into the new engine once it is up
        job = CoreJob(_start_engine, attempt, make, None if self.devices_checked else self.list_devices,
                      name="Starting audio", kind="audio", session=session, with_callbacks=False)
        job.errored.connect(lambda exc: self._start_failed(attempt, exc))
        self.runner.start(job, on_end=lambda: self._start_ended(attempt))
        self.report_state()

    def _start_failed(self, attempt: _Start, exc: BaseException) -> None:
        if attempt.no_device:
            self.no_audio_device = True
        if attempt is self.starting:
            self.audio_notice = str(exc) if isinstance(exc, AudioUnavailable) else describe_failure("Audio", exc)

    def _start_ended(self, attempt: _Start) -> None:
        self.devices_checked = self.devices_checked or attempt.devices_listed
        if attempt is not self.starting:
            return  # given up: stop() took it, and stopped its engine if it had one
        self.starting = None
        engine = attempt.take()
        if engine is not None:
            self.engine, self.audio_notice = engine, ""
            sound, target, port = self.pending_sound, self.pending_target, self.pending_port
            self.pending_sound = self.pending_target = self.pending_port = None
            if sound is not None and sound[0] == "clip":
                engine.play_clip(sound[1])
            elif sound is not None:
                self.play_path(*sound[1:])
            if target is not None:
                engine.set_target(target[0], glide=target[1])
            if port:
                self.open_port(port)
            self.started.emit()
        else:  # failed (the notice is set) or cancelled: what was waiting for it is dropped
            self.pending_sound = self.pending_target = self.pending_port = None
        self.report_state()

    def stop(self) -> None:
        if self.midi_in is not None:
            self.midi_in.close()
            self.midi_in = None
        attempt, self.starting = self.starting, None
        if attempt is not None:
            late = attempt.take()  # started, but its end has not reached this thread yet
            if late is not None:
                late.stop()
        self.pending_sound = self.pending_target = self.pending_port = None
        engine, self.engine = self.engine, None
        if engine is not None:
            engine.stop()

    def shutdown(self, timeout_ms: int = CLOSE_WAIT_MS) -> bool:
        """Stop for good: an engine still starting is stopped by its worker once it is up, waited for here.
        True when nothing was left running within the timeout."""
        self.meter_timer.stop()
        self.port_timer.stop()
        self.stop()
        return self.runner.shutdown(timeout_ms)

    def report_state(self) -> None:
        engine = self.engine
        if self.starting is not None:
            self.stateChanged.emit("Playback: starting audio…",
                                   "Opening the audio output. Notes played meanwhile sound once it is open.")
        elif engine is not None and engine.started:
            rate = "" if engine.device_rate == engine.sample_rate else f" · resampled to {engine.device_rate} Hz"
            held = " · held: loop" if engine.loop_level >= 1.0 else ""
            self.stateChanged.emit(f"Playback: on · {engine.underruns} underruns{rate}{held}",
                                   "Live audio: the cursor, picks, trajectories and MIDI input sound at once.\n"
                                   "held: loop: the held sound plays from the reconstruction an export uses")
        elif self.audio_notice:
            self.stateChanged.emit("Playback: off", self.audio_notice + "\nRendering and exports still work.")
        else:
            self.stateChanged.emit("Playback: starting", "")

    # -- what sounds ---------------------------------------------------------------------------------
    def play_rendered(self, audio: np.ndarray) -> None:
        """Rendered audio (a picked note, a MIDI render) through the live output, or a word why not."""
        audio = np.asarray(audio, dtype=np.float32)
        self.audioRendered.emit((audio, self.sample_rate))
        if self.engine is not None:
            self.engine.play_clip(audio)
        elif self.starting is not None:
            self.pending_sound = ("clip", audio)
        elif not self.no_audio_device:
            self.notice.emit(f"Playback is off ({self.off_reason()})", False)

    def follow(self, latent: np.ndarray, glide: Optional[float] = None) -> None:
        if self.engine is not None:
            self.engine.set_target(latent, glide=glide)
        elif self.starting is not None:
            self.pending_target = (np.array(latent, copy=True), glide)

    def release(self, glide: float = 0.08) -> None:
        if self.engine is not None:
            self.engine.release(glide=glide)
        self.pending_target = None

    def play_path(self, times: np.ndarray, latents: np.ndarray, interpolation: str) -> bool:
        """True when the path plays, or will once the engine being started is up."""
        if self.engine is None:
            if self.starting is None:
                return False
            self.pending_sound, self.pending_target = ("path", times, latents, interpolation), None
            return True
        self.engine.stop_clip()
        self.engine.play_path(times, latents, interpolation, release_glide=TRAJECTORY_RELEASE)
        return True

    def stop_sound(self) -> None:
        self.pending_sound = self.pending_target = None
        if self.engine is not None:
            self.engine.stop_clip()
            self.engine.release()

    def off_reason(self) -> str:
        """Why there is no live sound, for "Playback is off (...)" (without saying "playback is off" twice)."""
        if self.starting is not None:
            return "audio is still starting"
        reason = self.audio_notice or "no audio output"
        return reason.removeprefix("playback is off: ").removeprefix("Playback is off: ")

    # -- live MIDI -----------------------------------------------------------------------------------
    def list_ports(self) -> None:
        try:
            names, notice = input_ports(), ""
        except MidiUnavailable as exc:
            names, notice = [], str(exc) + ". Everything else works."
        current = self.midi_in.port_name if self.midi_in is not None else ""
        self.portsListed.emit(names, notice, current or "")

    def open_port(self, name: str) -> None:
        if self.midi_in is not None:
            self.midi_in.close()
            self.midi_in = None
        if not name:
            self.pending_port = None
            return
        if self.engine is None and self.starting is not None:
            self.pending_port = name  # opened into the engine once it is up
            self.midiStatus.emit(f"{name}: waiting for audio to start")
            return
        if self.engine is None:
            self.notice.emit("Live MIDI needs audio output, which is off: " + self.off_reason(), True)
            return
        notes = MidiNotes(self.engine, self.engine.session, self.instrument, self.settings.get("render/interpolation"),
                          on_notice=self._engine_notice)
        try:
            notes.open(name)
        except MidiUnavailable as exc:
            self.notice.emit(str(exc), True)
            return
        if self.mod_direction is not None:
            notes.mod_direction = self.mod_direction
        self.midi_in = notes
        self.midiStatus.emit(f"playing {notes.instrument.replace('_', ' ')} from {name}")

    def set_instrument(self, instrument: str) -> None:
        self.instrument = instrument
        if self.midi_in is not None and instrument:
            self.midi_in.instrument = instrument

    def set_mod_direction(self, direction: np.ndarray) -> None:
        self.mod_direction = direction
        if self.midi_in is not None:
            self.midi_in.mod_direction = direction

    def _check_port(self) -> None:
        if self.midi_in is None or self.midi_in.port_name is None:
            return
        try:
            present = self.midi_in.port_name in input_ports()
        except MidiUnavailable:
            present = False
        if not present:
            name = self.midi_in.port_name
            self.midi_in.close()
            self.midi_in = None
            self.release()
            self.list_ports()
            self.notice.emit(f"MIDI port {name!r} went away; live MIDI stopped. Plug it back in and choose it again.",
                             True)
