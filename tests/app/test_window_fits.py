"""The window on a laptop screen, and its keyboard shortcuts."""
from collections import Counter

from PySide6.QtCore import QRect
from PySide6.QtGui import QAction, QKeySequence


def test_every_panel_is_reachable_at_1366x768(window, qtbot, app_env):
    hint = window.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 640, hint
    window.resize(1366, 740)  # a 1366x768 screen less a panel
    qtbot.waitUntil(lambda: window.height() <= 740, timeout=5000)
    inside = QRect(0, 0, window.width(), window.height())
    for name, dock in window.docks.items():
        dock.raise_()
        qtbot.wait(50)
        top_left = dock.mapTo(window, dock.rect().topLeft())
        assert dock.isVisible() and inside.contains(QRect(top_left, dock.size())), name
        assert dock.height() >= 120, f"{name} is squeezed to {dock.height()} px"
    window.docks["transcription"].raise_()
    qtbot.wait(100)
    shot = app_env / "1366x768.png"
    assert window.grab().save(str(shot)) and shot.stat().st_size > 10000


def test_no_shortcut_is_bound_twice(window):
    bindings = Counter(sequence.toString() for action in window.findChildren(QAction)
                       for sequence in action.shortcuts() if not sequence.isEmpty())
    assert [key for key, count in bindings.items() if count > 1] == []
    for needed in ("Ctrl+Z", "Ctrl+O", "Ctrl+S", "Ctrl+Q", "Esc"):
        assert QKeySequence(needed).toString() in bindings, needed
    assert {"Ctrl+Shift+Z", "Ctrl+Y"} & set(bindings) and "Ctrl+," in bindings


def test_any_change_in_the_labels_panel_moves_the_cursor(window, qtbot):
    import numpy as np
    from PySide6.QtCore import Qt

    picker, session = window.picker, window.sessions.current
    picker.set_current(60, "mf", "flute")
    picker.instrument.setCurrentText("oboe")
    picker.instrument.activated.emit(picker.instrument.currentIndex())  # what choosing it with the mouse sends
    oboe, _ = session.label_distribution(60, "mf", "oboe")
    qtbot.waitUntil(lambda: np.allclose(window.navigation.cursor_latent, oboe, atol=1e-5), timeout=10000)
    picker.octave.setValue(5)
    high, _ = session.label_distribution(72, "mf", "oboe")
    qtbot.waitUntil(lambda: np.allclose(window.navigation.cursor_latent, high, atol=1e-5), timeout=10000)
    picker.octave.setFocus()
    qtbot.keyClick(picker.octave, Qt.Key.Key_D)  # E on the computer keyboard's piano, the octave box focused
    e5, _ = session.label_distribution(76, "mf", "oboe")
    qtbot.waitUntil(lambda: np.allclose(window.navigation.cursor_latent, e5, atol=1e-5), timeout=10000)
