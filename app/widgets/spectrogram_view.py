"""A constant-Q spectrogram on a MIDI-note axis, with optional note boxes and draggable time markers."""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal

from glissando.core.units import hz_to_midi


class SpectrogramView(pg.PlotWidget):
    markerMoved = Signal(int, float)  # marker index, new time (seconds)

    def __init__(self, parent=None, title: str = ""):
        super().__init__(parent)
        self.setMinimumHeight(110)
        self.setTitle(title)
        self.setLabel("bottom", "time", units="s")
        self.getAxis("left").setTicks([[(12 * (o + 1), f"C{o}") for o in range(0, 9)]])
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("inferno"))
        self.addItem(self.image)
        self.notes_item: Optional[pg.BarGraphItem] = None
        self.markers: list[pg.InfiniteLine] = []
        self.playhead = pg.InfiniteLine(angle=90, pen=pg.mkPen((80, 255, 120), width=1))
        self.playhead.setVisible(False)
        self.addItem(self.playhead)
        self.clear_image()

    def clear_image(self) -> None:
        """Nothing to show: an empty image over the first second and the usual register (not -500..500 ms)."""
        self.image.clear()
        self.setXRange(0.0, 1.0, padding=0)
        self.setYRange(24, 96, padding=0)

    def show_image(self, db: np.ndarray, t0: float, t1: float, frequencies: np.ndarray,
                   floor_db: float = -80.0) -> None:
        """``db``: (bins, columns), bins at ``frequencies`` (log-spaced), columns spanning t0..t1."""
        lo, hi = hz_to_midi(frequencies[0]), hz_to_midi(frequencies[-1])
        self.image.setImage(np.asarray(db, dtype=np.float32), levels=(floor_db, float(max(np.max(db), floor_db + 1))))
        self.image.setRect(QRectF(t0, lo, max(t1 - t0, 1e-3), hi - lo))
        self.setXRange(t0, t1, padding=0)
        self.setYRange(lo, hi, padding=0)

    def show_notes(self, starts, ends, midis, colour=(80, 220, 255, 90)) -> None:
        if self.notes_item is not None:
            self.removeItem(self.notes_item)
            self.notes_item = None
        if len(starts):
            starts, ends = np.asarray(starts, float), np.asarray(ends, float)
            self.notes_item = pg.BarGraphItem(x0=starts, x1=ends, y0=np.asarray(midis) - 0.5, height=1.0,
                                              brush=pg.mkBrush(*colour), pen=pg.mkPen(colour[:3], width=1))
            self.addItem(self.notes_item)

    def show_markers(self, times: list[float], movable: bool = True) -> None:
        for m in self.markers:
            self.removeItem(m)
        self.markers = []
        for i, t in enumerate(times):
            line = pg.InfiniteLine(pos=t, angle=90, movable=movable and i > 0, pen=pg.mkPen((255, 210, 60), width=2),
                                   hoverPen=pg.mkPen((255, 255, 255), width=3), label=str(i + 1),
                                   labelOpts={"position": 0.95, "color": (255, 210, 60)})
            line.sigPositionChangeFinished.connect(lambda marker, i=i: self.markerMoved.emit(i, float(marker.value())))
            self.addItem(line)
            self.markers.append(line)

    def set_playhead(self, seconds: Optional[float]) -> None:
        self.playhead.setVisible(seconds is not None)
        if seconds is not None:
            self.playhead.setValue(seconds)
