"""Constant-Q NSGT analysis and synthesis on the paper's grid (30 Hz - 11 kHz, 48 bins/octave, 22050 Hz)."""
from __future__ import annotations

import functools
import warnings
from dataclasses import asdict, dataclass
from math import gcd
from pathlib import Path

import numpy as np

from ..errors import GlissandoError, one_line
from ..jobs import check_input
from .nsgt_compat import import_nsgt

# The paper's rate: every sound is analysed, decoded and rendered at it (files at other rates are
# resampled on reading, exports may be upsampled on writing).
SAMPLE_RATE = 22050
# What load_audio reads (libsndfile >= 1.1 reads MP3, checked in tests/core/test_spectral.py).
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".aif", ".aiff", ".mp3"})
# Sample rates and channel counts read: a damaged header can declare 1 Hz or 4 GHz (the resampler's
# filter grows with the rates' ratio) or thousands of channels.
MIN_RATE, MAX_RATE = 1000, 768000
MAX_CHANNELS = 64


@dataclass(frozen=True)
class SpectralConfig:
    sample_rate: int = SAMPLE_RATE
    fmin: float = 30.0
    fmax: float = 11000.0
    bins_per_octave: int = 48
    # Floor added to magnitudes before the log: about 60 dB below the peak bin of a SoundFont pp note,
    # so silence maps to a finite, stable value and dynamics stay visible above it.
    log_floor: float = 1e-4
    # Analysis block (samples): nsgt builds one transform per signal length, and its low bins' windows
    # depend on that length, so every analysis of a model's frames (data sets, transcription, the
    # overview) and every reconstruction (offline rendering, held loops) uses this one length; long
    # audio is cut into half-overlapping blocks of it. Model files from before it was stored get 32768.
    block: int = 32768

    @property
    def silence_floor(self) -> float:
        """A decoded magnitude at or below this is the decoder's silence, never a partial or a note."""
        return 10.0 * self.log_floor

    def bin_frequencies(self, n_bins: int) -> np.ndarray:
        """Centre frequency (Hz) of each of the first ``n_bins`` constant-Q bins."""
        return self.fmin * 2.0 ** (np.arange(n_bins) / self.bins_per_octave)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SpectralConfig":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


class NSGTransform:
    """NSGT in matrix form for signals of one length; rows 1..n_bins are the constant-Q bins.

    nsgt builds its windows per signal length, so instances are cached by length: callers
    should use a few fixed lengths (note renders, transcription blocks) rather than arbitrary ones.
    """

    def __init__(self, length: int, config: SpectralConfig = SpectralConfig()):
        nsgt = import_nsgt()
        self.config = config
        self.length = int(length)
        scale = nsgt.OctScale(config.fmin, config.fmax, config.bins_per_octave)
        self.frequencies = np.asarray(scale()[0], dtype=np.float64)
        with warnings.catch_warnings():
            # "Q-factor too high" for the lowest bins: inherent to 48 bins/octave from 30 Hz, as in the paper.
            warnings.simplefilter("ignore", UserWarning)
            self._nsgt = nsgt.NSGT(scale, config.sample_rate, self.length, real=True, matrixform=True)
        probe = np.asarray(self._nsgt.forward(np.zeros(self.length)))
        self.n_rows, self.n_frames = probe.shape
        self.n_bins = self.n_rows - 2  # without the DC and Nyquist rows
        self.hop = self.length / self.n_frames

    @classmethod
    @functools.lru_cache(maxsize=16)
    def for_length(cls, length: int, config: SpectralConfig = SpectralConfig()) -> "NSGTransform":
        return cls(length, config)

    @property
    def frame_rate(self) -> float:
        return self.config.sample_rate / self.hop

    def forward(self, audio: np.ndarray) -> np.ndarray:
        """Complex coefficients, shape (n_rows, n_frames). ``audio`` is padded or cut to the length."""
        x = np.zeros(self.length, dtype=np.float64)
        n = min(len(audio), self.length)
        x[:n] = audio[:n]
        return np.asarray(self._nsgt.forward(x))

    def backward(self, coefficients: np.ndarray) -> np.ndarray:
        return np.asarray(self._nsgt.backward(coefficients), dtype=np.float64)[: self.length]

    def magnitude_frames(self, audio: np.ndarray) -> np.ndarray:
        """Magnitudes of the constant-Q bins, shape (n_frames, n_bins), float32."""
        return np.abs(self.forward(audio)[1:-1]).T.astype(np.float32)

    def log_frames(self, audio: np.ndarray) -> np.ndarray:
        return np.log(self.magnitude_frames(audio) + self.config.log_floor)

    def full_magnitude(self, bin_magnitudes: np.ndarray) -> np.ndarray:
        """(n_frames, n_bins) magnitudes -> (n_rows, n_frames) with silent DC and Nyquist rows."""
        full = np.zeros((self.n_rows, bin_magnitudes.shape[0]), dtype=np.float64)
        full[1:-1] = bin_magnitudes.T
        return full


def to_mono_22k(audio: np.ndarray, sample_rate: int, target_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mix any channel count to mono and resample (polyphase, scipy) to ``target_rate``."""
    from scipy.signal import resample_poly

    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if sample_rate != target_rate:
        g = gcd(int(sample_rate), int(target_rate))
        audio = resample_poly(audio, target_rate // g, int(sample_rate) // g)
    return audio.astype(np.float32)


class EmptyAudio(GlissandoError):
    """An audio file that holds no samples: an error where sound is needed, no notes for a transcription."""


def audio_file_info(path: str | Path):
    """soundfile's facts about an audio file (rate, frames, channels), or a GlissandoError naming it
    (EmptyAudio for a file of no samples)."""
    import soundfile as sf

    path = check_input(path)
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises several types for unreadable or non-audio files
        raise GlissandoError(f"{path}: not a readable audio file ({_reason(exc)})") from None
    if not MIN_RATE <= info.samplerate <= MAX_RATE:
        raise GlissandoError(f"{path}: not a readable audio file (sample rate {info.samplerate} Hz; "
                             f"{MIN_RATE}-{MAX_RATE} Hz are read)")
    if not 1 <= info.channels <= MAX_CHANNELS:
        raise GlissandoError(f"{path}: not a readable audio file ({info.channels} channels; "
                             f"up to {MAX_CHANNELS} are read)")
    if info.frames <= 0:
        raise EmptyAudio(f"{path}: the audio file is empty")
    return info


def _reason(exc: Exception) -> str:
    """libsndfile's reason, without the file name soundfile repeats in front of it."""
    text = one_line(exc)
    return text.split(": ", 1)[1] if text.startswith("Error opening") and ": " in text else text


def load_audio(path: str | Path, target_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read an audio file as mono float32 at ``target_rate``; a clear GlissandoError if it cannot."""
    import soundfile as sf

    audio_file_info(path)  # the header's facts checked first, without reading the samples
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises several types for unreadable or non-audio files
        raise GlissandoError(f"{path}: the audio data is damaged ({_reason(exc)})") from None
    if audio.shape[0] == 0:
        raise EmptyAudio(f"{path}: the audio file is empty")
    if not np.all(np.isfinite(audio)):
        raise GlissandoError(f"{path}: the audio contains invalid (NaN or infinite) samples")
    return to_mono_22k(audio, rate, target_rate)
