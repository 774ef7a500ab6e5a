"""Sound design in the navigator (issue 14 items 2, 3 and 5): the cloud coloured by descriptors, the descriptor
map behind it, the "brighter / louder" moves, an opened sound's path and playback marker, and trajectories
whose path keeps a descriptor. Every check of what the app shows is against core's numbers computed here, on
the test's thread, after the app's own model calls have been checked to run on workers only."""
import threading
import time

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtGui import QVector3D

from glissando.app.controllers.descriptors import plane_axes
from glissando.app.widgets.descriptor_tools import DescriptorTools
from glissando.app.widgets.latent_navigator import LatentNavigator
from glissando.core.data.labels import INSTRUMENTS
from glissando.core.descriptors import DescriptorMaps, latent_descriptors
from glissando.core.session import ModelSession
from glissando.core.trajectory import Keyframe, Trajectory

JOB_MS = 120000  # a few seconds each on 2 idle cores; generous for a loaded machine


@pytest.fixture
def gui_torch(monkeypatch):
    """The names of model calls made on the GUI thread while the app works (none allowed). A test stops
    recording (``stop()``) before it computes its own reference numbers here."""
    calls: list[str] = []
    monkeypatch.setattr(ModelSession, "torch_call_hook",
                        lambda name: threading.current_thread() is threading.main_thread() and calls.append(name))

    def stop() -> list[str]:
        monkeypatch.setattr(ModelSession, "torch_call_hook", None)
        return calls

    return stop


def luminance(rgba: np.ndarray) -> np.ndarray:
    return rgba[..., :3] @ np.array([0.2126, 0.7152, 0.0722])


def ranks(x: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(x)).astype(float)


