"""Preferences: audio output device, block size and latency, held loops, phase reconstruction, default interpolation."""
from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel

from glissando.core.interpolation import MODES
from glissando.core.render import PHASE_METHODS
from glissando.core.spectral import SpectralConfig

from ..controllers.live_audio import BLOCK_SIZES, LATENCY_BLOCKS


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
        super().accept()
