"""Audio -> per-frame label posteriors -> notes -> JSON, CSV or MIDI."""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .data.labels import FAMILIES, OCTAVES, PITCH_CLASSES, SILENT
from .errors import UnknownFormat, one_line
from .jobs import CancelFn, GlissandoError, ProgressFn, atomic_write, check_cancel, check_output, no_progress
from .midi import Note, write_midi
from .spectral import NSGTransform, to_mono_22k
from .spectral.nsgt_frames import EmptyAudio, audio_file_info
from .units import hz_to_midi, midi_to_hz

if TYPE_CHECKING:  # torch is imported where a transcription runs: the command line checks its inputs without it
    from .session import ModelSession
    from .spectral.torch_nsgt import TorchNSGT

FORMATS = ("json", "csv", "mid")
SILENCE_PEAK = 1e-4  # -80 dBFS: audio whose every sample is quieter holds no notes


@dataclass
class TranscribeSettings:
    frame_step: int = 4  # posteriors every 4th NSGT frame: about 12.8 ms apart
    smoothing: int = 5  # frames of the majority filter on the frame labels
    min_note: float = 0.05  # seconds
    gate_db: float = 35.0  # frames this far below the loudest frame are rests (release tails, room noise)
    onset_db: float = 7.0  # a dip then a rise this large in a held pitch's harmonics starts a new note (repeated notes)
    # ... if the whole sound (every bin above 400 Hz) dips and rises by this much too: a vibrato moves a
    # high note's one or two harmonics in and out of their bands by more than onset_db, but it moves
    # energy between bins rather than letting the sound decay as a release does.
    onset_level_db: float = 3.0
    tremolo_level_db: float = 6.0  # ... and by this much where the dips recur at a vibrato's steady rate
    attack_db: float = 22.0  # a note starts where its harmonics first come within this of their attack's peak
    # The model runs on every 3rd analysed frame (38 ms apart, finer than the 64 ms majority filter), the
    # frames between interpolated: 3.5x the speed, the same note F1 on the benchmark melodies.
    label_stride: int = 3
    phrase_gap: float = 0.3  # seconds of rest that end a phrase, for the instrument decision
    own_instrument_confidence: float = 0.9  # a note this sure of another instrument than its phrase keeps it
    chunk_seconds: float = 30.0  # audio read and analysed this much at a time: memory stays flat
    # Encode every frame and keep the latents (the sound's path, for timbre transfer): the labels then come
    # from the same encoding, where a second analysis of the file cost a shift transfer 18% of its time.
    keep_latents: bool = False
    # A mixture model's upper voices (upper_voice_notes): their shortest note, and how close to a note of the
    # lowest voice starting or ending an upper note is that note's own release or attack heard again.
    upper_min_note: float = 0.15
    transition_seconds: float = 0.1
    # A phrase where the upper voices sound less than this share of the time is read as one voice (the
    # benchmark melodies: 0-39%; its duets: 55-98%).
    one_voice_share: float = 0.45


@dataclass
class Posteriors:
    times: np.ndarray  # (T,) seconds
    probs: dict  # family -> (T, V)
    level: np.ndarray  # (T,) frame level in dB (log of summed magnitude), for onsets and gating
    # (T, K) float16 log magnitude per semitone (the loudest NSGT bin within half a semitone of each
    # MIDI note from band_low up): when each note's harmonics rise, for onsets and repeated notes.
    # None: onsets from the level alone, and repeated notes of one pitch stay merged.
    bands: Optional[np.ndarray] = None
    band_low: int = 0
    # No sound at all: an empty file, or every sample below SILENCE_PEAK. Its notes are none.
    silent: bool = False
    # (T, latent_dim) signal latents of every frame, kept when the caller asked (TranscribeSettings.keep_latents).
    latents: Optional[np.ndarray] = None


def _block_frames(audio: np.ndarray, transform: NSGTransform, tn: TorchNSGT, step: int, floor: float):
    """Log-magnitude frames every ``step`` NSGT frames of audio (at the transform's rate), with their times,
    from half-overlapping blocks whose central frames are kept (block edges wrap around)."""
    import torch

    L, hop = transform.length, transform.length // 2
    # Pad a quarter block on both sides: the first and last kept frames would otherwise see the
    # other end of the block, wrapped around by the circular transform.
    pad = L // 4
    audio = np.concatenate([np.zeros(pad, audio.dtype), audio, np.zeros(pad, audio.dtype)])
    n = len(audio)
    starts = list(range(0, max(1, n - hop), hop)) or [0]
    frame_pos = np.arange(0, transform.n_frames, step) * transform.hop
    keep_lo, keep_hi = L // 4, L // 4 + hop
    frames, times = [], []
    for i in range(0, len(starts), 8):
        group = starts[i : i + 8]
        batch = torch.zeros((len(group), L), dtype=tn.dtype)
        for j, s in enumerate(group):
            seg = audio[s : s + L]
            batch[j, : len(seg)] = torch.from_numpy(seg)
        keeps = []
        for s in group:
            lo = 0 if s == 0 else keep_lo
            hi = L if s + L >= n else keep_hi
            keeps.append((frame_pos >= lo) & (frame_pos < hi) & (s + frame_pos >= pad) & (s + frame_pos < n - pad))
        # Magnitudes and logs of the frames some block keeps only: inside the file, half of each block's.
        wanted = np.flatnonzero(np.logical_or.reduce(keeps))
        coefficients = tn.forward(batch)[:, 1:-1, ::step][:, :, torch.from_numpy(wanted)]
        logs = torch.log(coefficients.abs() + floor).permute(0, 2, 1).numpy()
        for j, s in enumerate(group):
            frames.append(logs[j][keeps[j][wanted]])
            times.append((s + frame_pos[keeps[j]] - pad) / transform.config.sample_rate)
    return np.concatenate(frames), np.concatenate(times)


