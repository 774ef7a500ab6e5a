"""A latent trajectory the user edits: keyframes that each hold, then glide to the next, and an interpolation.

Qt-free so that the desktop app, scripts and tests share one document model; the app adds undo,
autosave and drawing on top of it.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np

from .descriptors import DESCRIPTORS, descriptor_path, geodesic_path, latent_descriptors, note_latents
from .interpolation import MODES, interpolate
from .jobs import CancelFn, GlissandoError, atomic_write

if TYPE_CHECKING:
    from .session import ModelSession

FORMAT = "glissando-trajectory"
VERSION = 1


GLIDE = 0.3  # seconds a new keyframe takes to glide into the next one, after its hold


@dataclass
class Keyframe:
    """A point of the path: reached at its marker, held, then left for the next one over ``glide`` seconds.

    ``duration`` is the whole slot, marker to next marker (hold + glide); for the last keyframe, how long it
    sounds. ``glide`` None: the whole slot is a glide (a drawn stroke, or a file from before holds)."""

    latent: np.ndarray  # (latent_dim,) float32
    duration: float = 1.0
    label: Optional[dict] = None  # {"midi", "dynamics", "instrument"} when the keyframe came from a label pick
    glide: Optional[float] = None

    @property
    def hold(self) -> float:
        """Seconds the keyframe's own sound holds from its marker before the glide to the next begins."""
        return 0.0 if self.glide is None else max(self.duration - self.glide, 0.0)

    def describe(self) -> str:
        if self.label:
            from .units import note_name

            return f"{note_name(self.label['midi'])} {self.label['dynamics']} {self.label['instrument']}"
        return "free point"

    def to_dict(self) -> dict:
        d = {"latent": [round(float(v), 6) for v in self.latent], "duration": round(float(self.duration), 6)}
        if self.label:
            d["label"] = dict(self.label)
        if self.glide is not None:
            d["glide"] = round(float(self.glide), 6)
        return d


# How the path between keyframes is bent, beyond its interpolation: "plain" (the interpolation alone),
# "geodesic" (through where the model's notes are dense), or a descriptor (descriptors.DESCRIPTORS) held
# on a straight line between the keyframes' own values, or along ``curve`` where one is drawn.
SHAPES = ("plain", "geodesic", *DESCRIPTORS)
SHAPE_RATE = 20.0  # points per second a shaped path is computed at (and rendered through, linearly)


