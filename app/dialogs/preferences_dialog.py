"""Preferences: audio output device, phase reconstruction, default interpolation."""
from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel

from glissando.core.paths import MODES
from glissando.core.render import PHASE_METHODS


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
        self.phase = QComboBox()
        self.phase.addItems(list(PHASE_METHODS))
        self.phase.setCurrentText(settings.get("render/phase"))
        self.phase.setToolTip("fast: phase-locked start and one fast Griffin-Lim pass (the default); "
                              "gl30: the paper's 30 Griffin-Lim iterations, many times slower")
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
        form.addRow("Phase reconstruction", self.phase)
        form.addRow("Default interpolation", self.interpolation)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def accept(self) -> None:
        self.settings.set("audio/device", int(self.audio.currentData()))
        self.settings.set("render/phase", self.phase.currentText())
        self.settings.set("render/interpolation", self.interpolation.currentText())
        super().accept()
