"""Controllers on their own (no window), and the threading rules the window relies on."""
import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from glissando.app.controllers.live_audio import LiveAudioController
from glissando.app.controllers.midi_render import MidiRenderController
from glissando.app.controllers.sessions import SessionsController
from glissando.app.controllers.trajectory import TrajectoryController
from glissando.app.settings import Settings
from glissando.app.workers import JobRunner
from glissando.core.session import ModelSession
from glissando.core.trajectory import Trajectory

from .conftest import FakeStream, open_window

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture
def runners(app_env):
    runner, decoder = JobRunner(), JobRunner(max_threads=1)
    yield runner, decoder
    for r in (runner, decoder):
        assert r.shutdown(10000)


@pytest.fixture(scope="module")
def session():
    s = ModelSession()
    yield s
    s.close()


def test_trajectory_controller_edits_undoes_and_autosaves_without_a_window(qtbot, runners, session):
    runner, decoder = runners
    settings = Settings()
    controller = TrajectoryController(runner, decoder, LiveAudioController(settings, FakeStream), settings)
    controller.set_session(session)
    with qtbot.waitSignal(controller.previewReady, timeout=10000):
        for midi in (60, 64, 67):
            label = {"midi": midi, "dynamics": "mf", "instrument": "flute"}
            controller.add_latent(session.label_latent(midi, "mf", "flute"), label)
    assert [k.label["midi"] for k in controller.document.keyframes] == [60, 64, 67]
    controller.move_boundary(1, 0.6)
    assert [k.duration for k in controller.document.keyframes] == pytest.approx([0.6, 1.4, 1.0])
    controller.undo_stack.undo()
    controller.undo_stack.undo()
    assert len(controller.document.keyframes) == 2
    qtbot.waitUntil(lambda: controller.autosave_path().exists(), timeout=5000)
    assert len(Trajectory.load(controller.autosave_path()).keyframes) == 2


def test_closing_a_model_while_it_renders_cancels_the_render_first(qtbot, runners):
    runner, decoder = runners
    settings = Settings()
    sessions = SessionsController(runner, settings, other_runners=(decoder,))
    with qtbot.waitSignal(sessions.currentChanged, timeout=60000):
        sessions.open()
    session = sessions.current
    midi = MidiRenderController(runner, settings)
    notices = []
    midi.notice.connect(lambda text, error: notices.append(text))
    midi.set_session(session)
    assert midi.open(ROOT / "resources" / "demo" / "melody.mid")
    job = midi.render()
    qtbot.waitUntil(lambda: job.is_running, timeout=30000)
    with qtbot.waitSignal(job.finished, timeout=30000):
        sessions.close_session(0)
    assert session.closed and sessions.current is None and midi.audio is None
    assert job.is_cancelled  # cancelled before the model went away, so no torch error reached the user
    assert not any("unexpectedly" in n for n in notices)


def test_the_gui_thread_never_runs_a_torch_call(qtbot, app_env, monkeypatch):
    calls = []
    def record(name):
        calls.append((name, threading.current_thread() is threading.main_thread()))

    monkeypatch.setattr(ModelSession, "torch_call_hook", staticmethod(record))
    window = open_window(qtbot)
    window.picker.set_current(62, "mf", "oboe")
    with qtbot.waitSignal(window.live.audioRendered, timeout=30000):
        window.picker.play_button.click()
    view = window.navigator.view
    centre = window.navigator.cursor
    with qtbot.waitSignal(window.navigation.cursorDecoded, timeout=5000):
        window.navigator.cursorRequested.emit(centre + np.array([0.5, 0.2, 0.0]))
    window.navigator.pathDrawn.emit(np.linspace(0, 1, 6), centre + np.linspace(0, 1, 6)[:, None] * [[1.0, 0, 0]])
    with qtbot.waitSignal(window.trajectory.previewReady, timeout=10000):
        window.picker.add_button.click()
    window.editor.select(2)
    assert window.open_midi(ROOT / "resources" / "demo" / "melody.mid")
    qtbot.wait(300)
    window.close()
    assert view is not None and {name for name, _ in calls} >= {"decode_magnitudes", "label_distribution"}
    assert [name for name, on_gui in calls if on_gui] == []