@dataclass
class Trajectory:
    keyframes: list[Keyframe] = field(default_factory=list)
    interpolation: str = "linear"
    shape: str = "plain"
    curve: Optional[np.ndarray] = None  # (K, 2) time (s), descriptor value in its unit: for a descriptor shape

    @property
    def duration(self) -> float:
        return float(sum(k.duration for k in self.keyframes))

    def copy(self) -> "Trajectory":
        keyframes = [Keyframe(k.latent.copy(), k.duration, dict(k.label) if k.label else None, k.glide)
                     for k in self.keyframes]
        return Trajectory(keyframes, self.interpolation, self.shape,
                          None if self.curve is None else self.curve.copy())

    def markers(self) -> np.ndarray:
        """(K,) the time each keyframe's sound is fully reached."""
        return np.concatenate([[0.0], np.cumsum([k.duration for k in self.keyframes[:-1]])])

    def timeline(self) -> tuple[np.ndarray, np.ndarray]:
        """Times and latents the interpolation runs through: each keyframe at its marker and again at the end
        of its hold (so it sounds there, whatever the interpolation), the last one held to the end."""
        if not self.keyframes:
            raise GlissandoError("the trajectory has no keyframes yet: "
                                 "pick a label or click in the navigator to add one")
        times, latents = [], []
        for start, k in zip(self.markers(), self.keyframes[:-1]):
            times.append(start)
            latents.append(k.latent)
            if k.hold > 0:
                times.append(start + k.hold)
                latents.append(k.latent)
        times += [self.duration - self.keyframes[-1].duration, self.duration]
        latents += [self.keyframes[-1].latent, self.keyframes[-1].latent]
        return np.asarray(times, dtype=np.float64), np.stack(latents).astype(np.float32)

    def sample(self, frame_rate: float) -> tuple[np.ndarray, np.ndarray]:
        """The path at ``frame_rate`` points per second: (times, latents), for drawing and previews."""
        times, latents = self.timeline()
        query = np.arange(0.0, max(times[-1], 1e-6), 1.0 / frame_rate)
        return query, interpolate(times, latents, query, self.interpolation).astype(np.float32)

    def shaped(self, session: "ModelSession", rate: float = SHAPE_RATE,
               cancel: Optional[CancelFn] = None) -> tuple[np.ndarray, np.ndarray]:
        """(times, latents) to render through: the timeline itself for a plain path, else the path sampled at
        ``rate`` and bent by its shape (call it off the GUI thread: it runs the decoder)."""
        times, latents = self.timeline()
        if self.shape == "plain":
            return times, latents
        query = np.union1d(np.arange(0.0, times[-1], 1.0 / rate), times)
        path = interpolate(times, latents, query, self.interpolation).astype(np.float32)
        if self.shape == "geodesic":
            anchors = note_latents(session)
            # Each glide bent on its own: holds stay put, and each keyframe is still reached at its marker.
            for a, b in zip(times[:-1], times[1:]):
                inside = (query >= a) & (query <= b)
                if inside.sum() >= 3 and np.any(path[inside][0] != path[inside][-1]):
                    path[inside] = geodesic_path(path[inside], anchors)
            return query, path
        if self.curve is not None:
            targets = np.interp(query, self.curve[:, 0], self.curve[:, 1])
        else:
            own = latent_descriptors(session, latents)[self.shape]
            targets = np.interp(query, times, own)
        return query, descriptor_path(session, path, self.shape, targets, cancel=cancel)

    # -- files ---------------------------------------------------------------------------------
    def to_dict(self, model: Optional[str] = None) -> dict:
        d = {"format": FORMAT, "version": VERSION, "model": model, "interpolation": self.interpolation,
             "latent_dim": int(len(self.keyframes[0].latent)) if self.keyframes else None,
             "keyframes": [k.to_dict() for k in self.keyframes]}
        if self.shape != "plain":
            d["shape"] = self.shape
        if self.curve is not None:
            d["curve"] = [[round(float(t), 6), round(float(v), 6)] for t, v in self.curve]
        return d

    def save(self, path: str | os.PathLike, model: Optional[str] = None) -> Path:
        path = Path(path)
        try:
            with atomic_write(path) as tmp:
                tmp.write_text(json.dumps(self.to_dict(model), indent=1))
        except OSError as exc:
            raise GlissandoError(f"{path}: cannot be written ({exc.strerror or exc})") from None
        return path

    @classmethod
    def from_dict(cls, d: dict, source: str = "trajectory", latent_dim: Optional[int] = None) -> "Trajectory":
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise GlissandoError(f"{source}: not a Glissando trajectory file")
        if not isinstance(d.get("version"), int) or d["version"] > VERSION:
            raise GlissandoError(f"{source}: trajectory format version {d.get('version')} "
                                 "is newer than this Glissando reads")
        mode = d.get("interpolation", "linear")
        if mode not in MODES:
            raise GlissandoError(f"{source}: unknown interpolation {mode!r}")
        keyframes = []
        try:
            for i, k in enumerate(d.get("keyframes", [])):
                latent = np.asarray(k["latent"], dtype=np.float32)
                duration = float(k["duration"])
                glide = None if k.get("glide") is None else float(k["glide"])
                if latent.ndim != 1 or not np.all(np.isfinite(latent)) or not (duration > 0 and np.isfinite(duration)):
                    raise ValueError(f"keyframe {i + 1} is invalid")
                if glide is not None and not (0 <= glide and np.isfinite(glide)):
                    raise ValueError(f"keyframe {i + 1} has an invalid glide")
                keyframes.append(Keyframe(latent, duration, k.get("label"), glide))
        except (KeyError, TypeError, ValueError) as exc:
            raise GlissandoError(f"{source}: damaged trajectory ({exc})") from None
        dims = {len(k.latent) for k in keyframes}
        if len(dims) > 1:
            raise GlissandoError(f"{source}: keyframes of different sizes {sorted(dims)}")
        if latent_dim is not None and dims and dims != {latent_dim}:
            raise GlissandoError(f"{source}: made for a {dims.pop()}-d latent space, "
                                 f"but this model's has {latent_dim} dimensions")
        shape = d.get("shape", "plain")
        if shape not in SHAPES:
            raise GlissandoError(f"{source}: unknown path shape {shape!r} (use {', '.join(SHAPES)})")
        curve = None
        if d.get("curve") is not None:
            try:
                curve = np.asarray(d["curve"], dtype=np.float64)
            except (TypeError, ValueError):
                curve = np.zeros((0, 0))
            if curve.ndim != 2 or curve.shape[1] != 2 or len(curve) < 1 or not np.all(np.isfinite(curve)) \
                    or np.any(np.diff(curve[:, 0]) < 0):
                raise GlissandoError(f"{source}: damaged trajectory (its descriptor curve is not a list of "
                                     "[time, value] pairs in time order)")
        return cls(keyframes, mode, shape, curve)

    @classmethod
    def load(cls, path: str | os.PathLike, latent_dim: Optional[int] = None) -> "Trajectory":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise GlissandoError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise GlissandoError(f"{path}: not a readable trajectory file ({exc})") from None
        return cls.from_dict(data, str(path), latent_dim)


def path_spectrogram(session, trajectory: Trajectory,
                     columns_per_second: float = 60.0) -> tuple[np.ndarray, np.ndarray]:
    """What the trajectory decodes to, without phase reconstruction: (times (T,), magnitudes (T, bins)).
    Cheap enough (one decoder pass) to redraw after every edit."""
    times, latents = trajectory.sample(columns_per_second)
    return times, session.decode_magnitudes(latents)


def stroke_to_keyframes(session, anchor_latent: np.ndarray, times: np.ndarray, points_3d: np.ndarray,
                        min_duration: float = 0.05) -> list[Keyframe]:
    """A free-hand stroke drawn in the navigator as keyframes, each point lifted to a full latent
    next to ``anchor_latent`` (see ModelSession.move_in_view) and held for the time the hand took."""
    times = np.asarray(times, dtype=np.float64)
    durations = np.maximum(np.diff(np.append(times, times[-1] + min_duration)), min_duration)
    return [Keyframe(session.move_in_view(anchor_latent, p), float(d)) for p, d in zip(points_3d, durations)]
