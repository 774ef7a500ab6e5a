"""Transcription speed and accuracy on monophonic melodies rendered from TimGM6mb (a SoundFont the
default model never heard), against references in the same process: nsgt's own (numpy) analysis of
the same audio, the first step of any transcription; and, when basic-pitch is installed, basic-pitch
(Spotify's transcriber, on onnxruntime) transcribing the same files, each after one warm-up file, timed
alternately with ours: its speed as a ratio, and its note F1 beside ours.

    .venv/bin/python bench/transcribe.py [--notes 24] [--memory]
    .venv/bin/python bench/transcribe.py --duets --model MIXTURE_MODEL   # two instruments at once

--duets measures polyphonic transcription (issue 15): pairs of instruments, each playing its own melody,
mixed at equal velocity ranges; note F1 over both parts together (mir_eval, onsets within 50 ms), the
share of reference notes found, and the share of found notes named with the instrument that played them;
and the F1 of each part transcribed alone (a melody, where any note the upper voices add is extra).

basic-pitch is optional (not in any extra the project installs); it declares TensorFlow, which is not
needed with onnxruntime:
    .venv/bin/pip install --no-deps basic-pitch==0.4.0 "resampy==0.4.3" && .venv/bin/pip install onnxruntime
"""
from __future__ import annotations

import argparse
import contextlib
import io
import logging
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

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


def basic_pitch_model():
    """basic-pitch's model and its predict function, or None (said in one line) when it cannot run here."""
    logging.getLogger().setLevel(logging.ERROR)  # it warns at import about each backend it does not find
    try:
        from basic_pitch import ICASSP_2022_MODEL_PATH
        from basic_pitch.inference import Model, predict

        return Model(ICASSP_2022_MODEL_PATH), predict
    except Exception as exc:  # not installed, or no backend it can run on (onnxruntime)
        print(f"basic-pitch: not measured ({type(exc).__name__}: {exc}); see this file's docstring to install it")
        return None


def basic_pitch_notes(bp, wav: Path) -> list:
    model, predict = bp
    with contextlib.redirect_stdout(io.StringIO()):  # it prints a line per file
        _, _, events = predict(wav, model)
    return [SimpleNamespace(start=s, end=e, midi=int(m)) for s, e, m, _, _ in events]


REPEATS = 3


def timed_transcription(session, wav: Path, audio: np.ndarray) -> tuple[list, float, float]:
    """The notes of ``wav``, the seconds they took, and the seconds nsgt's numpy analysis of the same audio
    (the reference every ratio here is against) takes: medians of REPEATS runs, the two alternating."""
    took, reference = [], []
    for _ in range(REPEATS):  # a 13 s file takes 0.15 s: one run's time is mostly the machine's noise
        t0 = time.perf_counter()
        notes, _ = transcribe(session, wav)
        took.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        log_frames_long(audio)
        reference.append(time.perf_counter() - t0)
    return notes, statistics.median(took), statistics.median(reference)


DUETS = [("flute", "cello"), ("trumpet", "trombone"), ("violin", "clarinet"), ("oboe", "bassoon"),
         ("alto_sax", "contrabass"), ("viola", "french_horn"), ("piano", "tuba")]


