"""MIDI files <-> timed notes (mido)."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .data.labels import MIDI_VELOCITY, instrument_for_program, velocity_to_dynamics
from .errors import one_line
from .jobs import GlissandoError, atomic_write, check_input
from .units import note_name

DRUM_CHANNEL = 9
# The longest piece rendered (seconds, to the end of its last note): a render holds a few arrays of the
# whole piece in memory (about 1.5 GB for half an hour) and takes a minute or more per half hour on 2 cores.
MAX_SECONDS = 1800.0
# The shortest and longest note or rest in a written note list (synth's NOTE:DYNAMICS:SECONDS), seconds:
# a note shorter than its 10 ms attack is a click.
MIN_NOTE_SECONDS, MAX_NOTE_SECONDS = 0.01, 600.0


@dataclass
class Note:
    start: float  # seconds
    end: float
    midi: int
    dynamics: str
    instrument: str
    velocity: int = 64
    confidence: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict:
        from .data.labels import midi_to_labels

        pc, octave = midi_to_labels(self.midi)
        d = {"start": round(self.start, 4), "end": round(self.end, 4), "midi": self.midi, "note": note_name(self.midi),
             "pitch_class": pc, "octave": int(octave), "dynamics": self.dynamics, "instrument": self.instrument}
        if self.confidence:
            d["confidence"] = {k: round(float(v), 4) for k, v in self.confidence.items()}
        return d


@dataclass
class MidiNotes:
    """The pitched notes of a MIDI file as it holds them, before a model gives them instruments and
    dynamics: (start s, end s, MIDI note, velocity, the channel's GM program or None), sorted by start."""
    path: Path
    events: list[tuple[float, float, int, int, Optional[int]]]
    drums: int  # drum notes (channel 10), ignored


def parse_midi(path: str | os.PathLike) -> MidiNotes:
    """Read a MIDI file's pitched notes, in seconds (tempo changes applied); a GlissandoError naming the
    file when it cannot be read or holds no pitched note. Needs no model: a command checks its input
    with it before loading one."""
    import mido

    path = check_input(path)
    try:
        mid = mido.MidiFile(str(path))
        messages = list(mid)  # merged tracks, .time in seconds with every tempo change applied
    except Exception as exc:  # mido raises OSError, EOFError, ValueError, KeyError... for damaged files
        why = one_line(exc) or ("it ends too early" if isinstance(exc, EOFError) else type(exc).__name__)
        raise GlissandoError(f"{path}: not a readable MIDI file ({why})") from None
    programs: dict[int, int] = {}
    open_notes: dict[tuple[int, int], tuple[float, int]] = {}
    events: list[tuple[float, float, int, int, Optional[int]]] = []
    drums = 0
    now = 0.0

    def close(channel: int, pitch: int, at: float) -> None:
        start, velocity = open_notes.pop((channel, pitch))
        if at > start:
            events.append((start, at, pitch, velocity, programs.get(channel)))

    for msg in messages:
        now += msg.time
        if msg.type == "program_change":
            programs[msg.channel] = msg.program
        elif msg.type in ("note_on", "note_off"):
            if msg.channel == DRUM_CHANNEL:
                drums += msg.type == "note_on" and msg.velocity > 0
                continue
            key = (msg.channel, msg.note)
            if msg.type == "note_on" and msg.velocity > 0:
                if key in open_notes:  # a repeated note-on ends the sounding one
                    close(msg.channel, msg.note, now)
                open_notes[key] = (now, msg.velocity)
            elif key in open_notes:
                close(msg.channel, msg.note, now)
    for (channel, pitch) in list(open_notes):
        close(channel, pitch, now)
    if not math.isfinite(now):
        raise GlissandoError(f"{path}: not a readable MIDI file (its timing is damaged)")
    if not events:
        raise GlissandoError(f"{path}: the MIDI file has no pitched notes (only drums, on channel 10)" if drums
                             else f"{path}: the MIDI file has no notes")
    return MidiNotes(path, sorted(events, key=lambda e: (e[0], e[2])), drums)


def read_midi(path: str | os.PathLike, known_instruments: list[str], fallback_instrument: str,
              dynamics_vocabulary: Optional[list[str]] = None,
              warn: Callable[[str], None] = lambda m: None, parsed: Optional[MidiNotes] = None) -> list[Note]:
    """Notes of a MIDI file, in seconds (tempo changes applied), sorted by start (``parsed``: the file
    as parse_midi read it, not read again).

    A channel's program picks the instrument when the model knows it, else ``fallback_instrument``;
    velocity picks the nearest dynamic the model knows; drums are ignored with a warning.
    """
    midi = parsed if parsed is not None else parse_midi(path)
    if midi.drums:
        warn(f"{midi.path}: {midi.drums} drum note(s) on channel 10 ignored")

    def instrument_of(program: Optional[int]) -> str:
        name = instrument_for_program(program) if program is not None else None
        return name if name in known_instruments else fallback_instrument

    return [Note(start, end, pitch, velocity_to_dynamics(velocity, dynamics_vocabulary), instrument_of(program),
                 velocity) for start, end, pitch, velocity, program in midi.events]


def check_note_times(notes: list[Note], source: str, longest: float = MAX_SECONDS) -> None:
    """Refuse notes a render cannot hold: times not finite, negative or in the wrong order, or a piece
    ending after ``longest`` seconds."""
    for n in notes:
        if not (math.isfinite(n.start) and math.isfinite(n.end) and 0 <= n.start < n.end):
            raise GlissandoError(f"{source}: a note from {n.start} s to {n.end} s (times must be finite, "
                                 "from 0 s, and end after they start)")
    end = max((n.end for n in notes), default=0.0)
    if end > longest:
        raise GlissandoError(f"{source}: lasts {end:.0f} s, longer than the longest render ({longest:.0f} s)")


def fit_to_range(notes: list[Note], ranges: dict[str, tuple[int, int]], strict: bool, source: str,
                 warn: Callable[[str], None] = lambda m: None) -> list[Note]:
    """Move notes outside their instrument's trained range by octaves into it (or refuse, if strict)."""
    moved = 0
    for n in notes:
        lo, hi = ranges[n.instrument]
        if lo <= n.midi <= hi:
            continue
        if strict:
            raise GlissandoError(f"{source}: {note_name(n.midi)} at {n.start:.2f} s is outside the {n.instrument}'s "
                                 f"trained range {note_name(lo)}-{note_name(hi)}")
        while n.midi < lo:
            n.midi += 12
        while n.midi > hi:
            n.midi -= 12
        if not lo <= n.midi <= hi:  # a range narrower than an octave: clamp
            n.midi = min(max(n.midi, lo), hi)
        moved += 1
    if moved:
        warn(f"{source}: {moved} note(s) outside the instrument's trained range moved by octaves into it")
    return notes


def write_midi(notes: list[Note], path: str | os.PathLike, tempo_bpm: float = 120.0) -> None:
    """A type-1 file: a conductor track first (tempo and a 4/4 time signature, no notes), then one track
    per instrument with its General MIDI program; velocities from dynamics by MIDI_VELOCITY. Written
    atomically; no notes: the conductor track alone."""
    import mido

    from .data.labels import INSTRUMENTS

    ticks_per_beat = 480
    tempo = mido.bpm2tempo(tempo_bpm)
    mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    # The type-1 convention puts tempo and meter only on the first track: readers that follow it
    # (pretty-midi, several DAWs) ignore or warn about tempo events elsewhere.
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("track_name", name="Glissando", time=0),
                                      mido.MetaMessage("set_tempo", tempo=tempo, time=0),
                                      mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0)]))
    instruments = sorted({n.instrument for n in notes})
    for channel, inst in enumerate(instruments):
        channel = channel if channel < DRUM_CHANNEL else channel + 1
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=inst, time=0))
        program = INSTRUMENTS[inst].gm_program if inst in INSTRUMENTS else 0
        track.append(mido.Message("program_change", program=program, channel=channel % 16, time=0))
        events = []
        for n in notes:
            if n.instrument == inst:
                velocity = MIDI_VELOCITY.get(n.dynamics, n.velocity)
                events.append((n.start, 1,
                               mido.Message("note_on", note=n.midi, velocity=velocity, channel=channel % 16)))
                events.append((n.end, 0, mido.Message("note_off", note=n.midi, velocity=0, channel=channel % 16)))
        last = 0
        for t, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
            tick = int(round(mido.second2tick(t, ticks_per_beat, tempo)))
            track.append(msg.copy(time=max(0, tick - last)))
            last = max(last, tick)
        mid.tracks.append(track)
    with atomic_write(path) as tmp:
        mid.save(str(tmp))


def notes_for_model(path: str | os.PathLike, instruments: list[str], dynamics: list[str],
                    ranges: dict[str, tuple[int, int]], instrument: Optional[str] = None, strict: bool = False,
                    warn: Callable[[str], None] = lambda m: None, parsed: Optional[MidiNotes] = None) -> list[Note]:
    """A MIDI file's notes, ready for a model that knows ``instruments``: ``instrument`` (when given)
    plays every track, else each track's program picks one (piano, or the first known, when none fits);
    notes outside an instrument's range move by octaves, or are refused with ``strict`` (``parsed``: the
    file as parse_midi read it, not read again)."""
    if instrument is not None and instrument not in instruments:
        raise GlissandoError(f"the model does not know the instrument {instrument!r} "
                             f"(it knows {', '.join(instruments)})")
    fallback = instrument or ("piano" if "piano" in instruments else instruments[0])
    notes = read_midi(path, instruments, fallback, dynamics, warn=warn, parsed=parsed)
    if instrument is not None:
        for n in notes:
            n.instrument = instrument
    return fit_to_range(notes, ranges, strict, str(path), warn=warn)
