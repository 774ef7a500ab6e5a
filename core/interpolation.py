"""Latent paths through timed targets: none / linear / cubic (the paper's orders 0, 1, 3) and spherical."""
from __future__ import annotations

import numpy as np

MODES = ("none", "linear", "cubic", "spherical")


def interpolate(times: np.ndarray, targets: np.ndarray, query: np.ndarray, mode: str = "linear") -> np.ndarray:
    """Sample the path through ``targets`` (K, D) reached at ``times`` (K,) at ``query`` (T,) seconds.

    none: each target holds until the next (jumps); linear: straight segments; cubic: a shape-preserving
    cubic (PCHIP: continuous with a continuous slope, and no overshoot beyond neighbouring targets, so a
    held note keeps its sound); spherical: great-circle interpolation of direction with linear norm,
    which keeps intermediate points at the prior's typical radius instead of cutting through the centre.
    Before the first target and after the last, the path holds.
    """
    times = np.asarray(times, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    query = np.asarray(query, dtype=np.float64)
    if mode not in MODES:
        raise ValueError(f"unknown interpolation {mode!r} (use {', '.join(MODES)})")
    if len(times) == 0:
        raise ValueError("a path needs at least one target")
    if np.any(np.diff(times) < 0):
        raise ValueError("target times must not decrease")
    if len(times) == 1:
        return np.repeat(targets[:1], len(query), axis=0)
    q = np.clip(query, times[0], times[-1])
    if mode == "none":
        idx = np.clip(np.searchsorted(times, q, side="right") - 1, 0, len(times) - 1)
        return targets[idx]
    # Repeated times (a jump at one instant) break interpolators: keep the last target at each time.
    keep = np.append(np.diff(times) > 0, True)
    t, y = times[keep], targets[keep]
    if len(t) == 1:
        return np.repeat(y[:1], len(query), axis=0)
    if mode == "linear":
        return np.stack([np.interp(q, t, y[:, d]) for d in range(y.shape[1])], axis=1)
    if mode == "cubic":
        from scipy.interpolate import PchipInterpolator

        return PchipInterpolator(t, y, axis=0)(q)
    return _slerp_path(t, y, q)


def _slerp_path(t: np.ndarray, y: np.ndarray, q: np.ndarray) -> np.ndarray:
    seg = np.clip(np.searchsorted(t, q, side="right") - 1, 0, len(t) - 2)
    return slerp(y[seg], y[seg + 1], ((q - t[seg]) / (t[seg + 1] - t[seg]))[:, None])


def slerp(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Row-wise spherical interpolation from ``a`` to ``b`` (N, D) at fractions ``w`` (N, 1): the
    direction moves along the great circle, the norm linearly."""
    na, nb = np.linalg.norm(a, axis=1, keepdims=True), np.linalg.norm(b, axis=1, keepdims=True)
    ua, ub = a / np.maximum(na, 1e-12), b / np.maximum(nb, 1e-12)
    omega = np.arccos(np.clip(np.sum(ua * ub, axis=1, keepdims=True), -1.0, 1.0))
    so = np.sin(omega)
    small = so < 1e-6  # nearly parallel: spherical and linear agree
    wa = np.where(small, 1 - w, np.sin((1 - w) * omega) / np.where(small, 1, so))
    wb = np.where(small, w, np.sin(w * omega) / np.where(small, 1, so))
    return (wa * ua + wb * ub) * ((1 - w) * na + w * nb)
