import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from glissando.app.main_window import MainWindow
from glissando.core.models.modelfile import load_model


def test_window_opens_on_the_default_model(qtbot):
    window = MainWindow(load_model())
    qtbot.addWidget(window)
    window.show()
    text = window.centralWidget().text()
    assert "flute" in text and "Held-out signal→symbol accuracy" in text
    assert "default" in window.windowTitle()
