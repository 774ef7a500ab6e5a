"""What the model's own renders sound like to it: each instrument's notes rendered from their labels at six
pitches spread over its range (mf, 1 s each, 0.5 s apart so each note is a phrase of its own), then
transcribed by the same model. The share of notes heard at the requested pitch, and the share named the
requested instrument: a render heard as another instrument is what a user hears when a trumpet sounds
like a saxophone, and what timbre transfer inherits. With --reference, a second model measured the same
way in the same run (for example the model before a change to training).

    .venv/bin/python bench/renders_heard.py [--model M] [--reference R]

Ends with one line per model: renders_heard[MODEL]: pitch=... named=... notes=...
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from glissando.core.data.labels import INSTRUMENTS
from glissando.core.midi import Note
from glissando.core.render import render_notes
from glissando.core.session import ModelSession
from glissando.core.transcribe import transcribe

PITCHES = 6
NOTE_S, GAP_S = 1.0, 0.5


def heard(model: str | None) -> dict:
    session = ModelSession(model, device="cpu")
    per_instrument = {}
    with tempfile.TemporaryDirectory() as tmp:
        for inst in sorted(session.instruments):
            spec = INSTRUMENTS[inst]
            # Two semitones inside each end: the extreme keys are few in every bank.
            pitches = np.linspace(spec.low + 2, spec.high - 2, PITCHES).round().astype(int)
            notes = [Note(0.2 + k * (NOTE_S + GAP_S), 0.2 + k * (NOTE_S + GAP_S) + NOTE_S, int(m), "mf", inst)
                     for k, m in enumerate(pitches)]
            wav = Path(tmp) / f"{inst}.wav"
            sf.write(str(wav), render_notes(session, notes), session.spectral.sample_rate)
            found, _ = transcribe(session, wav)
            rows = []
            for n in notes:  # the transcribed note that overlaps the rendered one most
                overlap = [(min(n.end, f.end) - max(n.start, f.start), f) for f in found]
                best = max(overlap, key=lambda o: o[0], default=(0.0, None))
                hit = best[1] if best[0] > 0.5 * NOTE_S else None
                rows.append((hit is not None and hit.midi == n.midi, hit is not None and hit.instrument == inst,
                             hit.instrument if hit is not None else "-"))
            per_instrument[inst] = rows
            print(f"  {inst:12s} pitch {np.mean([r[0] for r in rows]):.2f} named {np.mean([r[1] for r in rows]):.2f} "
                  f"heard as {', '.join(r[2] for r in rows)}", flush=True)
    every = [r for rows in per_instrument.values() for r in rows]
    return {"pitch": float(np.mean([r[0] for r in every])), "named": float(np.mean([r[1] for r in every])),
            "notes": len(every)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="model file or folder (default: the shipped model)")
    ap.add_argument("--reference", default=None, help="a second model, measured the same way")
    args = ap.parse_args()
    models = [args.model] + ([args.reference] if args.reference else [])
    results = {}
    for m in models:
        print(m or "default model")
        results[m or "default"] = heard(m)
    for name, r in results.items():
        print(f"renders_heard[{name}]: pitch={r['pitch']:.3f} named={r['named']:.3f} notes={r['notes']}")


if __name__ == "__main__":
    main()