def _label_posteriors(session: ModelSession, frames: np.ndarray, stride: int,
                      latents: Optional[np.ndarray] = None) -> dict:
    """Label posteriors of every frame, the model run on every ``stride``-th one and the rest
    interpolated: labels change on the scale of notes (50 ms and more), while onsets, which need
    the finer grid, come from the bands and the level, computed on every frame. ``latents``: the
    frames' signal latents, already encoded."""
    def posteriors(x: np.ndarray) -> dict:
        if session.voices == 1:
            return session.signal_to_symbols(x) if latents is None else session.decode_symbols(x)
        # A mixture model: the lowest voice under the families' names, as a single-note model gives them,
        # and voice k's under "family@k".
        return {(f if k == 0 else f"{f}@{k}"): v for k, voice in enumerate(session.signal_to_voices(x))
                for f, v in voice.items()}

    if latents is not None and session.voices == 1:
        frames = latents
    if stride <= 1 or len(frames) < 2 * stride:
        return posteriors(frames)
    picked = np.arange(0, len(frames), stride)
    if picked[-1] != len(frames) - 1:
        picked = np.append(picked, len(frames) - 1)
    coarse = posteriors(frames[picked])
    at = np.arange(len(frames))
    return {f: np.stack([np.interp(at, picked, v[:, j]) for j in range(v.shape[1])], axis=1).astype(v.dtype)
            for f, v in coarse.items()}


# A pitch must be named in most of this many seconds of frames around a frame to sound there: single frames
# where a slot names a neighbour (an octave, the other voice's pitch) do not break or make a note.
CHORD_SMOOTH_SECONDS = 0.09


def _semitone_starts(frequencies: np.ndarray) -> tuple[np.ndarray, int]:
    """First NSGT bin of each semitone band (bins grouped by nearest MIDI note), and that note of the first."""
    nearest = np.round(hz_to_midi(frequencies)).astype(int)
    return np.flatnonzero(np.r_[True, np.diff(nearest) > 0]), int(nearest[0])


def frame_posteriors(session: ModelSession, path: str | os.PathLike, settings: Optional[TranscribeSettings] = None,
                     progress: ProgressFn = no_progress, cancel: Optional[CancelFn] = None) -> Posteriors:
    """Label posteriors of every analysed frame of an audio file, read in chunks (``settings`` None:
    the defaults)."""
    import soundfile as sf

    from .spectral.torch_nsgt import TorchNSGT

    if settings is None:
        settings = TranscribeSettings()

    path = Path(path)
    try:
        info = audio_file_info(path)
    except EmptyAudio:
        info = None
    transform = NSGTransform.for_length(session.spectral.block, session.spectral)
    band_starts, band_low = _semitone_starts(transform.frequencies)
    if info is None:  # no samples: no frames, and no notes
        return Posteriors(np.zeros(0), {f: np.zeros((0, len(v)), np.float32) for f, v in session.vocabulary.items()},
                          np.zeros(0), np.zeros((0, len(band_starts)), np.float16), band_low, silent=True)
    sr_in = info.samplerate
    sr = session.spectral.sample_rate
    tn = TorchNSGT.for_transform(transform)
    chunk = int(settings.chunk_seconds * sr_in)
    margin = int(2.0 * sr_in)  # resampling and block edges settle within this
    all_times: list[np.ndarray] = []
    all_level: list[np.ndarray] = []
    all_bands: list[np.ndarray] = []
    all_latents: list[np.ndarray] = []
    probs: Optional[dict[str, list[np.ndarray]]] = None
    cfg = session.spectral
    high_bins = int(np.ceil(cfg.bins_per_octave * np.log2(400.0 / cfg.fmin)))
    peak = 0.0
    try:
        fh = sf.SoundFile(str(path))
    except Exception as exc:  # changed since audio_file_info read its header
        raise GlissandoError(f"{path}: not a readable audio file ({one_line(exc)})") from None
    with fh:
        for start in range(0, info.frames, chunk):
            check_cancel(cancel)
            session.check_open()  # closed under the job: end with its message (docs/threading.md)
            lo = max(0, start - margin)
            fh.seek(lo)
            try:
                raw = fh.read(min(info.frames, start + chunk + margin) - lo, dtype="float32", always_2d=True)
            except Exception as exc:
                raise GlissandoError(f"{path}: the audio data is damaged ({one_line(exc)})") from None
            if not np.all(np.isfinite(raw)):
                raise GlissandoError(f"{path}: the audio contains invalid (NaN or infinite) samples")
            peak = max(peak, float(np.abs(raw).max()) if raw.size else 0.0)
            audio = to_mono_22k(raw, sr_in, sr)
            frames, times = _block_frames(audio, transform, tn, settings.frame_step, session.spectral.log_floor)
            times = times + lo / sr_in
            core = (times >= start / sr_in) & (times < (start + chunk) / sr_in)
            frames, times = frames[core], times[core]
            latents = session.encode_signal(frames) if settings.keep_latents else None
            if latents is not None:
                all_latents.append(latents)
            p = _label_posteriors(session, frames, settings.label_stride, latents)
            probs = {f: [v] for f, v in p.items()} if probs is None else {f: probs[f] + [p[f]] for f in probs}
            all_times.append(times)
            # Level from the bins above 400 Hz only: their windows are short (under 0.1 s), so the level
            # rises at the onset itself, while the long low-frequency windows hear a note well before.
            high = frames[:, high_bins:].astype(np.float64)
            all_level.append(20 * np.log10(np.maximum(np.exp(high) - session.spectral.log_floor, 0).sum(1) + 1e-9))
            all_bands.append(np.maximum.reduceat(frames, band_starts, axis=1).astype(np.float16))
            progress(min(start + chunk, info.frames), info.frames, "transcribing")
    assert probs is not None  # the file has samples: at least one chunk was read
    return Posteriors(np.concatenate(all_times), {f: np.concatenate(v) for f, v in probs.items()},
                      np.concatenate(all_level), np.concatenate(all_bands), band_low, silent=peak < SILENCE_PEAK,
                      latents=np.concatenate(all_latents) if settings.keep_latents else None)


