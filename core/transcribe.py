"""Audio -> per-frame label posteriors -> notes -> JSON, CSV or MIDI."""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .data.labels import OCTAVES, PITCH_CLASSES, SILENT
from .jobs import CancelFn, GlissandoError, ProgressFn, atomic_write, check_cancel, no_progress
from .midi import Note, write_midi
from .session import ModelSession
from .spectral import NSGTransform, to_mono_22k
from .spectral.torch_nsgt import TorchNSGT

FORMATS = ("json", "csv", "mid")


@dataclass
class TranscribeSettings:
    frame_step: int = 4  # posteriors every 4th NSGT frame: about 12.8 ms apart
    smoothing: int = 5  # frames of the majority filter on the frame labels
    min_note: float = 0.05  # seconds
    gate_db: float = 35.0  # frames this far below the loudest frame are rests (release tails, room noise)
    onset_db: float = 5.0  # a rise this large inside a held pitch starts a new note (repeated notes)
    chunk_seconds: float = 30.0  # audio read and analysed this much at a time: memory stays flat
    block: int = 32768


@dataclass
class Posteriors:
    times: np.ndarray  # (T,) seconds
    probs: dict  # family -> (T, V)
    level: np.ndarray  # (T,) frame level in dB (log of summed magnitude), for onsets and gating


def _block_frames(audio: np.ndarray, transform: NSGTransform, tn: TorchNSGT, step: int, floor: float):
    """Log-magnitude frames every ``step`` NSGT frames of audio (22050 Hz), with their times,
    from half-overlapping blocks whose central frames are kept (block edges wrap around)."""
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
        mags = tn.forward(batch)[:, 1:-1, ::step].abs()
        logs = torch.log(mags + floor).permute(0, 2, 1).numpy()
        for j, s in enumerate(group):
            lo = 0 if s == 0 else keep_lo
            hi = L if s + L >= n else keep_hi
            keep = (frame_pos >= lo) & (frame_pos < hi) & (s + frame_pos >= pad) & (s + frame_pos < n - pad)
            frames.append(logs[j][keep])
            times.append((s + frame_pos[keep] - pad) / transform.config.sample_rate)
    return np.concatenate(frames), np.concatenate(times)


def frame_posteriors(session: ModelSession, path: str | os.PathLike, settings: TranscribeSettings = TranscribeSettings(),
                     progress: ProgressFn = no_progress, cancel: Optional[CancelFn] = None) -> Posteriors:
    """Label posteriors of every analysed frame of an audio file, read in chunks."""
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise GlissandoError(f"{path}: no such file")
    try:
        info = sf.info(str(path))
    except Exception as exc:
        raise GlissandoError(f"{path}: not a readable audio file ({exc})") from None
    if info.frames == 0:
        raise GlissandoError(f"{path}: the audio file is empty")
    sr_in = info.samplerate
    sr = session.spectral.sample_rate
    transform = NSGTransform.for_length(settings.block, session.spectral)
    tn = TorchNSGT.for_transform(transform)
    chunk = int(settings.chunk_seconds * sr_in)
    margin = int(2.0 * sr_in)  # resampling and block edges settle within this
    all_times, all_level, probs = [], [], None
    cfg = session.spectral
    high_bins = int(np.ceil(cfg.bins_per_octave * np.log2(400.0 / cfg.fmin)))
    peak = 0.0
    with sf.SoundFile(str(path)) as fh:
        for start in range(0, info.frames, chunk):
            check_cancel(cancel)
            lo = max(0, start - margin)
            fh.seek(lo)
            try:
                raw = fh.read(min(info.frames, start + chunk + margin) - lo, dtype="float32", always_2d=True)
            except Exception as exc:
                raise GlissandoError(f"{path}: the audio data is damaged ({exc})") from None
            if not np.all(np.isfinite(raw)):
                raise GlissandoError(f"{path}: the audio contains invalid (NaN or infinite) samples")
            peak = max(peak, float(np.abs(raw).max()) if raw.size else 0.0)
            audio = to_mono_22k(raw, sr_in, sr)
            frames, times = _block_frames(audio, transform, tn, settings.frame_step, session.spectral.log_floor)
            times = times + lo / sr_in
            core = (times >= start / sr_in) & (times < (start + chunk) / sr_in)
            frames, times = frames[core], times[core]
            p = session.signal_to_symbols(frames)
            probs = {f: [v] for f, v in p.items()} if probs is None else {f: probs[f] + [p[f]] for f in probs}
            all_times.append(times)
            # Level from the bins above 400 Hz only: their windows are short (under 0.1 s), so the level
            # rises at the onset itself, while the long low-frequency windows hear a note well before.
            high = frames[:, high_bins:].astype(np.float64)
            all_level.append(20 * np.log10(np.maximum(np.exp(high) - session.spectral.log_floor, 0).sum(1) + 1e-9))
            progress(min(start + chunk, info.frames), info.frames, "transcribing")
    if peak < 1e-4:
        raise GlissandoError(f"{path}: the audio is silent")
    return Posteriors(np.concatenate(all_times), {f: np.concatenate(v) for f, v in probs.items()}, np.concatenate(all_level))


