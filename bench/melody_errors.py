"""Where melody transcription loses note F1 on sample sets the model never heard: each leave-one-source-out
model transcribes melodies rendered from the set it was trained without (the melodies `glissando loso`
scores, over several seeds: its one seed of 16 notes per instrument moves by a note's worth), and every
note of the score is put in one category:

- right: a note of that pitch within 50 ms of its onset (what mir_eval's note F1 counts);
- onset off: a note of that pitch starts inside it, more than 50 ms away;
- octave / wrong pitch: only notes of another octave of its pitch class / another pitch start inside it;
- missed: no note starts inside it (a repeated pitch merged into the note before it, mostly);

and every transcribed note left over is an extra: a split of the note it sits in (same pitch), a note of
another pitch inside a scored note (a transition heard as a third pitch), or one in a rest.

    .venv/bin/python bench/melody_errors.py [--loso runs/loso] [--seeds 1,2,3,4]

Ends with one line: melody_errors: f1=... right=... onset_off=... octave=... wrong_pitch=... missed=...
extra_split=... extra_other_pitch=... extra_in_rest=... (counts, and the mean F1 over every melody).
"""
from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import melody  # noqa: E402

from glissando.core.data.labels import INSTRUMENTS  # noqa: E402
from glissando.core.data.soundfont import SoundFontRenderer, training_soundfonts  # noqa: E402
from glissando.core.session import ModelSession  # noqa: E402
from glissando.core.training.loso import note_f1  # noqa: E402
from glissando.core.transcribe import transcribe  # noqa: E402

ONSET = 0.05  # seconds, as note_f1


def categorise(events: list, notes: list) -> collections.Counter:
    """The categories of the module's docstring for one melody's score ``events`` and transcription."""
    out: collections.Counter = collections.Counter()
    used: set[int] = set()
    for start, end, midi, _ in events:
        inside = [k for k, n in enumerate(notes) if start - 2 * ONSET <= n.start < end]
        right = [k for k in inside if notes[k].midi == midi and abs(notes[k].start - start) <= ONSET]
        same = [k for k in inside if notes[k].midi == midi]
        if right:
            out["right"] += 1
            used.add(right[0])
        elif same:
            out["onset_off"] += 1
            used.add(same[0])
        elif any(notes[k].midi % 12 == midi % 12 for k in inside):
            out["octave"] += 1
        elif inside:
            out["wrong_pitch"] += 1
        else:
            out["missed"] += 1
    for k, n in enumerate(notes):
        if k in used:
            continue
        host = [e for e in events if e[0] + ONSET < n.start < e[1] + ONSET]
        out["extra_split" if host and host[0][2] == n.midi else "extra_other_pitch" if host else "extra_in_rest"] += 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--loso", type=Path, default=Path("runs/loso"), help="glissando loso's output folder")
    ap.add_argument("--seeds", default="1,2,3,4", help="melody seeds (loso scores seed 1)")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    total: collections.Counter = collections.Counter()
    f1s: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for source, bank in training_soundfonts().items():
            model = args.loso / source
            if bank is None or not model.exists():
                continue
            session = ModelSession(model, device="cpu")
            renderer = SoundFontRenderer(bank)
            per_source: collections.Counter = collections.Counter()
            for inst, spec in INSTRUMENTS.items():
                if inst not in session.instruments or not renderer.has_program(spec.gm_program):
                    continue
                for seed in seeds:
                    events = melody(inst, 16, seed=seed)
                    wav = Path(tmp) / "melody.wav"
                    sf.write(str(wav), renderer.render_sequence(spec.gm_program, events), renderer.sample_rate)
                    notes, _ = transcribe(session, wav)
                    f1s.setdefault(source, []).append(note_f1(events, notes))
                    per_source += categorise(events, notes)
            total += per_source
            print(f"{source}: f1 {np.mean(f1s[source]):.3f} over {len(f1s[source])} melodies; "
                  + ", ".join(f"{k} {v}" for k, v in sorted(per_source.items())), flush=True)
    keys = ("right", "onset_off", "octave", "wrong_pitch", "missed",
            "extra_split", "extra_other_pitch", "extra_in_rest")
    every = [f for v in f1s.values() for f in v]
    print(f"melody_errors: f1={np.mean(every):.3f} " + " ".join(f"{k}={total[k]}" for k in keys))


if __name__ == "__main__":
    main()
