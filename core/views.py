"""Ways to look at a model's latent space in 3-D: the navigator's axes.

A view maps latents to three coordinates and back; every position decodes through the full latent.

- ``pca``: the principal components of the training posteriors (stored in the model file). It spreads
  what varies most, which in a model of many instruments is timbre: pitch has no direction there. Moving
  changes the latent only inside the three components (the smallest change that lands on the point).
- ``labels``: a lattice of the label sets the model knows, as a musician reads them: height is pitch (a
  unit per octave, each semitone in its place), across are the instruments, and depth is dynamics. A
  position between label sets is the blend of their latents (trilinear), so dragging up passes every
  semitone in order, and any point of the space between the lattice's nodes still sounds.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .data.labels import FAMILIES, midi_to_labels

if TYPE_CHECKING:
    from .session import ModelSession

NEIGHBOURS = 4  # label sets that place a latent off the lattice

class LatentView:
    """A 3-D view of the latent space: where latents are drawn, and which latent a point of the view is."""

    camera = (22.0, 35.0)  # elevation and azimuth (degrees) the view is best seen from

    def __init__(self, name: str, title: str, points: np.ndarray, point_labels: np.ndarray):
        self.name, self.title = name, title
        self.points, self.point_labels = points, point_labels  # (N, 3) drawn; (N, 4) label indices, FAMILIES order

    def project(self, latents: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def move(self, latent: np.ndarray, point_3d: np.ndarray) -> np.ndarray:
        """The latent at ``point_3d``, as close to ``latent`` as the view allows."""
        raise NotImplementedError

    def latents_at(self, latent: np.ndarray, points: np.ndarray) -> np.ndarray:
        """(N, D): :meth:`move` of ``latent`` to each of ``points`` (N, 3) at once, for maps over a plane;
        unlike a move, nothing about these latents is remembered."""
        raise NotImplementedError


class LinearView(LatentView):
    """latents -> (latent - mean) @ axes.T; a move is the smallest latent change that lands on the point."""

    def __init__(self, name: str, title: str, mean: np.ndarray, axes: np.ndarray, points: np.ndarray,
                 point_labels: np.ndarray):
        super().__init__(name, title, points, point_labels)
        self.mean, self.axes = mean, axes  # (D,), (3, D)

    def project(self, latents: np.ndarray) -> np.ndarray:
        return (np.asarray(latents, dtype=np.float64) - self.mean) @ self.axes.T

    def move(self, latent: np.ndarray, point_3d: np.ndarray) -> np.ndarray:
        delta = np.asarray(point_3d, dtype=np.float64) - self.project(latent)
        return (np.asarray(latent, dtype=np.float64) + delta @ np.linalg.pinv(self.axes).T).astype(np.float32)

    def latents_at(self, latent: np.ndarray, points: np.ndarray) -> np.ndarray:
        delta = np.asarray(points, dtype=np.float64) - self.project(latent)
        return (np.asarray(latent, dtype=np.float64) + delta @ np.linalg.pinv(self.axes).T).astype(np.float32)


class LatticeView(LatentView):
    """Label sets on a grid: x instrument, y dynamics, z pitch (octaves from C4). A point's latent is the
    trilinear blend of the eight label sets around it, each instrument's pitch clamped to its range."""

    # From the front and nearly level: instruments run left to right, pitch straight up, dynamics in depth,
    # so a vertical drag changes the pitch alone.
    camera = (8.0, -90.0)

    def __init__(self, title: str, grid: np.ndarray, pitches: np.ndarray, scale: float, points: np.ndarray,
                 point_labels: np.ndarray):
        super().__init__("labels", title, points, point_labels)
        self.grid, self.pitches, self.scale = grid, pitches, scale  # (instruments, dynamics, pitches, D)
        self._placed: dict[bytes, np.ndarray] = {}  # latents this view made, and where it made them
        i, d, p = np.round(points * [1, 1, 12 / scale] + [0, 0, 60 - pitches[0]]).astype(int).T
        self._node_latents = grid[i, d, p].astype(np.float64)  # the drawn label sets' own latents

    def move(self, latent: np.ndarray, point_3d: np.ndarray) -> np.ndarray:
        n_inst, n_dyn, n_pitch = self.grid.shape[:3]
        x, y, z = np.asarray(point_3d, dtype=np.float64)
        fi = float(np.clip(x, 0, n_inst - 1))
        fd = float(np.clip(y, 0, n_dyn - 1))
        fp = float(np.clip((z / self.scale) * 12 + 60 - self.pitches[0], 0, n_pitch - 1))
        out = np.zeros(self.grid.shape[-1])
        for i, wi in _corners(fi, n_inst):
            for d, wd in _corners(fd, n_dyn):
                for p, wp in _corners(fp, n_pitch):
                    out += wi * wd * wp * self.grid[i, d, p]
        result = out.astype(np.float32)
        if len(self._placed) > 4096:  # a long drag: keep the memory of recent moves only
            self._placed.clear()
        self._placed[result.tobytes()] = np.array([x, y, z])
        return result

    def latents_at(self, latent: np.ndarray, points: np.ndarray) -> np.ndarray:
        n_inst, n_dyn, n_pitch = self.grid.shape[:3]
        x, y, z = np.asarray(points, dtype=np.float64).T
        position = [np.clip(x, 0, n_inst - 1), np.clip(y, 0, n_dyn - 1),
                    np.clip((z / self.scale) * 12 + 60 - self.pitches[0], 0, n_pitch - 1)]
        lows = [np.minimum(np.floor(p).astype(int), size - 1) for p, size in zip(position, (n_inst, n_dyn, n_pitch))]
        highs = [np.minimum(lo + 1, size - 1) for lo, size in zip(lows, (n_inst, n_dyn, n_pitch))]
        fractions = [p - lo for p, lo in zip(position, lows)]
        out = np.zeros((len(x), self.grid.shape[-1]))
        for corner in range(8):  # the trilinear blend of move(), for every point at once
            index, weight = [], np.ones(len(x))
            for axis in range(3):
                upper = (corner >> axis) & 1
                index.append(highs[axis] if upper else lows[axis])
                weight = weight * (fractions[axis] if upper else 1.0 - fractions[axis])
            out += weight[:, None] * self.grid[index[0], index[1], index[2]]
        return out.astype(np.float32)

    def project(self, latents: np.ndarray) -> np.ndarray:
        """Where this view put a latent it made; elsewhere, the distance-weighted place of the nearest label
        sets (a label set's own latent lands on its node)."""
        latents = np.asarray(latents, dtype=np.float32)
        flat = latents.reshape(-1, latents.shape[-1])
        x = flat.astype(np.float64)
        nodes = self._node_latents
        d2 = np.maximum((x * x).sum(1)[:, None] + (nodes * nodes).sum(1)[None] - 2 * x @ nodes.T, 0.0)
        near = np.argpartition(d2, NEIGHBOURS, axis=1)[:, :NEIGHBOURS]
        weights = 1.0 / (np.take_along_axis(d2, near, 1) + 1e-12)
        out = (weights[..., None] * self.points[near]).sum(1) / weights.sum(1, keepdims=True)
        for k, row in enumerate(flat):
            placed = self._placed.get(row.tobytes())
            if placed is not None:
                out[k] = placed
        return out.reshape(latents.shape[:-1] + (3,))


