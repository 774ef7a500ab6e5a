"""The same NSGT as nsgt's, as batched torch operations.

nsgt loops over its 412 bands in Python for every transform, which is what makes the paper's
Griffin-Lim slow (about 24 ms for a forward and backward pass of 1.5 s). The transform is linear and,
for one signal length, fixed: each band gathers a window of the signal's spectrum and takes an inverse
FFT. We read the windows and their placement out of nsgt's own objects once, then run every band of
every block at once on CPU or GPU. Results match nsgt to float precision (tests/core/test_phase.py).
"""
from __future__ import annotations

import numpy as np
import torch

from .nsgt_frames import NSGTransform

_CACHE: dict = {}


class TorchNSGT:
    def __init__(self, transform: NSGTransform, device: str | torch.device = "cpu", dtype=torch.float32):
        nsgt = transform._nsgt
        self.length = transform.length
        self.n_rows = transform.n_rows
        self.n_frames = transform.n_frames
        self.device = torch.device(device)
        M = int(nsgt.M[0])
        n_bands = len(nsgt.g) // 2 + 1  # real signals: the positive-frequency bands only
        nn = int(nsgt.nn)
        # Forward: c[k] = ifft(spec[fwd_index[k]] * fwd_weight[k]) (weight 0 outside the band's window).
        fwd_index = np.full((n_bands, M), nn, dtype=np.int64)
        fwd_weight = np.zeros((n_bands, M), dtype=np.float64)
        # Backward: spec[bwd_index[k]] += fft(c[k]) * bwd_weight[k] (scatter-add, positions < nn//2+1 kept).
        bwd_index = np.full((n_bands, M), nn, dtype=np.int64)
        bwd_weight = np.zeros((n_bands, M), dtype=np.float64)
        for k in range(n_bands):
            g, win, gd = nsgt.g[k], nsgt.wins[k], nsgt.gd[k]
            Lg = len(g)
            assert Lg <= M, "matrix form with windows longer than the frame count is not supported"
            head, tail = (Lg + 1) // 2, Lg // 2
            fwd_index[k, :head] = win[tail:]
            fwd_weight[k, :head] = g[:head]
            if tail:
                fwd_index[k, M - tail:] = win[:tail]
                fwd_weight[k, M - tail:] = g[Lg - tail:]
            Lgd = len(gd)
            head_d, tail_d = (Lgd + 1) // 2, Lgd // 2
            bwd_index[k, :head_d] = win[tail_d:]
            bwd_weight[k, :head_d] = gd[:head_d] * M
            if tail_d:
                bwd_index[k, M - tail_d:] = win[:tail_d]
                bwd_weight[k, M - tail_d:] = gd[Lgd - tail_d:] * M
        self.nn = nn
        self.M = M
        cdtype = torch.complex64 if dtype == torch.float32 else torch.complex128
        self.dtype, self.cdtype = dtype, cdtype
        self.fwd_index = torch.from_numpy(fwd_index).to(self.device)  # column 0: each band's centre bin
        # Only about a sixth of the (band, frame) grid lies inside a band's window: the gather, the
        # weighting and the scatter-add touch those entries only, as flat positions in the grid.
        fwd_pos = np.flatnonzero(fwd_weight)
        self.fwd_pos = torch.from_numpy(fwd_pos).to(self.device)
        self.half = nn // 2 + 1
        # The signal is real, so its spectrum is read from the half rfft gives: a bin past the half is the
        # conjugate of its mirror (only the DC band's window reaches there).
        fwd_src = fwd_index.reshape(-1)[fwd_pos]
        mirrored = fwd_src >= self.half
        self.fwd_src = torch.from_numpy(np.where(mirrored, nn - fwd_src, fwd_src)).to(self.device)
        self.fwd_mirrored = torch.from_numpy(np.flatnonzero(mirrored)).to(self.device)
        self.fwd_w = torch.from_numpy(fwd_weight.reshape(-1)[fwd_pos]).to(self.device, dtype)
        # Bands past the Nyquist half are dropped on synthesis (irfft uses the lower half only).
        bwd_pos = np.flatnonzero((bwd_index < self.half) & (bwd_weight != 0))
        self.bwd_pos = torch.from_numpy(bwd_pos).to(self.device)
        self.bwd_dst = torch.from_numpy(bwd_index.reshape(-1)[bwd_pos]).to(self.device)
        self.bwd_w = torch.from_numpy(bwd_weight.reshape(-1)[bwd_pos]).to(self.device, dtype)

    @classmethod
    def for_transform(cls, transform: NSGTransform, device: str | torch.device = "cpu",
                      dtype=torch.float32) -> "TorchNSGT":
        key = (transform.length, transform.config, str(device), dtype)
        if key not in _CACHE:
            _CACHE[key] = cls(transform, device, dtype)
        return _CACHE[key]

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, length) real -> (B, n_rows, n_frames) complex."""
        spec = _fft(audio.to(self.dtype), "rfft", n=self.nn)
        gathered = spec[:, self.fwd_src]
        gathered[:, self.fwd_mirrored] = gathered[:, self.fwd_mirrored].conj()
        bands = spec.new_zeros((spec.shape[0], self.n_rows * self.M))
        bands[:, self.fwd_pos] = gathered * self.fwd_w
        return _fft(bands.view(-1, self.n_rows, self.M), "ifft")

    def backward(self, coefficients: torch.Tensor) -> torch.Tensor:
        """(B, n_rows, n_frames) complex -> (B, length) real."""
        fc = _fft(coefficients.to(self.cdtype), "fft").reshape(coefficients.shape[0], -1)
        spec = fc.new_zeros((fc.shape[0], self.half))
        spec.index_add_(1, self.bwd_dst, fc[:, self.bwd_pos] * self.bwd_w)
        return _fft(spec, "irfft", n=self.nn)[:, : self.length]


def _fft(x: torch.Tensor, kind: str, n: int | None = None) -> torch.Tensor:
    """torch.fft's ``kind`` along the last axis; on the CPU, outside autograd, scipy's pocketfft instead.

    Why: the bands are 465 frames long for the 32768-sample block (3 x 5 x 31), a length torch's CPU FFT
    handles slowly: 2.8 ms for one block's 412 bands against scipy's 1.3 ms, both in single precision on one
    thread (the 32768-point transforms: 0.5 against 0.2-0.3 ms). Every Griffin-Lim iteration, held loop and
    transcription block does four of these. scipy releases the GIL, so the render's block threads still
    run side by side. On a GPU, or where gradients flow, torch's own stays."""
    if x.device.type != "cpu" or (x.requires_grad and torch.is_grad_enabled()):
        return getattr(torch.fft, kind)(x, n=n, dim=-1)
    # Imported at the first transform, not with this module: scipy.fft's import (scipy.special parses its
    # docstrings) is 0.25 s, a sixth of the desktop app's launch, which needs no transform to show its window.
    import scipy.fft

    return torch.from_numpy(getattr(scipy.fft, kind)(x.detach().resolve_conj().numpy(), n=n, axis=-1))
