"""Log-magnitude NSGT frames of whole recordings and of the sustained part of a note."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..errors import GlissandoError
from ..jobs import atomic_write
from ..spectral import NSGTransform, SpectralConfig

FRAMES_PER_NOTE = 24


# SpectralConfig is a frozen dataclass: the functions here share one default instance safely (B008).
def log_frames_long(audio: np.ndarray, config: SpectralConfig = SpectralConfig()):  # noqa: B008
    """Log-magnitude frames of audio of any length.

    Long audio is cut into half-overlapping blocks of the config's analysis block, keeping each
    block's central frames (the block edges wrap around in the transform). Returns
    ``(frames (T, n_bins) float32, times (T,) seconds)``. Memory is bounded by the output, not by an
    ever larger transform.
    """
    block = config.block
    transform = NSGTransform.for_length(block, config)
    sr = config.sample_rate
    n = len(audio)
    if n <= block:
        frames = transform.log_frames(audio)
        times = np.arange(transform.n_frames) * transform.hop / sr
        keep = times <= n / sr
        return frames[keep], times[keep]
    step, margin = block // 2, block // 4
    out_frames, out_times = [], []
    frame_pos = np.arange(transform.n_frames) * transform.hop
    for start in range(0, n, step):
        frames = transform.log_frames(audio[start : start + block])
        lo = 0 if start == 0 else margin
        hi = block if start + block >= n else margin + step
        keep = (frame_pos >= lo) & (frame_pos < hi) & (start + frame_pos < n)
        out_frames.append(frames[keep])
        out_times.append((start + frame_pos[keep]) / sr)
        if start + block >= n:
            break
    return np.concatenate(out_frames), np.concatenate(out_times)


def frame_energy(log_frames: np.ndarray, config: SpectralConfig = SpectralConfig()) -> np.ndarray:  # noqa: B008
    mag = np.exp(log_frames.astype(np.float64)) - config.log_floor
    return np.sum(np.maximum(mag, 0.0) ** 2, axis=1)


def sustain_indices(energy: np.ndarray, frame_rate: float, count: int) -> np.ndarray:
    """Indices of ``count`` frames spread over the sustained part of a note.

    Sustained means: after the onset (+40 ms), within 1.5 s of it, and within 6 dB of the note's
    median level. The level window is what keeps dynamics learnable: an attack peak or a release
    tail of an ff note would otherwise pass for an mf one (the SoundFonts' dynamics lie 8-10 dB apart).
    """
    active = np.nonzero(energy > energy.max() * 1e-3)[0]
    start = int(active[0] + round(0.04 * frame_rate))
    stop = min(int(active[-1]) + 1, start + int(1.5 * frame_rate))
    if stop - start < 3:
        start, stop = int(active[0]), int(active[-1]) + 1
    region = np.arange(start, stop)
    level = np.median(energy[region])
    steady = region[(energy[region] >= level / 4) & (energy[region] <= level * 4)]
    if len(steady) < 3:
        steady = region
    return np.unique(steady[np.linspace(0, len(steady) - 1, count).round().astype(int)])


def note_frames(audio: np.ndarray, config: SpectralConfig = SpectralConfig(),  # noqa: B008
                count: int = FRAMES_PER_NOTE) -> np.ndarray:
    """Frames of the sustained part of one isolated note, float16 (count, n_bins)."""
    frames, _ = log_frames_long(audio, config)
    energy = frame_energy(frames, config)
    # The loudest bin of a SoundFont pp note is about 0.09; 20 dB below that there is no note at all.
    if frames.max() < np.log(0.01 + config.log_floor):
        raise GlissandoError("silent: no note found in the audio")
    transform = NSGTransform.for_length(config.block, config)
    idx = sustain_indices(energy, transform.frame_rate, count)
    return frames[idx].astype(np.float16)


class FrameCache:
    """Per-note frame arrays on disk, keyed by the source's identity and the analysis settings,
    so that building a data set a second time skips rendering and analysis."""

    def __init__(self, root: Optional[Path] = None):
        default = Path(os.environ.get("GLISSANDO_CACHE", Path.home() / ".cache" / "glissando")) / "frames"
        self.root = Path(root) if root else default

    def key(self, identity: dict, config: SpectralConfig, count: int) -> str:
        blob = json.dumps({"id": identity, "spectral": config.to_dict(), "count": count, "v": 3}, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()

    def get_or_compute(self, identity: dict, config: SpectralConfig, count: int,
                       compute: Callable[[], np.ndarray]) -> np.ndarray:
        path = self.root / (self.key(identity, config, count) + ".npy")
        if path.exists():
            try:
                return np.load(path, allow_pickle=False)
            except (OSError, ValueError):
                path.unlink(missing_ok=True)  # a truncated cache entry is recomputed, never trusted
        frames = compute()
        with atomic_write(path, suffix=".tmp.npy") as tmp:  # np.save adds .npy to any other name
            np.save(tmp, frames)
        return frames


def file_identity(path: Path) -> dict:
    if not path.exists():
        return {"file": str(path), "missing": True}  # loading it will report the missing file
    st = path.stat()
    return {"file": str(path.resolve()), "size": st.st_size, "mtime": st.st_mtime_ns}