def duets(session, renderer, n_notes: int) -> None:
    """Speed and note F1 of a (mixture) model on two-instrument duets."""
    import mir_eval

    from glissando.core.units import midi_to_hz

    rtfs, ratios, f1s, found, named, alone = [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (a, b) in enumerate(DUETS):
            parts = [(inst, melody(inst, n_notes, seed=10 + 2 * k + j)) for j, inst in enumerate((a, b))]
            audio = [renderer.render_sequence(INSTRUMENTS[inst].gm_program, ev) for inst, ev in parts]
            mix = np.zeros(max(map(len, audio)), np.float32)
            for x in audio:
                mix[: len(x)] += x
            wav = Path(tmp) / f"{a}+{b}.wav"
            sf.write(str(wav), mix, SR)
            if k == 0:
                transcribe(session, wav)  # warm-up
            notes, took, reference = timed_transcription(session, wav, mix)
            events = [(s, e, m, inst) for inst, ev in parts for s, e, m, _ in ev]
            ref_i = np.array([[s, e] for s, e, _, _ in events])
            est_i = np.array([[n.start, n.end] for n in notes]).reshape(-1, 2)
            matched = mir_eval.transcription.match_notes(ref_i, midi_to_hz([m for _, _, m, _ in events]), est_i,
                                                          midi_to_hz([n.midi for n in notes]), onset_tolerance=0.05,
                                                          offset_ratio=None)
            f1s.append(note_f1([(s, e, m, 0) for s, e, m, _ in events], notes))
            found.append(len(matched) / len(events))
            named.append(np.mean([notes[j].instrument == events[i][3] for i, j in matched]) if matched else 0.0)
            rtfs.append(len(mix) / SR / took)
            ratios.append(reference / took)
            # Each part alone too: a melody through a mixture model, where every note the upper slots add is extra.
            for (inst, ev), x in zip(parts, audio):
                solo = Path(tmp) / f"{inst}.wav"
                sf.write(str(solo), x, SR)
                alone.append(note_f1(ev, transcribe(session, solo)[0]))
            print(f"{a + '+' + b:22} {len(mix) / SR:5.1f} s  {rtfs[-1]:6.1f}x real time  F1 {f1s[-1]:.3f}  "
                  f"found {found[-1]:.0%}  instrument right {named[-1]:.0%}  ({len(notes)} notes for {len(events)})"
                  f"  parts alone F1 {alone[-2]:.3f} {alone[-1]:.3f}")
    print(f"duets: rtf_median={statistics.median(rtfs):.1f} speed_vs_numpy_analysis={statistics.median(ratios):.2f} "
          f"f1_mean={np.mean(f1s):.3f} found_mean={np.mean(found):.3f} instrument_right_mean={np.mean(named):.3f} "
          f"parts_alone_f1_mean={np.mean(alone):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--notes", type=int, default=24)
    ap.add_argument("--memory", action="store_true", help="also transcribe 30 minutes and report peak memory")
    ap.add_argument("--model", help="model to measure (default: the shipped one)")
    ap.add_argument("--device", default="cpu", help="the model session's device: cpu, cuda or auto")
    ap.add_argument("--duets", action="store_true", help="two instruments at once (a mixture model's task)")
    args = ap.parse_args()
    renderer = SoundFontRenderer(default_soundfont_paths()["TimGM6mb"])
    session = ModelSession(args.model, device=args.device)
    if args.duets:
        duets(session, renderer, args.notes)
        return
    bp = basic_pitch_model()
    rtfs, ratios, f1s, bp_ratios, bp_f1s = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for inst in DEFAULT_INSTRUMENTS:
            events = melody(inst, args.notes)
            audio = renderer.render_sequence(INSTRUMENTS[inst].gm_program, events)
            wav = Path(tmp) / f"{inst}.wav"
            sf.write(str(wav), audio, SR)
            files.append((inst, events, audio, wav))
        transcribe(session, files[0][3])  # warm-up, as basic-pitch gets
        if bp:
            basic_pitch_notes(bp, files[0][3])
        for inst, events, audio, wav in files:
            notes, took, reference = timed_transcription(session, wav, audio)
            f1 = note_f1(events, notes)
            rtfs.append(len(audio) / SR / took)
            ratios.append(reference / took)
            f1s.append(f1)
            line = (f"{inst:12} {len(audio) / SR:5.1f} s  {rtfs[-1]:6.1f}x real time  F1 {f1:.3f}  "
                    f"({len(notes)} notes for {len(events)})")
            if bp:
                t0 = time.perf_counter()
                theirs = basic_pitch_notes(bp, wav)
                bp_ratios.append((time.perf_counter() - t0) / took)  # > 1: ours is faster
                bp_f1s.append(note_f1(events, theirs))
                line += f"  | basic-pitch: ours {bp_ratios[-1]:5.2f}x as fast, its F1 {bp_f1s[-1]:.3f}"
            print(line)
    if args.memory:
        memory(renderer, 30)
    print(f"transcribe: rtf_median={statistics.median(rtfs):.1f} "
          f"speed_vs_numpy_analysis={statistics.median(ratios):.2f} f1_mean={np.mean(f1s):.3f} "
          f"f1_min={np.min(f1s):.3f}" + (f" speed_vs_basic_pitch={statistics.median(bp_ratios):.2f} "
                                         f"basic_pitch_f1_mean={np.mean(bp_f1s):.3f}" if bp else ""))


if __name__ == "__main__":
    main()
