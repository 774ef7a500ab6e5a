"""Preferences: audio output device, block size and latency, held loops, phase reconstruction, default interpolation,
the level of exported WAVs."""
from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
)

from glissando.core.interpolation import MODES
from glissando.core.render import DEFAULT_PEAK_DB, PEAK_DB_RANGE, PHASE_METHODS
from glissando.core.spectral import SpectralConfig

from ..controllers.live_audio import BLOCK_SIZES, LATENCY_BLOCKS
from ..settings import export_peak_db


class PreferencesDialog(QDialog):
    def __init__(self, audio_devices: list[tuple[int, str]], audio_notice: str, settings, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.settings = settings
        self.audio = QComboBox()
        self.audio.addItem("System default", -1)
        for index, name in audio_devices:
            self.audio.addItem(name, index)
        current = self.audio.findData(settings.get("audio/device"))
        self.audio.setCurrentIndex(max(current, 0))
        rate = SpectralConfig().sample_rate  # the models' rate: what block sizes and latency are counted in
        self.block = QComboBox()
        for size in BLOCK_SIZES:
            self.block.addItem(f"{size} samples ({1000 * size / rate:.1f} ms)", size)
        self.block.setCurrentIndex(max(self.block.findData(settings.get("audio/block")), 0))
        self.block.setToolTip("Smaller blocks answer sooner but need a machine that keeps up; "
                              "raise it if the status bar counts underruns")
        self.latency = QComboBox()
        for count in LATENCY_BLOCKS:
            self.latency.addItem(f"up to {count} block{'s' if count > 1 else ''}", count)
        self.latency.setCurrentIndex(max(self.latency.findData(settings.get("audio/latency_blocks")), 0))
        self.latency.setToolTip("The most the engine may write ahead of the device: it starts close and moves "
                                "ahead only after an underrun (more is safer on a busy machine, and later)")
        self.held_loops = QCheckBox("Held sounds settle into their reconstructed loop")
        self.held_loops.setChecked(bool(settings.get("audio/held_loops")))
        self.held_loops.setToolTip("About 0.35 s after a note or the cursor comes to rest, the live sound moves from "
                                   "the streaming synth to the same reconstruction an export uses")
        self.phase = QComboBox()
        self.phase.addItems(list(PHASE_METHODS))
        self.phase.setCurrentText(settings.get("render/phase"))
        self.phase.setToolTip("fast: phase-locked start, two fast Griffin-Lim iterations, held notes from "
                              "their loop (the default); gl30: the paper's 30 Griffin-Lim iterations, "
                              "many times slower")
        self.interpolation = QComboBox()
        self.interpolation.addItems(list(MODES))
        self.interpolation.setCurrentText(settings.get("render/interpolation"))
        self.normalize = QCheckBox("Normalize exported WAVs to a peak of")
        self.normalize.setChecked(bool(settings.get("export/normalize")))
        self.normalize.setToolTip("One gain for the whole file: the dynamics inside it are kept. Off: the model's "
                                  "own level, which keeps the loudness of separate exports comparable")
        self.peak_db = QDoubleSpinBox()
        self.peak_db.setRange(*PEAK_DB_RANGE)
        self.peak_db.setDecimals(1)
        self.peak_db.setSingleStep(0.5)
        self.peak_db.setSuffix(" dBFS")
        self.peak_db.setValue(export_peak_db(settings) or DEFAULT_PEAK_DB)
        self.peak_db.setEnabled(self.normalize.isChecked())
        self.normalize.toggled.connect(self.peak_db.setEnabled)
        export_level = QHBoxLayout()
        export_level.addWidget(self.normalize)
        export_level.addWidget(self.peak_db)
        export_level.addStretch(1)
        form = QFormLayout(self)
        form.addRow("Audio output", self.audio)
        if audio_notice:
            notice = QLabel(audio_notice)
            notice.setWordWrap(True)
            notice.setStyleSheet("color: #d90")
            form.addRow("", notice)
        form.addRow("Audio block", self.block)
        form.addRow("Latency at most", self.latency)
        form.addRow("", self.held_loops)
        form.addRow("Phase reconstruction", self.phase)
        form.addRow("Default interpolation", self.interpolation)
        form.addRow("Export level", export_level)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def accept(self) -> None:
        self.settings.set("audio/device", int(self.audio.currentData()))
        self.settings.set("audio/block", int(self.block.currentData()))
        self.settings.set("audio/latency_blocks", int(self.latency.currentData()))
        self.settings.set("audio/held_loops", int(self.held_loops.isChecked()))
        self.settings.set("render/phase", self.phase.currentText())
        self.settings.set("render/interpolation", self.interpolation.currentText())
        self.settings.set("export/normalize", int(self.normalize.isChecked()))
        self.settings.set("export/peak_db", float(self.peak_db.value()))
        super().accept()
