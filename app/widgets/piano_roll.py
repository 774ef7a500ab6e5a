"""Piano-roll preview of a MIDI file's notes, one colour per instrument."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from .latent_navigator import family_colours


class PianoRoll(pg.PlotWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumHeight(150)
        self.setLabel("bottom", "time", units="s")
        self.getAxis("left").setTicks([[(12 * (o + 1), f"C{o}") for o in range(0, 9)]])
        self.addLegend(offset=(-10, 10))
        self.items = []
        self.playhead = pg.InfiniteLine(angle=90, pen=pg.mkPen((80, 255, 120), width=1))
        self.playhead.setVisible(False)
        self.addItem(self.playhead)

    def show_notes(self, notes) -> None:
        for item in self.items:
            self.removeItem(item)
        self.items = []
        self.plotItem.legend.clear()
        instruments = sorted({n.instrument for n in notes})
        palette = family_colours(max(len(instruments), 1), cyclic=False)
        for instrument, colour in zip(instruments, palette):
            mine = [n for n in notes if n.instrument == instrument]
            rgb = tuple(int(255 * c) for c in colour[:3])
            item = pg.BarGraphItem(x0=np.array([n.start for n in mine]), x1=np.array([n.end for n in mine]),
                                   y0=np.array([n.midi - 0.45 for n in mine]), height=0.9,
                                   brush=pg.mkBrush(*rgb, 200), pen=pg.mkPen(rgb))
            self.addItem(item)
            self.plotItem.legend.addItem(item, instrument.replace("_", " "))
            self.items.append(item)
        if notes:
            lo, hi = min(n.midi for n in notes), max(n.midi for n in notes)
            self.setYRange(lo - 3, hi + 3)
            self.setXRange(0, max(n.end for n in notes))

    def set_playhead(self, seconds) -> None:
        self.playhead.setVisible(seconds is not None)
        if seconds is not None:
            self.playhead.setValue(seconds)
