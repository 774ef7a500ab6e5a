"""App tests run under a real X server (pytest-xvfb starts Xvfb when DISPLAY is unset): the 3-D
navigator needs a GL context, which the offscreen platform does not give."""
import os

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, Qt

# Each test opens its own window; shared GL contexts keep pyqtgraph's compiled shaders valid across them.
QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)


def pytest_collection_modifyitems(config, items):
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        skip = pytest.mark.skip(reason="the desktop app tests need a display: install xvfb (apt-get install xvfb)")
        for item in items:
            if "tests/app" in str(item.fspath):
                item.add_marker(skip)


class FakeStream:
    """Stands in for sounddevice.OutputStream: the test pulls blocks through the real callback."""

    instances: list = []

    def __init__(self, samplerate, channels, dtype, blocksize, device, callback, finished_callback):
        self.samplerate, self.blocksize, self.callback, self.finished = samplerate, blocksize, callback, finished_callback
        self.started = self.closed = False
        FakeStream.instances.append(self)

    def start(self):
        self.started = True

    def stop(self):
        self.started = False

    def close(self):
        self.closed = True

    def pull(self, engine, seconds: float) -> np.ndarray:
        """What the sound card would receive, pulled no faster than the engine's producer fills it."""
        import time

        blocks = []
        for _ in range(int(seconds * self.samplerate / self.blocksize)):
            deadline = time.monotonic() + 2.0
            while engine.write - engine.read < self.blocksize and time.monotonic() < deadline:
                time.sleep(0.001)
            out = np.zeros((self.blocksize, 1), dtype=np.float32)
            self.callback(out, self.blocksize, None, None)
            blocks.append(out[:, 0].copy())
        return np.concatenate(blocks)


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
    return window


@pytest.fixture
def window(qtbot, app_env):
    window = open_window(qtbot)
    yield window
    window.close()
    # No job may outlive the window: a running thread at exit crashes Qt or loses work.
    assert window.runner.pool.activeThreadCount() == 0