def _majority(labels: np.ndarray, width: int) -> np.ndarray:
    """Most frequent label in a centred window: removes one-frame flickers between pitches."""
    if width <= 1 or len(labels) == 0:
        return labels
    from scipy.ndimage import generic_filter

    values, inverse = np.unique(labels, return_inverse=True)
    mode = generic_filter(inverse.astype(np.float64), lambda w: np.bincount(w.astype(int)).argmax(), size=width,
                          mode="nearest")
    return values[mode.astype(int)]


def _merge_octave_transients(labels: np.ndarray, times: np.ndarray, longest: float = 0.15) -> np.ndarray:
    """A short run an octave away from the run it touches is that note's attack or release heard in
    the wrong octave (those frames are unlike the sustained frames the model learnt): give it the
    neighbour's pitch."""
    labels = labels.copy()
    edges = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(labels)]])
    for k, (a, b) in enumerate(zip(starts, ends)):
        if labels[a] < 0 or times[b - 1] - times[a] >= longest:
            continue
        for nb in (k + 1, k - 1):
            if 0 <= nb < len(starts):
                other = labels[starts[nb]]
                held = times[ends[nb] - 1] - times[starts[nb]]
                if other >= 0 and abs(int(other) - int(labels[a])) == 12 and held >= longest:
                    labels[a:b] = other
                    break
    return labels


# Harmonics in this range (Hz) time an attack: their analysis windows are short (tens of ms), while
# the windows of lower bins hear a note up to 100 ms before it starts.
_ATTACK_HZ = (600.0, 5000.0)
_HARMONICS = np.arange(1, 65, dtype=float)


class _Bands:
    """The semitone bands of a transcription in dB, looked up by a note's harmonics."""

    def __init__(self, post: Posteriors):
        assert post.bands is not None, "a transcription without bands has no _Bands"
        self.log: np.ndarray = post.bands
        self.low = post.band_low

    def columns(self, midi: int, fmin: float, fmax: float, avoid: tuple = ()) -> list[int]:
        """Bands of the note's harmonics between fmin and fmax Hz, without those within a semitone of
        a harmonic of a pitch in ``avoid`` (a note still ringing there would look like this one)."""
        f = midi_to_hz(midi) * _HARMONICS
        keys = np.round(midi + 12 * np.log2(_HARMONICS[(f >= fmin) & (f <= fmax)])).astype(int)
        if avoid:
            shared = (np.asarray(avoid, dtype=float)[:, None] + 12 * np.log2(_HARMONICS[:10])).ravel()
            keys = keys[np.abs(keys[:, None] - shared[None, :]).min(1) >= 1.0]
        cols = np.unique(keys - self.low)  # high harmonics share a semitone band
        return cols[(cols >= 0) & (cols < self.log.shape[1])].tolist()

    def db(self, a: int, b: int, cols: list[int]) -> np.ndarray:
        return self.log[a:b, cols].astype(np.float64) * (20 / np.log(10))

    def note_db(self, midi: int, a: int, b: int) -> np.ndarray:
        """Level of the note's harmonics together (summed magnitude), dB."""
        cols = self.columns(midi, *_ATTACK_HZ) or self.columns(midi, 0.0, np.inf)[:1]
        if not cols:
            return np.zeros(max(0, b - a))
        return 20 * np.log10(np.exp(self.log[a:b, cols].astype(np.float64)).sum(1) + 1e-9)


def _back_to(x: np.ndarray, lo: int, peak: int, drop: float) -> int:
    """First frame of the climb to ``peak`` that is within ``drop`` dB of it (not before ``lo``)."""
    k = peak
    while k > lo and x[k - 1] >= x[peak] - drop:
        k -= 1
    return k


def _attack_onset(bands: _Bands, midi: int, avoid: tuple, a: int, i: int, b: int, drop: float) -> Optional[int]:
    """Onset frame of a note whose label starts at frame i: searching frames a..b, where its harmonics
    first come within ``drop`` dB of their attack's peak (median over the harmonics that rise from well
    below it). None when no harmonic shows such an attack."""
    for fmin in (_ATTACK_HZ[0], _ATTACK_HZ[0] * 2 / 3, 0.0):  # low notes with few harmonics up there
        cols = bands.columns(midi, fmin, _ATTACK_HZ[1], avoid)
        if not cols:
            continue
        x = bands.db(a, b, cols)
        at = (i - a) + x[i - a :].argmax(0)
        peaks = x[at, np.arange(len(cols))]
        found = []
        for c in range(len(cols)):
            # Harmonics far below the strongest are at the noise floor; one that never rose by much more
            # than ``drop`` had no silence (or other note) before this one to rise from.
            if peaks[c] >= peaks.max() - 20.0 and peaks[c] - x[: at[c] + 1, c].min() >= drop + 3.0:
                found.append(a + _back_to(x[:, c], 0, int(at[c]), drop))
        if found:
            return int(np.median(found))
    return None


