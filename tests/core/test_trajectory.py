"""The trajectory document the app edits: timing, files, bad files, free-hand strokes."""
import json

import numpy as np
import pytest

from glissando.core.errors import GlissandoError
from glissando.core.session import ModelSession
from glissando.core.trajectory import Keyframe, Trajectory, path_spectrogram, stroke_to_keyframes


@pytest.fixture(scope="module")
def session():
    return ModelSession(device="cpu")


def three_notes(session):
    return Trajectory([Keyframe(session.label_latent(m, "mf", "flute"), d,
                                {"midi": m, "dynamics": "mf", "instrument": "flute"})
                       for m, d in ((60, 0.5), (64, 0.7), (67, 0.4))], "cubic")


def test_timeline_places_keyframes_at_their_start_and_holds_the_last(session):
    t = three_notes(session)
    times, latents = t.timeline()
    np.testing.assert_allclose(times, [0.0, 0.5, 1.2, 1.6])
    np.testing.assert_array_equal(latents[-1], latents[-2])
    assert t.duration == pytest.approx(1.6)


def test_save_and_load_round_trip(session, tmp_path):
    t = three_notes(session)
    path = t.save(tmp_path / "t.json", model="models/default")
    back = Trajectory.load(path, latent_dim=session.config.latent_dim)
    assert back.interpolation == "cubic" and [k.label["midi"] for k in back.keyframes] == [60, 64, 67]
    np.testing.assert_allclose(np.stack([k.latent for k in back.keyframes]), np.stack([k.latent for k in t.keyframes]),
                               atol=1e-5)


@pytest.mark.parametrize("content, reason", [
    ("{not json", "not a readable trajectory file"),
    (json.dumps({"format": "something-else"}), "not a Glissando trajectory"),
    (json.dumps({"format": "glissando-trajectory", "version": 99, "keyframes": []}), "newer"),
    (json.dumps({"format": "glissando-trajectory", "version": 1,
                 "keyframes": [{"latent": [0.0] * 32, "duration": -1}]}), "damaged"),
    (json.dumps({"format": "glissando-trajectory", "version": 1,
                 "keyframes": [{"latent": [0.0] * 8, "duration": 1}]}), "8-d"),
])
def test_bad_trajectory_files_are_refused_naming_the_file(tmp_path, content, reason):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(GlissandoError, match=reason) as err:
        Trajectory.load(path, latent_dim=32)
    assert "bad.json" in str(err.value)


def test_empty_trajectory_says_what_to_do():
    with pytest.raises(GlissandoError, match="no keyframes"):
        Trajectory().timeline()


def test_stroke_keyframes_project_onto_the_drawn_points(session):
    anchor = session.label_latent(60, "mf", "flute")
    start = session.project_3d(anchor[None])[0]
    points = start + np.array([[0, 0, 0], [0.5, 0, 0], [0.5, 0.5, 0]])
    keys = stroke_to_keyframes(session, anchor, np.array([0.0, 0.2, 0.5]), points)
    np.testing.assert_allclose(session.project_3d(np.stack([k.latent for k in keys])), points, atol=1e-4)
    assert [k.duration for k in keys] == pytest.approx([0.2, 0.3, 0.05])


def frame_midi(frame, freqs):
    """The pitch of a decoded frame: its lowest spectral peak within 20 dB of the strongest (the strongest
    alone may be a harmonic), as a MIDI number."""
    inner = frame[1:-1]
    peaks = np.flatnonzero((inner > frame[:-2]) & (inner >= frame[2:]) & (inner > frame.max() / 10)) + 1
    return 69 + 12 * np.log2(freqs[peaks[0]] / 440.0)


def test_path_spectrogram_follows_the_pitch(session):
    times, mags = path_spectrogram(session, three_notes(session), columns_per_second=50)
    freqs = session.bin_frequencies()
    # C4, E4 and G4 exactly (a bin is a quarter of a semitone): an octave off is a wrong pitch.
    assert frame_midi(mags[2], freqs) == pytest.approx(60, abs=0.3)
    assert frame_midi(mags[30], freqs) == pytest.approx(64, abs=0.3)
    assert frame_midi(mags[-2], freqs) == pytest.approx(67, abs=0.3)
    assert len(times) == len(mags) == 80
