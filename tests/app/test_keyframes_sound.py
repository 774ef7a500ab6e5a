"""Keyframes sound where they sit: each one's pitch is heard from its marker for its hold."""
import soundfile as sf

from .test_app import add_keyframes, wait_job, yin_midi


def test_each_keyframe_sounds_from_its_marker_for_its_hold(window, qtbot, app_env):
    add_keyframes(qtbot, window, (60, "mf", "flute"), (64, "ff", "flute"), (67, "pp", "flute"))
    window.trajectory.set_interpolation("cubic")
    doc = window.trajectory.document
    assert [round(k.hold, 3) for k in doc.keyframes] == [0.7, 0.7, 0.7]
    markers = window.trajectory.starts()
    assert markers == [0.0, 1.0, 2.0]
    out = app_env / "keyframes.wav"
    wait_job(qtbot, window, "export", lambda: window.trajectory.export(out))
    audio, rate = sf.read(str(out))
    for marker, keyframe in zip(markers, doc.keyframes):
        # Pitch-tracked over the hold, from 50 ms after the marker to its end.
        heard = yin_midi(audio, marker + 0.05, marker + keyframe.hold)
        assert abs(heard - keyframe.label["midi"]) < 0.5, (marker, heard)