def _absorb_attack_runs(runs: list, bands: _Bands, times: np.ndarray, dt: float, drop: float) -> list:
    """Merge a short label run into the run that follows it when it is that note's attack heard at
    another pitch: the next note's harmonics were already rising during it, or it is a slide of a
    semitone into the note. Runs are [first frame, end frame, midi, pitch of an absorbed slide]."""
    out: list = []
    back, ahead = int(0.3 / dt), max(2, int(0.2 / dt))
    for i, j, m, _ in runs:
        if out and out[-1][1] == i and out[-1][2] != m and times[i - 1] - times[out[-1][0]] < 0.12:
            si, sj, sm, _ = out[-1]
            before = out[-2] if len(out) > 1 else None
            avoid: tuple[int, ...] = (sm,)
            a = max(0, si - back)
            if before is not None:
                a = min(si, max(a, before[0] + 2))
                if si - before[1] < back and before[2] != m:
                    avoid = (sm, before[2])
            onset = _attack_onset(bands, m, avoid, a, i, min(j, i + ahead), drop)
            heard = onset is not None and onset <= (si + sj) // 2
            # A slide's own pitch is where the note starts: the next pitch's harmonics rise only after it.
            slide = not heard and abs(sm - m) == 1 and times[sj - 1] - times[si] < 0.1 and j - i > sj - si
            if heard or slide:
                if before is not None and before[1] == si and before[2] == m:
                    # A flicker inside one held pitch: a re-attack there is found by _repeats.
                    out.pop()
                    out[-1][1] = j
                else:
                    out[-1] = [si, j, m, sm if slide else None]
                continue
        out.append([i, j, m, None])
    return out


def _repeats(bands: _Bands, level: np.ndarray, midi: int, onset: int, end: int, dt: float,
             settings: TranscribeSettings) -> list[int]:
    """Onsets of repeated notes of one pitch inside frames onset..end: a dip in its harmonics (the
    previous note's release) followed by a rise of at least onset_db, the whole sound rising too."""
    # Slow attacks (horn, bowed strings) take up to 150 ms to climb back to their level.
    settle, window = max(2, int(0.1 / dt)), max(2, int(0.15 / dt))
    x = bands.note_db(midi, onset, min(len(bands.log), end + window))
    found, k = [], settle  # the note's own attack settles first
    while k < end - onset - 2:
        if x[k] <= x[k - 1] and x[k] <= x[k + 1]:
            peak = k + int(np.argmax(x[k : k + window]))
            whole = level[onset + k : onset + peak + 1]
            lowest = int(np.argmin(whole))
            rise = float(whole[lowest:].max() - whole[lowest])
            if x[peak] - x[k] >= settings.onset_db and rise >= settings.onset_level_db:
                # The first local minimum before the climb may sit in the held note's wobble, well before
                # it: the note starts at the foot of the climb itself, the last frame at the bottom of the
                # dip (or, climbing from silence, where it comes within attack_db of its peak).
                climb = x[k : peak + 1]
                foot = k + int(np.flatnonzero(climb <= climb.min() + 0.5)[-1])
                s = max(foot, _back_to(x, k, peak, settings.attack_db))
                found.append((onset + s, rise))
                k = s + settle
                continue
        k += 1
    if len(found) >= 3:
        # A player's vibrato or tremolo: dips at a steady 4-8 Hz all through the note. Repeated notes that
        # fast leave gaps the whole sound falls into; a vibrato's dips it hardly feels.
        gaps = np.diff([f for f, _ in found]) * dt
        if 1 / 8.0 <= np.median(gaps) <= 1 / 4.0 and np.std(gaps) < 0.3 * np.median(gaps):
            found = [(f, r) for f, r in found if r >= settings.tremolo_level_db]
    starts = sorted([f for f, _ in found] + [onset + s for s in _steps_down(x, level[onset:end], dt, settings)])
    kept: list[int] = []
    for f in starts:  # a re-attack seen both as a rise and as a step is one note
        if not kept or f - kept[-1] >= settle:
            kept.append(f)
    return kept


def _steps_down(x: np.ndarray, whole: np.ndarray, dt: float, settings: TranscribeSettings) -> list[int]:
    """Onsets (frames of ``whole``, the held pitch's frames) of softer repeated notes: the note's harmonics
    ``x`` and the whole sound ``whole`` step down by onset_db and tremolo_level_db within 50 ms (the
    harmonics beyond the decay either side of the step carried on; the whole sound by as much as a
    tremolo's dips must, as no dip confirms this step). Such a note need not dip below its own level, so
    the dip-then-rise test misses it, when the previous note's release runs into it (a short gap, or the
    model's own renders, whose release ends where the next note starts). A decaying (piano) note falls
    as fast before and after, a release goes on falling after its step (it is no new note's sustain),
    a vibrato or tremolo climbs back to where it fell from."""
    span, fall = max(3, int(round(0.1 / dt))), max(2, int(round(0.05 / dt)))
    n = len(whole)
    first = max(2, int(0.1 / dt)) + span  # the note's own attack settles before the sustain it steps down from
    last = n - fall - 2 * span  # the last frame whose three windows lie inside the held pitch
    if last < first:
        return []
    # Every window's statistics at once (a note holds thousands of frames; one window at a time was a sixth of
    # a duet's transcription): window j covers x[j : j + span].
    windows = sliding_window_view(x[: n], span)
    median = np.median(windows, axis=1)
    t = np.arange(span) - (span - 1) / 2
    # dB lost from one window's centre to the other's at the window's own rate of fall.
    decay = np.maximum(0.0, -((windows - windows.mean(1, keepdims=True)) @ t) / (t @ t)) * (span + fall)
    whole_median = np.median(sliding_window_view(whole, span), axis=1)
    k = np.arange(first, last + 1)
    pre, post, later = k - span, k + fall, k + fall + span  # the windows before the step, after it, further on
    step = median[pre] - median[post]
    # A release that slows into its tail (a room, a string) can look level for 100 ms, a tremolo's trough
    # too: the new note must still be there, within onset_level_db, 100 ms further on.
    steps_here = ((step - np.maximum(decay[pre], decay[post]) >= settings.onset_db)
                  & (windows.min(1)[pre] > windows.max(1)[post])
                  & (np.abs(median[post] - median[later]) <= settings.onset_level_db)
                  & (whole_median[pre] - whole_median[post] >= settings.tremolo_level_db))
    found: list[int] = []
    after = first  # a found note's own sustain is not searched again
    for i in np.flatnonzero(steps_here):
        at = int(k[i])
        if at < after:
            continue
        # The new note starts where the fall ends: within a quarter of the step of its own level.
        s = at + int(np.argmax(x[at : at + fall + span] <= median[at + fall] + step[i] / 4))
        found.append(s)
        after = s + span
    return found


