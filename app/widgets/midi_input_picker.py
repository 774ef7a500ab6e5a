"""Live MIDI input: choose a port; its keyboard then plays the label picker's instrument."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

NONE = "(no MIDI input)"


class MidiInputPicker(QWidget):
    portChosen = Signal(str)  # "" for none
    refreshRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.ports = QComboBox()
        self.ports.setToolTip("A MIDI keyboard: note on/off play the chosen instrument, velocity sets the "
                              "dynamics, the mod wheel moves along the direction set in the navigator")
        self.refresh = QPushButton("Refresh")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: gray")
        row = QHBoxLayout()
        row.addWidget(QLabel("MIDI in"))
        row.addWidget(self.ports, 1)
        row.addWidget(self.refresh)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self.ports.activated.connect(lambda _: self.portChosen.emit(self._chosen()))
        self.refresh.clicked.connect(self.refreshRequested)
        self.set_ports([], "")

    def _chosen(self) -> str:
        return "" if self.ports.currentText() == NONE else self.ports.currentText()

    def show_status(self, text: str) -> None:
        self.status.setText(text)

    def set_ports(self, names: list[str], notice: str, current: str = "") -> None:
        self.ports.clear()
        self.ports.addItems([NONE] + names)
        if current in names:
            self.ports.setCurrentText(current)
        self.ports.setEnabled(bool(names))
        self.status.setText(notice or (f"{len(names)} port(s)" if names else "no MIDI input ports"))