def _corners(position: float, size: int) -> list[tuple[int, float]]:
    lo = int(np.floor(position))
    hi = min(lo + 1, size - 1)
    w = position - lo
    return [(lo, 1.0 - w)] if hi == lo else [(lo, 1.0 - w), (hi, w)]


def pca_view(projection: dict) -> LinearView:
    """The model file's own view: PCA of the training posteriors, and the training frames it drew from."""
    return LinearView("pca", "latent PCA", projection["mean"].double().numpy(),
                      projection["components"].double().numpy(), projection["points"].double().numpy(),
                      projection["point_labels"].numpy().astype(int))


def label_view(session: "ModelSession") -> LatticeView:
    """The label lattice of ``session`` (runs the symbol encoder for each label set not cached yet: call it
    off the GUI thread)."""
    index = {f: {v: i for i, v in enumerate(session.vocabulary[f])} for f in FAMILIES}
    instruments, dynamics = list(session.instruments), list(session.dynamics)
    ranges = {i: session.instrument_range(i) for i in instruments}
    pitches = np.arange(min(lo for lo, _ in ranges.values()), max(hi for _, hi in ranges.values()) + 1)
    nodes = [(i, d, p) for i in range(len(instruments)) for d in range(len(dynamics)) for p in range(len(pitches))]
    # min/max on Python ints: np.clip on each of the ~3700 scalars was a tenth of a model's load.
    clamped = [(min(max(int(pitches[p]), ranges[instruments[i]][0]), ranges[instruments[i]][1]), dynamics[d],
                instruments[i]) for i, d, p in nodes]
    grid = session.label_latents(clamped).reshape(len(instruments), len(dynamics), len(pitches), -1)
    # An octave about a seventh of the instruments' width: the whole range then fits a view about square.
    scale = float(max(len(instruments), len(dynamics)) / 7.0)
    points, labels = [], []
    for i, d, p in nodes:
        instrument, midi = instruments[i], int(pitches[p])
        lo, hi = ranges[instrument]
        if lo <= midi <= hi:
            pitch_class, octave = midi_to_labels(midi)
            points.append([i, d, (midi - 60) / 12.0 * scale])
            labels.append([index["pitch_class"][pitch_class], index["octave"][octave], index["dynamics"][dynamics[d]],
                           index["instrument"][instrument]])
    return LatticeView("pitch grid", grid, pitches, scale,
                       np.asarray(points), np.asarray(labels, dtype=int))
