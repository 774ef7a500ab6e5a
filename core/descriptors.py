"""Audio descriptors of the decoded spectra, as seed papers 002 and 003 map the latent space: spectral
centroid, bandwidth, flatness, rolloff and loudness, over a plane of the navigator's view, over any set of
latents (the training cloud), and the local direction in which one grows ("brighter", "noisier").

The formulas are written here rather than taken from librosa: the decoded magnitudes sit on constant-Q
bins whose widths grow with frequency (librosa's versions assume the equal bins of an STFT; flatness
here weighs each bin by the Hz it covers), and core does not depend on librosa.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import numpy as np

from .errors import GlissandoError
from .jobs import CancelFn, check_cancel

if TYPE_CHECKING:
    from .session import ModelSession

# name -> (what a user reads, unit)
DESCRIPTORS = {
    "centroid": ("brightness (spectral centroid)", "Hz"),
    "bandwidth": ("spread (spectral bandwidth)", "Hz"),
    "flatness": ("noisiness (spectral flatness)", "dB"),
    "rolloff": ("rolloff (85% of the energy below)", "Hz"),
    "loudness": ("loudness", "dB"),
}
# The words of the navigator's "move towards" buttons: (descriptor, direction).
MOVES = {"brighter": ("centroid", 1), "darker": ("centroid", -1), "noisier": ("flatness", 1),
         "purer": ("flatness", -1), "louder": ("loudness", 1), "softer": ("loudness", -1)}
ROLLOFF_SHARE = 0.85
MAP_RESOLUTION = 64
BATCH = 8192


def spectral_descriptors(magnitudes: np.ndarray, frequencies: np.ndarray) -> dict[str, np.ndarray]:
    """Descriptors of magnitude spectra (N, bins) on bins centred at ``frequencies`` (Hz), each (N,)."""
    mags = np.asarray(magnitudes, dtype=np.float64)
    f = np.asarray(frequencies, dtype=np.float64)
    width = np.gradient(f)  # Hz each constant-Q bin covers
    # A partial lands in a bin or two whatever their width, and a wider bin already gathers more of a
    # noise: each bin's squared magnitude is the energy it holds (weighting it by the width again counted
    # high partials up to 7 dB too loud against the rendered note's RMS).
    power = mags ** 2
    total = power.sum(1) + 1e-20
    centroid = (power * f).sum(1) / total
    bandwidth = np.sqrt((power * (f - centroid[:, None]) ** 2).sum(1) / total)
    # Flatness: geometric over arithmetic mean of the power per Hz across the spectrum, in dB (0 dB: white
    # noise), each bin weighted by the Hz it covers.
    density = power / width + 1e-20
    weights = width / width.sum()
    flatness = 10 * np.log10(np.exp((np.log(density) * weights).sum(1)) / (density * weights).sum(1))
    cumulative = np.cumsum(power, axis=1) / total[:, None]
    rolloff = f[np.minimum((cumulative < ROLLOFF_SHARE).sum(1), len(f) - 1)]
    loudness = 10 * np.log10(total)
    return {"centroid": centroid, "bandwidth": bandwidth, "flatness": flatness, "rolloff": rolloff,
            "loudness": loudness}


def latent_descriptors(session: "ModelSession", latents: np.ndarray,
                       cancel: Optional[CancelFn] = None) -> dict[str, np.ndarray]:
    """Descriptors of what each latent (N, D) decodes to, decoded in batches."""
    latents = np.asarray(latents, dtype=np.float32)
    freqs = session.bin_frequencies()
    parts = []
    for start in range(0, len(latents), BATCH):
        check_cancel(cancel)
        parts.append(spectral_descriptors(session.decode_magnitudes(latents[start:start + BATCH]), freqs))
    if not parts:
        return {name: np.zeros(0) for name in DESCRIPTORS}
    return {name: np.concatenate([p[name] for p in parts]) for name in DESCRIPTORS}


@dataclass(frozen=True)
class Plane:
    """A square of the navigator's 3-D view: two of its axes (0, 1, 2) over their extents, the third held at
    ``depth``."""

    axes: tuple[int, int]
    extent: tuple[tuple[float, float], tuple[float, float]]
    depth: float
    resolution: int = MAP_RESOLUTION

    def points(self) -> np.ndarray:
        """(resolution**2, 3): row-major, the first axis along a row."""
        (a0, a1), (b0, b1) = self.extent
        u, v = np.meshgrid(np.linspace(a0, a1, self.resolution), np.linspace(b0, b1, self.resolution))
        third = ({0, 1, 2} - set(self.axes)).pop()
        out = np.empty((u.size, 3))
        out[:, self.axes[0]], out[:, self.axes[1]], out[:, third] = u.ravel(), v.ravel(), self.depth
        return out


@dataclass
class DescriptorMap:
    plane: Plane
    values: dict[str, np.ndarray]  # name -> (resolution, resolution), rows along the plane's second axis


class DescriptorMaps:
    """The descriptor maps of one session's planes, computed once per (view, plane) and kept (the most
    recent few): panning back to a plane already seen costs nothing."""

    KEEP = 16

    def __init__(self, session: "ModelSession"):
        self.session = session
        self._maps: OrderedDict[tuple, DescriptorMap] = OrderedDict()

    def plane_map(self, plane: Plane, base_latent: np.ndarray, cancel: Optional[CancelFn] = None) -> DescriptorMap:
        """Every descriptor over ``plane`` of the session's current view, each point the latent the view
        gives there starting from ``base_latent`` (for a PCA view the latent's other components matter)."""
        if plane.resolution < 2 or plane.resolution > 512:
            raise GlissandoError(f"a descriptor map of {plane.resolution} points a side (2-512 are drawn)")
        view = self.session.view
        key = (view.name, plane, np.asarray(base_latent, np.float32).tobytes())
        found = self._maps.get(key)
        if found is not None:
            self._maps.move_to_end(key)
            return found
        latents = view.latents_at(base_latent, plane.points())
        values = latent_descriptors(self.session, latents, cancel)
        shaped = {name: v.reshape(plane.resolution, plane.resolution) for name, v in values.items()}
        result = DescriptorMap(plane, shaped)
        self._maps[key] = result
        while len(self._maps) > self.KEEP:
            self._maps.popitem(last=False)
        return result


def descriptor_step(session: "ModelSession", latent: np.ndarray, move: str, size: float = 0.25) -> np.ndarray:
    """The latent one step of ``size`` (latent units) along the local gradient of a descriptor: ``move`` is
    one of MOVES ("brighter", "noisier", ...)."""
    if move not in MOVES:
        raise GlissandoError(f"unknown move {move!r} (use {', '.join(MOVES)})")
    name, direction = MOVES[move]
    latent = np.asarray(latent, dtype=np.float32)
    gradient = _gradients(session, latent[None], name)[1][0]
    norm = float(np.linalg.norm(gradient))
    if norm < 1e-9:
        return latent.copy()
    return (latent + direction * size * gradient / norm).astype(np.float32)


def _gradients(session: "ModelSession", latents: np.ndarray, name: str,
               eps: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """(values (N,), gradients (N, D)) of a descriptor at each latent, by central differences decoded in
    batches (the decoder is a small MLP: 2·D decodes per point cost less than a framework round trip)."""
    latents = np.asarray(latents, dtype=np.float32)
    n, d = latents.shape
    eye = eps * np.eye(d, dtype=np.float32)
    probes = np.concatenate([latents, (latents[:, None] + eye).reshape(-1, d), (latents[:, None] - eye).reshape(-1, d)])
    values = _scaled(name, latent_descriptors(session, probes)[name])
    plus, minus = values[n: n + n * d].reshape(n, d), values[n + n * d:].reshape(n, d)
    return values[:n], (plus - minus) / (2 * eps)


def _scaled(name: str, values: np.ndarray) -> np.ndarray:
    """Frequencies in octaves: a step means as much low as high, as hearing has it."""
    return np.log2(np.maximum(values, 1e-6)) if DESCRIPTORS[name][1] == "Hz" else values


def descriptor_path(session: "ModelSession", latents: np.ndarray, name: str, targets: Optional[np.ndarray] = None,
                    iterations: int = 4, cancel: Optional[CancelFn] = None) -> np.ndarray:
    """A path (N, D) moved, point by point, until descriptor ``name`` follows ``targets`` (N,) in its own unit,
    each point the smallest move along the descriptor's gradient (Newton steps): the labels change as the
    path says while, say, the loudness stays put (seed 003's perceptually steered interpolation).
    ``targets`` None: straight from the first point's value to the last's (equal ends: constant)."""
    if name not in DESCRIPTORS:
        raise GlissandoError(f"unknown descriptor {name!r} (use {', '.join(DESCRIPTORS)})")
    path = np.asarray(latents, dtype=np.float32).copy()
    if len(path) == 0:
        return path
    if targets is None:
        ends = _scaled(name, latent_descriptors(session, path[[0, -1]])[name])
        wanted = np.linspace(ends[0], ends[1], len(path))
    else:
        wanted = _scaled(name, np.asarray(targets, dtype=np.float64))
        if wanted.shape != (len(path),):
            raise GlissandoError(f"{len(wanted)} descriptor targets for a path of {len(path)} points")
    for _ in range(iterations):
        check_cancel(cancel)
        values, gradients = _gradients(session, path, name)
        norm2 = np.maximum((gradients ** 2).sum(1), 1e-9)
        # A Newton step is exact only near the point: no single step longer than one latent unit.
        step = ((wanted - values) / norm2)[:, None] * gradients
        length = np.linalg.norm(step, axis=1, keepdims=True)
        path += (step * np.minimum(1.0, 1.0 / np.maximum(length, 1e-9))).astype(np.float32)
    return path


def note_latents(session: "ModelSession") -> np.ndarray:
    """(M, D) the symbol latent of every note the model knows (each instrument over its range, at every
    dynamic): where its sounds are, for geodesic paths (the session caches them after the first call)."""
    return session.label_latents([(midi, dynamics, instrument) for instrument in session.instruments
                                  for dynamics in session.dynamics
                                  for midi in range(session.instrument_range(instrument)[0],
                                                    session.instrument_range(instrument)[1] + 1)])


def geodesic_path(latents: np.ndarray, anchors: np.ndarray, neighbours: int = 8) -> np.ndarray:
    """A path (N, D) from the first latent to the last through where the model's sounds are dense (MoVE's
    geodesic): the shortest way over a graph joining each of ``anchors`` (M, D) to its nearest neighbours,
    each hop weighted by its squared length, so that many short hops through populated regions beat one
    long jump across an empty one; resampled evenly to N points. Anchors: the label latents of every note the
    model knows. The straight path where the graph does not join the ends."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra
    from scipy.spatial import cKDTree

    path = np.asarray(latents, dtype=np.float64)
    anchors = np.asarray(anchors, dtype=np.float64)
    if len(path) < 3 or len(anchors) < 2:
        return path.astype(np.float32)
    nodes = np.concatenate([path[[0, -1]], anchors])
    k = min(neighbours + 1, len(nodes))
    dist, idx = cKDTree(nodes).query(nodes, k=k)
    rows = np.repeat(np.arange(len(nodes)), k - 1)
    graph = csr_matrix((dist[:, 1:].ravel() ** 2 + 1e-12, (rows, idx[:, 1:].ravel())), shape=(len(nodes),) * 2)
    _, previous = dijkstra(graph, directed=False, indices=0, return_predecessors=True)
    walk = [1]
    while walk[-1] != 0:
        if previous[walk[-1]] < 0:
            return path.astype(np.float32)
        walk.append(int(previous[walk[-1]]))
    polyline = nodes[walk[::-1]]
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(polyline, axis=0), axis=1))])
    even = np.linspace(0.0, arc[-1], len(path))
    return np.stack([np.interp(even, arc, polyline[:, j]) for j in range(path.shape[1])], axis=1).astype(np.float32)