def _majority(labels: np.ndarray, width: int) -> np.ndarray:
    """Most frequent label in a centred window: removes one-frame flickers between pitches."""
    if width <= 1 or len(labels) == 0:
        return labels
    from scipy.ndimage import generic_filter

    values, inverse = np.unique(labels, return_inverse=True)
    mode = generic_filter(inverse.astype(np.float64), lambda w: np.bincount(w.astype(int)).argmax(), size=width, mode="nearest")
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
                if other >= 0 and abs(int(other) - int(labels[a])) == 12 and times[ends[nb] - 1] - times[starts[nb]] >= longest:
                    labels[a:b] = other
                    break
    return labels


def posteriors_to_notes(session: ModelSession, post: Posteriors, settings: TranscribeSettings = TranscribeSettings()) -> list[Note]:
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
    labels = _merge_octave_transients(_majority(np.where(sounding, midi, -1), settings.smoothing), post.times)
    if len(post.times) < 2:
        return []
    dt = float(np.median(np.diff(post.times)))
    # Onsets inside a held pitch: the level rises by onset_db within about 40 ms.
    lag = max(1, int(round(0.04 / dt)))
    rise = np.zeros_like(post.level)
    rise[lag:] = post.level[lag:] - post.level[:-lag]
    notes: list[Note] = []
    i, n = 0, len(labels)
    while i < n:
        if labels[i] < 0:
            i += 1
            continue
        run_end = i + 1
        while run_end < n and labels[run_end] == labels[i]:
            run_end += 1
        # The model hears a note a little before it starts (frames see through their windows): the
        # onset is where the level first comes within 12 dB of the attack's peak.
        early = slice(i, min(run_end, i + max(2, int(0.2 / dt))))
        onset = i + int(np.argmax(post.level[early] >= post.level[early].max() - 12.0))
        # A repeated note of the same pitch: split at the local maximum of a large level rise, once
        # this note's own attack (the first 100 ms) is over.
        j = onset + max(lag, int(0.1 / dt)) + 1
        while j < run_end:
            if rise[j] > settings.onset_db and rise[j] >= rise[j - 1] and (j + 1 >= n or rise[j] >= rise[j + 1]):
                j -= lag // 2  # the rise is measured over `lag` frames: the attack began about mid-way
                break
            j += 1
        j = min(j, run_end)
        start, end = post.times[onset], post.times[j - 1] + dt
        if end - start >= settings.min_note:
            sel = slice(i, j)
            dyn_p = post.probs["dynamics"][sel].mean(0)
            inst_p = post.probs["instrument"][sel].mean(0)
            dyn_p[vocab["dynamics"].index(SILENT)] = -1
            inst_p[vocab["instrument"].index(SILENT)] = -1
            m = int(labels[i])
            pc_i, oct_i = vocab["pitch_class"].index(PITCH_CLASSES[m % 12]), vocab["octave"].index(str(m // 12 - 1))
            notes.append(Note(float(start), float(end), m, vocab["dynamics"][int(dyn_p.argmax())], vocab["instrument"][int(inst_p.argmax())],
                              confidence={"pitch_class": pc_p[sel, pc_i].mean(), "octave": oct_p[sel, oct_i].mean(),
                                          "dynamics": float(dyn_p.max()), "instrument": float(inst_p.max())}))
        i = j
    return notes


def transcribe(session: ModelSession, path: str | os.PathLike, settings: TranscribeSettings = TranscribeSettings(),
               progress: ProgressFn = no_progress, cancel: Optional[CancelFn] = None) -> tuple[list[Note], Posteriors]:
    post = frame_posteriors(session, path, settings, progress, cancel)
    return posteriors_to_notes(session, post, settings), post


def write_notes(notes: list[Note], path: str | os.PathLike, fmt: Optional[str] = None, force: bool = False) -> Path:
    path = Path(path)
    fmt = fmt or {".json": "json", ".csv": "csv", ".mid": "mid", ".midi": "mid"}.get(path.suffix.lower())
    if fmt not in FORMATS:
        raise GlissandoError(f"{path}: say the format with --format ({', '.join(FORMATS)})")
    if path.exists() and not force:
        raise GlissandoError(f"{path}: already exists (use --force to replace it)")
    if not path.parent.exists():
        raise GlissandoError(f"{path}: the folder {path.parent} does not exist")
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
                            "confidence_pitch_class", "confidence_octave", "confidence_dynamics", "confidence_instrument"])
                for n in notes:
                    d = n.to_dict()
                    c = d.get("confidence", {})
                    w.writerow([d["start"], d["end"], d["midi"], d["note"], d["pitch_class"], d["octave"], d["dynamics"], d["instrument"],
                                c.get("pitch_class"), c.get("octave"), c.get("dynamics"), c.get("instrument")])
                tmp.write_text(buf.getvalue())
    except PermissionError:
        raise GlissandoError(f"{path}: cannot be written (permission denied)") from None
    return path
