"""Pitch units: Hz <-> MIDI note numbers <-> note names (A4 = MIDI 69 = 440 Hz, C4 = MIDI 60).

The one place these conversions are written; the label vocabulary (data/labels.py) spells its
pitch classes with ``NOTE_NAMES``.
"""
from __future__ import annotations

import re

import numpy as np

A4_HZ = 440.0
A4_MIDI = 69
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")  # sharps: one spelling per pitch class

_NOTE_RE = re.compile(r"^([A-Ga-g])([#b]?)(-?\d)$")


def hz_to_midi(hz):
    """Frequency (Hz, scalar or array) -> fractional MIDI note number (float64)."""
    return A4_MIDI + 12.0 * np.log2(np.asarray(hz, dtype=np.float64) / A4_HZ)


def midi_to_hz(midi):
    """MIDI note number (scalar or array, fractions allowed) -> frequency in Hz (float64)."""
    return A4_HZ * 2.0 ** ((np.asarray(midi, dtype=np.float64) - A4_MIDI) / 12.0)


def midi_octave(midi: int) -> int:
    """The octave number in note names: C4 = MIDI 60 starts octave 4."""
    return midi // 12 - 1


def note_name(midi: int) -> str:
    """60 -> 'C4', 73 -> 'C#5'."""
    return f"{NOTE_NAMES[midi % 12]}{midi_octave(midi)}"


def parse_note(name: str) -> int:
    """'C4' -> 60, 'A#3' -> 58, 'Db5' -> 73, 'Cb4' -> 59. Raises ValueError for anything else."""
    m = _NOTE_RE.match(name.strip())
    if not m:
        raise ValueError(f"not a note name: {name!r}")
    letter, accidental, octave = m.group(1).upper(), m.group(2), int(m.group(3))
    shift = {"#": 1, "b": -1, "": 0}[accidental]
    return (octave + 1) * 12 + NOTE_NAMES.index(letter) + shift
