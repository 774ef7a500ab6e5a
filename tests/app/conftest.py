"""App tests run under a real X server (pytest-xvfb starts Xvfb when DISPLAY is unset): the 3-D
navigator needs a GL context, which the offscreen platform does not give."""
import os

import pytest
from PySide6.QtCore import QCoreApplication, Qt

from glissando.core.playback import PulledStream

# Each test opens its own window; shared GL contexts keep pyqtgraph's compiled shaders valid across them.
QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)


def pytest_collection_modifyitems(config, items):
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        skip = pytest.mark.skip(reason="the desktop app tests need a display: install xvfb (apt-get install xvfb)")
        for item in items:
            if "tests/app" in str(item.fspath):
                item.add_marker(skip)


class FakeStream(PulledStream):
    """The window's output stream in tests: the test pulls what the sound card would receive."""

    instances: list = []

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        FakeStream.instances.append(self)


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    monkeypatch.setenv("GLISSANDO_SETTINGS", str(tmp_path / "settings.ini"))
    monkeypatch.setenv("GLISSANDO_DATA_DIR", str(tmp_path / "data"))
    FakeStream.instances.clear()
    return tmp_path


def open_window(qtbot, model=None):
    from glissando.app.main_window import MainWindow

    window = MainWindow(model, stream_factory=FakeStream)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.sessionReady, timeout=60000):
        window.show()
    # The cursor's first place and its decoded views come from the decoder thread.
    qtbot.waitUntil(lambda: window.navigation.cursor_latent is not None and window.spectrum.magnitudes.size > 0,
                    timeout=10000)
    return window


@pytest.fixture
def window(qtbot, app_env):
    window = open_window(qtbot)
    yield window
    window.close()
    # No job may outlive the window: a running thread at exit crashes Qt or loses work.
    assert window.runner.pool.activeThreadCount() == 0 and window.decoder.pool.activeThreadCount() == 0
