"""Isolated notes rendered from a General MIDI SoundFont with tinysoundfont."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import GlissandoError
from ..spectral import SAMPLE_RATE

NOTE_ON_SECONDS = 1.0
# A rendered note's length: about 1.49 s at 22050 Hz, the note and its release. A data choice (it changes every
# data set), not the analysis block (SpectralConfig.block), though it equals the default one.
NOTE_TOTAL_SAMPLES = 32768
BEND_BLOCK = 64  # samples between pitch-wheel updates: 3 ms, smooth for vibrato up to 8 Hz
BEND_RANGE_SEMITONES = 2


class SoundFontRenderer:
    def __init__(self, soundfont: str | Path, sample_rate: int = SAMPLE_RATE):
        import tinysoundfont

        self.path = Path(soundfont)
        if not self.path.exists():
            raise GlissandoError(f"{self.path}: no such SoundFont")
        self.sample_rate = sample_rate
        self._synth = tinysoundfont.Synth(samplerate=sample_rate)
        try:
            self._sfid = self._synth.sfload(str(self.path))
        except Exception as exc:
            raise GlissandoError(f"{self.path}: not a readable SoundFont ({exc})") from None

    def has_program(self, program: int) -> bool:
        return self._synth.sfpreset_name(self._sfid, 0, program) is not None

    def render_note(self, program: int, midi: int, velocity: int, on_seconds: float = NOTE_ON_SECONDS,
                    total_samples: int = NOTE_TOTAL_SAMPLES, bend_cents: Optional[np.ndarray] = None) -> np.ndarray:
        """Mono audio of one note. ``bend_cents`` (one value per BEND_BLOCK samples) plays a pitch
        contour through the synth's pitch wheel: vibrato and drift the way a player makes them, with
        the sample's own formants left in place (a pitch shift of the audio would move them too)."""
        synth = self._synth
        synth.program_select(0, self._sfid, 0, program)
        synth.pitchbend_range(0, BEND_RANGE_SEMITONES)
        synth.pitchbend(0, 8192)
        on = int(on_seconds * self.sample_rate)
        if bend_cents is None:
            synth.noteon(0, midi, velocity)
            head = np.frombuffer(synth.generate(on), dtype=np.float32)
            synth.noteoff(0, midi)
            tail = np.frombuffer(synth.generate(total_samples - on), dtype=np.float32)
            stereo = np.concatenate([head, tail])
        else:
            chunks = []
            for k in range(0, total_samples, BEND_BLOCK):
                cents = float(bend_cents[min(k // BEND_BLOCK, len(bend_cents) - 1)])
                synth.pitchbend(0, int(np.clip(8192 + cents / (100 * BEND_RANGE_SEMITONES) * 8192, 0, 16383)))
                if k == 0:
                    synth.noteon(0, midi, velocity)
                if k <= on < k + BEND_BLOCK:
                    chunks.append(np.frombuffer(synth.generate(on - k), dtype=np.float32))
                    synth.noteoff(0, midi)
                    chunks.append(np.frombuffer(synth.generate(k + BEND_BLOCK - on), dtype=np.float32))
                else:
                    chunks.append(np.frombuffer(synth.generate(min(BEND_BLOCK, total_samples - k)), dtype=np.float32))
            stereo = np.concatenate(chunks)[: 2 * total_samples]
            synth.pitchbend(0, 8192)
        synth.sounds_off(0)  # no release tail may leak into the next note
        return stereo.reshape(-1, 2).mean(axis=1)

    def render_sequence(self, program: int, events: list[tuple[float, float, int, int]],
                        tail: float = 0.5) -> np.ndarray:
        """Mono audio of notes (start s, end s, midi, velocity) played on one program: test melodies
        and benchmark material with exactly known notes."""
        synth = self._synth
        synth.program_select(0, self._sfid, 0, program)
        changes = sorted([(s, 1, m, v) for s, e, m, v in events] + [(e, 0, m, 0) for s, e, m, v in events])
        out, now = [], 0
        for t, on, midi, velocity in changes:
            at = int(round(t * self.sample_rate))
            if at > now:
                out.append(np.frombuffer(synth.generate(at - now), dtype=np.float32).copy())
                now = at
            synth.noteon(0, midi, velocity) if on else synth.noteoff(0, midi)
        out.append(np.frombuffer(synth.generate(int(tail * self.sample_rate)), dtype=np.float32).copy())
        synth.sounds_off(0)
        return np.concatenate(out).reshape(-1, 2).mean(axis=1)

    def identity(self, program: int, midi: int, velocity: int) -> dict:
        st = self.path.stat()
        # Name and size, not the path: the same bank installed elsewhere (or checked out anew) reuses the cache.
        return {"soundfont": self.path.name, "size": st.st_size,
                "program": program, "midi": midi, "velocity": velocity, "on": NOTE_ON_SECONDS,
                "total": NOTE_TOTAL_SAMPLES}


_SF2_DIR = Path("/usr/share/sounds/sf2")
_SHIPPED = Path(__file__).resolve().parents[2] / "resources" / "soundfonts"

# The sample sets allowed for training and tuning, by the name each note remembers as its source.
# Every other SoundFont or sample library is kept for evaluation on sounds the model never heard.
TRAINING_SOUNDFONTS = {
    "FluidR3_GM": _SF2_DIR / "FluidR3_GM.sf2",  # Debian fluid-soundfont-gm: velocity layers change timbre
    "sf_GMbank": _SF2_DIR / "sf_GMbank.sf2",  # Debian csound-soundfont
    "TimGM6mb": _SF2_DIR / "TimGM6mb.sf2",  # Debian timgm6mb-soundfont (pretty-midi ships a copy)
    "GeneralUserGS": _SHIPPED / "GeneralUserGS.sf2",  # shipped in the repository, see its README
}


def source_name(soundfont: str | Path) -> str:
    """The name a SoundFont's notes carry as their source: its file name without the suffix."""
    return Path(soundfont).stem


def training_soundfonts() -> dict[str, Optional[Path]]:
    """Each training sample set's file on this machine, None where it is not installed."""
    found = {name: (p if p.exists() else None) for name, p in TRAINING_SOUNDFONTS.items()}
    if found["TimGM6mb"] is None:
        found["TimGM6mb"] = default_soundfont_paths()["TimGM6mb"]
    return found


def default_soundfont_paths() -> dict[str, Optional[Path]]:
    """Where FluidR3_GM and TimGM6mb (the test fixtures' banks) live on this machine (None if absent)."""
    fluid = _SF2_DIR / "FluidR3_GM.sf2"
    tim = None
    try:
        import pretty_midi

        candidate = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
        tim = candidate if candidate.exists() else None
    except ImportError:
        pass
    if tim is None and (_SF2_DIR / "TimGM6mb.sf2").exists():
        tim = _SF2_DIR / "TimGM6mb.sf2"
    return {"FluidR3_GM": fluid if fluid.exists() else None, "TimGM6mb": tim}
