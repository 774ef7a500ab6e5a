"""Sound design panel: open or drop a sound, transfer it to another instrument, listen A/B, export, take
its notes as keyframes. Laid out in stacked rows so that it fits a side dock (300-400 px wide)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from glissando.core.spectral import AUDIO_SUFFIXES
from glissando.core.transfer import EXPRESSION, KEEP, TRANSFER_METHODS
from glissando.core.transfer import VERSIONS as RECONSTRUCTIONS

VERSIONS = (*RECONSTRUCTIONS, "transfer")
METHOD_TIPS = {"shift": "Shift the sound's own latents: keeps its vibrato and envelope",
               "notes": "Render the notes heard again: the cleanest timbre, a plain envelope"}


def _audio_files(event) -> list[Path]:
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
    return [p for p in paths if p.suffix.lower() in AUDIO_SUFFIXES]


class SoundDesignPanel(QWidget):
    openRequested = Signal()
    fileDropped = Signal(object)  # Path of an audio file dropped on the panel
    transferRequested = Signal(str, str, str, float)  # (instrument, dynamics or "keep", method, expression)
    cancelRequested = Signal()
    versionChosen = Signal(str)
    playRequested = Signal(str)
    stopRequested = Signal()
    exportRequested = Signal(str)  # the version to export
    keyframesRequested = Signal()

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.open_button = QPushButton("Open sound…")
        self.file_label = QLabel("Open a sound, or drop an audio file here, to hear it A/B and transfer it.")
        self.file_label.setWordWrap(True)

        self.instrument = QComboBox()
        self.dynamics = QComboBox()
        self.dynamics.setToolTip("keep: each note's dynamics as heard in the sound")
        self.method = QComboBox()
        for name in TRANSFER_METHODS:
            self.method.addItem(name)
            self.method.setItemData(self.method.count() - 1, METHOD_TIPS.get(name, ""), Qt.ItemDataRole.ToolTipRole)
        self.expression = QDoubleSpinBox()
        self.expression.setRange(0.0, 1.0)
        self.expression.setSingleStep(0.05)
        self.expression.setDecimals(2)
        self.expression.setValue(EXPRESSION)
        self.expression.setToolTip("How much of the sound's own detail inside each note is kept (shift only):\n"
                                   "0 the target's plain note, 1 all of it (the source can then still be heard)")
        self.transfer_button = QPushButton("Transfer")
        self.cancel_button = QPushButton("Cancel")
        self.progress = QProgressBar()
        self.transfer_label = QLabel("")
        self.transfer_label.setWordWrap(True)

        # Two lines per button (the version, then its convergence or target): two buttons a row fit a side dock.
        self.version_buttons: dict[str, QPushButton] = {}
        self.version_group = QButtonGroup(self)
        self.version_group.setExclusive(True)
        for name in VERSIONS:
            b = QPushButton(name)
            b.setCheckable(True)
            self.version_group.addButton(b)
            self.version_buttons[name] = b
        self.version_buttons["original"].setChecked(True)
        self.version_buttons["original"].setToolTip("The sound as opened")
        self.version_buttons["NSGT inverse"].setToolTip(
            "Analysis and synthesis by the NSGT alone: what the transform keeps.\n"
            "SC: spectral convergence against the original (0 = the same magnitudes, 1 = as far as silence)")
        self.version_buttons["model"].setToolTip(
            "Every frame encoded and decoded by the model, its phase rebuilt as a render does.\n"
            "SC: spectral convergence against the original (0 = the same magnitudes, 1 = as far as silence)")
        self.version_buttons["transfer"].setToolTip("The last transfer")
        self.play_button = QPushButton("Play")
        self.stop_button = QPushButton("Stop")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the selected version as WAV")
        self.keyframes_button = QPushButton("To trajectory")
        self.keyframes_button.setToolTip("One keyframe per note heard: the sound's latent in the middle of the note")

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Target", self.instrument)
        form.addRow("Dynamics", self.dynamics)
        form.addRow("Method", self.method)
        form.addRow("Expression", self.expression)
        run_row = QHBoxLayout()
        run_row.addWidget(self.transfer_button)
        run_row.addWidget(self.cancel_button)
        versions = QGridLayout()
        for i, name in enumerate(VERSIONS):
            versions.addWidget(self.version_buttons[name], i // 2, i % 2)
        play_row = QGridLayout()
        play_row.addWidget(self.play_button, 0, 0)
        play_row.addWidget(self.stop_button, 0, 1)
        play_row.addWidget(self.export_button, 1, 0)
        play_row.addWidget(self.keyframes_button, 1, 1)

        layout = QVBoxLayout(self)
        layout.addWidget(self.open_button)
        layout.addWidget(self.file_label)
        layout.addLayout(form)
        layout.addLayout(run_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.transfer_label)
        layout.addWidget(QLabel("<b>Listen A/B</b>"))
        layout.addLayout(versions)
        layout.addLayout(play_row)
        layout.addStretch(1)

        self.open_button.clicked.connect(self.openRequested)
        self.transfer_button.clicked.connect(self._request_transfer)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.version_group.buttonClicked.connect(lambda b: self.versionChosen.emit(self.selected_version()))
        self.play_button.clicked.connect(lambda: self.playRequested.emit(self.selected_version()))
        self.stop_button.clicked.connect(self.stopRequested)
        self.export_button.clicked.connect(lambda: self.exportRequested.emit(self.selected_version()))
        self.keyframes_button.clicked.connect(self.keyframesRequested)
        self.method.currentTextChanged.connect(lambda m: self.expression.setEnabled(m == "shift"))
        self.has_sound = False
        self.has_notes = False
        self.busy = False
        self.available: set[str] = set()
        self.show_versions({})
        self.set_busy(False)
        self.set_playing("")

    # -- what the panel asks for ---------------------------------------------------------------------
    def selected_version(self) -> str:
        checked = self.version_group.checkedButton()
        return next((name for name, b in self.version_buttons.items() if b is checked), "original")

    def chosen_instrument(self) -> str:
        return self.instrument.currentData() or ""

    def _request_transfer(self) -> None:
        if self.chosen_instrument():
            self.transferRequested.emit(self.chosen_instrument(), self.dynamics.currentText(),
                                        self.method.currentText(), float(self.expression.value()))

    def dragEnterEvent(self, event):
        if _audio_files(event):
            event.acceptProposedAction()

    def dropEvent(self, event):
        files = _audio_files(event)
        if files:
            self.fileDropped.emit(files[0])
            event.acceptProposedAction()

    # -- what the controller reports -----------------------------------------------------------------
    def set_model(self, instruments: list[str], dynamics: list[str]) -> None:
        """The model's vocabulary; the choices made so far are kept where the new model knows them."""
        keep_instrument, keep_dynamics = self.chosen_instrument(), self.dynamics.currentText()
        self.instrument.clear()
        for name in instruments:
            self.instrument.addItem(name.replace("_", " "), name)
        index = self.instrument.findData(keep_instrument)
        self.instrument.setCurrentIndex(index if index >= 0 else 0)
        self.dynamics.clear()
        self.dynamics.addItems([KEEP, *dynamics])
        self.dynamics.setCurrentText(keep_dynamics if keep_dynamics in dynamics else KEEP)

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.progress.setVisible(busy)
        if busy:
            self.progress.setValue(0)
        self.cancel_button.setEnabled(busy)
        self.open_button.setEnabled(not busy)
        self.transfer_button.setEnabled(self.has_notes and not busy)
        self.keyframes_button.setEnabled(self.has_notes and not busy)
        self._enable_versions()

    def show_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)

    def show_file(self, path, duration: float, notes: int) -> None:
        self.has_sound, self.has_notes = True, notes > 0
        self.file_label.setText(f"<b>{Path(path).name}</b>: {duration:.1f} s, {notes} notes heard")
        self.file_label.setToolTip(str(path))
        self.transfer_label.setText("")
        self.set_busy(self.busy)

    def show_transfer(self, instrument: str, warnings: list) -> None:
        text = f"Transferred to {instrument.replace('_', ' ')}."
        if warnings:
            text += " " + " ".join(warnings)
        self.transfer_label.setText(text)
        self.version_buttons["transfer"].setText(f"transfer\n{instrument.replace('_', ' ')}")

    def show_versions(self, convergences: dict) -> None:
        """{version: spectral convergence or None}; versions missing from it are not available yet."""
        self.available = set(convergences)
        for name, b in self.version_buttons.items():
            sc = convergences.get(name)
            if name == "transfer":
                if name not in convergences:
                    b.setText("transfer\nnone yet")
            elif name == "original":
                b.setText("original\nreference")  # what the others' convergence is measured against
            elif sc is not None and math.isfinite(sc):
                b.setText(f"{name}\nSC {sc:.2f}" if sc >= 0.01 else f"{name}\nSC < 0.01")
            else:
                b.setText(f"{name}\n")
        if not convergences:
            self.has_sound = self.has_notes = False
        if self.selected_version() not in self.available:
            self.version_buttons["original"].setChecked(True)
        self._enable_versions()

    def set_playing(self, which: str) -> None:
        self.play_button.setText("Playing…" if which else "Play")  # the checked version is the one playing
        self.stop_button.setEnabled(bool(which))

    def _enable_versions(self) -> None:
        for name, b in self.version_buttons.items():
            b.setEnabled(name in self.available)
        ready = self.selected_version() in self.available
        self.play_button.setEnabled(ready)
        self.export_button.setEnabled(ready and not self.busy)
