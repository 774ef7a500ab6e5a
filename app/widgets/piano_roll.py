"""Piano-roll preview of a MIDI file's notes, one colour per instrument; the same boxes for a transcription's
notes over its spectrogram (instrument_bars)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from .latent_navigator import family_colours


def instrument_colours(instruments) -> dict[str, tuple[int, int, int]]:
    """An RGB colour per instrument, the instruments sorted: the same set gets the same colours in every view."""
    names = sorted(set(instruments))
    palette = family_colours(max(len(names), 1), cyclic=False)
    return {name: tuple(int(255 * c) for c in colour[:3]) for name, colour in zip(names, palette)}


def instrument_bars(notes, alpha: int = 200, pen_width: float = 1.0) -> dict[str, pg.BarGraphItem]:
    """One box per note, one item per instrument in its colour: notes that overlap in time (a chord, a duet)
    are each their own box, on their own pitch row."""
    items = {}
    for instrument, rgb in instrument_colours(n.instrument for n in notes).items():
        mine = [n for n in notes if n.instrument == instrument]
        items[instrument] = pg.BarGraphItem(x0=np.array([n.start for n in mine]), x1=np.array([n.end for n in mine]),
                                            y0=np.array([n.midi - 0.45 for n in mine]), height=0.9,
                                            brush=pg.mkBrush(*rgb, alpha), pen=pg.mkPen(rgb, width=pen_width))
    return items


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
        for instrument, item in instrument_bars(notes).items():
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
