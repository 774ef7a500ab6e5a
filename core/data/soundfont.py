"""Isolated notes rendered from a General MIDI SoundFont with tinysoundfont."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from ..jobs import GlissandoError
from .labels import INSTRUMENTS

NOTE_ON_SECONDS = 1.0
NOTE_TOTAL_SAMPLES = 32768  # about 1.49 s at 22050 Hz: the note, its release, one analysis block


class SoundFontRenderer:
    def __init__(self, soundfont: str | Path, sample_rate: int = 22050):
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

    def check_instruments(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in INSTRUMENTS:
                raise GlissandoError(f"unknown instrument {name!r} (known: {', '.join(sorted(INSTRUMENTS))})")
            if not self.has_program(INSTRUMENTS[name].gm_program):
                raise GlissandoError(f"{self.path}: the SoundFont has no preset for {name} (GM program {INSTRUMENTS[name].gm_program + 1})")

    def render_note(self, program: int, midi: int, velocity: int, on_seconds: float = NOTE_ON_SECONDS,
                    total_samples: int = NOTE_TOTAL_SAMPLES) -> np.ndarray:
        synth = self._synth
        synth.program_select(0, self._sfid, 0, program)
        on = int(on_seconds * self.sample_rate)
        synth.noteon(0, midi, velocity)
        head = np.frombuffer(synth.generate(on), dtype=np.float32)
        synth.noteoff(0, midi)
        tail = np.frombuffer(synth.generate(total_samples - on), dtype=np.float32)
        synth.sounds_off(0)  # no release tail may leak into the next note
        stereo = np.concatenate([head, tail]).reshape(-1, 2)
        return stereo.mean(axis=1)

    def render_sequence(self, program: int, events: list[tuple[float, float, int, int]], tail: float = 0.5) -> np.ndarray:
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
        return {"soundfont": str(self.path.resolve()), "size": st.st_size, "mtime": st.st_mtime_ns,
                "program": program, "midi": midi, "velocity": velocity, "on": NOTE_ON_SECONDS, "total": NOTE_TOTAL_SAMPLES}


def default_soundfont_paths() -> dict[str, Optional[Path]]:
    """Where the two training/fixture SoundFonts live on this machine (None if absent)."""
    fluid = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
    tim = None
    try:
        import pretty_midi

        candidate = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
        tim = candidate if candidate.exists() else None
    except ImportError:
        pass
    return {"FluidR3_GM": fluid if fluid.exists() else None, "TimGM6mb": tim}
