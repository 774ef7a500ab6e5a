"""Render one MIDI file with the paper's reference (nsgt + Griffin-Lim, 30 iterations from random
phase) and with the default method, in the same process; report each one's real-time factor, the
speed ratio, each one's spectral convergence against the decoded magnitudes, and how many notes a
pitch tracker (librosa.pyin) finds at the requested pitch.

    .venv/bin/python bench/render.py [--midi FILE] [--repeats 3] [--memory] [--held]

--held also renders 11 held notes (2.9 s each, one per instrument) with the default method and with
fast phase alone (held loops off), and reports both speeds and how far each note's held middle is
from the frame the model decodes for it.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from glissando.core.midi import read_midi  # noqa: E402
from glissando.core.render import RenderSettings, note_envelope, path_convergence, render_notes, voice_paths  # noqa: E402
from glissando.core.session import ModelSession  # noqa: E402


def convergence(session, notes, audio, settings):
    """Spectral convergence of the rendering against the decoded magnitudes (monophonic files)."""
    (_, path, active), = voice_paths(session, notes, settings)
    sr = session.spectral.sample_rate
    env = note_envelope(notes, len(audio), sr, settings)
    # Judge the sustained parts only (envelope at 1), where the decoded frames are what should sound.
    steady = np.where(env > 0.999, audio, 0.0)
    return path_convergence(session, path, steady, settings, active)


def pitch_hits(audio, notes, sr):
    import librosa

    f0, voiced, _ = librosa.pyin(audio.astype(np.float64), fmin=60, fmax=2100, sr=sr, frame_length=2048)
    times = librosa.times_like(f0, sr=sr)
    hits = 0
    for n in notes:
        sel = (times > n.start + 0.3 * n.duration) & (times < n.end - 0.1 * n.duration) & voiced
        if sel.any() and round(float(np.nanmedian(librosa.hz_to_midi(f0[sel])))) == n.midi:
            hits += 1
    return hits / len(notes)


def peak_rss_mb(cmd: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def memory(session, midi_path: Path) -> None:
    import mido

    glissando = str(Path(sys.executable).with_name("glissando"))
    with tempfile.TemporaryDirectory() as tmp:
        src = mido.MidiFile(str(midi_path))
        long = mido.MidiFile(ticks_per_beat=src.ticks_per_beat)
        track = mido.MidiTrack()
        long.tracks.append(track)
        one = [m for m in mido.merge_tracks(src.tracks) if not m.is_meta or m.type == "set_tempo"]
        length = src.length
        for _ in range(int(np.ceil(600 / length))):
            track.extend(m.copy() for m in one)
        path = Path(tmp) / "ten_minutes.mid"
        long.save(str(path))
        rss = peak_rss_mb([glissando, "render-midi", str(path), "-o", str(Path(tmp) / "long.wav")])
        print(f"render-midi of {long.length / 60:.1f} min: peak memory {rss:.0f} MB")


def held_notes(session, repeats: int) -> None:
    from latency import HELD

    from glissando.core.midi import Note
    from glissando.core.spectral import NSGTransform, spectral_convergence

    notes = [Note(3.0 * i, 3.0 * i + 2.9, m, d, ins) for i, (m, d, ins) in enumerate(HELD)]
    block = session.spectral.block
    transform = NSGTransform.for_length(block, session.spectral)
    inner = slice(transform.n_frames // 4, 3 * transform.n_frames // 4)
    sr = session.spectral.sample_rate
    speed, middle = {}, {}
    ways = (("fast phase alone", RenderSettings(held_seconds=float("inf"))), ("held loops", RenderSettings()))
    for name, settings in ways:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            audio = render_notes(session, notes, settings)
            times.append(time.perf_counter() - t0)
        speed[name] = len(audio) / sr / statistics.median(times)
        scs = []
        for n in notes:
            frame = session.decode_magnitudes(session.label_latent(n.midi, n.dynamics, n.instrument)[None])[0][:, None]
            first = int((n.start + 1.45) * sr) - block // 2
            heard = transform.forward(audio[first : first + block])[1:-1][:, inner]
            scs.append(spectral_convergence(np.broadcast_to(frame, heard.shape), heard))
        middle[name] = statistics.median(scs)
        print(f"held notes, {name:16}: {speed[name]:6.1f}x real time, held middle vs the model's frame: "
              f"median {middle[name]:.3f}, max {max(scs):.3f}")
    print(f"held: rtf_loops={speed['held loops']:.1f} rtf_fast={speed['fast phase alone']:.1f} "
          f"ratio={speed['held loops'] / speed['fast phase alone']:.2f} sc_loops={middle['held loops']:.3f} "
          f"sc_fast={middle['fast phase alone']:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--midi", type=Path, default=HERE.parent / "resources" / "demo" / "melody.mid")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--memory", action="store_true", help="also render a 10-minute file and report peak memory")
    ap.add_argument("--held", action="store_true", help="also compare held notes with and without held loops")
    args = ap.parse_args()
    session = ModelSession(device="cpu")
    notes = read_midi(args.midi, session.instruments, "flute", session.dynamics)
    sr = session.spectral.sample_rate
    results = {}
    for name, settings in (("reference", RenderSettings(phase="gl30")), ("default", RenderSettings())):
        times = []
        for _ in range(args.repeats if name == "default" else 1):  # the reference is slow and steady
            t0 = time.perf_counter()
            audio = render_notes(session, notes, settings)
            times.append(time.perf_counter() - t0)
        seconds = statistics.median(times)
        sc = convergence(session, notes, audio, settings)
        results[name] = (len(audio) / sr / seconds, seconds, sc, audio)
        print(f"{name:9}: {seconds:6.2f} s for {len(audio) / sr:.1f} s of audio = "
              f"{len(audio) / sr / seconds:6.1f}x real time, spectral convergence {sc:.3f}")
    hits = pitch_hits(results["default"][3], notes, sr)
    ratio = results["reference"][1] / results["default"][1]
    print(f"pitch tracker (pyin) finds the requested note in {hits:.1%} of {len(notes)} notes (default method)")
    if args.memory:
        memory(session, args.midi)
    if args.held:
        held_notes(session, args.repeats)
    print(f"render: speedup={ratio:.1f} default_rtf={results['default'][0]:.1f} "
          f"reference_rtf={results['reference'][0]:.2f} sc_default={results['default'][2]:.3f} "
          f"sc_reference={results['reference'][2]:.3f} pitch_hits={hits:.3f}")


if __name__ == "__main__":
    main()
