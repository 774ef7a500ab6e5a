"""Render speed and quality of the default method against two references measured in the same run:

- the seed method, the paper's as the seed code ran it: Griffin-Lim, 30 iterations from random phase, on
  nsgt's own (numpy) transform, one block after another, once;
- GL30 on the same batched torch transform as the default, with the same threads (one pool of block
  workers), the same warm-up and the median of the same repeats: the same algorithm as the seed method,
  so the second ratio is what the default's phase reconstruction gains, not what torch gains.

Each method renders two MIDI files: the demo melody (notes up to 0.9 s), and a tune of notes held 1.5 to
3 s (bench/common.write_held_midi), which takes the held-loop path that the demo never reaches. For each:
real-time factors, both speed ratios, each method's spectral convergence against the decoded magnitudes
(sustained parts), how many held loops the default made, and how many notes a pitch tracker
(librosa.pyin) finds at the requested pitch in the default's rendering. Timed runs of the two torch
methods alternate, so a competing load slows both alike.

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
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import write_held_midi  # noqa: E402

import glissando.core.render as render_module  # noqa: E402
from glissando.core.midi import read_midi  # noqa: E402
from glissando.core.render import RenderSettings, note_envelope, path_convergence, render_notes, voice_paths  # noqa: E402
from glissando.core.session import ModelSession  # noqa: E402
from glissando.core.spectral.torch_nsgt import TorchNSGT  # noqa: E402

DEFAULT = RenderSettings()
REFERENCE = RenderSettings(phase="gl30")  # 30 iterations, random phase, no momentum: the paper's Griffin-Lim
METHODS = ("seed", "gl30", "default")
TITLES = {"seed": "seed method (GL30, nsgt)", "gl30": "GL30, torch NSGT", "default": "default"}


class _TorchGL30Blocks(render_module._PathBlocks):
    """reconstruct_path's blocks with the reference's add_reference (griffin_lim: 30 iterations from
    random phase, no momentum, the final projection onto the target magnitudes) done on the torch NSGT,
    each block on one of the pool's workers, as the default's blocks are. The rest of the render (voices,
    paths, decoding, envelopes, overlap-add) is render_notes' own."""

    def __init__(self, pool: ThreadPoolExecutor, *args):
        super().__init__(*args)
        self.pool = pool

    def add_reference(self, batch: np.ndarray, full: np.ndarray, out: np.ndarray) -> None:
        L = self.L
        for s, audio in zip(batch.tolist(), self.pool.map(self.gl30, batch.tolist(), full)):
            out[s + L : s + 2 * L] += audio * self.window

    def gl30(self, start: int, magnitude: np.ndarray) -> np.ndarray:
        tn = TorchNSGT.for_transform(self.transform)
        mag = torch.from_numpy(magnitude).to(tn.dtype)[None]
        generator = torch.Generator().manual_seed(start & 0xFFFF)
        coeffs = torch.polar(mag, 2 * np.pi * torch.rand(mag.shape, generator=generator, dtype=tn.dtype))
        for _ in range(30):
            coeffs = tn.forward(tn.backward(coeffs)).sgn_().mul_(mag)  # sgn(z) = z / |z|: the projection
        return tn.backward(coeffs)[0].numpy()


