"""Transcription speed and accuracy on monophonic melodies rendered from TimGM6mb (a SoundFont the
default model never heard), against a reference in the same process: nsgt's own (numpy) analysis of
the same audio, the first step of any transcription.

    .venv/bin/python bench/transcribe.py [--notes 24] [--memory]
"""
from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import melody  # noqa: E402

from glissando.core.data.frames import log_frames_long  # noqa: E402
from glissando.core.data.labels import DEFAULT_INSTRUMENTS, INSTRUMENTS  # noqa: E402
from glissando.core.data.soundfont import SoundFontRenderer, default_soundfont_paths  # noqa: E402
from glissando.core.session import ModelSession  # noqa: E402
from glissando.core.spectral import SAMPLE_RATE as SR  # noqa: E402
from glissando.core.training.loso import note_f1  # noqa: E402
from glissando.core.transcribe import transcribe  # noqa: E402


def memory(renderer, minutes: float) -> None:
    glissando = str(Path(sys.executable).with_name("glissando"))
    with tempfile.TemporaryDirectory() as tmp:
        one = renderer.render_sequence(INSTRUMENTS["flute"].gm_program, melody("flute", 60))
        reps = int(np.ceil(minutes * 60 * SR / len(one)))
        path = Path(tmp) / "long.wav"
        with sf.SoundFile(str(path), "w", SR, 1, "PCM_16") as fh:
            for _ in range(reps):
                fh.write(one)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        subprocess.run([glissando, "transcribe", str(path), "-o", str(Path(tmp) / "long.json")], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        took = time.perf_counter() - t0
        rss = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
        print(f"transcribe {reps * len(one) / SR / 60:.1f} min: peak memory {rss:.0f} MB, {took:.1f} s with start-up")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--notes", type=int, default=24)
    ap.add_argument("--memory", action="store_true", help="also transcribe 30 minutes and report peak memory")
    ap.add_argument("--model", help="model to measure (default: the shipped one)")
    args = ap.parse_args()
    renderer = SoundFontRenderer(default_soundfont_paths()["TimGM6mb"])
    session = ModelSession(args.model, device="cpu")
    rtfs, ratios, f1s = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for inst in DEFAULT_INSTRUMENTS:
            events = melody(inst, args.notes)
            audio = renderer.render_sequence(INSTRUMENTS[inst].gm_program, events)
            wav = Path(tmp) / f"{inst}.wav"
            sf.write(str(wav), audio, SR)
            t0 = time.perf_counter()
            notes, _ = transcribe(session, wav)
            took = time.perf_counter() - t0
            t0 = time.perf_counter()
            log_frames_long(audio)
            reference = time.perf_counter() - t0
            f1 = note_f1(events, notes)
            rtfs.append(len(audio) / SR / took)
            ratios.append(reference / took)
            f1s.append(f1)
            print(f"{inst:12} {len(audio) / SR:5.1f} s  {rtfs[-1]:6.1f}x real time  F1 {f1:.3f}  "
                  f"({len(notes)} notes for {len(events)})")
    if args.memory:
        memory(renderer, 30)
    print(f"transcribe: rtf_median={statistics.median(rtfs):.1f} "
          f"speed_vs_numpy_analysis={statistics.median(ratios):.2f} f1_mean={np.mean(f1s):.3f} "
          f"f1_min={np.min(f1s):.3f}")


if __name__ == "__main__":
    main()
