"""Mixtures of 2 and 3 notes rendered from the single-note sources, as the paper's section 5.2 trains on:
different instruments (a duet, a trio), and now and then chords of one instrument; random pitches within
each instrument's range, random dynamics, and each voice at a random level within MIX_LEVEL_DB of the
others. A mixture is one record whose own labels are its lowest note and whose ``voices`` are the others,
lowest first: the model's voice slots are filled from the bottom, so a single note is slot 0 with the
rest silent, and no matching between slots and notes is needed (the order is the labels' own)."""
from __future__ import annotations

import zlib
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .labels import INSTRUMENTS, TRAINING_VELOCITY, canonical_dynamics
from .soundfont import SoundFontRenderer, source_name

# Each voice's gain is drawn within +-MIX_LEVEL_DB / 2: the voices of a mixture lie within 6 dB of one
# another, on top of the 8-10 dB their dynamics already put between them.
MIX_LEVEL_DB = 6.0
SAME_INSTRUMENT_SHARE = 0.2  # chords played by one instrument
MIN_INTERVAL = 1  # semitones between two voices: a unison is one note to the ear and to the labels
MAX_VOICES = 3


def mixture_specs(instruments: list[str], dynamics: list[str], count: int, seed: int,
                  voices: Iterable[int] = (2, 3)) -> list[list[dict]]:
    """``count`` mixtures, each a list of notes {midi, dynamics, instrument, gain_db}, lowest first."""
    rng = np.random.default_rng(seed)
    sizes = list(voices)
    out: list[list[dict]] = []
    while len(out) < count:
        size = int(rng.choice(sizes))
        if rng.random() < SAME_INSTRUMENT_SHARE:
            players = [str(rng.choice(instruments))] * size
        else:
            if len(instruments) < size:
                continue
            players = [str(p) for p in rng.choice(instruments, size=size, replace=False)]
        notes: list[dict] = []
        taken: set[int] = set()
        for name in players:
            inst = INSTRUMENTS[name]
            for _ in range(20):  # a free pitch in the instrument's range
                midi = int(rng.integers(inst.low, inst.high + 1))
                if all(abs(midi - t) >= MIN_INTERVAL for t in taken):
                    break
            else:
                break
            taken.add(midi)
            notes.append({"midi": midi, "dynamics": str(rng.choice(dynamics)), "instrument": name,
                          "gain_db": float(rng.uniform(-MIX_LEVEL_DB / 2, MIX_LEVEL_DB / 2))})
        if len(notes) == size:
            out.append(sorted(notes, key=lambda n: int(n["midi"])))
    return out


def render_mixture(renderer: SoundFontRenderer, notes: list[dict]) -> np.ndarray:
    """The notes started together and summed, each at its training velocity and gain."""
    mix = None
    for n in notes:
        audio = renderer.render_note(INSTRUMENTS[n["instrument"]].gm_program, n["midi"],
                                     TRAINING_VELOCITY[canonical_dynamics(n["dynamics"])])
        audio = audio * 10 ** (n["gain_db"] / 20)
        mix = audio if mix is None else mix[: len(audio)] + audio[: len(mix)]
    assert mix is not None  # a mixture has notes
    return mix.astype(np.float32)


def mixture_seed(collection: str, index: int) -> int:
    return zlib.crc32(f"mixture:{collection}:{index}".encode())


def soundfont_mixtures(soundfont: Path, instruments: list[str], dynamics: list[str], count: int,
                       warn: Callable[[str], None]) -> list[tuple[str, list[dict], dict, Callable[[], np.ndarray]]]:
    """(collection, notes, identity, render) of ``count`` mixtures from one bank, of the instruments it has
    presets for; the same mixtures every rebuild (seeded by the bank's name)."""
    renderer = SoundFontRenderer(soundfont)
    collection = source_name(soundfont)
    playable = [i for i in instruments if renderer.has_program(INSTRUMENTS[i].gm_program)]
    if len(playable) < 2:
        warn(f"{soundfont}: fewer than two of the instruments asked for; no mixtures from it")
        return []
    out: list[tuple[str, list[dict], dict, Callable[[], np.ndarray]]] = []
    for notes in mixture_specs(playable, dynamics, count, mixture_seed(collection, 0)):
        identity = {"mixture": notes, "soundfont": renderer.identity(0, 60, 64)}

        def render(notes: list[dict] = notes) -> np.ndarray:
            return render_mixture(renderer, notes)

        out.append((collection, notes, identity, render))
    return out
