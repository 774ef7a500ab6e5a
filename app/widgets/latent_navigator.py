"""The 3-D latent navigator: the training posteriors as a point cloud, a cursor, targets and paths, and the
sound design layers: the cloud coloured by an audio descriptor, the descriptor map of the plane through the
cursor, and an opened sound's path with a marker that follows playback."""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
import pyqtgraph.opengl as gl
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from glissando.core.descriptors import DESCRIPTORS

from ..controllers.descriptors import DESCRIPTOR_WORDS

COLOUR_FAMILIES = {"pitch class": "pitch_class", "octave": "octave", "dynamics": "dynamics", "instrument": "instrument"}
# The colour-by choices after the label families: the descriptors, by the words a user reads.
COLOUR_DESCRIPTORS = {word: name for name, word in DESCRIPTOR_WORDS.items()}
MAP_DEFAULT = "centroid"  # what the map shows while the cloud is coloured by labels: brightness reads first
MAP_ALPHA = 0.6  # the map lies behind the cloud: opaque enough to read, the points behind it still show
BAR_STEPS = 14
# Colour ranges leave out the extreme 2% at each end: a few silent or clipped points would squeeze every other
# point into one colour.
RANGE_PERCENTILES = (2, 98)
CLICK_SLOP_PX = 4
DRAW_STEP_S = 0.05  # a free-hand path keeps one point per 50 ms of drawing at most


def family_colours(n: int, cyclic: bool) -> np.ndarray:
    """(n, 4) RGBA in 0..1: pitch classes wrap around the hue circle, other families do not."""
    hues = np.arange(n) / n if cyclic else np.linspace(0.0, 0.8, max(n, 2))[:n]
    return np.array([pg.hsvColor(float(h), 0.85, 0.95).getRgbF() for h in hues])


def descriptor_scale(name: str, values: np.ndarray) -> np.ndarray:
    """Values as coloured: frequencies in octaves (as hearing spaces them), levels in dB as they are."""
    values = np.asarray(values, dtype=np.float64)
    return np.log2(np.maximum(values, 1e-6)) if DESCRIPTORS[name][1] == "Hz" else values


def descriptor_range(name: str, *arrays: np.ndarray) -> tuple[float, float]:
    """(low, high) of the scaled values, over every array given (the cloud and the map share one range)."""
    scaled = np.concatenate([descriptor_scale(name, a).ravel() for a in arrays])
    scaled = scaled[np.isfinite(scaled)]
    if not len(scaled):
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(scaled, RANGE_PERCENTILES))
    return (lo, hi) if hi > lo else (lo, lo + 1e-6)


