"""Perceptual regularization of the latent space (seed paper 003), with timbre descriptors standing in for
the dissimilarity ratings of listeners that paper used and we do not have.

The term pulls the distances between a batch's signal posterior means towards the distances between the
frames' descriptors (spectral centroid, bandwidth, flatness, rolloff, loudness), both as matrices over the
batch's pairs, each divided by its mean: only the shape of the space is asked for, not its scale, which the
KL terms set. The descriptors are computed in torch on the frames as training sees them (after augmentation),
with the formulas of core/descriptors.py (that module works in numpy on decoded spectra; a test checks the
two agree).
"""
from __future__ import annotations

import torch

DESCRIPTOR_NAMES = ("centroid", "bandwidth", "flatness", "rolloff", "loudness")
ROLLOFF_SHARE = 0.85


def frame_descriptors(log_frames: torch.Tensor, frequencies: torch.Tensor, log_floor: float) -> torch.Tensor:
    """(B, 5) descriptors of log-magnitude frames (B, bins): centroid, bandwidth and rolloff in octaves
    (log2 Hz: equal steps sound alike across the range), flatness and loudness in dB."""
    mags = (log_frames.detach().float().exp() - log_floor).clamp_min(0)
    f = frequencies.to(mags)
    width = torch.gradient(f)[0]
    power = mags ** 2
    total = power.sum(1) + 1e-20
    centroid = (power * f).sum(1) / total
    bandwidth = ((power * (f - centroid[:, None]) ** 2).sum(1) / total).sqrt()
    density = power / width + 1e-20
    weights = width / width.sum()
    flatness = 10 * torch.log10((density.log() * weights).sum(1).exp() / (density * weights).sum(1))
    cumulative = power.cumsum(1) / total[:, None]
    rolloff = f[((cumulative < ROLLOFF_SHARE).sum(1)).clamp(max=len(f) - 1)]
    loudness = 10 * torch.log10(total)
    return torch.stack([centroid.clamp_min(1).log2(), bandwidth.clamp_min(1).log2(), flatness,
                        rolloff.log2(), loudness], dim=1)


def _pairwise(points: torch.Tensor) -> torch.Tensor:
    """Euclidean distances of every pair of rows; a small floor under the root keeps the gradient finite
    where two rows coincide."""
    sq = (points[:, None, :] - points[None, :, :]).pow(2).sum(-1)
    return (sq + 1e-8).sqrt()


def descriptor_distance_loss(latents: torch.Tensor, descriptors: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between the batch's latent distances and its descriptor distances, each
    matrix divided by its mean over the pairs; the descriptors standardized over the batch first, so that
    each weighs alike. 0 when the latents are the descriptors up to scale, rotation and shift."""
    n = latents.shape[0]
    if n < 3:
        return latents.sum() * 0.0
    with torch.no_grad():
        t = (descriptors - descriptors.mean(0)) / descriptors.std(0).clamp_min(1e-6)
        target = _pairwise(t)
    off = ~torch.eye(n, dtype=torch.bool, device=latents.device)
    target = target[off] / target[off].mean().clamp_min(1e-6)
    d = _pairwise(latents.float())[off]
    d = d / d.mean().clamp_min(1e-6)
    return (d - target).pow(2).mean()
