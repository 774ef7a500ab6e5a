"""Live MIDI input (mido with python-rtmidi): note on / off and the mod wheel drive the live engine.

mido calls ``handle`` on rtmidi's thread. Work there is a dictionary update and one control store,
so a flood of events (thousands per second) only means the engine hears the newest state.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from ..data.labels import velocity_to_dynamics
from .output import AudioUnavailable


class MidiUnavailable(AudioUnavailable):
    """Live MIDI cannot work here; the message says why."""


def input_ports() -> list[str]:
    try:
        import mido

        return list(mido.get_input_names())
    except ImportError:
        raise MidiUnavailable("live MIDI is off: python-rtmidi is not installed") from None
    except Exception as exc:  # rtmidi's own error types: no ALSA sequencer (/dev/snd/seq) and the like
        raise MidiUnavailable(f"live MIDI is off: MIDI ports cannot be listed ({exc})") from None


class MidiNotes:
    """Turns MIDI messages into engine controls: last-note priority, velocity -> dynamics, CC1 ->
    modulation along ``mod_direction``. Out-of-range notes move by octaves into the instrument's
    range (as render-midi does) and are reported once through ``on_notice``."""

    def __init__(self, engine, session, instrument: str, interpolation: str = "linear", glide: float = 0.06,
                 on_notice: Callable[[str], None] = lambda m: None):
        self.engine, self.session = engine, session
        self.instrument = instrument
        self.interpolation = interpolation
        self.glide = glide
        self.on_notice = on_notice
        self.held: dict[int, int] = {}  # note -> velocity, in the order pressed (dicts keep insertion order)
        self.mod_direction = np.zeros(session.config.latent_dim)
        self._warned: set[int] = set()
        self._port = None

    # -- ports ----------------------------------------------------------------------------------
    def open(self, name: str) -> None:
        import mido

        self.close()
        try:
            self._port = mido.open_input(name, callback=self.handle)
        except Exception as exc:  # rtmidi's own error types, or mido's for an unknown name
            raise MidiUnavailable(f"MIDI port {name!r} cannot be opened ({exc})") from None

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except Exception:
                pass  # the port may already be gone with its device
        self.held.clear()

    @property
    def port_name(self) -> Optional[str]:
        return self._port.name if self._port is not None else None

    # -- messages -------------------------------------------------------------------------------
    def handle(self, message) -> None:
        kind = message.type
        if kind == "note_on" and message.velocity > 0:
            self.held.pop(message.note, None)
            self.held[message.note] = message.velocity
            self._sound(message.note, message.velocity)
        elif kind in ("note_off", "note_on"):
            if message.note not in self.held:
                return
            was_last = next(reversed(self.held)) == message.note
            del self.held[message.note]
            if not was_last:
                return
            if self.held:  # back to the note still held underneath
                note = next(reversed(self.held))
                self._sound(note, self.held[note])
            else:
                self.engine.release()
        elif kind == "control_change" and message.control == 1:
            self.engine.set_modulation(self.mod_direction, message.value / 127.0)

    def _sound(self, note: int, velocity: int) -> None:
        lo, hi = self.session.instrument_range(self.instrument)
        midi = note
        while midi < lo:
            midi += 12
        while midi > hi:
            midi -= 12
        midi = min(max(midi, lo), hi)
        if midi != note and note not in self._warned:
            self._warned.add(note)
            self.on_notice(f"MIDI note {note} is outside the {self.instrument}'s range {lo}-{hi}: played as {midi}")
        dynamics = velocity_to_dynamics(velocity, self.session.dynamics)
        latent = self.session.label_latent(midi, dynamics, self.instrument)
        self.engine.set_target(latent, self.glide, self.interpolation)
