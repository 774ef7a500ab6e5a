"""Sound design in the app: the controller (A/B reconstructions, transfer, export, keyframes, playback)
without a window, with the shipped model, and its panel on its own."""
import threading
import time

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QWidget

from glissando.app.controllers.live_audio import LiveAudioController
from glissando.app.controllers.sound_design import SoundDesignController
from glissando.app.settings import Settings, export_peak_db
from glissando.app.widgets.sound_design_panel import SoundDesignPanel
from glissando.app.workers import JobRunner
from glissando.core.data.labels import INSTRUMENTS
from glissando.core.session import ModelSession
from glissando.core.trajectory import Keyframe

from .conftest import FakeStream

# The phrase of tests/core/test_sound_design.py: (start s, end s, MIDI, velocity), played by a clarinet.
PHRASE = [(0.1, 0.6, 62, 80), (0.7, 1.2, 67, 80), (1.3, 1.8, 64, 110), (1.9, 2.5, 69, 80)]
JOB_TIMEOUT_MS = 120000  # a few seconds each on 2 idle cores; generous for a loaded machine


@pytest.fixture(scope="module")
def session():
    s = ModelSession(device="cpu")
    yield s
    s.close()


@pytest.fixture(scope="module")
def clarinet_wav(tmp_path_factory, renderer):
    path = tmp_path_factory.mktemp("sound_design") / "clarinet.wav"
    sf.write(str(path), renderer.render_sequence(INSTRUMENTS["clarinet"].gm_program, PHRASE), renderer.sample_rate)
    return path


@pytest.fixture
def controller(qtbot, app_env, session):
    runner = JobRunner()
    settings = Settings()
    live = LiveAudioController(settings, FakeStream)
    c = SoundDesignController(runner, live, settings)
    c.set_session(session)
    yield c
    assert runner.shutdown(10000)
    assert live.shutdown()


def run_job(qtbot, controller, start):
    """Start a job and wait until it has ended (its result delivered); returns the seconds it took."""
    began = time.monotonic()
    with qtbot.waitSignal(controller.busyChanged, timeout=JOB_TIMEOUT_MS, check_params_cb=lambda busy: not busy):
        assert start() is not None
    return time.monotonic() - began


def test_a_sound_is_reconstructed_transferred_exported_and_taken_as_keyframes(qtbot, controller, session,
                                                                               clarinet_wav, tmp_path, monkeypatch):
    from glissando.core.transcribe import transcribe

    calls = []
    monkeypatch.setattr(session, "torch_call_hook",
                        lambda name: calls.append((name, threading.current_thread() is threading.main_thread())))
    shown, paths, notices = [], [], []
    controller.versionsChanged.connect(shown.append)
    controller.soundPathReady.connect(lambda times, latents: paths.append((times, latents)))
    controller.notice.connect(lambda text, error: notices.append((text, error)))
    seconds = run_job(qtbot, controller, lambda: controller.open(clarinet_wav))
    duration = len(controller.versions["original"].audio) / 22050
    print(f"open (reconstructions, path, notes) of {duration:.1f} s of audio: {seconds:.2f} s")
    assert not [n for n in notices if n[1]], notices

    convergence = shown[-1]
    assert list(convergence) == ["original", "NSGT inverse", "model"]
    assert convergence["original"] == 0.0
    assert convergence["NSGT inverse"] < 0.05  # the transform alone keeps the sound
    assert np.isfinite(convergence["model"]) and 0 < convergence["model"] < 2
    original = controller.versions["original"].audio
    assert all(len(v.audio) == len(original) for v in controller.versions.values())
    times, latents = paths[-1]
    assert latents.shape == (len(times), session.config.latent_dim) and times[-1] <= len(original) / 22050
    assert [n.midi for n in controller.notes] == [midi for _, _, midi, _ in PHRASE]

    with qtbot.waitSignal(controller.keyframesReady) as ready:
        keyframes = controller.keyframes_from_path()
    assert [k.latent.tolist() for k in ready.args[0]] == [k.latent.tolist() for k in keyframes]
    assert len(keyframes) == len(controller.notes) == len(PHRASE)
    assert all(isinstance(k, Keyframe) and k.latent.shape == (session.config.latent_dim,) for k in keyframes)
    starts = [n.start for n in controller.notes]
    assert [k.duration for k in keyframes[:-1]] == pytest.approx(np.diff(starts))  # marker to the next note
    assert all(0 < k.glide <= 0.05 for k in keyframes)
    assert [k.label["midi"] for k in keyframes] == [midi for _, _, midi, _ in PHRASE]

    transfers = []
    controller.transferred.connect(lambda instrument, warnings: transfers.append(instrument))
    seconds = run_job(qtbot, controller, lambda: controller.transfer("cello"))
    print(f"transfer to cello (shift): {seconds:.2f} s")
    assert transfers == ["cello"] and "transfer" in shown[-1] and shown[-1]["transfer"] is None
    audio = controller.versions["transfer"].audio
    # Everything so far ran the model on workers only; the check below transcribes here, as a test may.
    assert calls and not [name for name, on_gui in calls if on_gui], calls
    assert abs(len(audio) - len(original)) <= 0.01 * 22050  # the source's length, within a frame step
    heard = tmp_path / "transfer-as-heard.wav"
    sf.write(str(heard), audio, 22050)
    notes, _ = transcribe(session, heard)
    named = [n.instrument for n in notes]
    assert named and named.count("cello") >= 0.75 * len(named), named

    controller.settings.set("export/peak_db", -3.0)
    out = controller.export("transfer", tmp_path / "cello.wav")
    assert out is not None and not list(tmp_path.glob("*.tmp*"))  # atomic: no temporary file left behind
    written, rate = sf.read(str(out))
    assert rate == 22050 and len(written) == len(audio)
    peak_db = 20 * np.log10(np.max(np.abs(written)))
    assert abs(peak_db - export_peak_db(controller.settings)) < 1.0 and abs(peak_db + 3.0) < 1.0


