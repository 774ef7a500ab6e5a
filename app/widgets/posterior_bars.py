"""Per-family label probabilities at the cursor, as bars (the paper's Figure 2)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

TITLES = {"pitch_class": "pitch class", "octave": "octave", "dynamics": "dynamics", "instrument": "instrument"}
# (row, column, column span): the two long families get a whole row each
PLACES = {"pitch_class": (0, 0, 2), "octave": (1, 0, 1), "dynamics": (1, 1, 1), "instrument": (2, 0, 2)}
# Orchestral score abbreviations: the full names do not fit under eleven bars.
SHORT = {"alto_sax": "sax", "bassoon": "bsn", "cello": "vc", "clarinet": "cl", "flute": "fl", "french_horn": "hn",
         "oboe": "ob", "piano": "pno", "trombone": "tbn", "trumpet": "tpt", "violin": "vn", "tuba": "tba",
         "viola": "va", "double_bass": "db", "guitar": "gtr", "silent": "–"}


class PosteriorBars(pg.GraphicsLayoutWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumHeight(220)
        self.plots, self.bars, self.vocabulary = {}, {}, {}

    def set_vocabulary(self, vocabulary: dict[str, list[str]]) -> None:
        self.clear()
        self.plots, self.bars, self.vocabulary = {}, {}, vocabulary
        for family, (row, col, span) in PLACES.items():
            names = vocabulary[family]
            plot = self.addPlot(row=row, col=col, colspan=span, title=TITLES[family])
            plot.setYRange(0, 1, padding=0.02)
            plot.setMouseEnabled(False, False)
            plot.hideButtons()
            short = [SHORT.get(n, n.replace("_", " ")[:4]) for n in names]
            plot.getAxis("bottom").setTicks([list(enumerate(short))])
            plot.getAxis("left").setTicks([[(0, "0"), (1, "1")]])
            bars = pg.BarGraphItem(x=np.arange(len(names)), height=np.zeros(len(names)), width=0.8,
                                   brush=(120, 200, 255))
            plot.addItem(bars)
            self.plots[family], self.bars[family] = plot, bars

    def show_probabilities(self, probabilities: dict[str, np.ndarray]) -> None:
        for family, bars in self.bars.items():
            p = np.asarray(probabilities[family]).reshape(-1)
            top = int(np.argmax(p))
            brushes = [pg.mkBrush(255, 200, 60) if i == top else pg.mkBrush(120, 200, 255) for i in range(len(p))]
            bars.setOpts(height=p, brushes=brushes)

    def heights(self, family: str) -> np.ndarray:
        return np.asarray(self.bars[family].opts["height"])
