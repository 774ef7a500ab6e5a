"""Shared benchmark material: seeded monophonic melodies in each instrument's central two octaves."""
from __future__ import annotations

import numpy as np

from glissando.core.data.labels import INSTRUMENTS


def melody(instrument: str, n_notes: int = 24, seed: int = 1, velocities=(50, 80, 110)):
    """(start, end, midi, velocity) events: a random walk of steps up to a major third, durations of
    a quarter to three quarters of a second, each note held for 90% of its slot."""
    rng = np.random.default_rng(seed)
    inst = INSTRUMENTS[instrument]
    centre = (inst.low + inst.high) // 2
    lo, hi = max(inst.low, centre - 12), min(inst.high, centre + 12)
    t, m, events = 0.2, centre, []
    for _ in range(n_notes):
        d = float(rng.choice([0.25, 0.5, 0.5, 0.75]))
        m = int(np.clip(m + rng.integers(-4, 5), lo, hi))
        events.append((t, t + 0.9 * d, m, int(rng.choice(velocities))))
        t += d
    return events


def write_demo_midi(path, seed: int = 7) -> None:
    """A monophonic 40-note tune for flute with a tempo change half-way: the render benchmark's input."""
    import mido

    rng = np.random.default_rng(seed)
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("track_name", name="demo melody", time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(100), time=0))
    track.append(mido.Message("program_change", program=73, time=0))
    m = 74
    for i in range(40):
        if i == 20:
            track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(132), time=0))
        m = int(np.clip(m + rng.integers(-4, 5), 64, 88))
        beats = int(rng.choice([1, 1, 2, 2, 3]))
        track.append(mido.Message("note_on", note=m, velocity=int(rng.choice([40, 70, 110])), time=0))
        track.append(mido.Message("note_off", note=m, velocity=0, time=beats * 240 - 24))
        track.append(mido.Message("note_off", note=m, velocity=0, time=24))
    mid.save(str(path))
