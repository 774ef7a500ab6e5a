"""Frame augmentation: a model that knows one SoundFont must still hear other instruments and rooms.

Applied to log-magnitude frames (log(mag + floor)). Gain stays within +-0.5 dB on purpose: loudness
carries the dynamics labels, so it must not be normalized or randomized away.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from ..models.noise import StepNoise


@dataclass
class AugmentConfig:
    probability: float = 0.8
    gain_db: float = 0.5
    # Kept small: a tilt of a few dB per octave moves a note's level by as much as a dynamic step.
    tilt_db_per_octave: float = 1.5
    eq_db: float = 1.5  # smooth random colouring: rooms and microphones
    # Colouring (tilt and EQ) rescaled to keep each frame's energy: banks differ in colour far more than
    # the 1.5 dB the level-carrying default allows, and only the separate gain may move a frame's level.
    keep_level: bool = False
    detune_bins: float = 0.6  # 48 bins/octave: 0.6 bin = 15 cents, well inside a semitone
    noise_db: tuple = (-90.0, -50.0)
    # Transposition by whole semitones, relabelled: an instrument is then heard at pitches next to
    # the ones its samples sit at, so its timbre cannot be learnt as "this spectrum at this pitch"
    # (and a pitch at the edge of one instrument's range is seen on its neighbours').
    shift_probability: float = 0.5
    shift_semitones: int = 2
    # Level moved far beyond the dynamics' steps, on a share of the frames whose dynamics label is then
    # forgotten: banks sit up to 20 dB apart for one instrument and dynamic, so pitch, instrument and
    # "silent" must not be learnt from level, while the untouched frames still teach dynamics by it.
    level_probability: float = 0.3
    level_db: tuple = (-30.0, 6.0)

    def to_dict(self) -> dict:
        return asdict(self)


def _uniform(noise: StepNoise | None, device, rows: int, *shape: int) -> torch.Tensor:
    """Uniform [0, 1) numbers: the training step's (``noise``), else torch's global generator."""
    return noise.rand(rows, *shape) if noise is not None else torch.rand((rows, *shape), device=device)


def augment_frames(frames: torch.Tensor, cfg: AugmentConfig, log_floor: float, bins_per_octave: int = 48,
                   noise: StepNoise | None = None) -> torch.Tensor:
    """Random gain, tilt, EQ, detune and noise on a share of the frames; ``noise`` draws the numbers (training:
    the step's, the same whatever the number of processes), else torch's global generator."""
    b, n = frames.shape
    dev = frames.device

    def u(lo, hi):
        return _uniform(noise, dev, b, 1) * (hi - lo) + lo

    mag = (frames.exp() - log_floor).clamp(min=0)
    k = torch.arange(n, device=dev, dtype=frames.dtype).unsqueeze(0)
    octaves = (k - n / 2) / bins_per_octave
    gain_db = u(-cfg.gain_db, cfg.gain_db)
    db = u(-cfg.tilt_db_per_octave, cfg.tilt_db_per_octave) * octaves
    for _ in range(3):
        period = u(n / 6, n * 1.5)
        db = db + u(-cfg.eq_db, cfg.eq_db) / 3 * torch.cos(2 * torch.pi * k / period + u(0, 6.3))
    coloured = mag * 10 ** (db / 20)
    if cfg.keep_level:
        energy = (mag ** 2).sum(1, keepdim=True)
        coloured = coloured * torch.sqrt(energy / (coloured ** 2).sum(1, keepdim=True).clamp(min=1e-20))
    mag = coloured * 10 ** (gain_db / 20)
    # Detune: fractional shift along the log-frequency axis by linear interpolation.
    shift = u(-cfg.detune_bins, cfg.detune_bins)
    pos = (k - shift).clamp(0, n - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=n - 1)
    w = pos - lo
    mag = mag.gather(1, lo) * (1 - w) + mag.gather(1, hi) * w
    noise_amp = 10 ** (u(*cfg.noise_db) / 20)
    floor_noise = noise.randn(b, n) if noise is not None else torch.randn((b, n), device=dev)
    mag = mag + noise_amp * floor_noise.abs()
    out = torch.log(mag + log_floor)
    keep = _uniform(noise, dev, b, 1) >= cfg.probability
    return torch.where(keep, frames, out)


def vary_level(frames: torch.Tensor, labels: torch.Tensor, cfg: AugmentConfig, log_floor: float,
               silent_dynamics: int, noise: StepNoise | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Move a share (``cfg.level_probability``) of the single-note frames by a gain drawn from
    ``cfg.level_db`` and mark their dynamics unknown (-1); silent rows keep their silent label. Mixtures
    keep their level: a pp voice under an ff one already sits near the floor, and 30 dB less would bury
    it while its label still says it sounds (a small three-voice model then found both notes of 55% of
    its duets instead of 79%)."""
    b = frames.shape[0]
    dev = frames.device
    chance, draw = _uniform(noise, dev, b), _uniform(noise, dev, b)
    lo, hi = cfg.level_db
    gain = 10 ** ((lo + (hi - lo) * draw) / 20)
    dynamics = labels[:, 2::4]  # each voice slot's dynamics
    sounding = dynamics != silent_dynamics
    chosen = (chance < cfg.level_probability) & (sounding.sum(dim=1) <= 1)
    mag = (frames.exp() - log_floor).clamp(min=0) * gain.unsqueeze(1)
    out = torch.where(chosen.unsqueeze(1), torch.log(mag + log_floor), frames)
    new_labels = labels.clone()
    forget = chosen.unsqueeze(1) & (dynamics >= 0) & sounding
    new_labels[:, 2::4] = torch.where(forget, torch.full_like(dynamics, -1), dynamics)
    return out, new_labels


def label_values(vocabulary: dict, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(pitch class values, octave values) of a model's label classes: the semitone (0-11) of each
    pitch-class class and the octave number of each octave class, -100 for silent. A vocabulary holds
    only the classes its data had, so a class index is not a semitone."""
    from ..data.labels import PITCH_CLASSES

    pcs = [PITCH_CLASSES.index(v) if v in PITCH_CLASSES else -100 for v in vocabulary["pitch_class"]]
    octs = [int(v) if v.isdigit() else -100 for v in vocabulary["octave"]]
    return torch.tensor(pcs, device=device), torch.tensor(octs, device=device)


def transpose_frames(frames: torch.Tensor, labels: torch.Tensor, values: tuple[torch.Tensor, torch.Tensor],
                     cfg: AugmentConfig, bins_per_semitone: int, floor_value: float,
                     noise: StepNoise | None = None):
    """Shift a random share of the frames by up to ``cfg.shift_semitones`` along the constant-Q axis and
    move their pitch labels with them. ``values``: from label_values. Rows whose new pitch has no
    class in the vocabulary, or that are silent or unlabelled, stay as they are."""
    b, n = frames.shape
    dev = frames.device
    if noise is not None:
        k, chance = noise.randint(-cfg.shift_semitones, cfg.shift_semitones + 1, b), noise.rand(b)
    else:
        k = torch.randint(-cfg.shift_semitones, cfg.shift_semitones + 1, (b,), device=dev)
        chance = torch.rand(b, device=dev)
    k = torch.where(chance < cfg.shift_probability, k, torch.zeros_like(k))
    pc_values, octave_values = values
    # Every voice slot (4 label columns each, pitch class and octave first) moves with the frame; a row
    # moves only if each of its sounding notes still has a class after the move, and it has at least one.
    slots = labels.shape[1] // 4
    ok = k != 0
    sounding_any = torch.zeros(b, dtype=torch.bool, device=dev)
    moved = []
    for v in range(slots):
        pc, octv = labels[:, 4 * v], labels[:, 4 * v + 1]
        semitone = pc_values[pc.clamp(min=0)]
        octave = octave_values[octv.clamp(min=0)]
        sounding = (pc >= 0) & (octv >= 0) & (octave > -100) & (semitone > -100)
        midi = (octave + 1) * 12 + semitone + k
        new_oct = torch.div(midi, 12, rounding_mode="floor") - 1
        match = octave_values.unsqueeze(0) == new_oct.unsqueeze(1)
        pc_match = pc_values.unsqueeze(0) == torch.remainder(midi, 12).unsqueeze(1)
        if v == 0:  # the lowest slot: unlabelled or silent there means nothing to move
            ok = ok & sounding
        ok = ok & (~sounding | (match.any(1) & pc_match.any(1)))
        sounding_any = sounding_any | sounding
        moved.append((sounding, pc_match.float().argmax(1), match.float().argmax(1)))
    ok = ok & sounding_any
    k = torch.where(ok, k, torch.zeros_like(k))
    src = torch.arange(n, device=dev).unsqueeze(0) - (k * bins_per_semitone).unsqueeze(1)
    inside = (src >= 0) & (src < n)
    shifted = torch.where(inside, frames.gather(1, src.clamp(0, n - 1)), torch.full_like(frames, floor_value))
    new_labels = labels.clone()
    for v, (sounding, new_pc, new_octave) in enumerate(moved):
        change = ok & sounding
        new_labels[:, 4 * v] = torch.where(change, new_pc, labels[:, 4 * v])
        new_labels[:, 4 * v + 1] = torch.where(change, new_octave, labels[:, 4 * v + 1])
    return shifted, new_labels
