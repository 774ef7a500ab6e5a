"""Audio descriptors in the navigator: the cloud coloured by what its points sound like, and the descriptor
map of the plane through the cursor (issue 14, seed papers 002 and 003).

Both decode thousands of latents, so both run on the job runner, each through a LatestOnly: a drag that
changes the plane queues at most one more map, and the map shown is the newest plane's. The maps of planes
already seen come back at once from core's DescriptorMaps cache.

What a point of the view decodes to: the model file keeps only the 3-D places of its training posteriors,
not their latents, so a point's latent is the one the view gives there starting from the cursor
(``view.latents_at(cursor, points)``). That is what the cursor would sound like if moved onto the point, so
the colours agree with the map and with what a click plays. For the label lattice it is the label set's own
latent whatever the cursor; for the PCA view it also carries the cursor's 29 other components, so the colours
follow a pick (and a "brighter" step) but not a move inside the view, which leaves those components alone.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
from PySide6.QtCore import QObject, Signal

from glissando.core.descriptors import DescriptorMap, DescriptorMaps, Plane, latent_descriptors
from glissando.core.session import ModelSession
from glissando.core.views import LatentView

from ..workers import JobRunner, LatestOnly

# The word a musician uses for each descriptor (core.descriptors.DESCRIPTORS holds the technical label and unit).
DESCRIPTOR_WORDS = {"centroid": "brightness", "bandwidth": "spread", "flatness": "noisiness", "rolloff": "rolloff",
                    "loudness": "loudness"}
# A view seen from higher than this (degrees) reads best cut horizontally; a view seen nearly level (the label
# lattice, from the front) is cut by the vertical plane that faces its camera.
LEVEL_ELEVATION = 20.0
DEPTH_STEPS = 64  # the depth is rounded to 1/64 of the cloud's depth: finer than a map cell, and a drag that
# drifts a hair in depth (the camera's plane is tilted a few degrees) does not ask for a new map at every event


def plane_axes(view: LatentView) -> tuple[tuple[int, int], int]:
    """((first, second) axes of the map's plane, the depth axis) for the view's own camera: a plane the user
    sees face on, so that the map lies behind the cloud rather than edge on."""
    elevation, azimuth = view.camera
    if abs(elevation) >= LEVEL_ELEVATION:
        return (0, 1), 2
    # Level: the camera looks along x or y, whichever its azimuth points more along; that one is the depth.
    depth = 0 if abs(np.cos(np.radians(azimuth))) >= abs(np.sin(np.radians(azimuth))) else 1
    return ((1, 2) if depth == 0 else (0, 2)), depth


def _base(view: LatentView, cursor: np.ndarray) -> np.ndarray:
    """The cursor moved to the view's origin: it gives every point the latent the cursor gives it (for a linear
    view the same latent exactly), yet stays the same while the cursor moves inside the view, so it keys the
    caches."""
    return view.latents_at(cursor, np.zeros((1, 3)))[0]


def _cloud(session: ModelSession, view: LatentView, base: np.ndarray, key: Any) -> tuple[Any, dict[str, np.ndarray]]:
    return key, latent_descriptors(session, view.latents_at(base, view.points))


def _plane_map(maps: DescriptorMaps, plane: Plane, base: np.ndarray, key: Any) -> tuple[Any, DescriptorMap]:
    return key, maps.plane_map(plane, base)


class DescriptorController(QObject):
    cloudDescribed = Signal(object)  # {descriptor: (N,) values} of the view's points, or None when not wanted
    mapReady = Signal(object)  # the DescriptorMap of the plane through the cursor, or None when the map is off
    notice = Signal(str, bool)

    def __init__(self, runner: JobRunner, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.runner = runner
        self.session: Optional[ModelSession] = None
        self.maps: Optional[DescriptorMaps] = None
        self.cursor: Optional[np.ndarray] = None
        self.colouring = False  # the navigator colours by a descriptor
        self.map_on = False
        self.cloud: Optional[dict[str, np.ndarray]] = None
        self.map: Optional[DescriptorMap] = None
        self._cloud_key: Any = None  # what the cloud shown (or being computed) was computed for
        self._map_key: Any = None
        self._cloud_job = LatestOnly(runner, "Describing the cloud", self._cloud_done, self._failed, self)
        self._map_job = LatestOnly(runner, "Mapping the plane", self._map_done, self._failed, self)

    def _failed(self, text: str) -> None:
        self.notice.emit(text, True)

    # -- inputs ------------------------------------------------------------------------------------------
    def set_session(self, session: Optional[ModelSession]) -> None:
        if session is self.session:
            return
        self.session, self.cursor = session, None
        self.maps = DescriptorMaps(session) if session is not None else None
        self._cloud_key = self._map_key = None
        self.cloud = self.map = None
        self.cloudDescribed.emit(None)
        self.mapReady.emit(None)

    def set_cursor(self, latent: Optional[np.ndarray]) -> None:
        self.cursor = None if latent is None else np.asarray(latent, dtype=np.float32)
        self.update()

    def set_colouring(self, on: bool) -> None:
        self.colouring = on
        if on and self.cloud is not None and self._cloud_key == self._current_cloud_key():
            self.cloudDescribed.emit(self.cloud)
        self.update()

    def set_map(self, on: bool) -> None:
        self.map_on = on
        if not on:
            self._map_key, self.map = None, None
            self.mapReady.emit(None)
        self.update()

    def view_changed(self) -> None:
        """The navigator shows another view: its points and its plane are other ones."""
        self.cloud = self.map = None
        self._cloud_key = self._map_key = None
        self.cloudDescribed.emit(None)
        if self.map_on:
            self.mapReady.emit(None)
        self.update()

    # -- the plane ---------------------------------------------------------------------------------------
    def plane(self) -> Optional[Plane]:
        """The plane through the cursor that faces the view's camera, over the cloud's bounding box."""
        if self.session is None or self.cursor is None:
            return None
        view = self.session.view
        axes, depth_axis = plane_axes(view)
        lo, hi = view.points.min(0), view.points.max(0)
        step = max(float(hi[depth_axis] - lo[depth_axis]), 1e-6) / DEPTH_STEPS
        depth = float(self.session.project_3d(self.cursor[None])[0][depth_axis])
        depth = round(depth / step) * step
        extent = ((float(lo[axes[0]]), float(hi[axes[0]])), (float(lo[axes[1]]), float(hi[axes[1]])))
        return Plane(axes, extent, depth)

    def _current_cloud_key(self) -> Any:
        if self.session is None or self.cursor is None:
            return None
        view = self.session.view
        return view.name, np.round(_base(view, self.cursor), 4).tobytes()

    def update(self) -> None:
        """Ask for what is wanted and not yet shown: cheap (numpy on a few points) when nothing changed, so it
        runs at every cursor move."""
        s = self.session
        if s is None or self.cursor is None or self.maps is None:
            return
        view = s.view
        base = _base(view, self.cursor)
        cloud_key = self._current_cloud_key()
        if self.colouring and cloud_key != self._cloud_key:
            self._cloud_key = cloud_key
            self._cloud_job.submit(_cloud, s, view, base, cloud_key, session=s)
        plane = self.plane()
        map_key = (cloud_key, plane)
        if self.map_on and plane is not None and map_key != self._map_key:
            self._map_key = map_key
            self._map_job.submit(_plane_map, self.maps, plane, base, map_key, session=s)

    # -- results -----------------------------------------------------------------------------------------
    # A result asked for before the view, the model or the cursor's place changed is dropped: the newer request
    # (LatestOnly starts it next) brings the one to show.
    def _cloud_done(self, result: tuple[Any, dict[str, np.ndarray]]) -> None:
        key, values = result
        if key != self._cloud_key:
            return
        self.cloud = values
        if self.colouring:
            self.cloudDescribed.emit(values)

    def _map_done(self, result: tuple[Any, DescriptorMap]) -> None:
        key, found = result
        if not self.map_on or key != self._map_key:
            return
        self.map = found
        self.mapReady.emit(found)
