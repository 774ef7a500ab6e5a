"""Label vocabularies shared by data, models and the app: pitch class, octave, dynamics, instrument."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional

from ..errors import GlissandoError
from ..units import NOTE_NAMES, midi_octave

PITCH_CLASSES = list(NOTE_NAMES)  # the pitch-class labels are the note names (units.py), sharps only
OCTAVES = [str(o) for o in range(0, 9)]  # A0 (MIDI 21) .. C8 (MIDI 108), C4 = MIDI 60
DYNAMICS = ["pp", "p", "mf", "f", "ff"]  # canonical order; a model keeps the ones its data has
SILENT = "silent"
FAMILIES = ("pitch_class", "octave", "dynamics", "instrument")

# Velocities the training data renders each dynamic at (SoundFont notes), and the centres velocities of
# imported training notes (NSynth) are labelled by. SoundFonts scale amplitude about linearly with
# velocity, so these sit 8-10 dB apart (pp, mf, ff). The shipped models learnt their dynamics from
# these: changing them changes what a data set's "pp" means.
TRAINING_VELOCITY = {"pp": 16, "p": 32, "mf": 52, "f": 80, "ff": 127}
# The velocities written to and read from MIDI files (exported transcriptions, rendered MIDI files, live
# MIDI input): the common notation-program convention (MuseScore's, close to Logic's and Sibelius's),
# about 16 apart from p to f, which DAWs and players expect. A velocity is read as the nearest of these,
# so writing a dynamic and reading it back gives the same dynamic.
MIDI_VELOCITY = {"pp": 33, "p": 49, "mf": 64, "f": 80, "ff": 112}


class Kin(NamedTuple):
    """A General MIDI preset of an instrument's family, over its own playing range (MIDI, inclusive)."""

    name: str
    program: int
    low: int
    high: int


@dataclass(frozen=True)
class Instrument:
    name: str
    gm_program: int  # 0-based General MIDI program
    low: int  # full playing range, MIDI notes inclusive (orchestration references' written-to-sounding)
    high: int
    sol: tuple[str, ...] = ()
    # Kindred General MIDI presets (program, low, high) rendered under this instrument's label, over the
    # notes both ranges share: the other saxophones for the alto, the piccolo for the flute, the cor
    # anglais for the oboe. A model that heard one alto sax per bank named a sax from a bank it never
    # heard right 3-75% of the time; its family's other members, from the same banks, show it what a
    # saxophone keeps from one sample set to the next. A user's tenor sax is then named alto sax, the
    # nearest instrument the vocabulary has.
    kin: tuple[Kin, ...] = ()


INSTRUMENTS = {
    i.name: i
    for i in [
        Instrument("piano", 0, 21, 108, ("Pno", "Pn")),
        Instrument("violin", 40, 55, 105, ("Vn",)),
        Instrument("viola", 41, 48, 91, ("Va",)),
        Instrument("cello", 42, 36, 84, ("Vc",)),
        Instrument("contrabass", 43, 28, 67, ("Cb",)),
        Instrument("trumpet", 56, 52, 86, ("TpC", "Tp")),
        Instrument("trombone", 57, 34, 77, ("TbTb", "Tb")),
        Instrument("tuba", 58, 26, 65, ("BTb", "Tba")),
        Instrument("french_horn", 60, 34, 77, ("Hn",)),
        Instrument("alto_sax", 65, 49, 81, ("ASax",), kin=(Kin("soprano sax", 64, 56, 87), Kin("tenor sax", 66, 44, 75),
                                                                Kin("baritone sax", 67, 37, 68))),
        Instrument("oboe", 68, 58, 94, ("Ob",), kin=(Kin("cor anglais", 69, 52, 84),)),
        Instrument("bassoon", 70, 34, 77, ("Bn",)),
        Instrument("clarinet", 71, 50, 94, ("ClBb",)),
        Instrument("flute", 73, 59, 98, ("Fl",), kin=(Kin("piccolo", 72, 74, 108),)),
    ]
}
SOL_ABBREVIATIONS = {abbr: inst.name for inst in INSTRUMENTS.values() for abbr in inst.sol}
PAPER_INSTRUMENTS = ["flute", "violin", "alto_sax", "trumpet", "piano"]
DEFAULT_INSTRUMENTS = PAPER_INSTRUMENTS + ["clarinet", "oboe", "bassoon", "french_horn", "trombone", "cello",
                                           "viola", "contrabass", "tuba"]
INSTRUMENT_PRESETS = {"default": DEFAULT_INSTRUMENTS, "paper": PAPER_INSTRUMENTS}
# The dynamics a data set renders unless told otherwise: three steps the SoundFonts keep 8-10 dB apart.
RENDERED_DYNAMICS = ("pp", "mf", "ff")


def midi_to_labels(midi: int) -> tuple[str, str]:
    """MIDI note -> (pitch class, octave) labels."""
    octave = midi_octave(midi)
    if not 0 <= octave <= 8:
        raise ValueError(f"MIDI note {midi} is outside the octaves 0-8 the models label")
    return PITCH_CLASSES[midi % 12], str(octave)


def velocity_to_dynamics(velocity: int, vocabulary: Optional[list[str]] = None,
                         centres: Optional[dict[str, int]] = None) -> str:
    """The dynamic whose velocity in ``centres`` (default: MIDI_VELOCITY, the file convention) is
    nearest, among ``vocabulary`` (default: all); ties go to the softer."""
    centres = MIDI_VELOCITY if centres is None else centres
    choices = [d for d in (vocabulary or DYNAMICS) if d in centres]
    return min(choices, key=lambda d: (abs(centres[d] - velocity), centres[d]))


def canonical_dynamics(name: str) -> str:
    d = name.strip().lower()
    if d not in DYNAMICS:
        raise GlissandoError(f"unknown dynamics {name!r} (expected one of {', '.join(DYNAMICS)})")
    return d


def instrument_for_program(program: int) -> Optional[str]:
    """The instrument a General MIDI program is heard as: its own, else the one it is kin to."""
    for inst in INSTRUMENTS.values():
        if inst.gm_program == program:
            return inst.name
    for inst in INSTRUMENTS.values():
        if any(k.program == program for k in inst.kin):
            return inst.name
    return None


def rendered_presets(inst: Instrument, kindred: bool = True) -> list[tuple[int, int, int]]:
    """(program, low, high) of every preset a SoundFont renders for ``inst``: its own over its full range,
    then (``kindred``) its kin over the notes both ranges share."""
    kin = [(k.program, max(k.low, inst.low), min(k.high, inst.high)) for k in inst.kin] if kindred else []
    return [(inst.gm_program, inst.low, inst.high)] + [k for k in kin if k[1] <= k[2]]