def _frame_labels(session: ModelSession, post: Posteriors, settings: TranscribeSettings) -> np.ndarray:
    """The MIDI note heard in each frame (-1: a rest), smoothed, octave transients merged."""
    vocab = session.vocabulary
    pc_p, oct_p = post.probs["pitch_class"], post.probs["octave"]
    pcs = [vocab["pitch_class"].index(p) for p in PITCH_CLASSES]
    octs = [vocab["octave"].index(o) for o in OCTAVES if o in vocab["octave"]]
    oct_values = [int(vocab["octave"][i]) for i in octs]
    joint = oct_p[:, octs][:, :, None] * pc_p[:, pcs][:, None, :]  # (T, octave, pitch class)
    flat = joint.reshape(len(joint), -1)
    best = flat.argmax(1)
    midi = np.array([(oct_values[b // 12] + 1) * 12 + b % 12 for b in best])
    silent = pc_p[:, vocab["pitch_class"].index(SILENT)] + 0.0
    sounding = (silent < 0.5) & (flat.max(1) > silent) & (post.level > post.level.max() - settings.gate_db)
    return _merge_octave_transients(_majority(np.where(sounding, midi, -1), settings.smoothing), post.times)


def _label_runs(labels: np.ndarray) -> list:
    """[first frame, end frame, midi, None] of every run of one sounding label."""
    n = len(labels)
    runs, i = [], 0
    while i < n:
        j = i + 1
        while j < n and labels[j] == labels[i]:
            j += 1
        if labels[i] >= 0:
            runs.append([i, j, int(labels[i]), None])
        i = j
    return runs


def _note_segments(runs: list, post: Posteriors, bands: Optional[_Bands], dt: float,
                   settings: TranscribeSettings) -> list[tuple[int, int, int, int]]:
    """(onset frame, end frame, midi, first frame of its label run) of every note: each label run's
    onset, and the repeated notes of its pitch inside it."""
    back, ahead, settle = int(0.3 / dt), max(2, int(0.2 / dt)), max(2, int(0.1 / dt))
    segments: list[tuple[int, int, int, int]] = []
    for i, j, m, slide in runs:
        # Without bands, or when no harmonic shows an attack: the model hears a note a little before it
        # starts (frames see through their windows), so the onset is where the level first comes within
        # 12 dB of the attack's peak.
        early = slice(i, min(j, i + ahead))
        onset = i + int(np.argmax(post.level[early] >= post.level[early].max() - 12.0))
        starts = [onset]
        if bands is not None:
            prev = segments[-1] if segments else None
            ringing = prev is not None and i - prev[1] < back
            a = max(0, i - back)
            if prev is not None:
                # After a rest between two notes of one pitch, the attack is after the rest.
                a = min(i, max(a, prev[0] + settle, prev[1] - 1 if ringing and prev[2] == m else 0))
            found = []
            for p in (m, slide):
                if p is not None:
                    avoid = (prev[2],) if prev is not None and ringing and prev[2] != p else ()
                    o = _attack_onset(bands, p, avoid, a, i, min(j, i + ahead), settings.attack_db)
                    if o is not None:
                        found.append(o)
            if found:
                onset = min(found)
            starts = [onset] + _repeats(bands, post.level, m, onset, j, dt, settings)
        for q, s in enumerate(starts):
            segments.append((s, starts[q + 1] if q + 1 < len(starts) else j, m, i))
    return _attacks_heard_early(segments, dt)


def _attacks_heard_early(segments: list[tuple[int, int, int, int]], dt: float,
                         longest: float = 0.1) -> list[tuple[int, int, int, int]]:
    """A "repeated note" found at the very end of a pitch's label run, the next pitch's run starting
    right after it with no attack of its own found before its label, is that next note's attack: its level
    rose while the old pitch still rang through the frames' windows (low strings and brass: the label
    turns 50-100 ms late). The next note starts there."""
    out: list[tuple[int, int, int, int]] = []
    for seg in segments:
        if out:
            s, e, m, first = out[-1]
            repeat = s > first  # not the run's own onset
            unheard = seg[0] >= seg[3]  # the next note's onset stayed at its label's first frame
            if repeat and unheard and seg[2] != m and seg[3] == e and (e - s) * dt < longest and s <= seg[0]:
                out[-1] = (s, seg[1], seg[2], seg[3])
                continue
        out.append(seg)
    return out


def _segments_to_notes(session: ModelSession, post: Posteriors, segments: list[tuple[int, int, int, int]], dt: float,
                       settings: TranscribeSettings) -> tuple[list[Note], list[np.ndarray]]:
    """Notes of the segments long enough, with their dynamics, instrument and confidences; and each
    note's instrument probabilities, for the phrase's decision."""
    vocab = session.vocabulary
    pc_p, oct_p = post.probs["pitch_class"], post.probs["octave"]
    times = post.times
    notes: list[Note] = []
    note_inst: list[np.ndarray] = []
    for q, (s, e, m, first) in enumerate(segments):
        start, end = times[s], times[e - 1] + dt
        if q + 1 < len(segments):
            end = min(end, times[segments[q + 1][0]])
        if end - start < settings.min_note:
            continue
        lo = max(s, first)  # frames before the label run are the previous note's
        sel = slice(lo, max(e, lo + 1))
        dyn_p = post.probs["dynamics"][sel].mean(0)
        inst_p = post.probs["instrument"][sel].mean(0)
        dyn_p[vocab["dynamics"].index(SILENT)] = -1
        inst_p[vocab["instrument"].index(SILENT)] = -1
        pc_i, oct_i = vocab["pitch_class"].index(PITCH_CLASSES[m % 12]), vocab["octave"].index(str(m // 12 - 1))
        dynamics, instrument = vocab["dynamics"][int(dyn_p.argmax())], vocab["instrument"][int(inst_p.argmax())]
        notes.append(Note(float(start), float(end), m, dynamics, instrument,
                          confidence={"pitch_class": pc_p[sel, pc_i].mean(), "octave": oct_p[sel, oct_i].mean(),
                                      "dynamics": float(dyn_p.max()), "instrument": float(inst_p.max())}))
        note_inst.append(inst_p)
    return notes, note_inst


def posteriors_to_notes(session: ModelSession, post: Posteriors,
                        settings: Optional[TranscribeSettings] = None) -> list[Note]:
    """The notes of frame posteriors (``settings`` None: the defaults)."""
    if settings is None:
        settings = TranscribeSettings()
    if post.silent or len(post.times) < 2:
        return []
    labels = _frame_labels(session, post, settings)
    dt = float(np.median(np.diff(post.times)))
    runs = _label_runs(labels)
    bands = _Bands(post) if post.bands is not None else None
    if bands is not None:
        runs = _absorb_attack_runs(runs, bands, post.times, dt, settings.attack_db)
    segments = _note_segments(runs, post, bands, dt, settings)
    notes, note_inst = _segments_to_notes(session, post, segments, dt, settings)
    _phrase_instruments(notes, note_inst, session.vocabulary["instrument"], settings)
    return notes


def _phrase_instruments(notes: list[Note], probs: list[np.ndarray], names: list[str],
                        settings: TranscribeSettings) -> None:
    """One instrument per phrase (notes less than phrase_gap apart), from the evidence of all its notes
    weighted by their length: one note's frames say less about the timbre than the whole phrase's.
    A note keeps its own instrument where it alone is confident of another (a second player)."""
    k = 0
    while k < len(notes):
        j = k + 1
        while j < len(notes) and notes[j].start - notes[j - 1].end < settings.phrase_gap:
            j += 1
        if j - k > 1:
            weights = np.array([n.end - n.start for n in notes[k:j]])
            phrase = np.average(np.stack(probs[k:j]), axis=0, weights=weights)
            choice = int(phrase.argmax())
            for n, p in zip(notes[k:j], probs[k:j]):
                if p.max() >= settings.own_instrument_confidence and int(p.argmax()) != choice:
                    continue
                n.instrument = names[choice]
                n.confidence["instrument"] = float(phrase[choice])
        k = j


def transcribe(session: ModelSession, path: str | os.PathLike, settings: Optional[TranscribeSettings] = None,
               progress: ProgressFn = no_progress, cancel: Optional[CancelFn] = None,
               warn: Callable[[str], None] = lambda m: None) -> tuple[list[Note], Posteriors]:
    """The notes of an audio file, and the frame posteriors they were read from (``settings`` None: the
    defaults). An empty or silent file has no notes: a correct answer, said through ``warn``."""
    if settings is None:
        settings = TranscribeSettings()
    missing = [p for p in PITCH_CLASSES if p not in session.vocabulary["pitch_class"]]
    if missing:  # a model trained on a few notes renders them, but cannot name every pitch it hears
        raise GlissandoError(f"{session.path}: the model was trained without the pitch classes {', '.join(missing)}; "
                             "it cannot transcribe")
    post = frame_posteriors(session, path, settings, progress, cancel)
    if post.silent:
        warn(f"{path}: the audio {'file is empty' if len(post.times) == 0 else 'is silent'}; no notes")
    if session.voices > 1:
        return _mixture_notes(session, post, settings), post
    return posteriors_to_notes(session, post, settings), post


def _mixture_notes(session: ModelSession, post: Posteriors, settings: TranscribeSettings) -> list[Note]:
    """A mixture model's notes: the lowest voice read as a single-note model's notes are (its onsets from the
    harmonic bands, repeated notes, one instrument per phrase), the voices above it from the slots (chord_notes),
    less what the upper slots hear of the lowest voice itself (upper_voice_notes).

    A phrase where those upper notes sound for less than ``one_voice_share`` of the time is one voice, and
    is read along the loudest slot instead (lead_voice_posteriors): the lowest slot names the lowest pitch
    sounding, and where a melody moves, that is for a moment the old note's release under the new one (a
    step up found late, a low instrument's long release taken for the next note). `bench/transcribe.py
    --duets`, each part alone through a mixture model that never heard the bank: F1 0.837 -> 0.901;
    the duets, all read as several voices, keep theirs."""
    lowest = posteriors_to_notes(session, post, settings)
    upper = upper_voice_notes(lowest, chord_notes(session, post, settings, first_slot=1), settings)
    notes = lowest + upper
    if post.bands is not None and len(post.times) > 1:
        phrases = _phrases(post, settings)
        one_voice = [(a, b) for a, b in phrases if _covered(upper, post.times, a, b) < settings.one_voice_share]
        if one_voice:
            lead = posteriors_to_notes(session, lead_voice_posteriors(post, session.vocabulary, session.voices),
                                       settings)
            first = post.times[[a for a, _ in one_voice]]
            last = post.times[[b - 1 for _, b in one_voice]]

            def in_one_voice(n: Note) -> bool:  # a note's attack may begin a little before the level gate
                return bool(np.any((n.start >= first - settings.min_note) & (n.start <= last)))

            notes = [n for n in notes if not in_one_voice(n)] + [n for n in lead if in_one_voice(n)]
    return sorted(notes, key=lambda n: (n.start, n.midi))


def _phrases(post: Posteriors, settings: TranscribeSettings) -> list[tuple[int, int]]:
    """(first, end) frames of each stretch of sound, split by rests of at least phrase_gap."""
    sounding = np.flatnonzero(post.level >= post.level.max() - settings.gate_db)
    if not len(sounding):
        return []
    dt = float(np.median(np.diff(post.times)))
    breaks = np.flatnonzero(np.diff(sounding) * dt >= settings.phrase_gap)
    return [(int(sounding[a]), int(sounding[b - 1]) + 1)
            for a, b in zip(np.r_[0, breaks + 1], np.r_[breaks + 1, len(sounding)])]


def _covered(notes: list[Note], times: np.ndarray, a: int, b: int) -> float:
    """Share of frames a..b that some note covers."""
    covered = np.zeros(b - a, dtype=bool)
    for n in notes:
        covered |= (times[a:b] >= n.start) & (times[a:b] < n.end)
    return float(covered.mean()) if b > a else 0.0


def lead_voice_posteriors(post: Posteriors, vocabulary: dict, voices: int) -> Posteriors:
    """The posteriors of one voice that follows, frame by frame, the slot whose pitch is loudest (its first
    three harmonics' bands summed): a new note's attack, not the release of the one before it."""
    assert post.bands is not None
    slots = _voice_probs(post, voices)
    pitch_class_midi, octave_midi = _label_midi(vocabulary)
    loudness = np.full((len(post.times), voices), -np.inf)
    for k, slot in enumerate(slots):
        midi = octave_midi[slot["octave"].argmax(1)] + pitch_class_midi[slot["pitch_class"].argmax(1)]
        named = midi > 0
        total = np.zeros(len(post.times))
        for harmonic in 12 * np.log2(_HARMONICS[:3]):  # semitones above the note
            col = np.round(midi + harmonic).astype(int) - post.band_low
            inside = named & (col >= 0) & (col < post.bands.shape[1])
            total[inside] += np.exp(post.bands[np.flatnonzero(inside), col[inside]].astype(np.float64))
        loudness[named, k] = total[named]
    lead = np.where(np.isinf(loudness).all(1), 0, loudness.argmax(1))
    rows = np.arange(len(post.times))
    probs = dict(post.probs)
    for f in FAMILIES:
        probs[f] = np.stack([slot[f] for slot in slots], 1)[rows, lead]
    return replace(post, probs=probs)


def upper_voice_notes(lowest: list[Note], upper: list[Note], settings: TranscribeSettings) -> list[Note]:
    """The notes of a mixture model's upper slots that are notes of their own, not the lowest voice heard
    again. Where one note follows another, both sound for a moment (the old one's release under the new one's
    attack), and the slots, trained on mixtures, name both: the old pitch in an upper slot just as the lowest
    voice ends it, or an octave of the new note while its attack fills the bands. Those, a note of the lowest
    voice's own pitch overlapping it by half, and upper notes shorter than ``upper_min_note`` (the slots flicker
    at transitions) are left out. `bench/transcribe.py --duets` with a mixture model that never heard the
    bench's bank: duet note F1 0.467 -> 0.567, each part alone 0.692 -> 0.837 (they wrote twice its notes)."""
    edge = settings.transition_seconds

    def heard_below(n: Note) -> bool:
        for m in lowest:
            if m.midi == n.midi and min(m.end, n.end) - max(m.start, n.start) >= 0.5 * n.duration:
                return True
            if m.midi == n.midi and abs(n.start - m.end) < edge:  # the old note's release
                return True
            if (n.midi - m.midi) % 12 == 0 and abs(n.start - m.start) < edge and n.end <= m.end + edge:
                return True  # an octave of the new note, in its attack
        return False

    return [n for n in upper if n.duration >= settings.upper_min_note and not heard_below(n)]


def _label_midi(vocabulary: dict) -> tuple[np.ndarray, np.ndarray]:
    """What each pitch class and octave class adds to a MIDI number; silent ones make it negative."""
    return (np.array([PITCH_CLASSES.index(p) if p != SILENT else -1000 for p in vocabulary["pitch_class"]]),
            np.array([(int(o) + 1) * 12 if o != SILENT else -1000 for o in vocabulary["octave"]]))


def _voice_probs(post: Posteriors, voices: int) -> list[dict]:
    return [{f: post.probs[f if k == 0 else f"{f}@{k}"] for f in FAMILIES} for k in range(voices)]


def chord_notes(session: ModelSession, post: Posteriors, settings: Optional[TranscribeSettings] = None,
                first_slot: int = 0) -> list[Note]:
    """Overlapping notes from a mixture model's voice slots: in every sounding frame, each slot that is not
    silent names a pitch, an instrument and a dynamic; a note is a run of frames in which some slot names its
    pitch (smoothed over CHORD_SMOOTH frames, rests shorter than a note's minimum bridged), its instrument
    and dynamics the ones its frames name most, weighted by their probabilities. The slots are ordered by
    pitch, so one note may move from slot to slot as others start and stop: runs are followed by pitch.
    ``first_slot``: the slots below it are left out (read another way by the caller)."""
    from scipy.ndimage import median_filter

    if settings is None:
        settings = TranscribeSettings()
    if post.silent or len(post.times) < 2:
        return []
    vocab = session.vocabulary
    dt = float(np.median(np.diff(post.times)))
    sounding = post.level >= post.level.max() - settings.gate_db
    low, high = 12, 120
    # Every slot's named pitch in every sounding frame, as rows of one table (frame, MIDI note, the slot's
    # instrument and dynamics probabilities, its pitch-class and octave confidence).
    pitch_class_midi, octave_midi = _label_midi(vocab)
    frame, midi_of, inst_of, dyn_of, confidence_of = [], [], [], [], []
    for slot in _voice_probs(post, session.voices)[first_slot:]:
        pc = slot["pitch_class"].argmax(1)
        octave = slot["octave"].argmax(1)
        midi = octave_midi[octave] + pitch_class_midi[pc]
        rows = np.flatnonzero(sounding & (midi >= low) & (midi < high))
        frame.append(rows)
        midi_of.append(midi[rows])
        inst_of.append(slot["instrument"][rows])
        dyn_of.append(slot["dynamics"][rows])
        confidence_of.append(np.stack([slot["pitch_class"][rows, pc[rows]], slot["octave"][rows, octave[rows]]], 1))
    if not frame:
        return []
    frames, midis = np.concatenate(frame), np.concatenate(midi_of)
    insts, dyns, confidence = np.concatenate(inst_of), np.concatenate(dyn_of), np.concatenate(confidence_of)
    present = np.zeros((len(post.times), high - low), dtype=bool)
    present[frames, midis - low] = True
    width = max(3, int(round(CHORD_SMOOTH_SECONDS / dt)) | 1)
    present = median_filter(present.astype(np.uint8), size=(width, 1), mode="constant") > 0
    shortest = max(1, int(round(settings.min_note / dt)))
    notes: list[Note] = []
    names_inst, names_dyn = vocab["instrument"], vocab["dynamics"]
    for column in np.flatnonzero(present.any(0)):
        midi = low + int(column)
        on = np.flatnonzero(np.diff(np.r_[0, present[:, column].astype(np.int8), 0]) == 1)
        off = np.flatnonzero(np.diff(np.r_[0, present[:, column].astype(np.int8), 0]) == -1)
        mine = np.flatnonzero(midis == midi)
        for a, b in zip(on, off):
            if b - a < shortest:
                continue
            heard = mine[(frames[mine] >= a) & (frames[mine] < b)]
            if not len(heard):
                continue
            weights = confidence[heard, 0].astype(np.float64) * confidence[heard, 1]
            inst = np.average(insts[heard], axis=0, weights=weights + 1e-9)
            dyn = np.average(dyns[heard], axis=0, weights=weights + 1e-9)
            inst[names_inst.index(SILENT)] = 0.0  # a sounding pitch: its instrument and dynamic are not silent
            dyn[names_dyn.index(SILENT)] = 0.0
            end = min(b, len(post.times) - 1)
            notes.append(Note(float(post.times[a]), float(post.times[end]) + dt, midi,
                              names_dyn[int(dyn.argmax())], names_inst[int(inst.argmax())],
                              confidence={"pitch_class": float(np.mean(confidence[heard, 0], dtype=np.float64)),
                                          "octave": float(np.mean(confidence[heard, 1], dtype=np.float64)),
                                          "dynamics": float(dyn.max() / dyn.sum()),
                                          "instrument": float(inst.max() / inst.sum())}))
    return sorted(notes, key=lambda n: (n.start, n.midi))


def check_audio_input(path: str | os.PathLike) -> Path:
    """Refuse an input transcribe cannot read, before a model is loaded: missing, a folder or device,
    not audio, a damaged header (an empty file is fine: it has no notes)."""
    try:
        audio_file_info(Path(path))
    except EmptyAudio:
        pass
    return Path(path)


def notes_format(path: str | os.PathLike, fmt: Optional[str] = None) -> str:
    """The note format to write to ``path``: ``fmt``, else the one its suffix names (UnknownFormat if none)."""
    path = Path(path)
    found = fmt or {".json": "json", ".csv": "csv", ".mid": "mid", ".midi": "mid"}.get(path.suffix.lower())
    if found not in FORMATS:
        raise UnknownFormat(path, FORMATS, fmt)
    return found


def write_notes(notes: list[Note], path: str | os.PathLike, fmt: Optional[str] = None, force: bool = False) -> Path:
    path = Path(path)
    fmt = notes_format(path, fmt)
    check_output(path, force)  # the command line checks before transcribing; this is the last line of defence
    try:
        if fmt == "mid":
            write_midi(notes, path)
            return path
        with atomic_write(path) as tmp:
            if fmt == "json":
                tmp.write_text(json.dumps({"notes": [n.to_dict() for n in notes]}, indent=1))
            else:
                buf = io.StringIO()
                w = csv.writer(buf)
                w.writerow(["start", "end", "midi", "note", "pitch_class", "octave", "dynamics", "instrument",
                            "confidence_pitch_class", "confidence_octave", "confidence_dynamics",
                            "confidence_instrument"])
                for n in notes:
                    d = n.to_dict()
                    c = d.get("confidence", {})
                    w.writerow([d["start"], d["end"], d["midi"], d["note"], d["pitch_class"], d["octave"],
                                d["dynamics"], d["instrument"],
                                c.get("pitch_class"), c.get("octave"), c.get("dynamics"), c.get("instrument")])
                tmp.write_text(buf.getvalue())
    except PermissionError:
        raise GlissandoError(f"{path}: cannot be written (permission denied)") from None
    except OSError as exc:
        raise GlissandoError(f"{path}: cannot be written ({exc.strerror or exc})") from None
    return path
