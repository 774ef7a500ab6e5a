"""Transcription view: waveform, NSGT spectrogram with the transcribed notes (one colour per instrument, notes
that overlap each their own box), label posteriors (per voice slot for a mixture model), note list."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .piano_roll import instrument_bars, instrument_colours
from .spectrogram_view import SpectrogramView

FAMILIES = {"pitch class": "pitch_class", "octave": "octave", "dynamics": "dynamics", "instrument": "instrument"}


class _SortableItem(QTableWidgetItem):
    """Sorts by the value it shows (a time, a MIDI pitch), not by its text."""

    def __init__(self, text: str, key):
        super().__init__(text)
        self.key = key

    def __lt__(self, other):
        if isinstance(other, _SortableItem) and type(self.key) is type(other.key):
            return self.key < other.key
        return super().__lt__(other)


class TranscriptionPanel(QWidget):
    openRequested = Signal()
    cancelRequested = Signal()
    exportRequested = Signal(str)  # "mid", "json" or "csv"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.path_label = QLabel("Open an audio file, or drop a WAV on the window, to transcribe it.")
        self.path_label.setWordWrap(True)
        self.open_button = QPushButton("Open audio…")
        self.cancel_button = QPushButton("Cancel")
        self.exports = {fmt: QPushButton(f"Export {label}…")
                        for fmt, label in (("mid", "MIDI"), ("json", "JSON"), ("csv", "CSV"))}
        self.family = QComboBox()
        self.family.addItems(list(FAMILIES))
        # A mixture model names one label set per voice slot, lowest note first: which slot's posteriors to show.
        self.voice_label = QLabel("of voice")
        self.voice = QComboBox()
        self.voice.setToolTip("A mixture model hears several notes at once, one label set per voice slot, the "
                              "lowest note first")
        self.progress = QProgressBar()
        self.waveform = pg.PlotWidget(title="Waveform")
        self.waveform.setMaximumHeight(90)
        self.waveform.setMouseEnabled(y=False)

        self.spectrogram = SpectrogramView(title="NSGT spectrogram and transcribed notes")
        self.spectrogram.addLegend(offset=(-10, 10))  # which colour is which instrument
        self.note_items: dict = {}  # instrument -> its notes' boxes over the spectrogram
        self.posteriors = pg.PlotWidget(title="Frame posteriors")
        self.posteriors.setMinimumHeight(120)
        self.posterior_image = pg.ImageItem(axisOrder="row-major")
        self.posterior_image.setColorMap(pg.colormap.get("viridis"))
        self.posteriors.addItem(self.posterior_image)
        self.spectrogram.setXLink(self.waveform)
        self.posteriors.setXLink(self.waveform)
        self.table = QTableWidget(0, 6)
        # Short headers: the table takes only the width its columns need, beside the plots.
        self.table.setHorizontalHeaderLabels(["start", "end", "note", "dyn.", "instrument", "conf."])
        for c, tip in enumerate(["start (s)", "end (s)", "pitch (C4 = MIDI 60)", "dynamics", "instrument",
                                 "confidence of the pitch (the lower of pitch class and octave)"]):
            header_item = self.table.horizontalHeaderItem(c)
            if header_item is not None:
                header_item.setToolTip(tip)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        # Every column readable without scrolling, and sortable (by time, pitch, instrument, confidence...).
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # Qt's default indicator is descending
        self._fit_table()

        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addWidget(self.cancel_button)
        row.addWidget(QLabel("Posteriors of"))
        row.addWidget(self.family)
        row.addWidget(self.voice_label)
        row.addWidget(self.voice)
        row.addStretch(1)
        for b in self.exports.values():
            row.addWidget(b)
        plots = QWidget()
        plots_layout = QVBoxLayout(plots)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        plots_layout.addWidget(self.waveform)
        plots_layout.addWidget(self.spectrogram, 3)
        plots_layout.addWidget(self.posteriors, 2)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(plots)
        splitter.addWidget(self.table)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setCollapsible(1, False)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.path_label)
        layout.addWidget(self.progress)
        layout.addWidget(splitter, 1)

        self.open_button.clicked.connect(self.openRequested)
        self.cancel_button.clicked.connect(self.cancelRequested)
        for fmt, b in self.exports.items():
            b.clicked.connect(lambda _=False, f=fmt: self.exportRequested.emit(f))
        self.family.currentTextChanged.connect(lambda _: self._draw_posteriors())
        self.voice.currentIndexChanged.connect(lambda _: self._draw_posteriors())
        self.posteriors.getViewBox().sigResized.connect(lambda _: self._posterior_ticks())
        self.table.itemSelectionChanged.connect(self._focus_note)
        self.notes, self.post, self.vocabulary = [], None, {}
        self._show_voices(1)
        self.set_busy(False)

    def set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setEnabled(busy)
        self.open_button.setEnabled(not busy)
        for b in self.exports.values():
            b.setEnabled(bool(self.notes) and not busy)

    def show_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)

    def show_result(self, path, overview, notes, post, vocabulary) -> None:
        self.notes, self.post, self.vocabulary = notes, post, vocabulary
        self.path_label.setText(f"<b>{path}</b>: {overview.duration:.1f} s, {len(notes)} notes")
        self.waveform.clear()
        self.waveform.plot(overview.times, overview.wave_max, pen=(120, 200, 255))
        self.waveform.plot(overview.times, overview.wave_min, pen=(120, 200, 255))
        # Ticks at the peaks only: pyqtgraph's own ticks overlap in a plot 90 px high.
        peak = float(max(np.max(np.abs(overview.wave_max), initial=0.0),
                         np.max(np.abs(overview.wave_min), initial=0.0)))
        self.waveform.getAxis("left").setTicks([[(v, f"{v:.2g}") for v in ((-peak, peak) if peak else (0.0,))]])
        self.spectrogram.show_image(overview.db, 0.0, overview.duration, overview.frequencies,
                                    floor_db=float(overview.db.max()) - 80)
        # Every note's box from the spectrogram view, a dark edge under each instrument's coloured box (below):
        # where notes overlap (a chord, a duet) each keeps its own box on its own pitch row.
        self.spectrogram.show_notes([n.start for n in notes], [n.end for n in notes], [n.midi for n in notes],
                                    colour=(0, 0, 0, 0))
        self._show_note_items(notes)
        if notes:  # frame the notes' register, with an octave of harmonics above
            self.spectrogram.setYRange(min(n.midi for n in notes) - 5, max(n.midi for n in notes) + 17, padding=0)
        self.table.setSortingEnabled(False)  # filling a sorted table moves rows under the loop
        self.table.setRowCount(len(notes))
        colours = instrument_colours(n.instrument for n in notes)
        for r, n in enumerate(notes):
            d = n.to_dict()
            conf = min(n.confidence.get("pitch_class", 1.0), n.confidence.get("octave", 1.0))
            cells = [(f"{n.start:.3f}", n.start), (f"{n.end:.3f}", n.end), (d["note"], n.midi),
                     (n.dynamics, n.dynamics), (n.instrument.replace("_", " "), n.instrument), (f"{conf:.2f}", conf)]
            for c, (text, key) in enumerate(cells):
                item = _SortableItem(text, key)
                item.setData(Qt.ItemDataRole.UserRole, r)  # the note's index, whatever the sorting
                if c == 4:  # the instrument's colour in the plot, beside its name
                    item.setData(Qt.ItemDataRole.DecorationRole, QColor(*colours[n.instrument]))
                self.table.setItem(r, c, item)
        self.table.setSortingEnabled(True)
        self._fit_table()
        self._show_voices(self.voices_in(post))
        self._draw_posteriors()
        self.set_busy(False)

    def _fit_table(self) -> None:
        """At least as wide as its columns (fitted to their contents): pitch, dynamics, instrument and
        confidence all show, with no horizontal scrolling; the plots take the rest."""
        header = self.table.horizontalHeader()
        header.resizeSections(QHeaderView.ResizeMode.ResizeToContents)
        scroll = self.table.verticalScrollBar().sizeHint().width()
        self.table.setMinimumWidth(header.length() + scroll + 2 * self.table.frameWidth() + 2)

    def _show_note_items(self, notes) -> None:
        legend = self.spectrogram.plotItem.legend
        for item in self.note_items.values():
            self.spectrogram.removeItem(item)
        legend.clear()
        # A light fill and a bold edge: the spectrogram's own colours stay readable inside each box.
        self.note_items = instrument_bars(notes, alpha=70, pen_width=2.5)
        for instrument, item in self.note_items.items():
            self.spectrogram.addItem(item)
            legend.addItem(item, instrument.replace("_", " "))

    @staticmethod
    def voices_in(post) -> int:
        """Voice slots in a transcription's posteriors: core.transcribe keeps the lowest under the families'
        names and voice k's under "family@k"."""
        if post is None:
            return 1
        return 1 + max((int(key.split("@")[1]) for key in post.probs if "@" in key), default=0)

    def _show_voices(self, voices: int) -> None:
        """The voice selector, for a mixture model only: a single-note model's panel looks as it always did."""
        keep = self.voice.currentIndex()
        self.voice.blockSignals(True)
        self.voice.clear()
        self.voice.addItems([f"{k + 1}{' (lowest)' if k == 0 else ''}" for k in range(voices)])
        self.voice.setCurrentIndex(keep if 0 <= keep < voices else 0)
        self.voice.blockSignals(False)
        self.voice.setVisible(voices > 1)
        self.voice_label.setVisible(voices > 1)

    def _posterior_key(self) -> str:
        family = FAMILIES[self.family.currentText()]
        k = max(self.voice.currentIndex(), 0)
        return family if k == 0 else f"{family}@{k}"

    def _draw_posteriors(self) -> None:
        if self.post is None or not len(self.post.times):
            return
        family = FAMILIES[self.family.currentText()]
        voices = self.voices_in(self.post)
        self.posteriors.setTitle("Frame posteriors" if voices == 1 else
                                 f"Frame posteriors of voice {max(self.voice.currentIndex(), 0) + 1} of {voices}")
        probs = self.post.probs[self._posterior_key()].T  # (labels, frames)
        names = self.vocabulary[family]
        t0, t1 = float(self.post.times[0]), float(self.post.times[-1])
        self.posterior_image.setImage(probs.astype(np.float32), levels=(0.0, 1.0))
        self.posterior_image.setRect(t0, -0.5, max(t1 - t0, 1e-3), len(names))
        self.posteriors.setYRange(-0.5, len(names) - 0.5, padding=0)
        self._posterior_ticks()

    def _posterior_ticks(self) -> None:
        """Name as many rows as fit one text line each without overlapping, the labels heard most first
        (15 instruments in a 120 px plot leave 8 px a row); the other rows keep an unnamed tick."""
        if self.post is None or not len(self.post.times):
            return
        family = FAMILIES[self.family.currentText()]
        names = self.vocabulary[family]
        axis = self.posteriors.getAxis("left")
        line = QFontMetrics(axis.style.get("tickFont") or axis.font()).height()
        row = self.posteriors.getViewBox().height() / max(len(names), 1)
        step = max(1, int(np.ceil(line / max(row, 1e-3))))
        picked: list[int] = []
        for i in np.argsort(-self.post.probs[self._posterior_key()].mean(0), kind="stable"):
            if all(abs(int(i) - j) >= step for j in picked):
                picked.append(int(i))
        named = [(i, names[i].replace("_", " ")) for i in sorted(picked)]
        axis.setTicks([named, [(i, "") for i in range(len(names)) if i not in picked]])

    def _focus_note(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows and self.notes:
            n = self.notes[int(self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole))]
            pad = max(0.5, n.duration)
            self.waveform.setXRange(max(0.0, n.start - pad), n.end + pad)