def test_versions_play_through_the_live_engine_and_switch_at_the_same_point(qtbot, controller, session,
                                                                           clarinet_wav):
    live = controller.live
    with qtbot.waitSignal(live.started, timeout=30000):
        live.start_for(session)
    run_job(qtbot, controller, lambda: controller.open(clarinet_wav))
    positions, playing = [], []
    controller.playbackPosition.connect(positions.append)
    controller.playingChanged.connect(playing.append)
    controller.play("original")
    played = FakeStream.instances[-1].pull(live.engine, int(0.5 * 22050))
    assert np.abs(played).max() > 0.05  # the sound card receives the clip
    qtbot.waitUntil(lambda: len(positions) >= 5, timeout=5000)
    assert playing == ["original"] and positions == sorted(positions) and positions[-1] > 0
    controller.select("model")  # A/B: the model's version takes over where the original was
    assert playing[-1] == "model" and controller.position() >= positions[-1] - 0.001
    controller.stop()
    assert playing[-1] == "" and not controller.position_timer.isActive()
    z = controller.latent_at(1.0)
    assert z is not None and z.shape == (session.config.latent_dim,)


def test_a_cancelled_open_leaves_nothing_half_done(qtbot, controller, clarinet_wav):
    cancelled = []
    controller.versionsChanged.connect(cancelled.append)
    with qtbot.waitSignal(controller.busyChanged, timeout=JOB_TIMEOUT_MS, check_params_cb=lambda busy: not busy):
        controller.open(clarinet_wav)
        controller.cancel()
    assert controller.versions == {} and controller.source is None and cancelled == []
    assert controller.keyframes_from_path() == []


def test_the_panel_asks_for_everything_and_fits_a_narrow_dock(qtbot, tmp_path):
    panel = SoundDesignPanel()
    qtbot.addWidget(panel)
    panel.set_model(["cello", "french_horn", "violin"], ["pp", "mf", "ff"])
    assert [panel.instrument.itemText(i) for i in range(3)] == ["cello", "french horn", "violin"]
    assert [panel.dynamics.itemText(i) for i in range(4)] == ["keep", "pp", "mf", "ff"]
    assert not panel.transfer_button.isEnabled() and not panel.play_button.isEnabled()  # nothing opened yet

    with qtbot.waitSignal(panel.openRequested):
        panel.open_button.click()
    dropped = tmp_path / "drop.wav"
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "notes.txt")), QUrl.fromLocalFile(str(dropped))])
    with qtbot.waitSignal(panel.fileDropped) as drop:
        panel.dropEvent(QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                   Qt.KeyboardModifier.NoModifier))
    assert drop.args == [dropped]

    panel.show_file(dropped, 2.5, 4)
    panel.show_versions({"original": 0.0, "NSGT inverse": 0.012, "model": 0.674})
    assert panel.version_buttons["model"].text() == "model\nSC 0.67"
    assert panel.version_buttons["NSGT inverse"].text() == "NSGT inverse\nSC 0.01"
    assert not panel.version_buttons["transfer"].isEnabled()
    panel.instrument.setCurrentIndex(1)
    panel.dynamics.setCurrentText("ff")
    panel.method.setCurrentText("notes")
    assert not panel.expression.isEnabled()  # only the shift method keeps the source's detail
    panel.method.setCurrentText("shift")
    panel.expression.setValue(0.3)
    with qtbot.waitSignal(panel.transferRequested) as asked:
        panel.transfer_button.click()
    assert asked.args == ["french_horn", "ff", "shift", pytest.approx(0.3)]

    with qtbot.waitSignal(panel.versionChosen) as chosen:
        panel.version_buttons["model"].click()
    assert chosen.args == ["model"]
    for button, signal, args in ((panel.play_button, panel.playRequested, ["model"]),
                                 (panel.export_button, panel.exportRequested, ["model"]),
                                 (panel.keyframes_button, panel.keyframesRequested, [])):
        with qtbot.waitSignal(signal) as got:
            button.click()
        assert got.args == args
    panel.set_playing("model")
    with qtbot.waitSignal(panel.stopRequested):
        panel.stop_button.click()
    panel.set_busy(True)
    assert not panel.transfer_button.isEnabled() and not panel.open_button.isEnabled()
    with qtbot.waitSignal(panel.cancelRequested):
        panel.cancel_button.click()
    panel.set_busy(False)
    panel.show_versions({"original": 0.0, "NSGT inverse": 0.012, "model": 0.674, "transfer": None})
    panel.show_transfer("french_horn", [])
    assert panel.version_buttons["transfer"].isEnabled() and "french horn" in panel.version_buttons["transfer"].text()

    # A side dock on a 1366x768 laptop: 400 px wide at most, with nothing cut off.
    assert panel.minimumSizeHint().width() <= 400
    panel.resize(400, max(panel.minimumSizeHint().height(), 600))
    panel.show()
    qtbot.waitExposed(panel)
    for child in panel.findChildren(QWidget):
        if child.isVisible():
            corner = child.mapTo(panel, QPoint(child.width(), child.height()))
            assert child.mapTo(panel, QPoint(0, 0)).x() >= 0 and corner.x() <= 400, child