def test_a_continuous_drag_decodes_throttled_and_ends_on_the_last_position(qtbot, app_env):
    """How long each event takes is measured by bench/ui_responsiveness.py; here, what the user sees."""
    window = open_window(qtbot)
    decoded = []
    window.navigation.cursorDecoded.connect(lambda f, mags, p: decoded.append(mags))
    start = window.navigator.cursor.copy()
    moves = 60
    for i in range(moves):  # a mouse drag: an event every few milliseconds, each moving the cursor a little
        window.navigator.cursorRequested.emit(start + np.array([np.sin(i / 20), np.cos(i / 30), 0.0]))
        qtbot.wait(3)
    expected = window.sessions.current.decode_magnitudes(window.navigation.cursor_latent[None])[0]
    # The views end on the last position (the throttle's trailing decode), whatever the machine's load.
    qtbot.waitUntil(lambda: np.allclose(window.spectrum.magnitudes, expected, rtol=1e-4, atol=1e-6), timeout=10000)
    assert 1 < len(decoded) < moves  # the views refresh while dragging, but not once per mouse event
    window.close()


class SlowStream(FakeStream):
    """A sound card that takes a second to open, as PortAudio's can: the engine's start waits for it."""

    def __init__(self, **kwargs):
        time.sleep(1.0)
        super().__init__(**kwargs)


def test_the_engine_starts_on_a_worker_and_plays_what_came_meanwhile(qtbot, app_env, session):
    live = LiveAudioController(Settings(), SlowStream)
    states, ticks, notices, started_at = [], [], [], []
    live.stateChanged.connect(lambda text, tip: states.append(text))
    live.notice.connect(lambda text, error: notices.append(text))
    live.started.connect(lambda: started_at.append(time.monotonic()))
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(20)
    began = time.monotonic()
    live.start_for(session)
    assert time.monotonic() - began < 0.5  # it returned long before the stream opened
    assert live.engine is None and live.session is session and "starting audio" in states[-1]
    live.play_rendered(np.zeros(2205, dtype=np.float32))  # a picked note's render, kept for the engine
    live.follow(session.label_latent(67, "mf", "trumpet"))  # the cursor moved while audio was starting
    with qtbot.waitSignal(live.started, timeout=30000):
        pass
    timer.stop()
    # The event loop kept running through the start: a stream that takes a second to open, a process spawned.
    assert started_at[0] - began >= 1.0
    assert len([t for t in ticks if t < started_at[0]]) >= 10
    assert "on" in states[-1] and notices == []
    played = FakeStream.instances[-1].pull(live.engine, int(0.6 * 22050))
    assert np.abs(played[-2000:]).max() > 1e-3  # the target that came during the start sounds
    assert live.shutdown()


def test_closing_while_the_engine_starts_leaves_nothing_running(qtbot, app_env, session):
    import multiprocessing

    live = LiveAudioController(Settings(), SlowStream)
    live.start_for(session)
    assert live.starting is not None
    live.follow(session.label_latent(60, "mf", "flute"))
    assert live.shutdown(30000)  # waits for the start, whose engine is then stopped on the worker
    assert live.engine is None and live.starting is None and live.pending_target is None
    qtbot.wait(50)
    assert [p for p in multiprocessing.active_children() if p.name == "glissando-synthesis"] == []


def test_a_restart_while_starting_keeps_only_the_newest_engine(qtbot, app_env, session):
    import multiprocessing

    live = LiveAudioController(Settings(), SlowStream)
    live.start_for(session)
    live.start_for(session)  # new preferences before the first start finished
    with qtbot.waitSignal(live.started, timeout=30000):
        pass
    engine = live.engine
    assert engine is not None and engine.started
    qtbot.wait(100)
    assert len([p for p in multiprocessing.active_children() if p.name == "glissando-synthesis"]) <= 1
    assert live.shutdown()
    assert not engine.started
