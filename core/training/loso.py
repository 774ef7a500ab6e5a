"""Leave-one-source-out: for each sample set, train without it and transcribe its notes and melodies.

The honest measure of what users meet: sounds from a sample set the model never heard. Note-level
accuracy comes from ``note_accuracy`` on the left-out bank's own notes (plain renderings only), and
melodies rendered from that bank are transcribed end to end and scored with mir_eval's note F1.
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, replace
from pathlib import Path
from typing import Optional

import numpy as np

from ..data.labels import INSTRUMENTS
from ..jobs import CancelFn, GlissandoError, ProgressFn, atomic_write, check_cancel, no_progress
from ..units import midi_to_hz
from .evaluate import note_accuracy
from .train import TrainConfig, load_training_data, train


def melody(instrument: str, n_notes: int = 24, seed: int = 1, velocities=(50, 80, 110)) -> list[tuple]:
    """(start, end, midi, velocity) events: a random walk of steps up to a major third in the
    instrument's central two octaves, durations of a quarter to three quarters of a second, each note
    held for 90% of its slot."""
    rng = np.random.default_rng(seed)
    inst = INSTRUMENTS[instrument]
    centre = (inst.low + inst.high) // 2
    lo, hi = max(inst.low, centre - 12), min(inst.high, centre + 12)
    t, m, events = 0.2, centre, []
    for _ in range(n_notes):
        d = float(rng.choice([0.25, 0.5, 0.5, 0.75]))
        m = int(np.clip(m + rng.integers(-4, 5), lo, hi))
        events.append((t, t + 0.9 * d, m, int(rng.choice(velocities))))
        t += d
    return events


def note_f1(events: list[tuple], notes: list) -> float:
    """mir_eval note F1: onsets within 50 ms and the right pitch (offsets not scored)."""
    import mir_eval

    ref_i = np.array([[s, e] for s, e, _, _ in events]).reshape(-1, 2)
    ref_p = midi_to_hz([m for _, _, m, _ in events])
    est_i = np.array([[n.start, n.end] for n in notes]).reshape(-1, 2)
    est_p = midi_to_hz([n.midi for n in notes])
    return float(mir_eval.transcription.precision_recall_f1_overlap(ref_i, ref_p, est_i, est_p, onset_tolerance=0.05,
                                                                     offset_ratio=None)[2])


def melody_scores(model_path: Path, soundfont: Path, instruments: list[str], n_notes: int = 16,
                  cancel: Optional[CancelFn] = None) -> dict:
    """Note F1 and the share of notes given the right instrument, per instrument, on melodies rendered
    from ``soundfont``."""
    import soundfile as sf

    from ..data.soundfont import SoundFontRenderer
    from ..session import ModelSession
    from ..transcribe import transcribe

    renderer = SoundFontRenderer(soundfont)
    session = ModelSession(model_path, device="cpu")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for inst in instruments:
            check_cancel(cancel)
            if not renderer.has_program(INSTRUMENTS[inst].gm_program):
                continue
            events = melody(inst, n_notes)
            wav = Path(tmp) / f"{inst}.wav"
            sf.write(str(wav), renderer.render_sequence(INSTRUMENTS[inst].gm_program, events), renderer.sample_rate)
            try:
                notes, _ = transcribe(session, wav)
            except GlissandoError:
                notes = []
            named = np.mean([n.instrument == inst for n in notes]) if notes else 0.0
            out[inst] = {"f1": note_f1(events, notes), "instrument": float(named), "notes": len(notes),
                         "expected": len(events)}
    return out


def leave_one_source_out(data, out: str | Path, train_cfg: Optional[TrainConfig] = None,
                         model_overrides: Optional[dict] = None, sources: Optional[list[str]] = None,
                         melodies: bool = True, device: str = "auto",
                         progress: ProgressFn = no_progress, cancel: Optional[CancelFn] = None,
                         on_result=None, rescore: bool = False) -> dict:
    """Train one model per left-out source under ``out/<source>/`` and evaluate it on that source.

    A finished source (its ``result.json`` present) is not trained again, so an interrupted run
    continues where it stopped; ``rescore`` evaluates its saved model again (after a change to
    transcription, say) without training. Returns {"sources": {name: result}, "train_config", "model_overrides"}.
    """
    from ..data.soundfont import training_soundfonts
    from ..models.modelfile import load_model

    out = Path(out)
    train_cfg = train_cfg or TrainConfig()
    dataset = load_training_data(data)
    available = dataset.collections()
    sources = sources or available
    unknown = sorted(set(sources) - set(available))
    if unknown:
        raise GlissandoError(f"{data}: no notes from {', '.join(unknown)} (it holds {', '.join(available)})")
    banks = training_soundfonts()
    results = {}
    for k, source in enumerate(sources):
        check_cancel(cancel)
        folder = out / source
        done = folder / "result.json"
        if done.exists() and not rescore:
            results[source] = json.loads(done.read_text())
        else:
            cfg = replace(train_cfg, exclude_collections=[source])

            def step(i, n, msg, k=k, source=source):
                progress(k * n + i, len(sources) * n, f"without {source}: {msg}")

            model_path = folder / "model.safetensors"
            if not (done.exists() and model_path.exists()):
                model_path = train(data, folder, cfg, model_overrides, device=device,
                                   resume=(folder / "checkpoint.pt").exists(), progress=step, cancel=cancel)
            loaded = load_model(model_path)
            training = loaded.info.get("training", {})
            result = {"left_out": source, "notes": note_accuracy(loaded, dataset, collections=[source]),
                      "epochs": training.get("epochs"), "seconds": training.get("seconds")}
            bank = banks.get(source)
            if melodies and bank is not None:
                insts = [i for i in loaded.config.vocabulary["instrument"] if i in INSTRUMENTS]
                result["melodies"] = melody_scores(model_path, bank, insts, cancel=cancel)
            with atomic_write(done) as tmp:
                Path(tmp).write_text(json.dumps(result, indent=1))
            results[source] = result
        if on_result:
            on_result(source, results[source])
    return {"sources": results, "train_config": asdict(train_cfg), "model_overrides": model_overrides or {}}
