"""The banner at the top of the window: the latest notice, never a blocking dialog."""
from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

ERROR_STYLE = "background: #5a2a1a; color: white; padding: 6px; border-radius: 3px"
INFO_STYLE = "background: #1a3a5a; color: white; padding: 6px; border-radius: 3px"


class NoticeBanner(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.close_button = QPushButton("✕")
        self.close_button.setFixedWidth(28)
        self.close_button.setToolTip("Dismiss")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.close_button)
        self.close_button.clicked.connect(lambda: self.setVisible(False))
        self.setVisible(False)

    def show_notice(self, text: str, error: bool = True) -> None:
        self.label.setStyleSheet(ERROR_STYLE if error else INFO_STYLE)
        self.label.setText(text)
        self.setVisible(True)

    def text(self) -> str:
        return self.label.text()
