"""Shared benchmark material: seeded monophonic melodies in each instrument's central two octaves, and
the render benchmark's two MIDI inputs."""
from __future__ import annotations

import numpy as np

from glissando.core.training.loso import melody  # noqa: F401  (the benches' shared melodies)


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


def write_held_midi(path, seed: int = 11) -> None:
    """A flute tune of 12 notes held 1.5 to 3 s, each followed by a 0.1 s rest: every sustain is held
    past RenderSettings.held_seconds (1.5 s), so rendering it takes the held-loop path that the demo
    melody, whose notes are all shorter, never reaches."""
    import mido

    rng = np.random.default_rng(seed)
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("track_name", name="held notes", time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(60), time=0))  # 480 ticks a second
    track.append(mido.Message("program_change", program=73, time=0))
    m, rest = 74, 0
    for seconds in rng.permutation([1.5, 1.5, 1.5, 2.0, 2.0, 2.0, 2.5, 2.5, 2.5, 3.0, 3.0, 3.0]):
        m = int(np.clip(m + rng.integers(-4, 5), 64, 88))
        track.append(mido.Message("note_on", note=m, velocity=int(rng.choice([40, 70, 110])), time=rest))
        track.append(mido.Message("note_off", note=m, velocity=0, time=int(round(seconds * 480))))
        rest = 48
    mid.save(str(path))
