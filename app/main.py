"""Entry point of the desktop app (``glissando gui``).

A launch is mostly imports: torch and the engine's modules, then PySide6, pyqtgraph and its GL view.
The engine's come first: once PySide6 is imported, its import hook reads the source of every module
imported after it (to see whether it uses PySide's __feature__ switches), which made torch's import of
about 900 modules 0.2 s slower. (Importing the two sides on two threads gained nothing measurable: both
are interpreter-bound.) The model then loads on a worker behind the window (bench/launch.py measures
the whole). What the window does not need to show is left out: scipy.fft (the render's transforms, a
tenth of a launch) is imported on a worker after the model is in (controllers/sessions.py).

The garbage collector waits until the first model is in: a launch allocates millions of objects that
all live as long as the app (modules, widgets, the network), and each full collection walked them all
again, a sixth of the launch (measured with gc.callbacks: 4 full and ~500 young collections).
"""
from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

SCREENSHOT_SETTLE_MS = 700  # after the model is in, let the 3-D view draw a few frames


def open_window(model: Optional[str] = None) -> tuple["QApplication", "MainWindow"]:
    """The application and its shown window; the model (``model`` or the remembered one) loads behind it."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        app, window = _open_window(model)
    except BaseException:
        if collecting:
            gc.enable()
        raise
    if collecting:
        def collect_again() -> None:
            if window.sessions.loading == 0:
                gc.enable()

        window.sessions.sessionsChanged.connect(collect_again)
    return app, window


def _import_engine() -> None:
    """What main_window imports that needs torch, and what a model's load imports (its worker then imports
    nothing while the GUI thread builds the window): called before PySide6 is imported (see the module's
    docstring)."""
    import safetensors.torch  # noqa: F401
    import torch.utils._device  # noqa: F401  -- imported by the first `with torch.device(...)`, in load_model

    import glissando.core.render  # noqa: F401
    import glissando.core.session  # noqa: F401
    import glissando.core.transcribe  # noqa: F401
    import glissando.core.views  # noqa: F401


def _open_window(model: Optional[str]) -> tuple["QApplication", "MainWindow"]:
    _import_engine()
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtWidgets import QApplication

    # Several GL views (and the screenshot's offscreen grab) then share one set of GL resources.
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Glissando")
    app.setOrganizationName("Glissando")
    from .main_window import MainWindow

    window = MainWindow(model)
    window.show()
    return app, window


def run_app(model: Optional[str] = None, screenshot: Optional[Path] = None) -> int:
    from PySide6.QtCore import QTimer

    app, window = open_window(model)
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
