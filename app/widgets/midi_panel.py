"""MIDI renderer panel: open a file, preview it as a piano roll, render, play, export."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from glissando.core.interpolation import MODES

from .piano_roll import PianoRoll

FROM_FILE = "as in the file"


class MidiPanel(QWidget):
    openRequested = Signal()
    renderRequested = Signal()
    cancelRequested = Signal()
    playRequested = Signal()
    exportRequested = Signal()
    instrumentChanged = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.path_label = QLabel("Open a MIDI file, or drop one on the window.")
        self.path_label.setWordWrap(True)
        self.instrument = QComboBox()
        self.instrument.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.instrument.setToolTip("The instrument every track plays; 'as in the file' follows each track's program")
        self.interpolation = QComboBox()
        self.interpolation.addItems(list(MODES))
        self.roll = PianoRoll()
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.open_button = QPushButton("Open MIDI…")
        self.render_button = QPushButton("Render")
        self.cancel_button = QPushButton("Cancel")
        self.play_button = QPushButton("Play")
        self.export_button = QPushButton("Export WAV…")
        self.cancel_button.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addWidget(QLabel("Instrument"))
        row.addWidget(self.instrument)
        row.addWidget(QLabel("Interpolation"))
        row.addWidget(self.interpolation)
        row.addStretch(1)
        for b in (self.render_button, self.cancel_button, self.play_button, self.export_button):
            row.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.path_label)
        layout.addWidget(self.roll, 1)
        layout.addWidget(self.progress)
        self.open_button.clicked.connect(self.openRequested)
        self.render_button.clicked.connect(self.renderRequested)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.play_button.clicked.connect(self.playRequested)
        self.export_button.clicked.connect(self.exportRequested)
        self.instrument.currentTextChanged.connect(lambda _: self.instrumentChanged.emit())
        self.set_state(has_notes=False, busy=False, rendered=False)

    def set_instruments(self, instruments: list[str]) -> None:
        keep = self.instrument.currentText()
        self.instrument.blockSignals(True)
        self.instrument.clear()
        self.instrument.addItems([FROM_FILE] + instruments)
        self.instrument.setCurrentText(keep if keep in instruments else FROM_FILE)
        self.instrument.blockSignals(False)

    def chosen_interpolation(self) -> str:
        return self.interpolation.currentText()

    def set_interpolation(self, mode: str) -> None:
        self.interpolation.setCurrentText(mode)

    def chosen_instrument(self):
        text = self.instrument.currentText()
        return None if text in ("", FROM_FILE) else text

    def set_state(self, has_notes: bool, busy: bool, rendered: bool) -> None:
        self.render_button.setEnabled(has_notes and not busy)
        self.cancel_button.setEnabled(busy)
        self.play_button.setEnabled(rendered and not busy)
        self.export_button.setEnabled(has_notes and not busy)
        self.progress.setVisible(busy)

    def show_file(self, path, notes, warnings: list[str]) -> None:
        duration = max((n.end for n in notes), default=0.0)
        text = f"<b>{path}</b>: {len(notes)} notes, {duration:.1f} s"
        if warnings:
            text += "<br><span style='color:#d90'>" + "<br>".join(warnings) + "</span>"
        self.path_label.setText(text)
        self.roll.show_notes(notes)

    def show_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