def test_colour_by_brightness_follows_the_decoded_centroid(window, qtbot, gui_torch):
    nav = window.navigator
    nav.colour_box.setCurrentText("brightness")
    qtbot.waitUntil(lambda: nav.descriptors is not None, timeout=JOB_MS)
    shown = luminance(nav.point_colours)  # viridis: the lighter the colour, the higher the value
    legend = nav.legend.text()
    assert not gui_torch()

    session = window.sessions.current
    view = session.view
    centroid = latent_descriptors(session, view.latents_at(window.navigation.cursor_latent, view.points))["centroid"]
    assert len(shown) == len(centroid) == len(view.points)
    # The colours order the points as their decoded centroid does (up to the 2% clipped at each end).
    assert np.corrcoef(ranks(shown), ranks(centroid))[0, 1] > 0.97
    lightest, darkest = np.argsort(shown)[-len(shown) // 10:], np.argsort(shown)[: len(shown) // 10]
    assert np.median(centroid[lightest]) > 2 * np.median(centroid[darkest])
    assert "brightness" in legend and "Hz" in legend

    nav.colour_box.setCurrentText("instrument")  # back to labels: label colours and their legend
    assert "flute" in nav.legend.text()


def test_the_map_of_the_plane_through_the_cursor_is_core_s_and_follows_the_cursor(window, qtbot, gui_torch):
    nav, ctl, session = window.navigator, window.descriptors, window.sessions.current
    latencies = []

    def request_and_wait(action) -> None:
        shown = []
        ctl.mapReady.connect(lambda found: found is not None and shown.append(time.monotonic()))
        began = time.monotonic()
        action()
        qtbot.waitUntil(lambda: bool(shown) and nav.map_item.visible(), timeout=JOB_MS)
        latencies.append(shown[0] - began)

    request_and_wait(lambda: window.descriptor_tools.map_box.setChecked(True))
    plane, found = ctl.plane(), nav.descriptor_map
    assert found is ctl.map and found.plane == plane
    texture = nav.map_item.data.copy()
    # The lattice view, seen from the front: the map is the pitch x instrument plane at the cursor's dynamics.
    assert plane_axes(session.view) == ((0, 2), 1) and plane.axes == (0, 2)
    cursor_3d = session.project_3d(window.navigation.cursor_latent[None])[0]
    assert abs(plane.depth - cursor_3d[1]) <= (np.ptp(session.view.points[:, 1]) / 64) / 2 + 1e-9

    # A new plane: the cursor to another dynamic level (another depth) gets its own map.
    before = plane
    ff = session.label_latent(72, "ff", "trumpet")
    request_and_wait(lambda: window.navigation.set_cursor(ff, play=False))
    assert ctl.plane() != before and nav.descriptor_map.plane == ctl.plane()
    # And in the PCA view (seen from above: the horizontal plane at the cursor's height).
    pca = nav.view_box.findData("pca")
    request_and_wait(lambda: nav.view_box.activated.emit(pca))
    assert session.view.name == "pca" and nav.descriptor_map.plane.axes == (0, 1)
    assert not gui_torch()
    print(f"descriptor map shown after the request (64x64): {', '.join(f'{s * 1000:.0f} ms' for s in latencies)}")

    # The values drawn are core's for that plane, and the image sits on the plane's grid.
    plane, drawn = nav.descriptor_map.plane, nav.descriptor_map.values
    base = session.view.latents_at(window.navigation.cursor_latent, np.zeros((1, 3)))[0]
    expected = DescriptorMaps(session).plane_map(plane, base)
    for name, values in expected.values.items():
        np.testing.assert_allclose(drawn[name], values, rtol=1e-5, atol=1e-6)
    transform = nav.map_transform(plane)
    grid = plane.points()
    for i, j in ((0, 0), (63, 0), (10, 50), (63, 63)):
        p = transform.map(QVector3D(i + 0.5, j + 0.5, 0.0))
        np.testing.assert_allclose([p.x(), p.y(), p.z()], grid[j * 64 + i], atol=1e-4)
    assert texture.shape == (64, 64, 4) and nav.map_item.data.shape == (64, 64, 4)

    window.descriptor_tools.map_box.setChecked(False)
    assert not nav.map_item.visible() and nav.descriptor_map is None


@pytest.mark.parametrize("move, name, sign", [("brighter", "centroid", 1), ("darker", "centroid", -1),
                                              ("louder", "loudness", 1)])
def test_a_move_button_steps_the_cursor_along_its_descriptor(window, qtbot, gui_torch, move, name, sign):
    nav = window.navigation
    start = nav.cursor_latent.copy()
    with qtbot.waitSignal(nav.cursorDecoded, timeout=JOB_MS):  # it moves, then decodes as any move does
        window.descriptor_tools.buttons[move].click()
        qtbot.waitUntil(lambda: not np.array_equal(nav.cursor_latent, start), timeout=JOB_MS)
    assert not gui_torch()
    values = latent_descriptors(window.sessions.current, np.stack([start, nav.cursor_latent]))[name]
    assert sign * (values[1] - values[0]) > 0, (move, values)


@pytest.fixture(scope="module")
def flute_wav(tmp_path_factory, renderer):
    path = tmp_path_factory.mktemp("navigator_design") / "flute.wav"
    phrase = [(0.05, 0.55, 67, 90), (0.6, 1.1, 72, 90)]
    sf.write(str(path), renderer.render_sequence(INSTRUMENTS["flute"].gm_program, phrase), renderer.sample_rate)
    return path


def test_an_opened_sound_is_drawn_with_a_marker_that_follows_playback(window, qtbot, gui_torch, flute_wav):
    sd, nav, session = window.sound_design, window.navigator, window.sessions.current
    with qtbot.waitSignal(sd.soundPathReady, timeout=JOB_MS, check_params_cb=lambda t, z: t is not None) as ready:
        sd.open(flute_wav)
    times, latents = ready.args
    assert nav.sound_item.visible() and len(nav.sound_item.pos) == len(times) == len(latents)
    np.testing.assert_allclose(nav.sound_item.pos, session.project_3d(latents), atol=1e-9)
    assert not nav.sound_marker.visible()

    qtbot.waitUntil(lambda: not sd.busy, timeout=JOB_MS)
    sd.play("original")
    qtbot.waitUntil(nav.sound_marker.visible, timeout=5000)
    where = []
    for t in (0.2, 0.9):
        sd.playbackPosition.emit(t)
        where.append(nav.sound_marker.pos[0].copy())
        np.testing.assert_allclose(where[-1], session.project_3d(sd.latent_at(t)[None])[0], atol=1e-9)
    assert np.linalg.norm(where[1] - where[0]) > 1e-3  # G4 then C5: the marker moved with the sound
    sd.stop()
    assert not nav.sound_marker.visible() and nav.sound_item.visible()
    sd.soundPathReady.emit(None, None)
    assert not nav.sound_item.visible()
    assert not gui_torch()


def sounding_rms_db(path, window_s: float = 0.05) -> np.ndarray:
    """RMS (dB) in 50 ms windows over the sounding part: from the first to the last window within 30 dB of
    the loudest, less the export's fade at each end."""
    audio, rate = sf.read(str(path))
    n = int(window_s * rate)
    frames = audio[: len(audio) // n * n].reshape(-1, n)
    db = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-20)
    loud = np.flatnonzero(db > db.max() - 30)
    return db[loud[0] + 2: loud[-1] - 1]


def level_course(db: np.ndarray, per_segment: int = 5) -> np.ndarray:
    """The level's course: the median of the 50 ms RMS over each 250 ms. The renderer's phase reconstruction
    makes even one held latent flicker from window to window (flute pp held 2 s: 4.8 dB between its loudest
    and softest 50 ms windows, std 1.2 dB; trumpet ff: 2.2 dB), which no path can take away; the median over
    250 ms measures what the path does to the level."""
    return np.array([np.median(db[i: i + per_segment]) for i in range(0, len(db) - per_segment + 1, per_segment)])


def test_a_path_that_keeps_loudness_is_exported_level_from_flute_pp_to_trumpet_ff(window, qtbot, gui_torch,
                                                                                 tmp_path):
    traj, session = window.trajectory, window.sessions.current
    flute = session.label_latent(67, "pp", "flute")  # the label lattice encoded every label set: cached, no model
    trumpet = session.label_latent(67, "ff", "trumpet")
    traj.edit(Trajectory([Keyframe(flute, 1.0, {"midi": 67, "dynamics": "pp", "instrument": "flute"}, 0.7),
                          Keyframe(trumpet, 1.0, {"midi": 67, "dynamics": "ff", "instrument": "trumpet"}, 0.3)],
                         "linear"), "flute to trumpet")
    editor = window.editor
    shapes = [editor.shape.itemText(i) for i in range(editor.shape.count())]
    assert shapes[:3] == ["plain", "geodesic (through the notes)", "keep brightness"] and "keep loudness" in shapes

    def export(name: str):
        out = tmp_path / name
        with qtbot.waitSignal(window.jobFinished, timeout=JOB_MS, check_params_cb=lambda kind: kind == "export"):
            assert traj.export(out) is not None
        return out

    plain = export("plain.wav")
    editor.shape.setCurrentIndex(editor.shape.findData("loudness"))
    editor.shape.activated.emit(editor.shape.currentIndex())  # what choosing it with the mouse sends
    qtbot.waitUntil(lambda: traj.document.shape == "loudness", timeout=JOB_MS)
    doc = traj.document
    assert doc.curve is not None and doc.curve.shape == (1, 2)  # constant, at the first keyframe's loudness
    assert editor.curve.isEnabled() and editor.curve.text().startswith("0:")
    # The navigator draws the shaped path once it is computed (in a job): not the straight one.
    qtbot.waitUntil(lambda: traj.shaped_now(doc) is not None, timeout=JOB_MS)
    shaped_times, shaped_latents = traj.shaped_now(doc)
    np.testing.assert_allclose(window.navigator.path_item.pos, session.project_3d(shaped_latents), atol=1e-9)
    kept = export("keep-loudness.wav")
    assert not gui_torch()

    plain_db, kept_db = sounding_rms_db(plain), sounding_rms_db(kept)
    print(f"level spread over the sounding part, 50 ms windows: plain {np.ptp(plain_db):.1f} dB, keep loudness "
          f"{np.ptp(kept_db):.1f} dB; medians over 250 ms: plain {np.ptp(level_course(plain_db)):.1f} dB, "
          f"keep loudness {np.ptp(level_course(kept_db)):.1f} dB")
    assert np.ptp(plain_db) > 6.0 and np.ptp(level_course(plain_db)) > 6.0
    assert np.ptp(level_course(kept_db)) <= 1.5
    assert np.std(kept_db) < 0.5 * np.std(plain_db)

    # Undo restores plain in one step, and the shape is saved with the trajectory.
    saved = tmp_path / "shaped.json"
    assert traj.save(saved) and Trajectory.load(saved).shape == "loudness"
    traj.undo_stack.undo()
    assert traj.document.shape == "plain" and traj.document.curve is None and editor.shape.currentData() == "plain"


def test_a_typed_curve_is_an_undoable_edit_and_a_bad_one_is_refused(window, qtbot):
    traj = window.trajectory
    traj.edit(Trajectory([Keyframe(window.navigation.cursor_latent, 1.0, None, 0.3)] * 2, "linear"), "two")
    notices = []
    traj.notice.connect(lambda text, error: notices.append((text, error)))
    traj.set_curve_text("0:-20 1:-10")
    assert notices and notices[-1][1] and traj.document.curve is None  # plain: no curve to follow
    traj.set_shape("geodesic")
    assert traj.document.shape == "geodesic" and traj.document.curve is None
    traj.set_shape("centroid")
    qtbot.waitUntil(lambda: traj.document.shape == "centroid", timeout=JOB_MS)
    window.editor.curve.setText("0:400, 1.5:800")
    window.editor.curve.editingFinished.emit()
    np.testing.assert_allclose(traj.document.curve, [[0, 400], [1.5, 800]])
    traj.set_curve_text("soft then loud")
    assert notices[-1][1] and traj.document.curve.shape == (2, 2)
    traj.undo_stack.undo()
    assert traj.document.curve.shape == (1, 2)  # back to the constant one the shape came with


def test_the_navigator_widget_draws_what_it_is_given(qtbot):
    nav = LatentNavigator()
    qtbot.addWidget(nav)
    points = np.random.default_rng(0).normal(size=(50, 3))
    nav.set_space(points, np.zeros((50, 4), dtype=int), {f: ["a", "silent"] for f in
                                                         ("pitch_class", "octave", "dynamics", "instrument")})
    with qtbot.waitSignal(nav.colourByDescriptor) as chosen:
        nav.colour_box.setCurrentText("loudness")
    assert chosen.args == [True] and "computing" in nav.legend.text()
    nav.show_descriptors({name: np.linspace(1, 100, 50) if name != "loudness" else np.linspace(-30, 0, 50)
                          for name in ("centroid", "bandwidth", "flatness", "rolloff", "loudness")})
    assert np.all(np.diff(luminance(nav.point_colours)[1:-1]) >= -1e-9) and "dB" in nav.legend.text()


def test_the_descriptor_tools_ask_for_the_map_and_the_moves(qtbot):
    tools = DescriptorTools()
    qtbot.addWidget(tools)
    assert list(tools.buttons) == ["brighter", "darker", "noisier", "purer", "louder", "softer"]
    for move, button in tools.buttons.items():
        with qtbot.waitSignal(tools.moveRequested) as asked:
            button.click()
        assert asked.args == [move]
    with qtbot.waitSignal(tools.mapToggled) as toggled:
        tools.map_box.click()
    assert toggled.args == [True]
    assert tools.minimumSizeHint().width() <= 280  # fits the Labels dock
