"""Exported MIDI files as a DAW reads them: type 1, tempo on the first track, velocities by convention."""
import mido
import pytest

from glissando.core.data.labels import DYNAMICS, MIDI_VELOCITY, TRAINING_VELOCITY, velocity_to_dynamics
from glissando.core.midi import Note, read_midi, write_midi


def _notes():
    return [Note(0.0, 0.5, 72, "pp", "flute"), Note(0.5, 1.0, 72, "ff", "flute"), Note(1.0, 1.75, 76, "mf", "flute"),
            Note(0.25, 1.5, 48, "f", "cello"), Note(1.5, 2.0, 50, "p", "cello")]


def _read_back(path):
    """(start s, end s, note, velocity, channel) of every note, the tempo events by track, and the file."""
    mid = mido.MidiFile(str(path))
    tempos = {i: [m.tempo for m in t if m.type == "set_tempo"] for i, t in enumerate(mid.tracks)}
    now, sounding, notes = 0.0, {}, []
    for msg in mid:  # merged tracks, seconds with the file's tempo applied
        now += msg.time
        if msg.type == "note_on" and msg.velocity:
            sounding[(msg.channel, msg.note)] = (now, msg.velocity)
        elif msg.type in ("note_on", "note_off"):
            start, velocity = sounding.pop((msg.channel, msg.note))
            notes.append((start, now, msg.note, velocity, msg.channel))
    return sorted(notes), tempos, mid


def test_export_is_type_1_with_tempo_and_meter_only_on_the_first_track(tmp_path):
    path = tmp_path / "t.mid"
    write_midi(_notes(), path, tempo_bpm=96)
    notes, tempos, mid = _read_back(path)
    assert mid.type == 1 and len(mid.tracks) == 3  # conductor, cello, flute
    assert tempos[0] == [mido.bpm2tempo(96)] and not any(tempos[i] for i in tempos if i)
    assert [m.type for m in mid.tracks[0] if m.type == "time_signature"] == ["time_signature"]
    assert not [m for m in mid.tracks[0] if m.type in ("note_on", "note_off", "program_change")]
    programs = [[m.program for m in t if m.type == "program_change"] for t in mid.tracks[1:]]
    assert programs == [[42], [73]]  # General MIDI cello, flute
    # The same notes come back, times to a tick (1/768 s at 96 bpm), each instrument on its own channel.
    want = sorted((n.start, n.end, n.midi, MIDI_VELOCITY[n.dynamics]) for n in _notes())
    assert [(s, e, m, v) for s, e, m, v, _ in notes] == [pytest.approx(w, abs=1.5 / 768) for w in want]
    assert len({c for *_, c in notes}) == 2


def test_velocities_follow_the_stated_convention_and_read_back_as_the_same_dynamics(tmp_path):
    notes, _, _ = _read_back(_written(tmp_path, _notes()))
    velocities = {n.dynamics: v for n, (*_, v, _) in zip(sorted(_notes(), key=lambda n: n.start), notes)}
    assert velocities == {d: MIDI_VELOCITY[d] for d in velocities}
    # Louder dynamics, higher velocities; mf in the middle of the range as DAWs expect, ff short of 127.
    assert [MIDI_VELOCITY[d] for d in DYNAMICS] == sorted(MIDI_VELOCITY.values())
    assert 56 <= MIDI_VELOCITY["mf"] <= 80 and MIDI_VELOCITY["ff"] < 127
    for vocabulary in (DYNAMICS, ["pp", "mf", "ff"]):  # a model with five dynamics, the shipped one with three
        exported = [Note(0.5 * k, 0.5 * k + 0.4, 60 + k, d, "flute") for k, d in enumerate(vocabulary)]
        back = read_midi(_written(tmp_path, exported), ["flute"], "flute", vocabulary)
        assert [n.dynamics for n in back] == vocabulary


def _written(tmp_path, notes):
    path = tmp_path / "x.mid"
    write_midi(notes, path)
    return path


def test_training_velocities_stay_apart_from_the_file_convention():
    # The shipped model learnt its dynamics from SoundFont notes rendered at TRAINING_VELOCITY: a velocity
    # read from a training source (NSynth) is labelled by those, a velocity in a file by the convention.
    for d in ("pp", "mf", "ff"):
        assert velocity_to_dynamics(TRAINING_VELOCITY[d], centres=TRAINING_VELOCITY) == d
        assert velocity_to_dynamics(MIDI_VELOCITY[d], ["pp", "mf", "ff"]) == d
    # The demo melody's velocities 40 / 70 / 110 are three dynamics in a file (two of them were one before).
    assert [velocity_to_dynamics(v, ["pp", "mf", "ff"]) for v in (40, 70, 110)] == ["pp", "mf", "ff"]


def test_an_empty_transcription_is_a_valid_file_with_the_tempo_and_no_notes(tmp_path):
    path = tmp_path / "empty.mid"
    write_midi([], path)
    notes, tempos, mid = _read_back(path)
    assert mid.type == 1 and len(mid.tracks) == 1 and tempos[0] == [mido.bpm2tempo(120)] and notes == []
