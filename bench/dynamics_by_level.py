"""How far loudness alone can take dynamics on a sample set never heard: the bound the model's dynamics
work against (issue 10).

FluidSynth plays a SoundFont's velocity as gain (centroid unchanged from velocity 16 to 127 where a bank
has one sample layer), so an isolated note's dynamic shows only in its level, and each bank sets its own
level per instrument. For each bank left out, a level-only classifier is fitted on the other banks'
notes: per instrument, a note's peak level (dB, from its NSGT frames) = a quadratic in pitch + one
offset per dynamic; it is given the true instrument and pitch, which the model has to find itself. It
then names the left-out bank's notes' dynamics by the nearest offset. Printed beside it: how far apart
the banks put one instrument's mf (the median over instruments of the largest gap between two banks),
and, with --loso, the model's own note-level dynamics from that leave-one-source-out run.

    .venv/bin/python bench/dynamics_by_level.py [--data data/banks4] [--loso runs/loso/loso.json]

Ends with one line: dynamics_by_level: BANK=..% ... mean=..%
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from glissando.core.data.store import load_dataset

DYNAMICS = ("pp", "mf", "ff")


def note_peaks(ds) -> np.ndarray:
    """Each note's loudest frame, dB of summed power (frames are log(magnitude + floor))."""
    peak = np.full(len(ds.notes), -np.inf)
    for start in range(0, len(ds.frames), 65536):
        x = np.asarray(ds.frames[start : start + 65536], dtype=np.float64)
        power = np.maximum(np.exp(x) - ds.spectral.log_floor, 0) ** 2
        np.maximum.at(peak, ds.frame_note[start : start + 65536], 10 * np.log10(power.sum(1) + 1e-12))
    return peak


def level_classifier_accuracy(rows: list[tuple], left_out: str) -> float:
    """rows: (bank, instrument, midi, dynamics index, peak dB)."""
    hits = []
    for inst in sorted({r[1] for r in rows}):
        train = [r for r in rows if r[1] == inst and r[0] != left_out]
        test = [r for r in rows if r[1] == inst and r[0] == left_out]
        if not train or not test:
            continue
        design = np.array([[1, r[2], r[2] ** 2] + [r[3] == k for k in range(1, len(DYNAMICS))] for r in train], float)
        w = np.linalg.lstsq(design, np.array([r[4] for r in train]), rcond=None)[0]
        offsets = np.r_[0.0, w[3:]]
        for r in test:
            base = w[0] + w[1] * r[2] + w[2] * r[2] ** 2
            hits.append(int(np.argmin(np.abs(r[4] - base - offsets))) == r[3])
    return float(np.mean(hits))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/banks4")
    ap.add_argument("--loso", type=Path, help="a loso.json: the model's note-level dynamics beside each bank")
    args = ap.parse_args()
    ds = load_dataset(args.data)
    peak = note_peaks(ds)
    rows = [(n.collection, n.instrument, n.midi, DYNAMICS.index(n.dynamics), peak[i]) for i, n in enumerate(ds.notes)
            if not n.silent and not n.voices and n.variation is None and n.dynamics in DYNAMICS
            and "program" not in n.extra]
    banks = sorted({r[0] for r in rows})
    mf_gap = []
    for inst in sorted({r[1] for r in rows}):
        levels = [np.median([r[4] for r in rows if r[0] == b and r[1] == inst and r[3] == 1]) for b in banks]
        mf_gap.append(max(levels) - min(levels))
    steps = [np.median([r[4] for r in rows if r[3] == k + 1]) - np.median([r[4] for r in rows if r[3] == k])
             for k in range(len(DYNAMICS) - 1)]
    print(f"one instrument's mf, largest gap between two banks: median {np.median(mf_gap):.1f} dB over instruments "
          f"(max {max(mf_gap):.1f}); steps between dynamics: {', '.join(f'{s:.1f}' for s in steps)} dB")
    model = json.loads(args.loso.read_text())["sources"] if args.loso else {}
    scores = {}
    for bank in banks:
        scores[bank] = level_classifier_accuracy(rows, bank)
        mine = model.get(bank, {}).get("notes", {}).get("dynamics")
        print(f"{bank:16} level alone (true instrument and pitch given): {100 * scores[bank]:5.1f}%"
              + (f"   the model: {100 * mine:5.1f}%" if mine is not None else ""))
    print("dynamics_by_level: " + " ".join(f"{b}={100 * s:.1f}%" for b, s in scores.items())
          + f" mean={100 * np.mean(list(scores.values())):.1f}%")


if __name__ == "__main__":
    main()
