"""Labels or latent trajectories -> magnitude frames -> audio.

A note is a latent target held from its start to its end plus a release, reached and left with the
interpolation the user chose; notes that overlap in time go to separate voices, each reconstructed on
its own and summed. Audio is built in half-overlapping blocks (one NSGT length, Hann cross-fades), so
memory stays bounded by the block, whatever the piece's length.
"""
from __future__ import annotations

import math
import os
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import torch

from .interpolation import interpolate
from .jobs import CancelFn, GlissandoError, ProgressFn, atomic_write, check_cancel, check_output, no_progress
from .midi import Note, check_note_times
from .session import ModelSession
from .spectral import SAMPLE_RATE, NSGTransform, griffin_lim
from .spectral.phase import phase_locked_init, steady_loop
from .spectral.torch_nsgt import TorchNSGT
from .units import midi_to_hz

PHASE_METHODS = ("fast", "gl30")
STILL = 1e-6  # relative latent change per frame below which a path is holding still
SUBTYPES = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}  # WAV bit depths
OUTPUT_RATES = (SAMPLE_RATE, 2 * SAMPLE_RATE)  # the model's rate, or upsampled for players that want 44.1 kHz
# Exports are peak-normalized: the model decodes at about -16 dBFS, too quiet to drop into a DAW beside
# other material. -1 dBFS leaves headroom for the inter-sample peaks of lossy encoders and resamplers.
DEFAULT_PEAK_DB = -1.0
PEAK_DB_RANGE = (-60.0, 0.0)


@dataclass
class RenderSettings:
    interpolation: str = "linear"
    phase: str = "fast"  # "fast": phase-locked start + fast Griffin-Lim; "gl30": the paper's reference
    iterations: int = 2  # fast Griffin-Lim iterations for blocks started from phase-locked phases
    # ... and for blocks whose phases come from both neighbours: one, because the two neighbours' phases
    # meet in the block's middle, where each neighbour's own block ends; without an iteration there, a
    # held ff flute note dipped 8 dB for one frame and was transcribed as two notes.
    seeded_iterations: int = 1
    momentum: float = 0.99
    attack: float = 0.01  # seconds: no click at note starts
    release: float = 0.08
    glide: float = 0.06  # seconds spent moving between targets (linear / cubic / spherical)
    # Samples per reconstructed block; None: the model's analysis block (SpectralConfig.block), the
    # length its held loops are made with too.
    block: Optional[int] = None
    batch_blocks: int = 8
    # A latent held this long (a sustain) is rendered from its frame's seamless loop (held_runs). A loop
    # costs about 0.2 s of one core: at 1.0 s the demo melody's one long repeated note cost 40% of
    # its render time (32x real time instead of 57x); at 1.5 s it keeps the fast path.
    held_seconds: float = 1.5


def _with_block(settings: Optional[RenderSettings], session: ModelSession) -> RenderSettings:
    """``settings`` (None: the defaults) with its block resolved: by default the model's analysis block."""
    if settings is None:
        settings = RenderSettings()
    return settings if settings.block else replace(settings, block=session.spectral.block)


def _block(settings: RenderSettings) -> int:
    """The block length of settings resolved by ``_with_block``."""
    assert settings.block is not None, "settings not resolved by _with_block"
    return settings.block


def allocate_voices(notes: list[Note]) -> list[list[Note]]:
    """Greedy: each note joins the first voice that is free at its start."""
    voices: list[list[Note]] = []
    for note in sorted(notes, key=lambda n: (n.start, n.midi)):
        for voice in voices:
            if voice[-1].end <= note.start + 1e-9:
                voice.append(note)
                break
        else:
            voices.append([note])
    return voices


def voice_keyframes(session: ModelSession, voice: list[Note],
                    settings: RenderSettings) -> tuple[np.ndarray, np.ndarray]:
    """Times and latent targets of one monophonic voice (silence between notes)."""
    silence = session.silence_latent()
    times, targets = [0.0], [silence]
    hold = settings.interpolation == "none"
    for i, note in enumerate(voice):
        z = session.label_latent(note.midi, note.dynamics, note.instrument)
        a = note.start
        b = note.end + settings.release
        if i + 1 < len(voice):
            b = min(b, voice[i + 1].start)
        if hold:
            times += [a, b]
            targets += [z, silence]
            continue
        g = min(settings.glide / 2, (b - a) / 4)
        if a - g > times[-1]:
            times.append(a - g)
            targets.append(targets[-1] if targets[-1] is silence else silence)
        times += [a + g, b - g]
        targets += [z, z]
        if i + 1 == len(voice) or voice[i + 1].start - b > settings.glide:
            times.append(b + g)
            targets.append(silence)
    return np.asarray(times), np.asarray(targets)


