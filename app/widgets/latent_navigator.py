"""The 3-D latent navigator: the training posteriors as a point cloud, a cursor, targets and paths."""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
import pyqtgraph.opengl as gl
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

COLOUR_FAMILIES = {"pitch class": "pitch_class", "octave": "octave", "dynamics": "dynamics", "instrument": "instrument"}
CLICK_SLOP_PX = 4
DRAW_STEP_S = 0.05  # a free-hand path keeps one point per 50 ms of drawing at most


def family_colours(n: int, cyclic: bool) -> np.ndarray:
    """(n, 4) RGBA in 0..1: pitch classes wrap around the hue circle, other families do not."""
    hues = np.arange(n) / n if cyclic else np.linspace(0.0, 0.8, max(n, 2))[:n]
    return np.array([pg.hsvColor(float(h), 0.85, 0.95).getRgbF() for h in hues])


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

    def __init__(self, parent=None):
        super().__init__(parent)
        self.view = NavigatorView(self)
        self.view.setBackgroundColor((18, 18, 24))
        self.colour_box = QComboBox()
        self.colour_box.addItems(list(COLOUR_FAMILIES))
        self.colour_box.setToolTip("Colour the points by this label family")
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
        self._stroke: list[tuple[float, np.ndarray]] = []
        self._stroke_clock = None

        self.colour_box.currentTextChanged.connect(self._recolour)
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
        self.path_item = gl.GLLinePlotItem(pos=np.zeros((2, 3)), color=(1.0, 0.85, 0.2, 1.0), width=2, antialias=True)
        self.path_item.setVisible(False)
        self.keyframe_item = gl.GLScatterPlotItem(pos=np.zeros((1, 3)), size=12, color=(1.0, 0.85, 0.2, 1.0),
                                                  pxMode=True)
        self.keyframe_item.setVisible(False)
        self.cursor_item = gl.GLScatterPlotItem(pos=np.zeros((1, 3)), size=16, color=(1, 1, 1, 1), pxMode=True)
        for item in (self.points_item, self.target_item, self.path_item, self.keyframe_item, self.cursor_item):
            self.view.addItem(item)

    # -- content -------------------------------------------------------------------------------
    def set_space(self, points: np.ndarray, point_labels: np.ndarray, vocabulary: dict[str, list[str]],
                  camera: tuple[float, float] = (22.0, 35.0)) -> None:
        """What to draw, and the (elevation, azimuth) it reads best from."""
        self.camera = camera
        self.points = np.asarray(points, dtype=np.float64)
        self.point_labels = np.asarray(point_labels, dtype=int)
        self.vocabulary = vocabulary
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

    def colour_family(self) -> str:
        return COLOUR_FAMILIES[self.colour_box.currentText()]

    def _recolour(self, text: str) -> None:
        if not len(self.points):
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
        self.points_item.setData(pos=self.points, color=colours, size=4)
        hex_colours = [pg.mkColor(tuple(int(255 * c) for c in palette[i][:3])).name() for i in range(len(sounding))]
        swatches = " ".join(f"<span style='color:{hex_colour}'>■</span>&nbsp;{n.replace('_', ' ')}"
                            for hex_colour, n in zip(hex_colours, sounding))
        self.legend.setText(swatches + " <span style='color:#777'>■</span>&nbsp;silent")

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
