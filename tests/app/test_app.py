"""The desktop app on the shipped default model, driven as a user would, under Xvfb."""
import time

import mido
import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent

from glissando.core.interpolation import MODES
from glissando.core.trajectory import Trajectory

from .conftest import FakeStream, open_window, wait_for_audio

SR = 22050
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def yin_midi(audio, start, end):
    import librosa

    seg = np.asarray(audio[int(start * SR) : int(end * SR)], dtype=np.float64)
    f0 = librosa.yin(seg, fmin=60, fmax=2000, sr=SR, frame_length=2048)
    return float(np.median(librosa.hz_to_midi(f0)))


def drop(window, path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def event_loop_ticks():
    """The times a 10 ms timer fired: the event loop turned each time."""
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(10)
    return ticks, timer


def add_keyframes(qtbot, window, *labels):
    """Keyframes from label sets, as the picker's Add button makes them (their latents come from a worker)."""
    expected = len(window.trajectory.document.keyframes) + len(labels)
    for midi, dynamics, instrument in labels:
        window.trajectory.add_label(midi, dynamics, instrument)
    qtbot.waitUntil(lambda: len(window.trajectory.document.keyframes) == expected, timeout=10000)


def wait_job(qtbot, window, name, action, timeout=120000):
    with qtbot.waitSignal(window.jobFinished, timeout=timeout, check_params_cb=lambda n: n == name):
        action()


def test_navigator_shows_the_default_models_points(window):
    assert len(window.navigator.points_item.pos) == len(window.sessions.current.view.points) > 1000
    assert window.sessions.current.path.parent.name == "default"
    image = window.navigator.view.grabFramebuffer()
    pixels = np.array([[image.pixelColor(x, y).getRgb()[:3] for x in range(0, image.width(), 4)]
                       for y in range(0, image.height(), 4)]).reshape(-1, 3)
    background = np.array([18, 18, 24])
    drawn = np.abs(pixels - background).sum(1) > 60
    assert drawn.mean() > 0.02  # the cloud is on screen, not a blank GL view
    hues = {tuple(p // 64) for p in pixels[drawn]}
    assert len(hues) >= 6  # coloured by pitch class, not one colour


def test_picking_c4_mf_flute_places_the_cursor_and_sounds_c4(window, qtbot):
    window.picker.set_current(60, "mf", "flute")
    with qtbot.waitSignal(window.live.audioRendered, timeout=30000) as sent:
        window.picker.play_button.click()
    mean, _ = window.sessions.current.label_distribution(60, "mf", "flute")
    qtbot.waitUntil(lambda: np.allclose(window.navigation.cursor_latent, mean, atol=1e-5), timeout=5000)
    np.testing.assert_allclose(window.navigator.cursor, window.sessions.current.project_3d(mean[None])[0], atol=1e-4)
    assert window.navigator.target_item.visible()
    audio, rate = sent.args[0]
    assert rate == SR and abs(yin_midi(audio, 0.1, 0.7) - 60) < 0.5
    c = window.sessions.current.vocabulary["pitch_class"].index("C")
    qtbot.waitUntil(lambda: window.bars.heights("pitch_class").argmax() == c, timeout=5000)
    played = FakeStream.instances[-1].pull(window.live.engine, int(0.8 * SR))  # what the sound card receives
    assert abs(yin_midi(played, 0.15, 0.6) - 60) < 0.5


def test_moving_the_cursor_drives_the_live_sound(window, qtbot):
    stream = FakeStream.instances[-1]
    window.navigation.set_cursor(window.sessions.current.label_latent(67, "mf", "trumpet"))
    assert abs(yin_midi(stream.pull(window.live.engine, int(0.8 * SR)), 0.3, 0.8) - 67) < 0.5
    window.navigation.set_cursor(window.sessions.current.label_latent(60, "mf", "trumpet"))
    assert abs(yin_midi(stream.pull(window.live.engine, int(0.8 * SR)), 0.3, 0.8) - 60) < 0.5
    window.live.stop_sound()
    assert np.abs(stream.pull(window.live.engine, int(0.5 * SR))[-2000:]).max() < 1e-3


def test_clicking_and_keys_move_the_cursor_and_update_the_views(window, qtbot):
    before = window.navigation.cursor_latent.copy()
    spectrum_before = window.spectrum.magnitudes.copy()
    view = window.navigator.view
    with qtbot.waitSignal(window.navigation.cursorDecoded, timeout=5000):  # decoded off the GUI thread
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(view.width() // 2 + 60, view.height() // 2 - 40))
    assert not np.allclose(window.navigation.cursor_latent, before)
    assert not np.allclose(window.spectrum.magnitudes, spectrum_before)
    on_screen = window.sessions.current.project_3d(window.navigation.cursor_latent[None])[0]
    np.testing.assert_allclose(on_screen, window.navigator.cursor, atol=1e-3)
    at = window.navigator.cursor.copy()
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Right)
    moved = window.navigator.cursor - at
    right, up, _ = view.screen_axes()
    assert moved @ right == pytest.approx(view.key_step, rel=1e-3) and abs(moved @ up) < 1e-4

    def on_screen(point):  # pixel x, y of a scene point
        viewport = (0, 0, view.width(), view.height())
        mvp = np.array((view.projectionMatrix(viewport, viewport) * view.viewMatrix()).data()).reshape(4, 4).T
        clip = mvp @ np.append(point, 1.0)
        return np.array([(clip[0] / clip[3] + 1) * view.width() / 2, (1 - clip[1] / clip[3]) * view.height() / 2])

    # Right moves the cursor right on screen and Up moves it up, whatever the orbit.
    assert np.diff([on_screen(at), on_screen(window.navigator.cursor)], axis=0)[0] @ [1, 0] > 1
    at = window.navigator.cursor.copy()
    qtbot.keyClick(view, Qt.Key.Key_Up)
    step = on_screen(window.navigator.cursor) - on_screen(at)
    assert step[1] < -1 and abs(step[0]) < 0.5


@pytest.mark.parametrize("mode", MODES)
def test_three_keyframe_trajectory_exports_a_wav_of_its_length(window, qtbot, app_env, mode):
    add_keyframes(qtbot, window, *[(midi, "mf", "flute") for midi in (60, 64, 67)])
    for i, seconds in enumerate((0.5, 0.7, 0.4)):
        window.trajectory.set_duration(i, seconds)
    window.editor.interpolation.setCurrentText(mode)
    assert window.trajectory.document.interpolation == mode
    out = app_env / f"trajectory-{mode}.wav"
    wait_job(qtbot, window, "export", lambda: window.trajectory.export(out))
    info = sf.info(str(out))
    assert info.samplerate == SR and abs(info.duration - 1.6) < 0.01
    audio, _ = sf.read(str(out))
    # Keyframes are reached at 0, 0.5 and 1.2 s; the last one then holds to the end.
    assert abs(yin_midi(audio, 1.25, 1.55) - 67) < 0.5
    if mode == "none":  # no glide: the first keyframe sounds for its whole segment
        assert abs(yin_midi(audio, 0.1, 0.45) - 60) < 0.5
    else:
        # The path leaves C4 and is at E4 before the second keyframe (0.5 s), where "none" still holds
        # C4. The decoded pitch switches within the segment (cubic about 0.2 s, linear and spherical
        # about 0.3 s) rather than sliding through the semitones between, so compare exact pitches.
        assert abs(yin_midi(audio, 0.02, 0.12) - 60) < 0.5
        assert abs(yin_midi(audio, 0.38, 0.48) - 64) < 0.5


def test_undo_redo_and_drag_retiming(window, qtbot):
    add_keyframes(qtbot, window, *[(midi, "mf", "flute") for midi in (60, 64, 67)])
    editor = window.editor
    window.trajectory.undo_stack.undo()
    assert len(window.trajectory.document.keyframes) == 2
    window.trajectory.undo_stack.redo()
    assert [k.label["midi"] for k in window.trajectory.document.keyframes] == [60, 64, 67]
    editor.preview.markers[1].setValue(0.6)  # drag keyframe 2 from 1.0 s to 0.6 s
    editor.preview.markers[1].sigPositionChangeFinished.emit(editor.preview.markers[1])
    assert [k.duration for k in window.trajectory.document.keyframes] == pytest.approx([0.6, 1.4, 1.0])
    window.trajectory.undo_stack.undo()
    assert [k.duration for k in window.trajectory.document.keyframes] == pytest.approx([1.0, 1.0, 1.0])


def test_trajectory_autosaves_and_comes_back_after_a_crash(qtbot, app_env):
    first = open_window(qtbot)
    add_keyframes(qtbot, first, (62, "ff", "violin"), (69, "pp", "violin"))
    qtbot.waitUntil(lambda: first.trajectory.autosave_path().exists(), timeout=5000)
    saved = Trajectory.load(first.trajectory.autosave_path())
    assert [k.label["midi"] for k in saved.keyframes] == [62, 69]
    first.runner.shutdown()
    first.decoder.shutdown()  # a crash: no closeEvent, nothing saved at exit
    second = open_window(qtbot)
    assert [k.label["midi"] for k in second.trajectory.document.keyframes] == [62, 69]
    second.close()
    first.close()


def test_free_hand_path_becomes_keyframes_that_render(window, qtbot):
    centre = window.navigator.cursor
    points = centre + np.linspace(0, 1, 12)[:, None] * np.array([[1.0, 0.5, 0.0]])
    window.navigator.pathDrawn.emit(np.linspace(0, 1.1, 12), points)
    doc = window.trajectory.document
    assert len(doc.keyframes) == 12 and doc.duration == pytest.approx(1.15, abs=0.01)
    keyframes_3d = window.sessions.current.project_3d(np.stack([k.latent for k in doc.keyframes]))
    np.testing.assert_allclose(keyframes_3d, points, atol=1e-3)
    stream = FakeStream.instances[-1]
    stream.pull(window.live.engine, int(0.3 * SR))
    window.trajectory.play()  # live: the engine follows the path in real time
    played = stream.pull(window.live.engine, int((doc.duration + 0.4) * SR))
    level = np.sqrt(np.convolve(played ** 2, np.ones(2205) / 2205, mode="valid"))
    assert level[: int(0.8 * SR)].min() > 1e-3  # it sounds along the path...
    assert level[-1] < 1e-3  # ...and falls silent once the path has been played
    assert window.live.engine.underruns == 0


def test_dropping_a_rendered_melody_shows_its_notes(window, qtbot, renderer, app_env):
    melody = [(0.2, 0.7, 72), (0.8, 1.3, 76), (1.4, 2.1, 79)]
    wav = app_env / "melody.wav"
    sf.write(str(wav), renderer.render_sequence(73, [(s, e, m, 90) for s, e, m in melody]), SR)
    wait_job(qtbot, window, "transcription", lambda: drop(window, wav))
    panel = window.transcription_panel
    assert [n.midi for n in panel.notes] == [72, 76, 79]
    assert panel.table.rowCount() == 3 and panel.table.item(1, 2).text() == "E5"
    for (start, _, _), note in zip(melody, panel.notes):
        assert abs(note.start - start) < 0.05
    assert panel.posterior_image.image is not None and panel.spectrogram.notes_item is not None
    panel.table.sortItems(2, Qt.SortOrder.DescendingOrder)  # a click on the "note" header, twice
    assert [panel.table.item(r, 2).text() for r in range(3)] == ["G5", "E5", "C5"]
    assert panel.table.item(0, 0).data(Qt.ItemDataRole.UserRole) == 2  # still the third note of the melody
    out = app_env / "melody.mid"
    from glissando.core.transcribe import write_notes

    write_notes(panel.notes, out)  # what Export MIDI writes
    assert [m.note for m in mido.MidiFile(str(out)) if m.type == "note_on" and m.velocity] == [72, 76, 79]


def test_midi_render_can_be_cancelled(window, qtbot):
    assert window.open_midi(ROOT / "resources" / "demo" / "melody.mid")
    job = window.midi.render()
    qtbot.waitUntil(lambda: window.midi_panel.progress.value() > 0, timeout=60000)
    wait_job(qtbot, window, "midi", window.midi_panel.cancel_button.click)
    assert job.is_cancelled and window.midi.audio is None
    assert window.midi_panel.render_button.isEnabled() and not window.midi_panel.cancel_button.isEnabled()


def test_the_ui_keeps_answering_while_a_whole_midi_file_renders(window, qtbot):
    window.open_midi(ROOT / "resources" / "demo" / "melody.mid")
    ticks, timer = event_loop_ticks()
    wait_job(qtbot, window, "midi", window.midi.render)
    timer.stop()
    # The event loop kept turning while the render ran on its worker (how promptly: bench/ui_responsiveness.py).
    assert window.midi.audio is not None and len(ticks) > 20


def test_bad_inputs_get_a_message_and_the_app_keeps_going(window, qtbot, app_env):
    add_keyframes(qtbot, window, (60, "mf", "flute"))
    text = app_env / "notes.txt"
    text.write_text("not music")
    drop(window, text)
    assert "notes.txt" in window.banner.text() and "not a file Glissando opens" in window.banner.text()

    empty = app_env / "empty.mid"
    mid = mido.MidiFile()
    mid.tracks.append(mido.MidiTrack())
    mid.save(str(empty))
    drop(window, empty)
    assert "empty.mid" in window.banner.text()

    silent = app_env / "silent.wav"
    sf.write(str(silent), np.zeros(SR), SR)
    wait_job(qtbot, window, "transcription", lambda: drop(window, silent))
    assert "silent.wav" in window.banner.text() and "no notes" in window.banner.text()  # an answer, not an error

    broken = app_env / "broken.safetensors"
    broken.write_bytes(b"\x00" * 100)
    wait_job(qtbot, window, "model", lambda: drop(window, broken))
    assert "broken.safetensors" in window.banner.text()
    assert window.sessions.current is not None and len(window.sessions.sessions) == 1
    assert len(window.trajectory.document.keyframes) == 1  # the user's work is untouched


def test_several_models_open_and_close(window, qtbot):
    wait_job(qtbot, window, "model", lambda: window.open_model(str(window.sessions.current.path)))
    assert len(window.sessions.sessions) == 2 and window.model_panel.list.count() == 2
    # Each session says where it runs and what it holds there: the file's tensors, as float32 in memory.
    from safetensors import safe_open

    with safe_open(str(window.sessions.current.path), "numpy") as fh:
        stored = sum(np.prod(fh.get_slice(k).get_shape()) * 4 for k in fh.keys())
    summary = window.model_panel.summary.text()
    held = float(summary.split("Holds ")[1].split(" MiB")[0])
    assert "on cpu" in summary and held == pytest.approx(stored / 2**20, rel=0.05)
    window.sessions.close_session(1)
    assert len(window.sessions.sessions) == 1 and window.sessions.current is window.sessions.sessions[0]
    assert window.model_panel.list.count() == 1


def test_without_an_audio_device_playback_is_off_and_exports_work(qtbot, app_env, monkeypatch):
    from glissando.app import main_window
    from glissando.core.playback import AudioUnavailable

    def no_devices():
        raise AudioUnavailable("playback is off: no audio output device was found")

    monkeypatch.setattr(main_window, "output_devices", no_devices)
    window = main_window.MainWindow(None)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.sessionReady, timeout=60000):
        window.show()
    # The device scan runs with the engine's start, on a worker, after the model is in.
    qtbot.waitUntil(lambda: "off" in window.audio_label.text(), timeout=30000)
    assert "no audio output device" in window.audio_label.toolTip()
    with qtbot.waitSignal(window.live.audioRendered, timeout=30000):
        window.navigation.pick(67, "mf", "trumpet")
    add_keyframes(qtbot, window, (67, "mf", "trumpet"))
    out = app_env / "no-device.wav"
    wait_job(qtbot, window, "export", lambda: window.trajectory.export(out))
    assert sf.info(str(out)).duration == pytest.approx(1.0, abs=0.01)
    window.close()


def test_settings_and_recent_files_survive_a_restart(qtbot, app_env):
    first = open_window(qtbot)
    first.open_midi(ROOT / "resources" / "demo" / "melody.mid")
    first.editor.interpolation.setCurrentText("cubic")
    first.close()
    second = open_window(qtbot)
    assert str(ROOT / "resources" / "demo" / "melody.mid") in second.settings.get("files/recent")
    assert second.settings.get("render/interpolation") == "cubic"
    second.close()


def test_audio_block_latency_and_held_loops_are_preferences(window, qtbot):
    from glissando.app.dialogs.preferences_dialog import PreferencesDialog

    dialog = PreferencesDialog([], "", window.settings, window)
    dialog.block.setCurrentIndex(dialog.block.findData(512))
    dialog.latency.setCurrentIndex(dialog.latency.findData(3))
    dialog.held_loops.setChecked(False)
    dialog.accept()
    window.apply_preferences()
    wait_for_audio(qtbot, window)
    stream = FakeStream.instances[-1]
    assert stream.block == 512 and window.live.engine.settings.latency_blocks == 3 and window.live.engine.loops is None
    window.navigation.set_cursor(window.sessions.current.label_latent(64, "mf", "oboe"))
    assert abs(yin_midi(stream.pull(window.live.engine, int(0.8 * SR)), 0.3, 0.8) - 64) < 0.5
    assert window.settings.get("audio/block") == 512  # and kept for the next run


def test_using_the_window_does_not_corrupt_the_interpreter(window, qtbot):
    """PySide6 6.12.0 under Python 3.11 lost a reference to None at each plot update until the
    interpreter aborted; the pinned Qt binding must leave None's count where it was."""
    import sys

    qtbot.wait(200)
    before = sys.getrefcount(None)
    for midi in (60, 62, 64, 65, 67, 69, 71, 72) * 5:
        window.navigation.set_cursor(window.sessions.current.label_latent(midi, "mf", "flute"), play=False)
        qtbot.wait(5)
    add_keyframes(qtbot, window, (60, "mf", "flute"))
    window.trajectory.undo_stack.undo()
    qtbot.wait(200)
    assert sys.getrefcount(None) > before - 200
