"""A sound in the shared latent space: its latent path (for the navigator), and timbre transfer (the
same notes played by another instrument), as seed paper 002 does it in one many-to-many model.

Two ways to transfer, compared by bench/transfer.py:

- ``shift`` (the default): every frame's signal latent moves by the difference between the symbol
  latents of the target's labels and of the labels the model heard (same pitch, the target instrument,
  the chosen dynamics). What the labels do not say (vibrato, level contour, attack and release, the
  room) rides along in the frame's own latent.
- ``notes``: the sound is transcribed and its notes rendered again on the target instrument: the
  cleanest timbre, but only what a note list holds survives (no vibrato, a fixed envelope).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np

from .errors import GlissandoError
from .jobs import CancelFn, ProgressFn, check_cancel, no_progress
from .midi import Note
from .render import RenderSettings, reconstruct_path, render_notes
from .spectral import NSGTransform
from .spectral.nsgt_frames import audio_file_info, load_audio
from .transcribe import Posteriors, TranscribeSettings, _block_frames, transcribe
from .units import note_name

if TYPE_CHECKING:  # torch loads with the session: the command line checks its inputs without it
    from .session import ModelSession

TRANSFER_METHODS = ("shift", "notes")
KEEP = "keep"
# Below this source_certainty the source is far from anything the model learned (speech, noise, a drum
# loop): it still transfers, with a warning. Measured: white noise 0.46, a buzzy speech-like glide 0.66,
# melodies from sample sets 1.00.
LOW_CONFIDENCE = 0.8
# A new note's label difference is faded in over this long: the encoder itself hears a note change
# over about as long (its windows), and a sudden latent jump clicks.
CROSSFADE_SECONDS = 0.03
# A quarter of the source's detail kept inside notes. With all of it (1.0) a violin melody moved to trumpet
# was still heard as violin by the model (0 of 18 notes). Melodies from a bank the model never heard
# (bench/transfer.py --methods shift --expression E, GeneralUser GS left out), at 0.5 / 0.25 / 0: notes
# named the target by the MFCC judge 25 / 32 / 28%, descriptors in the target's range 62 / 72 / 83%, the
# model naming it 74% and pitch kept 97.5% at each; the source's level contour inside a note correlates
# with the transfer's 0.28 / 0.26 / 0.10 (0.22 for the notes method, which keeps none of it).
EXPRESSION = 0.25


@dataclass
class SoundPath:
    """The latent path of a sound: the signal encoder's mean of each analysed frame."""

    times: np.ndarray  # (T,) seconds
    latents: np.ndarray  # (T, latent_dim)
    duration: float  # seconds of audio

    def at(self, t: np.ndarray) -> np.ndarray:
        """Latents at any times (linear between frames, held beyond the ends)."""
        return np.stack([np.interp(t, self.times, self.latents[:, k]) for k in range(self.latents.shape[1])],
                        axis=1).astype(np.float32)


def sound_path(session: ModelSession, path: str | os.PathLike, frame_step: Optional[int] = None,
               progress: ProgressFn = no_progress, cancel: Optional[CancelFn] = None) -> SoundPath:
    """Encode an audio file's frames into the shared latent space (``frame_step``: every n-th NSGT frame,
    None: the transcriber's step, about 13 ms)."""
    from .spectral.torch_nsgt import TorchNSGT

    step = frame_step or TranscribeSettings().frame_step
    audio = load_audio(Path(path), session.spectral.sample_rate)  # an empty file is refused there (EmptyAudio)
    check_cancel(cancel)
    transform = NSGTransform.for_length(session.spectral.block, session.spectral)
    frames, times = _block_frames(audio, transform, TorchNSGT.for_transform(transform), step,
                                  session.spectral.log_floor)
    progress(1, 2, "encoding")
    check_cancel(cancel)
    session.check_open()
    latents = session.encode_signal(frames)
    progress(2, 2, "encoding")
    return SoundPath(times, latents, len(audio) / session.spectral.sample_rate)


def octaves_into_range(midi: int, low: int, high: int) -> int:
    """A pitch moved by octaves into low..high, as far as whole octaves fit (an instrument's range)."""
    while midi < low and midi + 12 <= high:
        midi += 12
    while midi > high and midi - 12 >= low:
        midi -= 12
    return midi


