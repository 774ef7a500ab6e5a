"""The decoded magnitude spectrum at the cursor, on a log-frequency axis."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

TICKS = [(50, "50"), (100, "100"), (200, "200"), (500, "500"), (1000, "1k"), (2000, "2k"), (5000, "5k"),
         (10000, "10k")]


class DecodedSpectrum(pg.PlotWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumHeight(120)
        self.setLogMode(x=True, y=False)
        # Ticks named in Hz at round frequencies: pyqtgraph's own log-axis ticks with an SI prefix read
        # "10^1" kHz for 10 kHz.
        self.setLabel("bottom", "frequency (Hz)")
        self.getAxis("bottom").setTicks([[(float(np.log10(f)), label) for f, label in TICKS], []])
        self.setLabel("left", "level", units="dB")
        self.setTitle("Decoded spectrum at the cursor")
        self.setYRange(-80, 5)
        self.curve = self.plot(pen=pg.mkPen((120, 200, 255), width=1.5), fillLevel=-80, brush=(60, 120, 200, 80))
        self.magnitudes = np.zeros(0)

    def show_magnitudes(self, frequencies: np.ndarray, magnitudes: np.ndarray) -> None:
        """dB relative to a fixed reference, not to the frame's own peak: louder dynamics look louder."""
        self.magnitudes = np.asarray(magnitudes)
        db = 20 * np.log10(np.maximum(self.magnitudes, 1e-6))
        self.curve.setData(frequencies, db)
