"""The navigator as an instrument: in its default view, where you click sets the pitch, and up is higher."""
import numpy as np
from PySide6.QtCore import QPoint, Qt

from .conftest import FakeStream
from .test_app import SR, yin_midi


def decoded_midi(window) -> int:
    session, latent = window.sessions.current, window.navigation.cursor_latent
    probs = session.decode_symbols(latent[None])
    pitch_class = session.vocabulary["pitch_class"][int(probs["pitch_class"][0].argmax())]
    octave = session.vocabulary["octave"][int(probs["octave"][0].argmax())]
    return ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"].index(pitch_class) + 12 * (int(octave) + 1)


def test_eight_clicks_across_the_default_view_reach_many_pitches(window, qtbot):
    assert window.sessions.current.view.name == "labels"
    window.navigator.reset_view()
    view = window.navigator.view
    pitches = set()
    for fx, fy in ((0.3, 0.2), (0.5, 0.3), (0.7, 0.4), (0.4, 0.5), (0.6, 0.6), (0.3, 0.7), (0.5, 0.8), (0.7, 0.9)):
        with qtbot.waitSignal(window.navigation.cursorDecoded, timeout=10000):
            where = QPoint(int(fx * view.width()), int(fy * view.height()))
            qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=where)
        pitches.add(decoded_midi(window))
    assert len(pitches) >= 6, sorted(pitches)


def test_dragging_up_raises_the_pitch_you_hear(window, qtbot):
    view = window.navigator.view
    window.navigator.reset_view()
    stream = FakeStream.instances[-1]
    x = view.width() // 2
    heard = []
    for y in np.linspace(0.75, 0.25, 6) * view.height():  # a Shift+drag from low on the screen to high
        window.navigator.cursorRequested.emit(view.plane_point(x, y))
        audio = stream.pull(window.live.engine, int(0.7 * SR))
        heard.append(yin_midi(audio, 0.3, 0.7))
    steps = np.diff(heard)
    assert (steps > -0.5).all(), heard  # never lower than the step before (within a quarter tone of tracking)
    assert heard[-1] - heard[0] >= 7, heard  # and clearly higher at the top