def target_notes(session: ModelSession, notes: list[Note], instrument: str, dynamics: str = KEEP,
                 warn: Callable[[str], None] = lambda m: None) -> list[Note]:
    """The notes as ``instrument`` plays them: same times and pitches (moved by octaves into its range
    where it cannot play them, with a warning), the dynamics kept or set."""
    check_target(session, instrument, dynamics)
    low, high = session.instrument_range(instrument)
    out, moved = [], []
    for n in notes:
        midi = octaves_into_range(n.midi, low, high)
        if midi != n.midi:
            moved.append(f"{note_name(n.midi)} -> {note_name(midi)}")
        out.append(replace(n, midi=midi, instrument=instrument, dynamics=n.dynamics if dynamics == KEEP else dynamics,
                           confidence=dict(n.confidence)))
    if moved:
        shown = ", ".join(sorted(set(moved))[:6])
        warn(f"{len(moved)} notes outside the {instrument}'s range {note_name(low)}-{note_name(high)} "
             f"moved by octaves ({shown})")
    return out


def source_certainty(post: Posteriors) -> float:
    """Median pitch-class probability of the sounding frames (within 30 dB of the loudest): about 1 for a
    pitched instrument, the model or not, under 0.7 for noise or speech-like sounds, where the note-level
    confidences (averaged over a note) still look sure."""
    if len(post.level) == 0:
        return 0.0
    sounding = post.level >= post.level.max() - 30.0
    return float(np.median(post.probs["pitch_class"][sounding].max(axis=1)))


def check_target(session: ModelSession, instrument: str, dynamics: str = KEEP) -> None:
    if instrument not in session.instruments:
        raise GlissandoError(f"the model does not know the instrument {instrument!r} "
                             f"(it knows {', '.join(session.instruments)})")
    if dynamics != KEEP and dynamics not in session.dynamics:
        raise GlissandoError(f"the model does not know the dynamic {dynamics!r} "
                             f"(use {KEEP} or one of {', '.join(session.dynamics)})")


def _label_shift(heard: list[Note], heard_z: np.ndarray, played_z: np.ndarray, times: np.ndarray) -> np.ndarray:
    """(T, latent_dim): per frame, the symbol latent of the note as played (``played_z``) minus that of the
    note as heard (``heard_z``). A note's shift holds until the next note starts (its release keeps the new
    timbre), the first note's from the start, each faded in over CROSSFADE_SECONDS."""
    starts = np.array([n.start for n in heard])
    diffs = played_z - heard_z
    current = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, len(heard) - 1)
    shift = diffs[current].astype(np.float64)
    previous = np.clip(current - 1, 0, len(heard) - 1)
    into = np.clip((times - starts[current]) / CROSSFADE_SECONDS, 0.0, 1.0)[:, None]
    fading = (current > 0)[:, None]
    shift = np.where(fading, diffs[previous] * (1 - into) + diffs[current] * into, shift)
    return shift.astype(np.float32)


@dataclass
class Transfer:
    audio: np.ndarray  # mono float32 at the model's sample rate
    heard: list[Note]  # the source's notes as transcribed
    played: list[Note]  # the same notes on the target instrument


def transfer(session: ModelSession, path: str | os.PathLike, instrument: str, dynamics: str = KEEP,
             method: str = "shift", expression: float = EXPRESSION, settings: Optional[RenderSettings] = None,
             progress: ProgressFn = no_progress,
             cancel: Optional[CancelFn] = None, warn: Callable[[str], None] = lambda m: None) -> Transfer:
    """The sound of ``path`` played by ``instrument``: pitch and timing from the source, timbre from the
    shared latent space (``method``: see the module's docstring; ``expression``: with ``shift``, how much of
    the source's own detail inside its notes is kept, 0 the target's plain note to 1 all of it)."""
    if not 0.0 <= expression <= 1.0:
        raise GlissandoError(f"expression {expression} is outside 0-1")
    if method not in TRANSFER_METHODS:
        raise GlissandoError(f"unknown transfer method {method!r} (use {', '.join(TRANSFER_METHODS)})")
    check_target(session, instrument, dynamics)

    def step(lo: float, hi: float) -> ProgressFn:
        return lambda i, n, msg: progress(int(1000 * (lo + (hi - lo) * i / max(n, 1))), 1000, msg)

    heard, post = transcribe(session, path, TranscribeSettings(keep_latents=method == "shift"),
                             progress=step(0.0, 0.3), cancel=cancel, warn=warn)
    if not heard:
        raise GlissandoError(f"{path}: no notes heard, nothing to transfer")
    certainty = source_certainty(post)
    if certainty < LOW_CONFIDENCE:
        warn(f"{path}: the pitches heard have low confidence (median {certainty:.0%}): the sound is far from "
             "the instruments the model learned, and the transfer may not follow it")
    played = target_notes(session, heard, instrument, dynamics, warn)
    if method == "notes":
        audio = render_notes(session, played, settings, progress=step(0.3, 1.0), cancel=cancel)
        return Transfer(audio, heard, played)

    assert post.latents is not None  # kept for the shift
    sound = SoundPath(post.times, post.latents, audio_file_info(Path(path)).duration)
    heard_z = session.label_latents([(n.midi, n.dynamics, n.instrument) for n in heard])
    played_z = session.label_latents([(n.midi, n.dynamics, n.instrument) for n in played])
    shifted = sound.latents + _label_shift(heard, heard_z, played_z, sound.times)
    if expression != 1.0:
        # Inside a note, the frame's distance from its label's latent (its vibrato, envelope, the room)
        # scaled: a full shift keeps so much of the source that the result can still sound like it.
        for k, n in enumerate(heard):
            inside = (sound.times >= n.start + CROSSFADE_SECONDS) & (sound.times < n.end)
            shifted[inside] = played_z[k] + expression * (sound.latents[inside] - heard_z[k])
    moved = SoundPath(sound.times, shifted, sound.duration)
    settings = settings or RenderSettings()
    sr = session.spectral.sample_rate
    audio = reconstruct_path(session, moved.at, int(sound.duration * sr), settings, progress=step(0.3, 1.0),
                             cancel=cancel, grid=sound.times)
    return Transfer(audio.astype(np.float32), heard, played)


