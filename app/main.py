"""Entry point of the desktop app (``glissando gui``)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional


def run_app(model: Optional[str] = None, screenshot: Optional[Path] = None) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from glissando.core.jobs import GlissandoError
    from glissando.core.models.modelfile import load_model

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Glissando")
    try:
        loaded = load_model(model)
    except GlissandoError as exc:
        if screenshot:
            raise
        QMessageBox.critical(None, "Glissando", str(exc))
        return 2
    window = MainWindow(loaded)
    window.show()
    if screenshot:
        def grab_and_quit():
            window.grab().save(str(screenshot))
            app.quit()

        QTimer.singleShot(300, grab_and_quit)
    return app.exec()
