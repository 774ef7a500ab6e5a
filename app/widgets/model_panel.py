"""Open model sessions: which models are loaded, on which device, and the current one's card."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QListWidget, QPushButton, QVBoxLayout, QWidget

from .model_summary import ModelSummary


class ModelPanel(QWidget):
    openRequested = Signal()
    closeRequested = Signal(int)
    currentChanged = Signal(int)
    deviceChanged = Signal(str)

    def __init__(self, devices: list[str], parent=None):
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setMaximumHeight(90)
        self.device = QComboBox()
        self.device.addItems(devices)
        self.device.setToolTip("Where the next model opens (auto: CUDA when present, else CPU)")
        self.open_button = QPushButton("Open model…")
        self.close_button = QPushButton("Close")
        self.close_button.setToolTip("Close the selected model and release its memory")
        self.status = QLabel()
        self.summary = ModelSummary(None)
        row = QHBoxLayout()
        row.addWidget(QLabel("Device"))
        row.addWidget(self.device)
        row.addWidget(self.open_button)
        row.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.summary, 1)
        self.open_button.clicked.connect(self.openRequested)
        self.close_button.clicked.connect(lambda: self.closeRequested.emit(self.list.currentRow()))
        self.list.currentRowChanged.connect(self.currentChanged)
        self.device.currentTextChanged.connect(self.deviceChanged)

    def set_sessions(self, titles: list[str], current: int) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        self.list.addItems(titles)
        self.list.setCurrentRow(current)
        self.list.blockSignals(False)
        self.close_button.setEnabled(bool(titles))

    def chosen_device(self) -> str:
        return self.device.currentText() or "auto"

    def set_device(self, name: str) -> None:
        self.device.setCurrentText(name)

    def show_model(self, loaded, device: str = "", weight_bytes: int = 0) -> None:
        self.summary.show_model(loaded, device, weight_bytes)
