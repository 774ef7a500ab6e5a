"""Live sound: one real-time engine per current model, the MIDI keyboard feeding it, and their state.

The engine and the MIDI input run on their own threads; what they report reaches the GUI thread
through superqt's ``ensure_main_thread``, and the playback meter is read at a human rate (every
half second) rather than signalled per audio block.
"""
from __future__ import annotations

from typing import Callable, Optional

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

BLOCK_SIZES = (128, 256, 512, 1024)
LATENCY_BLOCKS = (1, 2, 3, 4)
TRAJECTORY_RELEASE = 0.08  # seconds of fade after a trajectory played live
METER_MS = 500
PORT_CHECK_MS = 2000


class LiveAudioController(QObject):
    audioRendered = Signal(object)  # (audio, sample_rate): rendered audio just sent to the speakers
    stateChanged = Signal(str, str)  # (status text, tooltip)
    portsListed = Signal(list, str, str)  # (port names, notice, current port)
    midiStatus = Signal(str)  # what the live MIDI input is doing
    notice = Signal(str, bool)

    def __init__(self, settings: Settings, stream_factory: Optional[Callable] = None,
                 list_devices: Callable = output_devices, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.settings, self.stream_factory = settings, stream_factory
        self.engine: Optional[LiveEngine] = None
        self.sample_rate = SAMPLE_RATE  # the current model's, once one is in
        self.midi_in: Optional[MidiNotes] = None
        self.instrument = ""
        self.mod_direction: Optional[np.ndarray] = None
        self.audio_notice = ""
        self.no_audio_device = False  # no PortAudio or no output device at start: do not try at every click
        if stream_factory is None:
            try:
                list_devices()
            except AudioUnavailable as exc:
                self.audio_notice, self.no_audio_device = str(exc), True
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

    def start_for(self, session: Optional[ModelSession]) -> None:
        """(Re)open the engine on ``session`` with the current preferences; None stops it."""
        port = self.midi_in.port_name if self.midi_in is not None else None
        self.stop()
        if session is not None:
            self.sample_rate = session.spectral.sample_rate
        if session is None or self.no_audio_device:
            self.report_state()
            return
        device = self.settings.get("audio/device")
        engine = LiveEngine(session, self.engine_settings(), stream_factory=self.stream_factory,
                            device=None if device < 0 else device, on_notice=self._engine_notice)
        try:
            engine.start()
        except AudioUnavailable as exc:
            self.audio_notice = str(exc)
            self.report_state()
            return
        self.engine, self.audio_notice = engine, ""
        if port:  # the keyboard keeps playing, now into this engine
            self.open_port(port)
        self.report_state()

    def stop(self) -> None:
        if self.midi_in is not None:
            self.midi_in.close()
            self.midi_in = None
        engine, self.engine = self.engine, None
        if engine is not None:
            engine.stop()

    def shutdown(self) -> None:
        self.meter_timer.stop()
        self.port_timer.stop()
        self.stop()

    def report_state(self) -> None:
        engine = self.engine
        if engine is not None and engine.started:
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
        elif not self.no_audio_device:
            self.notice.emit(f"Playback is off ({self.off_reason()})", False)

    def follow(self, latent: np.ndarray, glide: Optional[float] = None) -> None:
        if self.engine is not None:
            self.engine.set_target(latent, glide=glide)

    def release(self, glide: float = 0.08) -> None:
        if self.engine is not None:
            self.engine.release(glide=glide)

    def play_path(self, times: np.ndarray, latents: np.ndarray, interpolation: str) -> bool:
        if self.engine is None:
            return False
        self.engine.stop_clip()
        self.engine.play_path(times, latents, interpolation, release_glide=TRAJECTORY_RELEASE)
        return True

    def stop_sound(self) -> None:
        if self.engine is not None:
            self.engine.stop_clip()
            self.engine.release()

    def off_reason(self) -> str:
        """Why there is no live sound, for "Playback is off (...)" (without saying "playback is off" twice)."""
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
