"""Entry point of the desktop app (``glissando gui``)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

SCREENSHOT_SETTLE_MS = 700  # after the model is in, let the 3-D view draw a few frames


def run_app(model: Optional[str] = None, screenshot: Optional[Path] = None) -> int:
    from PySide6.QtCore import QCoreApplication, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

    # Several GL views (and the screenshot's offscreen grab) then share one set of GL resources.
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Glissando")
    app.setOrganizationName("Glissando")
    window = MainWindow(model)
    window.show()
    if screenshot:
        status = {"code": 0}

        def grab_and_quit():
            window.grab().save(str(screenshot))
            window.close()
            app.quit()

        def give_up_if_no_model(text: str):
            # A remembered model that fails falls back to the default; only when nothing is left loading
            # and no model is in does the screenshot stop, as an error.
            if window.sessions.current is None and window.sessions.loading == 0:
                print(f"glissando: {text}", file=sys.stderr)
                status["code"] = 2
                window.close()
                app.quit()

        window.sessionReady.connect(lambda: QTimer.singleShot(SCREENSHOT_SETTLE_MS, grab_and_quit))
        window.jobFinished.connect(lambda name: name == "model" and give_up_if_no_model(window.banner.text()))
        app.exec()
        return status["code"]
    return app.exec()