@contextmanager
def torch_gl30():
    """Within it, render_notes with REFERENCE runs GL30 on the torch NSGT with the default's thread pool
    (render._block_pool, the same size) instead of the seed method."""
    with render_module._block_pool(DEFAULT.batch_blocks // 2) as pool, \
            mock.patch.object(render_module, "_PathBlocks", lambda *args: _TorchGL30Blocks(pool, *args)):
        yield


def render_with(method: str, session, notes) -> np.ndarray:
    if method == "gl30":
        with torch_gl30():
            return render_notes(session, notes, REFERENCE)
    return render_notes(session, notes, REFERENCE if method == "seed" else DEFAULT)


def count_held_loops(session, notes) -> int:
    """Renders with the default method and counts the held loops made (render.steady_loop calls)."""
    with mock.patch.object(render_module, "steady_loop", wraps=render_module.steady_loop) as loops:
        render_notes(session, notes, DEFAULT)
    return loops.call_count


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


def measure(session, label: str, notes, repeats: int) -> dict:
    """Each method's real-time factor and spectral convergence on ``notes``; the default's held loops
    and pitch hits. The torch methods: one warm-up render each, then ``repeats`` alternating timed
    renders (medians); the seed method: one render, as the seed code ran it."""
    sr = session.spectral.sample_rate
    held_loops = count_held_loops(session, notes)  # also the default's warm-up
    render_with("gl30", session, notes)  # warm-up
    times: dict[str, list[float]] = {m: [] for m in METHODS}
    audio: dict[str, np.ndarray] = {}
    for method in ["seed"] + ["gl30", "default"] * repeats:
        t0 = time.perf_counter()
        audio[method] = render_with(method, session, notes)
        times[method].append(time.perf_counter() - t0)
    seconds = len(audio["default"]) / sr
    longest = max(n.duration for n in notes)
    print(f"{label}: {seconds:.1f} s, {len(notes)} notes, the longest {longest:.2f} s; "
          f"the default made {held_loops} held loops")
    r: dict = {"held_loops": held_loops}
    for method in METHODS:
        took = statistics.median(times[method])
        r[f"rtf_{method}"] = seconds / took
        r[f"sc_{method}"] = convergence(session, notes, audio[method], DEFAULT)
        runs = "1 run" if method == "seed" else f"median of {len(times[method])}"
        print(f"  {TITLES[method]:25}: {took:6.2f} s ({runs}) = {r[f'rtf_{method}']:6.1f}x real time, "
              f"spectral convergence {r[f'sc_{method}']:.3f}")
    r["speedup_seed"] = r["rtf_default"] / r["rtf_seed"]
    r["speedup_gl30"] = r["rtf_default"] / r["rtf_gl30"]
    r["pitch_hits"] = pitch_hits(audio["default"], notes, sr)
    print(f"  default: {r['speedup_seed']:.1f}x the seed method's speed, {r['speedup_gl30']:.1f}x GL30's on the same "
          f"transform; pyin finds the requested note in {r['pitch_hits']:.1%} of {len(notes)} notes")
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--midi", type=Path, default=HERE.parent / "resources" / "demo" / "melody.mid")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--memory", action="store_true", help="also render a 10-minute file and report peak memory")
    ap.add_argument("--held", action="store_true", help="also compare held notes with and without held loops")
    ap.add_argument("--device", default="cpu", help="the model session's device: cpu, cuda or auto")
    args = ap.parse_args()
    session = ModelSession(device=args.device)
    demo = measure(session, f"{args.midi.name}", read_midi(args.midi, session.instruments, "flute", session.dynamics),
                   args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        write_held_midi(Path(tmp) / "held.mid")
        held = measure(session, "held notes (1.5-3 s)",
                       read_midi(Path(tmp) / "held.mid", session.instruments, "flute", session.dynamics), args.repeats)
    if args.memory:
        memory(session, args.midi)
    if args.held:
        held_notes(session, args.repeats)
    lowest = all(r["sc_default"] < min(r["sc_seed"], r["sc_gl30"]) for r in (demo, held))
    print(f"targets: >=50x the seed method {'met' if demo['speedup_seed'] >= 50 else 'MISSED'}, "
          f">=5x GL30 on the same transform {'met' if demo['speedup_gl30'] >= 5 else 'MISSED'}, "
          f"spectral convergence below both {'met' if lowest else 'MISSED'}, "
          f"held notes >=20x real time {'met' if held['rtf_default'] >= 20 else 'MISSED'}")
    print(f"render: speedup_seed={demo['speedup_seed']:.1f} speedup_gl30={demo['speedup_gl30']:.1f} "
          f"default_rtf={demo['rtf_default']:.1f} gl30_rtf={demo['rtf_gl30']:.1f} seed_rtf={demo['rtf_seed']:.2f} "
          f"sc_default={demo['sc_default']:.3f} sc_gl30={demo['sc_gl30']:.3f} sc_seed={demo['sc_seed']:.3f} "
          f"pitch_hits={demo['pitch_hits']:.3f} held_rtf={held['rtf_default']:.1f} "
          f"held_speedup_seed={held['speedup_seed']:.1f} held_speedup_gl30={held['speedup_gl30']:.1f} "
          f"held_sc_default={held['sc_default']:.3f} held_sc_gl30={held['sc_gl30']:.3f} "
          f"held_sc_seed={held['sc_seed']:.3f} held_loops={held['held_loops']} demo_held_loops={demo['held_loops']}")


if __name__ == "__main__":
    main()
