"""The main window. For now it shows the loaded model; the navigator, pickers, trajectory editor,
MIDI and transcription panels arrive with the desktop-app issue."""
from __future__ import annotations

from PySide6.QtWidgets import QMainWindow

from .widgets.model_summary import ModelSummary


class MainWindow(QMainWindow):
    def __init__(self, loaded):
        super().__init__()
        self.loaded = loaded
        self.setWindowTitle(f"Glissando — {loaded.path.parent.name}")
        self.setCentralWidget(ModelSummary(loaded, self))
        self.statusBar().showMessage(f"Model: {loaded.path}")
        self.resize(720, 520)