# A note repeated at the same pitch starts after this much silence: a release running into the next
# attack leaves a dip of 4 dB, which a listener (and the transcriber) hears as one held note.
REPEAT_SILENCE = 0.015
REPEAT_FADE = 0.01  # the shortest fade out before that silence: no click


# A piano's struck string dies away while the key is held; the model decodes one spectrum per label (the
# mean of the note's sustained frames), which held alone is an organ tone. Decay in dB per second from
# the attack: the median over the four training banks' pianos at mf fell 6 dB/s at C1, 12 at C4 and
# 17-34 from C5 up (fitted over 0.9 s of each note); this line follows it, clamped at both ends.
DECAY_DB_PER_SECOND = {"piano": lambda midi: float(np.clip(0.35 * (midi - 21), 5.0, 25.0))}


def note_envelope(voice: list[Note], n_samples: int, sample_rate: int, settings: RenderSettings) -> np.ndarray:
    env = np.zeros(n_samples, dtype=np.float32)
    following = {id(n): m for n, m in zip(voice, voice[1:])}
    for note in voice:
        a = int(note.start * sample_rate)
        e = min(int(note.end * sample_rate), n_samples)
        r = min(int((note.end + settings.release) * sample_rate), n_samples)
        after = following.get(id(note))
        if after is not None and after.midi == note.midi and after.start < note.end + settings.release + REPEAT_SILENCE:
            # Fade out in time for REPEAT_SILENCE of silence before the repeat, starting before the note's
            # end when the gap is shorter than the fade itself.
            r = max(a + 1, int((after.start - REPEAT_SILENCE) * sample_rate))
            e = max(a, min(e, r - int(REPEAT_FADE * sample_rate)))
        att = max(1, int(settings.attack * sample_rate))
        seg = np.ones(max(0, e - a), dtype=np.float32)
        seg[: min(att, len(seg))] = np.linspace(0, 1, att, endpoint=False, dtype=np.float32)[: len(seg)]
        decay = DECAY_DB_PER_SECOND.get(note.instrument)
        if decay is not None:
            seg *= (10 ** (-decay(note.midi) / 20 * np.arange(len(seg)) / sample_rate)).astype(np.float32)
        env[a:e] = np.maximum(env[a:e], seg)
        level = seg[-1] if len(seg) else 0.0
        env[e:r] = np.maximum(env[e:r], np.linspace(level, 0, max(r - e, 0), dtype=np.float32))
    return env


# Below a note's fundamental a pitched instrument has only its noises (hammer, bow, breath): 12-44 dB under the
# fundamental in the training banks' pianos. The decoder's spectra of high notes carry a rumble there that
# reaches the fundamental's level (piano C7: +3 dB, 60-130 Hz), heard as a hum under the note; it is held
# this far below the fundamental.
SUB_FUNDAMENTAL_DB = -30.0


