"""Audio-domain augmentation toward real recordings: a player's vibrato and drift, a room, a microphone
and an instrument body's colouring, background noise and a little level change.

Applied to the audio before the transform, where each of these really happens: a room smears a note
in time and a vibrato moves every partial together, neither of which a per-frame edit of the spectrum
reproduces. The effects come from pedalboard (Spotify's JUCE-based effects library); only the
vibrato contour and the noise are drawn here, as arrays. Loudness is kept: the gain stays within
+-1.5 dB, well inside the 8-10 dB between dynamics, so pp < mf < ff survives every variation.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .soundfont import BEND_BLOCK


@dataclass(frozen=True)
class Variation:
    """One draw of the augmentation parameters; ``seed`` makes it reproducible (and cacheable)."""

    seed: int
    vibrato_cents: float  # half the peak-to-peak depth
    vibrato_hz: float
    drift_cents: float  # a slow wander of the intonation over the note
    room_size: float  # Freeverb's room size: longer and denser tails as it grows
    damping: float
    wet: float
    low_shelf_db: float  # body and microphone colouring
    high_shelf_db: float
    peak_hz: float
    peak_db: float
    peak_q: float
    noise_db: float  # pink noise level, dBFS RMS
    gain_db: float

    def to_dict(self) -> dict:
        return asdict(self)


def draw_variation(seed: int, vibrato: bool = True) -> Variation:
    rng = np.random.default_rng(seed)
    return Variation(
        seed=seed,
        vibrato_cents=float(rng.uniform(8, 35)) if vibrato and rng.random() < 0.7 else 0.0,
        vibrato_hz=float(rng.uniform(4.5, 6.5)),
        drift_cents=float(rng.uniform(0, 12)) if vibrato else 0.0,
        room_size=float(rng.uniform(0.1, 0.85)),
        damping=float(rng.uniform(0.2, 0.8)),
        wet=float(rng.uniform(0.03, 0.3)),
        low_shelf_db=float(rng.uniform(-5, 5)),
        high_shelf_db=float(rng.uniform(-9, 4)),
        peak_hz=float(np.exp(rng.uniform(np.log(200), np.log(5000)))),
        peak_db=float(rng.uniform(-6, 6)),
        peak_q=float(rng.uniform(0.7, 2.5)),
        noise_db=float(rng.uniform(-85, -50)),
        gain_db=float(rng.uniform(-1.5, 1.5)),
    )


def pitch_contour(v: Variation, n_samples: int, sample_rate: int) -> np.ndarray:
    """Cents per BEND_BLOCK samples: a vibrato that fades in over 0.3 s (players start a note
    straight) on a slow random drift."""
    rng = np.random.default_rng(v.seed + 1)
    t = np.arange(0, n_samples, BEND_BLOCK) / sample_rate
    fade = np.clip(t / 0.3, 0, 1)
    vibrato = v.vibrato_cents * fade * np.sin(2 * np.pi * v.vibrato_hz * t + rng.uniform(0, 2 * np.pi))
    knots = rng.uniform(-1, 1, size=4) * v.drift_cents
    drift = np.interp(t, np.linspace(0, t[-1] if len(t) else 1, 4), knots)
    return vibrato + drift


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS 1/f noise (white noise shaped in the frequency domain): rooms and preamps hiss
    and hum with more energy low than high."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spectrum), dtype=float)
    f[0] = 1.0
    noise = np.fft.irfft(spectrum / np.sqrt(f), n)
    return noise / (np.sqrt(np.mean(noise**2)) + 1e-12)


def apply_variation(audio: np.ndarray, v: Variation, sample_rate: int) -> np.ndarray:
    """The room, colouring, noise and gain of ``v`` on mono float audio (same length out)."""
    from pedalboard import HighShelfFilter, LowShelfFilter, PeakFilter, Pedalboard, Reverb

    board = Pedalboard([
        LowShelfFilter(cutoff_frequency_hz=250.0, gain_db=v.low_shelf_db),
        PeakFilter(cutoff_frequency_hz=v.peak_hz, gain_db=v.peak_db, q=v.peak_q),
        HighShelfFilter(cutoff_frequency_hz=4000.0, gain_db=v.high_shelf_db),
        Reverb(room_size=v.room_size, damping=v.damping, wet_level=v.wet, dry_level=1.0 - v.wet / 2, width=0.0),
    ])
    out = board(audio.astype(np.float32)[None, :], sample_rate, reset=True)[0].astype(np.float64)
    rng = np.random.default_rng(v.seed + 2)
    out = out * 10 ** (v.gain_db / 20) + pink_noise(len(out), rng) * 10 ** (v.noise_db / 20)
    return out.astype(np.float32)