def descriptor_colours(name: str, values: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """(..., 4) RGBA in 0..1 on viridis, whose lightness grows with the value: the lightest points are the
    brightest, loudest or noisiest."""
    lo, hi = value_range
    x = np.clip((descriptor_scale(name, values) - lo) / (hi - lo), 0.0, 1.0)
    flat = pg.colormap.get("viridis").map(np.nan_to_num(x).ravel(), mode=pg.ColorMap.FLOAT)
    return np.asarray(flat, dtype=np.float64).reshape(x.shape + (4,))


def format_value(name: str, scaled: float) -> str:
    unit = DESCRIPTORS[name][1]
    if unit == "Hz":
        hz = 2.0 ** scaled
        return f"{hz / 1000:.1f} kHz" if hz >= 1000 else f"{hz:.0f} Hz"
    return f"{scaled:.1f} {unit}"


def colour_bar(name: str, value_range: tuple[float, float], what: str = "") -> str:
    """Rich text: the descriptor's name, its low end, a row of swatches along the colour map, its high end."""
    lo, hi = value_range
    steps = np.linspace(lo, hi, BAR_STEPS)
    unscaled = 2.0 ** steps if DESCRIPTORS[name][1] == "Hz" else steps
    swatches = "".join(f"<span style='color:{pg.mkColor(tuple(int(255 * c) for c in rgba[:3])).name()}'>█</span>"
                       for rgba in descriptor_colours(name, unscaled, value_range))
    return (f"{what}{DESCRIPTORS[name][0]}: ≤{format_value(name, lo)} {swatches} ≥{format_value(name, hi)}")


class NavigatorView(gl.GLViewWidget):
    """GLViewWidget that turns clicks, shift-drags and draw-mode drags into positions on the plane
    through the cursor that faces the camera; plain drags still orbit, the wheel still zooms."""

    clicked = Signal(object)  # 3-D point
    ctrlClicked = Signal(object)
    dragged = Signal(object)
    stroke = Signal(object, bool)  # 3-D point, finished

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumSize(360, 280)  # a GLViewWidget collapses to nothing in a layout without one
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.anchor = np.zeros(3)
        self.draw_mode = False
        self.key_step = 0.2
        self._press = None
        self._mode = None

    def ray(self, x: float, y: float) -> tuple[np.ndarray, np.ndarray]:
        """Origin and direction, in scene coordinates, of the ray under widget pixel (x, y)."""
        w, h = max(self.width(), 1), max(self.height(), 1)
        viewport = (0, 0, w, h)
        mvp = self.projectionMatrix(viewport, viewport) * self.viewMatrix()
        inverse = np.linalg.inv(np.array(mvp.data(), dtype=np.float64).reshape(4, 4).T)
        ndc_x, ndc_y = 2.0 * x / w - 1.0, 1.0 - 2.0 * y / h
        near = inverse @ np.array([ndc_x, ndc_y, -1.0, 1.0])
        far = inverse @ np.array([ndc_x, ndc_y, 1.0, 1.0])
        near, far = near[:3] / near[3], far[:3] / far[3]
        return near, far - near

    def plane_point(self, x: float, y: float) -> np.ndarray:
        origin, direction = self.ray(x, y)
        eye, center = self.cameraPosition(), self.opts["center"]
        camera = np.array([eye.x(), eye.y(), eye.z()])
        normal = np.array([center.x(), center.y(), center.z()]) - camera
        denom = float(direction @ normal)
        if abs(denom) < 1e-12:
            return self.anchor.copy()
        t = float((self.anchor - origin) @ normal) / denom
        return origin + t * direction

    def mousePressEvent(self, ev):
        pos = ev.position()
        self._press = (pos.x(), pos.y())
        if ev.button() == Qt.MouseButton.LeftButton and self.draw_mode:
            self._mode = "draw"
            self.stroke.emit(self.plane_point(pos.x(), pos.y()), False)
        elif ev.button() == Qt.MouseButton.LeftButton and ev.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self._mode = "drag"
            self.dragged.emit(self.plane_point(pos.x(), pos.y()))
        else:
            self._mode = None
            super().mousePressEvent(ev)

    def mouseMoveEvent(self, ev):
        pos = ev.position()
        if self._mode == "draw":
            self.stroke.emit(self.plane_point(pos.x(), pos.y()), False)
        elif self._mode == "drag":
            self.dragged.emit(self.plane_point(pos.x(), pos.y()))
        else:
            super().mouseMoveEvent(ev)

    def mouseReleaseEvent(self, ev):
        pos = ev.position()
        if self._mode == "draw":
            self.stroke.emit(self.plane_point(pos.x(), pos.y()), True)
        elif self._mode is None and self._press is not None and ev.button() == Qt.MouseButton.LeftButton:
            if abs(pos.x() - self._press[0]) + abs(pos.y() - self._press[1]) <= CLICK_SLOP_PX:
                point = self.plane_point(pos.x(), pos.y())
                if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
                    self.ctrlClicked.emit(point)
                else:
                    self.clicked.emit(point)
        self._mode, self._press = None, None
        super().mouseReleaseEvent(ev)

    def screen_axes(self) -> np.ndarray:
        """Rows: the scene directions that point right, up and out of the screen, as the camera sees them."""
        view = np.array(self.viewMatrix().data(), dtype=np.float64).reshape(4, 4).T
        axes = view[:3, :3]  # a view matrix's rotation rows are the eye's axes in scene coordinates
        return axes / np.linalg.norm(axes, axis=1, keepdims=True)

    def keyPressEvent(self, ev):
        # The arrows move the cursor the way they point on screen, Page Up / Down into and out of it,
        # whatever the orbit (the mouse orbits).
        steps = {Qt.Key.Key_Left: (0, -1), Qt.Key.Key_Right: (0, 1), Qt.Key.Key_Down: (1, -1), Qt.Key.Key_Up: (1, 1),
                 Qt.Key.Key_PageDown: (2, 1), Qt.Key.Key_PageUp: (2, -1)}
        if ev.key() in steps:
            axis, sign = steps[ev.key()]
            self.dragged.emit(self.anchor + sign * self.key_step * self.screen_axes()[axis])
            ev.accept()
            return
        super().keyPressEvent(ev)


def _hidden_line_and_marker(color: tuple, marker_size: int):
    """A path and its markers (a trajectory and its keyframes, a sound and its playback point), hidden until
    there is something to show."""
    line = gl.GLLinePlotItem(pos=np.zeros((2, 3)), color=color, width=2, antialias=True)
    marker = gl.GLScatterPlotItem(pos=np.zeros((1, 3)), size=marker_size, color=color, pxMode=True)
    line.setVisible(False)
    marker.setVisible(False)
    return line, marker


class LatentNavigator(QWidget):
    """Shows the model's latent space in 3-D and reports where the user puts the cursor.

    Signals carry 3-D points; the window maps them back to latents through the session, so this
    widget holds no model code.
    """

    cursorRequested = Signal(object)  # 3-D point (click, shift-drag or keys)
    keyframeRequested = Signal(object)  # 3-D point of a Ctrl+click: the cursor moves there and becomes a keyframe
    modDirectionRequested = Signal()
    pathDrawn = Signal(object, object)  # (times (N,), 3-D points (N, 3)) of a free-hand stroke
    viewRequested = Signal(str)  # the name of the view (axes) to show
    colourByDescriptor = Signal(bool)  # the cloud is now coloured by a descriptor (True) or by labels

    def __init__(self, parent=None):
        super().__init__(parent)
        self.view = NavigatorView(self)
        self.view.setBackgroundColor((18, 18, 24))
        self.colour_box = QComboBox()
        self.colour_box.addItems(list(COLOUR_FAMILIES))
        self.colour_box.insertSeparator(len(COLOUR_FAMILIES))
        self.colour_box.addItems(list(COLOUR_DESCRIPTORS))
        self.colour_box.setToolTip("Colour the points by a label family, or by what they sound like: brightness "
                                   "(spectral centroid), spread, noisiness, rolloff or loudness of the decoded sound")
        self.view_box = QComboBox()
        self.view_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.view_box.setMinimumContentsLength(10)  # the views' short titles, whole
        self.view_box.setToolTip("The axes: pitch up, instruments across and dynamics in depth (play it like an "
                                 "instrument), or the principal components of the training sounds")
        self.draw_button = QPushButton("Draw path")
        self.draw_button.setCheckable(True)
        self.draw_button.setToolTip("Drag in the view to draw a free trajectory (replaces the trajectory's keyframes)")
        self.reset_button = QPushButton("Reset view")
        self.mod_button = QPushButton("Mod wheel → here")
        self.mod_button.setToolTip("A MIDI keyboard's mod wheel will move the sound from the picked note "
                                   "towards the cursor")
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        hint = QLabel("Click or Shift+drag: move the cursor · Ctrl+click: add a keyframe · drag: orbit · "
                      "wheel: zoom · arrows, PgUp/PgDn: step")
        hint.setStyleSheet("color: gray")
        hint.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("View"))
        top.addWidget(self.view_box)
        top.addWidget(QLabel("Colour by"))
        top.addWidget(self.colour_box)
        top.addWidget(self.draw_button)
        top.addWidget(self.reset_button)
        top.addWidget(self.mod_button)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.legend)
        layout.addWidget(hint)

        self._add_items()

        self.camera = (22.0, 35.0)
        self.points = np.zeros((0, 3))
        self.point_labels = np.zeros((0, 4), dtype=int)
        self.vocabulary: dict[str, list[str]] = {}
        self.cursor = np.zeros(3)
        self.descriptors: Optional[dict[str, np.ndarray]] = None  # of the points, while colouring by descriptors
        self.descriptor_map = None  # the core.descriptors.DescriptorMap drawn, or None
        self.point_colours = np.zeros((0, 4))
        self._label_legend = ""
        self._stroke: list[tuple[float, np.ndarray]] = []
        self._stroke_clock = None

        self.colour_box.currentTextChanged.connect(self._colour_chosen)
        self.view_box.activated.connect(lambda i: self.viewRequested.emit(self.view_box.itemData(i)))
        self.draw_button.toggled.connect(self._set_draw_mode)
        self.reset_button.clicked.connect(self.reset_view)
        self.mod_button.clicked.connect(self.modDirectionRequested)
        self.view.clicked.connect(self.cursorRequested)
        self.view.ctrlClicked.connect(self.keyframeRequested)
        self.view.dragged.connect(self.cursorRequested)
        self.view.stroke.connect(self._on_stroke)

    def _add_items(self) -> None:
        """The scene: training points, a picked note's posterior, the path, its keyframes, the cursor."""
        self.points_item = gl.GLScatterPlotItem(pos=np.zeros((1, 3)), size=4, pxMode=True)
        self.points_item.setGLOptions("translucent")
        self.target_item = gl.GLScatterPlotItem(pos=np.zeros((1, 3)), size=5, color=(1, 1, 1, 0.35), pxMode=True)
        self.target_item.setGLOptions("translucent")
        self.target_item.setVisible(False)
        self.path_item, self.keyframe_item = _hidden_line_and_marker((1.0, 0.85, 0.2, 1.0), 12)
        self.cursor_item = gl.GLScatterPlotItem(pos=np.zeros((1, 3)), size=16, color=(1, 1, 1, 1), pxMode=True)
        # Drawn first, so the points are drawn over it; placed by its transform (show_map).
        self.map_item = gl.GLImageItem(np.zeros((2, 2, 4), dtype=np.ubyte), smooth=True)
        self.map_item.setVisible(False)
        self.sound_item, self.sound_marker = _hidden_line_and_marker((0.3, 0.9, 1.0, 1.0), 14)
        for item in (self.map_item, self.points_item, self.target_item, self.path_item, self.keyframe_item,
                     self.sound_item, self.sound_marker, self.cursor_item):
            self.view.addItem(item)

    # -- content -------------------------------------------------------------------------------
    def set_space(self, points: np.ndarray, point_labels: np.ndarray, vocabulary: dict[str, list[str]],
                  camera: tuple[float, float] = (22.0, 35.0)) -> None:
        """What to draw, and the (elevation, azimuth) it reads best from."""
        self.camera = camera
        self.points = np.asarray(points, dtype=np.float64)
        self.point_labels = np.asarray(point_labels, dtype=int)
        self.vocabulary = vocabulary
        self.descriptors = None  # another view's points: their descriptors come anew
        self._recolour(self.colour_box.currentText())
        self.reset_view()

    def set_views(self, views: dict[str, str], current: str) -> None:
        """{name: title} of the views the model offers, and the one shown."""
        self.view_box.clear()
        for name, title in views.items():
            self.view_box.addItem(title, name)
        self.view_box.setCurrentIndex(self.view_box.findData(current))

    def reset_view(self) -> None:
        if len(self.points):
            centre = self.points.mean(0)
            spread = float(np.percentile(np.linalg.norm(self.points - centre, axis=1), 99))
            # Far enough back that the cursor is in sight too, wherever the keys took it.
            extent = max(spread, 1.2 * float(np.linalg.norm(self.cursor - centre)))
            elevation, azimuth = self.camera
            self.view.setCameraPosition(pos=pg.Vector(*centre), distance=3.2 * max(extent, 1e-3),
                                        elevation=elevation, azimuth=azimuth)
            self.view.key_step = 0.05 * max(spread, 1e-3)

    def colour_family(self) -> Optional[str]:
        """The label family the points are coloured by, None while they are coloured by a descriptor."""
        return COLOUR_FAMILIES.get(self.colour_box.currentText())

    def colour_descriptor(self) -> Optional[str]:
        """The descriptor (core name) the points are coloured by, None while they are coloured by labels."""
        return COLOUR_DESCRIPTORS.get(self.colour_box.currentText())

    def map_descriptor(self) -> str:
        return self.colour_descriptor() or MAP_DEFAULT

    def _colour_chosen(self, text: str) -> None:
        self._recolour(text)
        self._draw_map()
        self.colourByDescriptor.emit(text in COLOUR_DESCRIPTORS)

    def show_descriptors(self, values: Optional[dict[str, np.ndarray]]) -> None:
        """The descriptors of every point (computed off the GUI thread), or None while they are not known."""
        self.descriptors = values if values is not None and len(next(iter(values.values()))) == len(self.points) \
            else None
        self._recolour(self.colour_box.currentText())
        self._draw_map()

    def _set_point_colours(self, colours: np.ndarray) -> None:
        self.point_colours = colours
        self.points_item.setData(pos=self.points, color=colours, size=4)

    def _recolour(self, text: str) -> None:
        if not len(self.points):
            return
        if text in COLOUR_DESCRIPTORS:
            self._colour_by_descriptor(COLOUR_DESCRIPTORS[text])
            return
        family = COLOUR_FAMILIES[text]
        column = ["pitch_class", "octave", "dynamics", "instrument"].index(family)
        names = self.vocabulary[family]
        silent = names.index("silent") if "silent" in names else -1
        sounding = [n for n in names if n != "silent"]
        palette = family_colours(len(sounding), cyclic=family == "pitch_class")
        colours = np.full((len(self.points), 4), (0.45, 0.45, 0.45, 0.5))
        index = self.point_labels[:, column]
        for i, name in enumerate(names):
            if i != silent:
                colours[index == i] = palette[sounding.index(name)]
        colours[:, 3] = np.where(index == silent, 0.35, 0.8)
        self._set_point_colours(colours)
        hex_colours = [pg.mkColor(tuple(int(255 * c) for c in palette[i][:3])).name() for i in range(len(sounding))]
        swatches = " ".join(f"<span style='color:{hex_colour}'>■</span>&nbsp;{n.replace('_', ' ')}"
                            for hex_colour, n in zip(hex_colours, sounding))
        self._label_legend = swatches + " <span style='color:#777'>■</span>&nbsp;silent"
        self._show_legend()

    def _colour_by_descriptor(self, name: str) -> None:
        if self.descriptors is None:  # being computed: grey until then, and the legend says so
            self._set_point_colours(np.full((len(self.points), 4), (0.45, 0.45, 0.45, 0.5)))
            self._show_legend()
            return
        values = self.descriptors[name]
        colours = descriptor_colours(name, values, self._range(name))
        colours[:, 3] = 0.85
        self._set_point_colours(colours)
        self._show_legend()

    def _range(self, name: str) -> tuple[float, float]:
        """The colour range of ``name``: over the points and the map together when both show it, so that one
        colour means one value on both."""
        arrays = []
        if self.descriptors is not None and self.colour_descriptor() == name:
            arrays.append(self.descriptors[name])
        if self.descriptor_map is not None and self.map_descriptor() == name:
            arrays.append(self.descriptor_map.values[name])
        return descriptor_range(name, *arrays) if arrays else (0.0, 1.0)

    def _show_legend(self) -> None:
        lines = []
        name = self.colour_descriptor()
        if name is None:
            lines.append(self._label_legend)
        else:
            lines.append(colour_bar(name, self._range(name)) if self.descriptors is not None
                         else f"{DESCRIPTORS[name][0]}: computing…")
        if self.descriptor_map is not None and self.map_descriptor() != name:
            lines.append(colour_bar(self.map_descriptor(), self._range(self.map_descriptor()), "map: "))
        self.legend.setText("<br>".join(lines))

    # -- the descriptor map ----------------------------------------------------------------------------
    def show_map(self, found) -> None:
        """A core.descriptors.DescriptorMap to draw behind the cloud, or None to hide the map."""
        self.descriptor_map = found
        if self.colour_descriptor() is not None:
            self._recolour(self.colour_box.currentText())  # the shared colour range may have changed
        self._draw_map()

    def _draw_map(self) -> None:
        found = self.descriptor_map
        if found is None:
            self.map_item.setVisible(False)
            self._show_legend()
            return
        name = self.map_descriptor()
        values = found.values[name]  # (rows along the plane's second axis, columns along its first)
        rgba = descriptor_colours(name, values.T, self._range(name))  # GLImageItem takes (x, y, RGBA)
        rgba[..., 3] = MAP_ALPHA
        self.map_item.setData(np.ascontiguousarray((rgba * 255).round().astype(np.ubyte)))
        self.map_item.setTransform(self.map_transform(found.plane))
        self.map_item.setVisible(True)
        self._show_legend()

    @staticmethod
    def map_transform(plane) -> pg.Transform3D:
        """The image's texel (i, j) onto the plane: its first axis along the plane's first, each texel centred
        on the grid point it shows."""
        (a0, a1), (b0, b1) = plane.extent
        n = plane.resolution
        du, dv = (a1 - a0) / (n - 1), (b1 - b0) / (n - 1)
        first, second = plane.axes
        third = ({0, 1, 2} - set(plane.axes)).pop()
        m = np.eye(4)
        m[:3, :3] = 0.0
        m[first, 0], m[second, 1], m[third, 2] = du, dv, 1.0
        m[first, 3], m[second, 3], m[third, 3] = a0 - du / 2, b0 - dv / 2, plane.depth
        return pg.Transform3D(*m.ravel())

    # -- a sound in the space --------------------------------------------------------------------------
    def show_sound_path(self, points: Optional[np.ndarray]) -> None:
        """An opened sound's latent path, projected into the view (None: no sound)."""
        if points is None or len(points) < 2:
            self.sound_item.setVisible(False)
            self.sound_marker.setVisible(False)
            return
        self.sound_item.setData(pos=np.asarray(points, dtype=np.float64))
        self.sound_item.setVisible(True)

    def show_sound_marker(self, point: Optional[np.ndarray]) -> None:
        """Where the sound playing is now (None: nothing plays)."""
        if point is None:
            self.sound_marker.setVisible(False)
            return
        self.sound_marker.setData(pos=np.asarray(point, dtype=np.float64)[None])
        self.sound_marker.setVisible(True)

    def set_cursor(self, point: np.ndarray) -> None:
        self.cursor = np.asarray(point, dtype=np.float64)
        self.view.anchor = self.cursor.copy()
        self.cursor_item.setData(pos=self.cursor[None])

    def show_target(self, samples: Optional[np.ndarray]) -> None:
        """The latent distribution of the picked label set, drawn as samples of it."""
        if samples is None or not len(samples):
            self.target_item.setVisible(False)
            return
        self.target_item.setData(pos=np.asarray(samples, dtype=np.float64))
        self.target_item.setVisible(True)

    def show_path(self, path: Optional[np.ndarray], keyframes: Optional[np.ndarray] = None) -> None:
        if path is None or len(path) < 2:
            self.path_item.setVisible(False)
        else:
            self.path_item.setData(pos=np.asarray(path, dtype=np.float64))
            self.path_item.setVisible(True)
        if keyframes is None or not len(keyframes):
            self.keyframe_item.setVisible(False)
        else:
            self.keyframe_item.setData(pos=np.asarray(keyframes, dtype=np.float64))
            self.keyframe_item.setVisible(True)

    # -- free-hand drawing -----------------------------------------------------------------------
    def _set_draw_mode(self, on: bool) -> None:
        self.view.draw_mode = on
        self.view.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)

    def _on_stroke(self, point: np.ndarray, finished: bool) -> None:
        import time

        now = time.monotonic()
        if self._stroke_clock is None:
            self._stroke_clock, self._stroke = now, []
        t = now - self._stroke_clock
        if not self._stroke or t - self._stroke[-1][0] >= DRAW_STEP_S or finished:
            self._stroke.append((t, np.asarray(point, dtype=np.float64)))
            self.show_path(np.array([p for _, p in self._stroke]))
        if finished:
            stroke, self._stroke, self._stroke_clock = self._stroke, [], None
            self.draw_button.setChecked(False)  # one stroke per press of Draw path: the next drag orbits again
            if len(stroke) >= 2:
                self.pathDrawn.emit(np.array([t for t, _ in stroke]), np.array([p for _, p in stroke]))