def _harmonic_bands(freqs: np.ndarray, f0: float, half_width: np.ndarray) -> np.ndarray:
    near = np.zeros(len(freqs), dtype=bool)
    for k in range(1, int(freqs[-1] // f0) + 1):
        near |= np.abs(freqs - k * f0) <= half_width
    return near


def clean_voice(audio: np.ndarray, voice: list[Note], sample_rate: int, settings: RenderSettings) -> np.ndarray:
    """Two corrections of one voice's reconstruction, as gains in one short STFT (46 ms windows: partials a
    third apart are resolved and the gains move smoothly, without clicks).

    - Where a note follows another of a different pitch, the previous pitch's partials fade out over
      ``settings.release`` from the new note's start, as a released note does. Phase reconstruction leaves
      them sounding: the constant-Q atoms of the frames before the change are long (about 0.3 s at C4) and
      Griffin-Lim spreads their energy further into the next note, 20-35 dB below the old note for up to
      0.4 s; after a loud note a soft one then reads as the previous pitch. The envelope cannot help (one
      voice is one signal). Bands the new note's own partials share are left alone, and so are repeats.
    - Below each note's fundamental (from a semitone under it), energy is held SUB_FUNDAMENTAL_DB under the
      fundamental's, frame by frame: the decoder's rumble under high notes goes, a note's own noises stay.
    """
    if not voice or len(audio) < 2048:
        return audio
    n_fft, hop = 1024, 256
    # torch's STFT, not scipy.signal's: importing that costs seconds on a first render.
    window = torch.hann_window(n_fft, dtype=torch.float64)
    spec = torch.stft(torch.from_numpy(np.asarray(audio, dtype=np.float64)), n_fft, hop, window=window,
                      center=True, return_complex=True)
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    times = np.arange(spec.shape[1]) * hop / sample_rate  # centred frames
    gain = np.ones(tuple(spec.shape), dtype=np.float64)
    # A partial's band: the Hann window's main lobe (2 bins each side) or a quarter tone, whichever is wider.
    half_width = np.maximum(2 * sample_rate / n_fft, freqs * (2 ** (1 / 24) - 1))
    limit = 10 ** (SUB_FUNDAMENTAL_DB / 10)
    for i, note in enumerate(voice):
        f0 = float(midi_to_hz(note.midi))
        following = voice[i + 1] if i + 1 < len(voice) else None
        end = note.end + settings.release
        if following is not None:
            end = min(end, following.start)
        frames = slice(int(np.searchsorted(times, note.start)), int(np.searchsorted(times, end)))
        below = freqs < f0 * 2 ** (-1 / 12) - 2 * sample_rate / n_fft
        if frames.stop > frames.start and below.any():
            power = spec[:, frames].abs().numpy() ** 2  # the note's frames only: a long voice's whole STFT is large
            fundamental = power[np.abs(freqs - f0) <= np.interp(f0, freqs, half_width)].sum(0)
            scale = np.sqrt(np.minimum(1.0, limit * fundamental / np.maximum(power[below].sum(0), 1e-30)))
            gain[below, frames] = np.minimum(gain[below, frames], scale)
        if following is None or following.midi == note.midi or following.start >= note.end + settings.release:
            continue
        bands = _harmonic_bands(freqs, f0, half_width) & ~_harmonic_bands(
            freqs, float(midi_to_hz(following.midi)), half_width)
        after = voice[i + 2].start if i + 2 < len(voice) else None
        stop = following.end + settings.release if after is None else min(following.end + settings.release, after)
        span = np.flatnonzero((times >= following.start) & (times < stop))
        fade = np.clip(1 - (times[span] - following.start) / max(settings.release, 1e-3), 0.0, 1.0)
        gain[np.ix_(bands, span)] = np.minimum(gain[np.ix_(bands, span)], fade)
    out = torch.istft(spec * torch.from_numpy(gain), n_fft, hop, window=window, center=True, length=len(audio))
    return out.numpy().astype(audio.dtype, copy=False)


def _still_runs(latents: np.ndarray) -> list[tuple[int, int]]:
    """(first, end) of every run of frames whose latent does not move (to rounding: a cubic path
    between two equal targets wobbles in the last bits)."""
    steady = np.all(np.abs(np.diff(latents, axis=0)) <= STILL * (1 + np.abs(latents[:-1])), axis=1)
    new = np.concatenate([[True], ~steady])
    starts = np.flatnonzero(new)
    return list(zip(starts.tolist(), np.append(starts[1:], len(latents)).tolist()))


def _still_beyond(path: Callable[[np.ndarray], np.ndarray], edge: float, direction: int, latent: np.ndarray,
                  horizon: float) -> float:
    """How long (seconds, up to ``horizon``) the path stays at ``latent`` past ``edge``, probed 16 times."""
    step = horizon / 16
    probes = path(edge + direction * step * np.arange(1, 17))
    still = np.all(np.abs(probes - latent) <= STILL * (1 + np.abs(latent)), axis=1)
    return step * (16 if still.all() else int(np.argmin(still)))


def _fast_phase(mag_np: np.ndarray, start: int, transform: NSGTransform, settings: RenderSettings,
                left: Optional[np.ndarray], right: Optional[np.ndarray],
                held: Sequence[tuple[slice, np.ndarray]] = ()) -> np.ndarray:
    """One block: initial phases, then fast Griffin-Lim (momentum) with the torch NSGT.

    ``left`` / ``right`` is the audio of the block overlapping this one's first / second half, when
    that one is already done: its phases seed that half, so the two blocks agree where they are
    cross-faded instead of beating. ``held`` gives, for runs of frames holding one frame, that frame's
    loop at this block's place: those frames start from the loop's phases. Other frames start from
    phase-locked phases.
    """
    tn = TorchNSGT.for_transform(transform)
    mag = torch.from_numpy(mag_np).to(tn.dtype)[None]
    both = left is not None and right is not None
    if not both:
        phase = phase_locked_init(mag_np, transform, start_sample=int(start))
        coeffs = torch.polar(mag, torch.from_numpy(phase).to(tn.dtype)[None])
        held_coeffs = [(frames, tn.forward(torch.from_numpy(loop).to(tn.dtype)[None])[..., frames]
                        .sgn_().mul_(mag[..., frames]))
                       for frames, loop in held]
        for frames, c in held_coeffs:
            coeffs[..., frames] = c
    if left is not None or right is not None:
        half, first = transform.length // 2, transform.n_frames // 2
        seed = torch.zeros((1, transform.length), dtype=tn.dtype)
        if left is not None:
            seed[0, :half] = torch.from_numpy(left[half:])
        if right is not None:
            seed[0, half:] = torch.from_numpy(right[:half])
        # sgn(z) = z / |z|: the magnitude projection in one pass, without angle() and polar().
        seeded = tn.forward(seed).sgn_().mul_(mag)
        if both:
            coeffs = seeded
        elif left is not None:
            coeffs[..., :first] = seeded[..., :first]
        else:
            coeffs[..., -first:] = seeded[..., -first:]
    # In place where the old value is dead: no fresh 1.5 MB tensor per operation.
    prev = coeffs
    n_iter = settings.seeded_iterations if both else settings.iterations
    for _ in range(n_iter):
        consistent = tn.forward(tn.backward(coeffs)).sgn_().mul_(mag)
        coeffs = prev.lerp_(consistent, 1 + settings.momentum)  # consistent + momentum * (consistent - prev)
        prev = consistent
    if n_iter:  # otherwise coeffs already have the target magnitudes
        coeffs.sgn_().mul_(mag)
    if not both:
        # The iterations pull held frames towards their non-held neighbours; held frames keep the
        # loop's coefficients, so the sustain is the loop itself (2 s notes: 0.065 -> 0.040 from the
        # model's frame) and the blocks either side, seeded from it, agree with it.
        for frames, c in held_coeffs:
            coeffs[..., frames] = c
    return tn.backward(coeffs)[0].numpy()


@contextmanager
def _block_pool(max_workers: int) -> Iterator[ThreadPoolExecutor]:
    """Threads that each reconstruct whole blocks with a share of torch's threads, rather than torch
    splitting every sub-millisecond operation over all cores: then, when another process holds one
    core, each operation waits for the preempted torch worker and a render takes four times as long
    (measured with a busy loop beside the render). The caller's thread gets the same share meanwhile."""
    threads = torch.get_num_threads()
    workers = max(1, min(threads, max_workers))
    per_worker = max(1, threads // workers)
    torch.set_num_threads(per_worker)
    try:
        with ThreadPoolExecutor(workers, initializer=torch.set_num_threads, initargs=(per_worker,)) as pool:
            yield pool
    finally:
        torch.set_num_threads(threads)


class _PathBlocks:
    """The blocks of one reconstruct_path call, and what its blocks share: which are anchors, the audio
    of blocks a later one overlaps, and the loops of held frames."""

    def __init__(self, session: ModelSession, path: Callable[[np.ndarray], np.ndarray], settings: RenderSettings,
                 todo: list[int], duration: float, grid: Optional[np.ndarray] = None):
        self.session, self.path, self.settings, self.todo, self.grid = session, path, settings, todo, grid
        self.duration = duration  # seconds of audio asked for: the blocks run past it
        self.sr = session.spectral.sample_rate
        self.L = _block(settings)
        self.hop = self.L // 2
        self.transform = NSGTransform.for_length(self.L, session.spectral)
        # Periodic Hann: half-overlapped copies sum to one.
        self.window = np.sin(np.pi * np.arange(self.L) / self.L) ** 2
        # Fast phase: every other block ("anchors") first, from phase-locked phases; then the blocks
        # between them, which find both neighbours done and take their phases from them in both overlaps.
        self.anchor = {s: (s + self.hop) // self.hop % 2 == 0 for s in todo}
        self.done: dict[int, np.ndarray] = {}  # block start -> audio, while a later block may overlap it
        # Held frames (a note's sustain) start from their seamless loop (spectral/phase.steady_loop) at
        # the block's place in it; a block that holds one frame throughout is that loop, so consecutive
        # held blocks are one signal and their cross-fade is exact. Fast phase alone leaves held notes 0.14
        # from the model's frame (median over 11 instruments, up to 0.27), the loop 0.03; the live engine
        # plays the same loops (playback/loops.py). A loop costs 0.2 s of one core, so only runs held for
        # ``held_seconds`` get one: short notes keep the fast path.
        self.loops: dict[bytes, np.ndarray] = {}
        self.loop_jobs: dict[bytes, Future] = {}  # loops being made
        # Block start -> its held runs (first, end, loop key).
        self.held_of: dict[int, list[tuple[int, int, bytes]]] = {}

    def batch_end(self, i: int) -> int:
        """End (exclusive, in ``todo``) of the batch of blocks that starts at index ``i``."""
        todo = self.todo
        j = min(i + self.settings.batch_blocks, len(todo))
        if self.settings.phase == "fast" and j < len(todo) and j - 1 > i and not self.anchor[todo[j - 1]] \
                and todo[j] == todo[j - 1] + self.hop:
            j -= 1  # end on an anchor, so that the block after it still finds both neighbours done
        return j

    def magnitudes(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The path's latents at every frame of the batch's blocks, and the NSGT magnitudes (blocks, rows,
        frames) they decode to (zero in the two edge rows)."""
        transform = self.transform
        times = (batch[:, None] + np.arange(transform.n_frames)[None, :] * transform.hop) / self.sr
        z = self.path(times.reshape(-1))
        if self.grid is None:
            mags = self.session.decode_magnitudes(z)
        else:
            mags = self.grid_magnitudes(times.reshape(-1))
        mags = mags.reshape(len(batch), transform.n_frames, -1)
        full = np.zeros((len(batch), transform.n_rows, transform.n_frames), dtype=mags.dtype)
        full[:, 1:-1] = mags.transpose(0, 2, 1)
        return z, full

    def grid_magnitudes(self, times: np.ndarray) -> np.ndarray:
        """Magnitudes at ``times`` from the path decoded on the grid points around them, log magnitudes
        linear in between. The decoder is smooth on the scale of one analysed frame: on melodies moved by a
        shift transfer, this differs from decoding every frame by a spectral convergence of 0.03-0.06, as
        much as one more phase iteration changes a render."""
        assert self.grid is not None
        grid = self.grid
        lo = max(0, int(np.searchsorted(grid, times.min(), side="right")) - 1)
        hi = min(len(grid), int(np.searchsorted(grid, times.max(), side="left")) + 1)
        points = grid[lo:hi]
        logs = self.session.decode_signal(self.path(points)).astype(np.float64)
        if len(points) == 1:
            out = np.repeat(logs, len(times), axis=0)
        else:
            k = np.clip(np.searchsorted(points, times, side="right") - 1, 0, len(points) - 2)
            w = np.clip((times - points[k]) / (points[k + 1] - points[k]), 0.0, 1.0)[:, None]
            out = logs[k] * (1 - w) + logs[k + 1] * w
        return np.maximum(np.exp(out) - self.session.spectral.log_floor, 0.0).astype(np.float32)

    def add_reference(self, batch: np.ndarray, full: np.ndarray, out: np.ndarray) -> None:
        """The paper's reference: 30 Griffin-Lim iterations per block, from random phases."""
        L = self.L
        for s, m in zip(batch, full):
            audio = griffin_lim(m, self.transform, n_iter=30, momentum=0.0, seed=int(s) & 0xFFFF)[0]
            out[s + L : s + 2 * L] += audio * self.window

    def start_fast(self, batch: np.ndarray, z: np.ndarray, full: np.ndarray, pool: ThreadPoolExecutor) -> None:
        """Fast phase, first step: finds the batch's held runs and starts making their loops. The caller
        starts the next batch's loops before finishing this one (reconstruct_path), so a loop (0.2 s of a
        core, against 5-25 ms for a block) never leaves a worker idle at the end of a batch: with each
        batch on its own, a tune of held notes kept 1.5 of 2 cores busy."""
        for s, latents, m in zip(batch.tolist(), z.reshape(len(batch), self.transform.n_frames, -1), full):
            runs = self.held_runs(s, latents, m)
            self.held_of[s] = [(a, b, key) for a, b, key, _ in runs]
            for _, _, key, frame in runs:
                if key not in self.loops and key not in self.loop_jobs:
                    self.loop_jobs[key] = pool.submit(steady_loop, frame, self.session.spectral, self.L)

    def finish_fast(self, batch: np.ndarray, full: np.ndarray, out: np.ndarray, pool: ThreadPoolExecutor) -> None:
        """Fast phase, second step: the batch's anchors and the blocks between them, each started as soon
        as what it needs is done (a held anchor its loops, a block between anchors both of them). The
        blocks are summed in a fixed order, so the audio is the same bits whatever finished first."""
        L = self.L
        starts = batch.tolist()
        magnitudes = dict(zip(starts, full))
        in_batch = set(starts)
        waiting: list[int] = list(starts)
        block_jobs: dict[Future, int] = {}
        audio: dict[int, np.ndarray] = {}

        def loops_of(s: int) -> set[bytes]:
            return {key for _, _, key in self.held_of.get(s, ())}

        def ready(s: int) -> bool:
            if self.anchor[s]:
                return loops_of(s) <= self.loops.keys()
            return all(n not in in_batch or n in audio for n in (s - self.hop, s + self.hop))

        while waiting or block_jobs:
            for key in [key for key, job in self.loop_jobs.items() if job.done()]:
                self.loops[key] = self.loop_jobs.pop(key).result()
            for s in [s for s in waiting if ready(s)]:
                waiting.remove(s)
                block_jobs[pool.submit(self.block, (s, magnitudes[s]))] = s
            needed = [self.loop_jobs[key] for s in waiting for key in loops_of(s) if key in self.loop_jobs]
            if not block_jobs and not needed:
                raise RuntimeError(f"render blocks {waiting} wait for nothing that is running")
            for job in wait([*block_jobs, *needed], return_when=FIRST_COMPLETED).done:
                if job in block_jobs:
                    s = block_jobs.pop(job)
                    audio[s] = self.done[s] = job.result()
        for s in sorted(starts, key=lambda s: not self.anchor[s]):  # anchors, then the blocks between them
            out[s + L : s + 2 * L] += audio[s] * self.window
        last = int(batch[-1])
        self.done = {last: self.done[last]}
        # A long note's loop outlives its batch, not more; the next batch's, already made, stay.
        still_needed = {key for runs in self.held_of.values() for _, _, key in runs}
        for key in [key for key in self.loops if key not in still_needed][:-self.settings.batch_blocks or None]:
            del self.loops[key]

    def held_runs(self, s: int, latents: np.ndarray, m: np.ndarray) -> list[tuple[int, int, bytes, np.ndarray]]:
        """Runs of this block's frames that hold one latent for ``held_seconds`` in all, counting how
        long the path holds it beyond the block's edges: a note's sustain, wherever the blocks fall."""
        settings, transform, sr = self.settings, self.transform, self.sr
        if settings.phase != "fast" or not self.anchor[s]:  # blocks between anchors take their neighbours' phases
            return []
        found = []
        first_t, last_t = s / sr, (s + (transform.n_frames - 1) * transform.hop) / sr
        for a, b in _still_runs(latents):
            frame = m[1:-1, a]
            if frame.max() <= self.session.spectral.silence_floor:
                continue  # silence
            held_from, held_to = first_t + a / transform.frame_rate, first_t + b / transform.frame_rate
            if a == 0:
                held_from -= _still_beyond(self.path, first_t, -1, latents[a], settings.held_seconds)
            if b == len(latents):
                held_to += _still_beyond(self.path, last_t, 1, latents[a], settings.held_seconds)
            # Only what is heard counts: a path holds its last latent past the end of the audio (a sound's
            # path in a timbre transfer), which made a loop for every transfer's final blocks.
            seconds = min(held_to, self.duration) - max(held_from, 0.0)
            if seconds >= settings.held_seconds:
                found.append((a, b, np.round(latents[a], 5).tobytes(), frame))
        return found

    def block(self, start_and_magnitudes: tuple[int, np.ndarray]) -> np.ndarray:
        s, m = start_and_magnitudes
        runs = self.held_of.pop(s, [])
        held = [(slice(a, b), np.roll(self.loops[key], -(s % self.L))) for a, b, key in runs]
        if len(held) == 1 and runs[0][1] - runs[0][0] == m.shape[1]:
            return held[0][1].astype(np.float64)
        return _fast_phase(m, s, self.transform, self.settings, self.done.get(s - self.hop),
                           self.done.get(s + self.hop), held)


def reconstruct_path(session: ModelSession, path: Callable[[np.ndarray], np.ndarray], n_samples: int,
                     settings: RenderSettings, active: Optional[Callable[[float, float], bool]] = None,
                     progress: ProgressFn = no_progress, cancel: Optional[CancelFn] = None,
                     done_before: int = 0, total_blocks: Optional[int] = None,
                     grid: Optional[np.ndarray] = None) -> np.ndarray:
    """Audio of a latent path given as a function of time (seconds -> latents).

    ``grid``: increasing times between which the path is a straight line (the analysed frames of a
    sound). It is decoded there only and the log magnitudes interpolated between, instead of at every
    frame of every half-overlapping block (8 decodes per analysed frame).

    Stops with Cancelled when ``cancel`` says so, and with the session's SessionClosed (a
    GlissandoError) when its session is closed meanwhile, both between batches of blocks.
    """
    sr = session.spectral.sample_rate
    settings = _with_block(settings, session)
    L = _block(settings)
    starts = np.arange(-(L // 2), n_samples, L // 2)
    out = np.zeros(n_samples + 2 * L)
    todo = [int(s) for s in starts if active is None or active(s / sr, (s + L) / sr)]
    blocks = _PathBlocks(session, path, settings, todo, n_samples / sr, grid)
    total = total_blocks or len(todo)
    with _block_pool(settings.batch_blocks // 2) if settings.phase == "fast" else nullcontext() as pool:
        try:
            i, ahead = 0, None
            while i < len(todo):
                check_cancel(cancel)
                session.check_open()
                if ahead is None:
                    ahead = _next_batch(blocks, i, pool)
                j, batch, full = ahead
                if settings.phase == "gl30":
                    blocks.add_reference(batch, full, out)
                    ahead = None
                else:
                    assert pool is not None  # the fast phase's pool
                    ahead = _next_batch(blocks, j, pool) if j < len(todo) else None
                    blocks.finish_fast(batch, full, out, pool)
                progress(done_before + j, total, "rendering")
                i = j
        finally:
            for job in blocks.loop_jobs.values():  # cancelled or failed: loops not yet started are not made
                job.cancel()
    return out[L : L + n_samples]


def _next_batch(blocks: _PathBlocks, i: int, pool: Optional[ThreadPoolExecutor]
                ) -> tuple[int, np.ndarray, np.ndarray]:
    """The batch of blocks from ``todo[i]``: its end, its block starts and their decoded magnitudes, with
    its held loops started (fast phase)."""
    j = blocks.batch_end(i)
    batch = np.asarray(blocks.todo[i:j])
    z, full = blocks.magnitudes(batch)
    if pool is not None:
        blocks.start_fast(batch, z, full, pool)
    return j, batch, full


def render_notes(session: ModelSession, notes: list[Note], settings: Optional[RenderSettings] = None,
                 progress: ProgressFn = no_progress, cancel: Optional[CancelFn] = None) -> np.ndarray:
    """Mono float32 audio at the model's sample rate (``settings`` None: the defaults)."""
    settings = _with_block(settings, session)
    if not notes:
        raise GlissandoError("nothing to render: no notes")
    check_note_times(notes, "the piece")  # never a render of nan or days of audio (the command line checks first)
    if settings.phase not in PHASE_METHODS:
        raise GlissandoError(f"unknown phase method {settings.phase!r} (use {', '.join(PHASE_METHODS)})")
    for n in notes:
        session.check_note(n.midi, n.dynamics, n.instrument)
    sr = session.spectral.sample_rate
    n_samples = int((max(n.end for n in notes) + settings.release + 0.05) * sr)
    paths = voice_paths(session, notes, settings)
    L = _block(settings)
    block_starts = range(-L // 2, n_samples, L // 2)
    counts = [sum(active(s / sr, (s + L) / sr) for s in block_starts) for _, _, active in paths]
    out = np.zeros(n_samples)
    done = 0
    for (voice, path, active), count in zip(paths, counts):
        audio = reconstruct_path(session, path, n_samples, settings, active, progress, cancel, done, sum(counts))
        audio = clean_voice(audio, voice, sr, settings)
        out += audio * note_envelope(voice, n_samples, sr, settings)
        done += count
    return out.astype(np.float32)


def render_trajectory(session: ModelSession, times: np.ndarray, latents: np.ndarray,
                      settings: Optional[RenderSettings] = None, progress: ProgressFn = no_progress,
                      cancel: Optional[CancelFn] = None) -> np.ndarray:
    """A free latent trajectory (targets reached at ``times``) as audio, with short fades at both ends
    (``settings`` None: the defaults)."""
    settings = _with_block(settings, session)
    interpolation = settings.interpolation
    sr = session.spectral.sample_rate
    n_samples = int(max(times[-1], 0.05) * sr)

    def path(q: np.ndarray) -> np.ndarray:
        return interpolate(times, latents, q, interpolation).astype(np.float32)

    audio = reconstruct_path(session, path, n_samples, settings, progress=progress, cancel=cancel)
    fade = min(int(settings.attack * sr), n_samples // 2)
    if fade:
        audio[:fade] *= np.linspace(0, 1, fade)
        audio[-fade:] *= np.linspace(1, 0, fade)
    return audio.astype(np.float32)


def check_peak_db(peak_db: float) -> float:
    """``peak_db`` if it is a peak level an export can take (finite, from -60 to 0 dBFS), else GlissandoError."""
    low, high = PEAK_DB_RANGE
    if not (isinstance(peak_db, (int, float)) and math.isfinite(peak_db) and low <= peak_db <= high):
        raise GlissandoError(f"peak level {peak_db!r} dBFS: give a number from {low:g} to {high:g}")
    return float(peak_db)


def normalize_peak(audio: np.ndarray, peak_db: float = DEFAULT_PEAK_DB) -> np.ndarray:
    """``audio`` scaled by one gain so that its peak is ``peak_db`` dBFS: the balance of loud and soft notes
    inside the piece is kept. Silence is returned as it is (there is no level to reach)."""
    audio = np.asarray(audio, dtype=np.float64)
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak <= 1e-9:
        return audio
    return audio * (10 ** (check_peak_db(peak_db) / 20) / peak)


def write_wav(path: str | os.PathLike, audio: np.ndarray, sample_rate: int = SAMPLE_RATE, out_rate: int = SAMPLE_RATE,
              bit_depth: str = "16", force: bool = False, peak_db: Optional[float] = DEFAULT_PEAK_DB) -> Path:
    """Write audio atomically; an existing file is replaced only with ``force`` (else OutputExists).

    ``peak_db``: the file's peak level in dBFS (one gain for the whole file); None keeps the level the model
    decoded, which keeps the loudness of separate files comparable (only a peak over full scale is lowered).
    """
    import soundfile as sf

    path = check_output(path, force)  # the command line checks before rendering; this is the last line of defence
    if out_rate not in OUTPUT_RATES:
        rates = " or ".join(map(str, OUTPUT_RATES))
        raise GlissandoError(f"{path}: output sample rate must be {rates}, not {out_rate}")
    if bit_depth not in SUBTYPES:
        raise GlissandoError(f"{path}: bit depth must be one of {', '.join(SUBTYPES)}")
    if peak_db is not None:
        check_peak_db(peak_db)
    audio = np.asarray(audio, dtype=np.float64)
    if out_rate != sample_rate:
        from scipy.signal import resample_poly

        audio = resample_poly(audio, out_rate, sample_rate)
    if peak_db is not None:
        audio = normalize_peak(audio, peak_db)  # after resampling: the peak of the samples written
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak > 0.999:  # never clip (--no-normalize of a loud render)
        audio = audio * (0.999 / peak)
    try:
        with atomic_write(path, suffix=".tmp.wav") as tmp:
            sf.write(str(tmp), audio.astype(np.float32), out_rate, subtype=SUBTYPES[bit_depth], format="WAV")
    except PermissionError:
        raise GlissandoError(f"{path}: cannot be written (permission denied)") from None
    except OSError as exc:
        raise GlissandoError(f"{path}: cannot be written ({exc.strerror or exc})") from None
    return path


def path_convergence(session: ModelSession, path: Callable[[np.ndarray], np.ndarray], audio: np.ndarray,
                     settings: RenderSettings, active: Optional[Callable[[float, float], bool]] = None) -> float:
    """Spectral convergence of rendered audio against the magnitudes its path decodes to, over the
    blocks where the path sounds: how faithfully phase reconstruction realised the decoded frames."""
    settings = _with_block(settings, session)
    sr = session.spectral.sample_rate
    L = _block(settings)
    transform = NSGTransform.for_length(L, session.spectral)
    num = den = 0.0
    for s in range(0, max(1, len(audio) - L + 1), L):
        if active is not None and not active(s / sr, (s + L) / sr):
            continue
        times = (s + np.arange(transform.n_frames) * transform.hop) / sr
        target = session.decode_magnitudes(path(times)).T
        # The block edges wrap around in the NSGT; judge the central 80% only.
        inner = slice(transform.n_frames // 10, transform.n_frames - transform.n_frames // 10)
        got = np.abs(transform.forward(audio[s : s + L])[1:-1])
        num += np.sum((target[:, inner] - got[:, inner]) ** 2)
        den += np.sum(target[:, inner] ** 2)
    return float(np.sqrt(num / den)) if den else float("nan")


def voice_paths(session: ModelSession, notes: list[Note], settings: RenderSettings):
    """(voice notes, latent path, activity test) for each voice: what render_notes reconstructs,
    shared with the benchmark that measures it."""
    result = []
    for voice in allocate_voices(notes):
        times, targets = voice_keyframes(session, voice, settings)
        spans = [(n.start, n.end + settings.release) for n in voice]
        result.append((voice,
                       lambda q, t=times, y=targets: interpolate(t, y, q, settings.interpolation).astype(np.float32),
                       lambda a, b, sp=spans: any(s < b and e > a for s, e in sp)))
    return result
