"""Phase reconstruction from NSGT magnitudes.

The reference is the paper's: Griffin-Lim from random phase, 30 iterations. ``momentum`` > 0
gives the fast Griffin-Lim of Perraudin et al. (2013), which converges in fewer iterations.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..jobs import CancelFn, ProgressFn, check_cancel
from .nsgt_frames import NSGTransform


def spectral_convergence(target_magnitude: np.ndarray, coefficients: np.ndarray) -> float:
    """||target - |C||| / ||target|| (Frobenius): 0 is perfect."""
    return float(np.linalg.norm(target_magnitude - np.abs(coefficients)) / max(np.linalg.norm(target_magnitude), 1e-12))


def griffin_lim(
    magnitude: np.ndarray,
    transform: NSGTransform,
    n_iter: int = 30,
    momentum: float = 0.0,
    seed: Optional[int] = 0,
    progress: Optional[ProgressFn] = None,
    cancel: Optional[CancelFn] = None,
) -> tuple[np.ndarray, float]:
    """Reconstruct audio whose NSGT magnitude approaches ``magnitude`` (shape (n_rows, n_frames)).

    Returns the audio and its final spectral convergence.
    """
    rng = np.random.default_rng(seed)
    phase = np.exp(2j * np.pi * rng.random(magnitude.shape))
    coefficients = magnitude * phase
    previous = coefficients
    for i in range(n_iter):
        check_cancel(cancel)
        audio = transform.backward(coefficients)
        projected = transform.forward(audio)
        consistent = magnitude * np.exp(1j * np.angle(projected))
        coefficients = consistent + momentum * (consistent - previous) if momentum else consistent
        previous = consistent
        if progress:
            progress(i + 1, n_iter, "Griffin-Lim")
    audio = transform.backward(magnitude * np.exp(1j * np.angle(coefficients)))
    return audio, spectral_convergence(magnitude, transform.forward(audio))
