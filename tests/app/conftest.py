"""App tests run under a real X server (pytest-xvfb starts Xvfb when DISPLAY is unset): the 3-D
navigator needs a GL context, which the offscreen platform does not give. Without a display they are
skipped, and a line under the results says so; where GLISSANDO_REQUIRE_DISPLAY is set (CI) they error."""
import os

import pytest
from PySide6.QtCore import QCoreApplication, Qt

from glissando.core.playback import PulledStream

# Each test opens its own window; shared GL contexts keep pyqtgraph's compiled shaders valid across them.
QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)


NO_DISPLAY = "no display (install xvfb: apt-get install xvfb; pytest-xvfb then starts it)"
# CI sets this (.ci/run): there a missing display is a broken set-up, so the app tests error instead of skipping.
REQUIRE_DISPLAY = "GLISSANDO_REQUIRE_DISPLAY"


def no_display() -> bool:
    return not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")


def is_app_test(item) -> bool:
    return "tests/app" in item.path.as_posix()


def pytest_collection_modifyitems(config, items):
    if no_display() and not os.environ.get(REQUIRE_DISPLAY):
        skip = pytest.mark.skip(reason=NO_DISPLAY)
        for item in items:
            if is_app_test(item):
                item.add_marker(skip)


def pytest_runtest_setup(item):
    # Before any fixture: a QApplication without a display aborts the whole process.
    if is_app_test(item) and no_display() and os.environ.get(REQUIRE_DISPLAY):
        pytest.fail(f"{REQUIRE_DISPLAY} is set and there is {NO_DISPLAY}", pytrace=False)


def pytest_terminal_summary(terminalreporter):
    """One plain line under the results when the app tests were skipped, which `-q` alone would hide
    in the count of skipped tests."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if NO_DISPLAY in str(r.longrepr)]
    if skipped:
        terminalreporter.write_line(f"SKIPPED {len(skipped)} desktop app tests: {NO_DISPLAY}", yellow=True,
                                    bold=True)


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
    wait_for_audio(qtbot, window)
    return window


def wait_for_audio(qtbot, window):
    """The live engine starts on a worker after the model is in (or after new audio preferences)."""
    qtbot.waitUntil(lambda: window.live.engine is not None and window.live.starting is None, timeout=30000)


@pytest.fixture
def window(qtbot, app_env):
    window = open_window(qtbot)
    yield window
    window.close()
    # No job may outlive the window: a running thread at exit crashes Qt or loses work.
    assert window.runner.pool.activeThreadCount() == 0 and window.decoder.pool.activeThreadCount() == 0
