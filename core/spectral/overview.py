"""A picture of a whole audio file for display: waveform envelope and NSGT spectrogram, decimated
to a fixed number of columns and computed chunk by chunk, so an hour of audio costs what a minute does."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..jobs import CancelFn, GlissandoError, ProgressFn, check_cancel, no_progress
from .nsgt_frames import NSGTransform, SpectralConfig, audio_file_info, to_mono_22k


@dataclass
class AudioOverview:
    duration: float  # seconds
    times: np.ndarray  # (C,) column centres, seconds
    frequencies: np.ndarray  # (bins,) Hz
    db: np.ndarray  # (bins, C) dB, each column the loudest frame it covers
    wave_min: np.ndarray  # (C,)
    wave_max: np.ndarray  # (C,)


# SpectralConfig is a frozen dataclass: one shared default instance is safe.
def audio_overview(path: str | os.PathLike, config: SpectralConfig = SpectralConfig(),  # noqa: B008
                   columns: int = 1500, chunk_seconds: float = 30.0, progress: ProgressFn = no_progress,
                   cancel: Optional[CancelFn] = None) -> AudioOverview:
    import soundfile as sf

    path = Path(path)
    info = audio_file_info(path)
    duration = info.frames / info.samplerate
    block = config.block
    transform = NSGTransform.for_length(block, config)
    columns = max(1, min(columns, int(duration * transform.frame_rate)))

    def col_of(t: np.ndarray) -> np.ndarray:
        return np.minimum((t / duration * columns).astype(int), columns - 1)

    db = np.full((transform.n_bins, columns), -120.0, dtype=np.float32)
    wave_min = np.zeros(columns, dtype=np.float32)
    wave_max = np.zeros(columns, dtype=np.float32)
    with sf.SoundFile(str(path)) as fh:
        offset = 0  # samples at the analysis rate already analysed
        for start in range(0, info.frames, int(chunk_seconds * info.samplerate)):
            check_cancel(cancel)
            try:
                raw = fh.read(int(chunk_seconds * info.samplerate), dtype="float32", always_2d=True)
            except Exception as exc:
                raise GlissandoError(f"{path}: the audio data is damaged ({exc})") from None
            audio = np.nan_to_num(to_mono_22k(raw, info.samplerate, config.sample_rate))
            t = (offset + np.arange(len(audio))) / config.sample_rate
            cols = col_of(t)
            np.minimum.at(wave_min, cols, audio)
            np.maximum.at(wave_max, cols, audio)
            for s in range(0, len(audio), block):
                mags = transform.magnitude_frames(audio[s : s + block])  # (frames, bins)
                frame_t = (offset + s + np.arange(len(mags)) * transform.hop) / config.sample_rate
                inside = frame_t < (offset + len(audio)) / config.sample_rate
                level = (20 * np.log10(mags[inside] + 1e-6)).T
                np.maximum.at(db.T, col_of(frame_t[inside]), level.T)
            offset += len(audio)
            progress(min(start + int(chunk_seconds * info.samplerate), info.frames), info.frames, "drawing")
    times = (np.arange(columns) + 0.5) * duration / columns
    return AudioOverview(duration, times, transform.frequencies[: transform.n_bins].copy(), db, wave_min, wave_max)