@dataclass
class Version:
    """One way of hearing a sound, for A/B listening: its audio and its spectral convergence against the
    original's NSGT magnitudes (0: the same magnitudes; 1: as far as silence)."""

    name: str
    audio: np.ndarray
    convergence: float


VERSIONS = ("original", "NSGT inverse", "model")


def _convergence(reference: np.ndarray, audio: np.ndarray, session: "ModelSession") -> float:
    from .data.frames import log_frames_long

    n = min(len(reference), len(audio))
    floor = session.spectral.log_floor
    ref = np.maximum(np.exp(log_frames_long(reference[:n], session.spectral)[0]) - floor, 0)
    got = np.maximum(np.exp(log_frames_long(audio[:n], session.spectral)[0]) - floor, 0)
    return float(np.linalg.norm(got - ref)) / max(float(np.linalg.norm(ref)), 1e-12)


def nsgt_round_trip(audio: np.ndarray, session: "ModelSession") -> np.ndarray:
    """Analysis then synthesis with the NSGT alone (magnitudes and phases kept), in half-overlapping blocks
    cross-faded with a periodic Hann window: what the transform itself keeps of a sound, before any model."""
    L = session.spectral.block
    transform = NSGTransform.for_length(L, session.spectral)
    window = np.sin(np.pi * np.arange(L) / L) ** 2
    padded = np.concatenate([np.zeros(L), audio, np.zeros(L)])
    out = np.zeros_like(padded)
    for s in range(0, len(padded) - L + 1, L // 2):
        out[s:s + L] += transform.backward(transform.forward(padded[s:s + L]))[:L] * window
    return out[L:L + len(audio)].astype(np.float32)


def reconstructions(session: "ModelSession", path: str | os.PathLike, settings: Optional[RenderSettings] = None,
                    progress: ProgressFn = no_progress, cancel: Optional[CancelFn] = None,
                    sound: Optional[SoundPath] = None) -> list[Version]:
    """The original, its NSGT round trip and the model's reconstruction (every frame encoded, decoded and
    its phase rebuilt, as a render does), each with its spectral convergence (seed paper 000's A/B).
    ``sound``: the file's sound_path when the caller has it already (it is not encoded again)."""
    original = load_audio(Path(path), session.spectral.sample_rate)
    progress(0, 4, "analysing")
    round_trip = nsgt_round_trip(original, session)
    check_cancel(cancel)
    sound = sound or sound_path(session, path, cancel=cancel)
    progress(1, 4, "reconstructing")
    model = reconstruct_path(session, sound.at, len(original), settings or RenderSettings(), cancel=cancel,
                             grid=sound.times,
                             progress=lambda i, n, msg: progress(1 + 2 * i // max(n, 1), 4, msg)).astype(np.float32)
    versions = [Version("original", original, 0.0),
                Version("NSGT inverse", round_trip, _convergence(original, round_trip, session)),
                Version("model", model, _convergence(original, model, session))]
    progress(4, 4, "done")
    return versions
