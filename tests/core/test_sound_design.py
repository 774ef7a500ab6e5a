"""Sound design from the shared space: timbre transfer, a sound's latent path, descriptor maps and moves."""
import numpy as np
import pytest
import soundfile as sf

from glissando.core.cli import main as cli
from glissando.core.data.labels import INSTRUMENTS
from glissando.core.session import ModelSession
from glissando.core.spectral import SAMPLE_RATE as SR

# A short phrase with known notes: (start s, end s, MIDI, velocity).
PHRASE = [(0.1, 0.6, 62, 80), (0.7, 1.2, 67, 80), (1.3, 1.8, 64, 110), (1.9, 2.5, 69, 80)]


@pytest.fixture(scope="module")
def session():
    return ModelSession(device="cpu")


@pytest.fixture(scope="module")
def clarinet_wav(tmp_path_factory, renderer):
    path = tmp_path_factory.mktemp("transfer") / "clarinet.wav"
    sf.write(str(path), renderer.render_sequence(INSTRUMENTS["clarinet"].gm_program, PHRASE), renderer.sample_rate)
    return path


def tracked_midi(audio, start, end):
    import librosa

    seg = audio[int(start * SR): int(end * SR)].astype(np.float64)
    f0 = librosa.yin(seg, fmin=60, fmax=2000, sr=SR, frame_length=2048)
    return float(np.median(librosa.hz_to_midi(f0)))


@pytest.mark.parametrize("method", ["shift", "notes"])
def test_transfer_keeps_the_pitches_and_changes_the_instrument(tmp_path, session, clarinet_wav, method):
    from glissando.core.transcribe import transcribe

    out = tmp_path / "cello.wav"
    assert cli(["transfer", str(clarinet_wav), "--to", "cello", "--method", method, "-o", str(out)]) == 0
    audio, rate = sf.read(str(out))
    assert rate == SR
    for start, end, midi, _ in PHRASE:  # every note's pitch, tracked in the middle of the note
        assert round(tracked_midi(audio, start + 0.1, end - 0.1)) == midi
    source_notes, _ = transcribe(session, clarinet_wav)
    assert {n.instrument for n in source_notes} == {"clarinet"}  # the model hears the source right ...
    notes, _ = transcribe(session, out)
    named = [n.instrument for n in notes]
    assert named.count("cello") >= 0.75 * len(named), named  # ... and the transfer as the target
    assert abs(np.max(np.abs(audio)) - 10 ** (-1 / 20)) < 0.02  # exported at -1 dBFS like every render


def test_transfer_keeps_or_sets_the_dynamics(session, clarinet_wav):
    from glissando.core.transfer import transfer

    kept = transfer(session, clarinet_wav, "flute", method="notes")
    assert [n.dynamics for n in kept.played] == [n.dynamics for n in kept.heard]
    soft = transfer(session, clarinet_wav, "flute", dynamics="pp", method="notes")
    assert {n.dynamics for n in soft.played} == {"pp"}
    loud = transfer(session, clarinet_wav, "flute", dynamics="ff", method="notes")
    assert np.sqrt(np.mean(loud.audio ** 2)) > 2 * np.sqrt(np.mean(soft.audio ** 2))


def test_transfer_refusals_name_the_problem(tmp_path, clarinet_wav, capsys):
    out = tmp_path / "x.wav"
    assert cli(["transfer", str(clarinet_wav), "--to", "banjo", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "banjo" in err and "cello" in err and len(err.strip().splitlines()) == 1
    assert cli(["transfer", str(tmp_path / "missing.wav"), "--to", "cello", "-o", str(out)]) == 2
    assert "missing.wav" in capsys.readouterr().err
    out.write_bytes(b"mine")
    assert cli(["transfer", str(clarinet_wav), "--to", "cello", "-o", str(out)]) == 2
    assert out.read_bytes() == b"mine"  # an existing file is never replaced without --force
    assert not (tmp_path / "x.wav.tmp").exists()


def test_noise_still_transfers_with_a_warning(tmp_path, session):
    from glissando.core.transfer import transfer

    noise = tmp_path / "noise.wav"
    sf.write(str(noise), 0.2 * np.random.default_rng(0).standard_normal(2 * SR).astype(np.float32), SR)
    warnings = []
    result = transfer(session, noise, "violin", warn=warnings.append)
    assert len(result.audio) == 2 * SR
    assert any("low confidence" in w for w in warnings)


def test_the_shift_transfer_decodes_the_sounds_own_path_once_per_analysed_frame(session, clarinet_wav):
    # The shift transfer takes the path from its transcription (no second analysis) and decodes it on the
    # analysed frames only: the path must be the navigator's, and the sound that of decoding every frame.
    from glissando.core.render import RenderSettings, reconstruct_path
    from glissando.core.transcribe import TranscribeSettings, transcribe
    from glissando.core.transfer import _convergence, sound_path

    path = sound_path(session, clarinet_wav)
    _, post = transcribe(session, clarinet_wav, TranscribeSettings(keep_latents=True))
    assert post.latents is not None
    assert np.allclose(post.times, path.times) and np.allclose(post.latents, path.latents, atol=1e-4)
    n = int(path.duration * SR)
    every = reconstruct_path(session, path.at, n, RenderSettings())
    on_grid = reconstruct_path(session, path.at, n, RenderSettings(), grid=path.times)
    # As close as two renders of one path differ by one more phase iteration (0.03-0.06 on melodies).
    assert _convergence(every, on_grid, session) < 0.08


def test_a_sound_path_ends_on_the_labels_of_its_first_and_last_notes(session, clarinet_wav):
    from glissando.core.transfer import sound_path

    path = sound_path(session, clarinet_wav)
    assert path.duration == pytest.approx(PHRASE[-1][1] + 0.5, abs=0.05)
    for start, end, midi, _ in (PHRASE[0], PHRASE[-1]):
        inside = (path.times > start + 0.1) & (path.times < end - 0.1)
        probs = session.decode_symbols(path.latents[inside])
        vocab = session.vocabulary
        pitch_class = vocab["pitch_class"][int(np.bincount(probs["pitch_class"].argmax(1)).argmax())]
        octave = vocab["octave"][int(np.bincount(probs["octave"].argmax(1)).argmax())]
        instrument = vocab["instrument"][int(np.bincount(probs["instrument"].argmax(1)).argmax())]
        from glissando.core.data.labels import midi_to_labels

        assert (pitch_class, octave) == midi_to_labels(midi)
        assert instrument == "clarinet"


def test_descriptor_map_agrees_with_the_rendered_sound(session):
    """The map's centroid and loudness at sampled points of a plane are those of the audio rendered from the
    latent there (analysed again through the NSGT)."""
    from glissando.core.data.frames import log_frames_long
    from glissando.core.descriptors import DescriptorMaps, Plane, spectral_descriptors
    from glissando.core.render import render_trajectory

    base = session.label_latent(67, "mf", "oboe")
    points = session.view.points
    plane = Plane((0, 1), ((float(points[:, 0].min()), float(points[:, 0].max())),
                           (float(points[:, 1].min()), float(points[:, 1].max()))),
                  float(session.project_3d(base[None])[0, 2]), resolution=16)
    dmap = DescriptorMaps(session).plane_map(plane, base)
    grid = plane.points()
    centroids = []
    for row, col in [(4, 4), (8, 8), (11, 5), (5, 12)]:
        latent = session.view.latents_at(base, grid[row * plane.resolution + col][None])[0]
        audio = render_trajectory(session, np.array([0.0, 1.0]), np.stack([latent, latent]))
        logs, _ = log_frames_long(audio[SR // 4: 3 * SR // 4], session.spectral)
        magnitudes = np.maximum(np.exp(logs) - session.spectral.log_floor, 0)
        heard = spectral_descriptors(np.median(magnitudes, axis=0)[None], session.bin_frequencies())
        mapped = dmap.values["centroid"][row, col]
        assert abs(np.log2(heard["centroid"][0] / mapped)) < 0.25, (heard["centroid"][0], mapped)
        centroids.append(mapped)
    assert np.ptp(np.log2(centroids)) > 0.25  # the points differ: the check above can tell them apart


def test_brighter_and_louder_moves_do_what_they_say(session):
    from glissando.core.descriptors import descriptor_step, latent_descriptors

    start = session.label_latent(60, "mf", "clarinet")
    before = latent_descriptors(session, start[None])
    brighter, louder, darker = start, start, start
    for _ in range(3):
        brighter = descriptor_step(session, brighter, "brighter")
        darker = descriptor_step(session, darker, "darker")
        louder = descriptor_step(session, louder, "louder")
    assert latent_descriptors(session, brighter[None])["centroid"][0] > 1.1 * before["centroid"][0]
    assert latent_descriptors(session, darker[None])["centroid"][0] < before["centroid"][0] / 1.1
    assert latent_descriptors(session, louder[None])["loudness"][0] > before["loudness"][0] + 1.0


def _morph(session, shape, curve=None):
    from glissando.core.trajectory import Keyframe, Trajectory

    start = session.label_latent(72, "pp", "flute")
    end = session.label_latent(72, "ff", "trumpet")
    return Trajectory([Keyframe(start, 2.0, glide=1.5), Keyframe(end, 0.5)], "linear", shape, curve)


def test_a_steady_loudness_morph_keeps_its_loudness_while_the_instrument_changes(session):
    """Flute pp -> trumpet ff along a path that holds the loudness at 12 dB (decoded level): the plain path
    rises by more than 20 dB; the shaped one stays within 0.5 dB of the curve, and still ends as a trumpet."""
    from glissando.core.descriptors import latent_descriptors

    plain_times, plain = _morph(session, "plain").shaped(session)
    plain_loudness = latent_descriptors(session, plain)["loudness"]
    assert np.ptp(plain_loudness) > 20
    curve = np.array([[0.0, 12.0], [2.5, 12.0]])
    times, path = _morph(session, "loudness", curve).shaped(session)
    loudness = latent_descriptors(session, path)["loudness"]
    assert np.max(np.abs(loudness - 12.0)) < 0.5
    instruments = session.decode_symbols(path[[0, -1]])["instrument"].argmax(1)
    assert [session.vocabulary["instrument"][i] for i in instruments] == ["flute", "trumpet"]


def test_a_geodesic_morph_stays_where_the_models_notes_are(session):
    from glissando.core.descriptors import note_latents

    anchors = note_latents(session)

    def distance(path):
        return np.sqrt(((path[:, None] - anchors[None]) ** 2).sum(-1)).min(1).mean()

    _, bent = _morph(session, "geodesic").shaped(session, rate=20)
    from glissando.core.interpolation import interpolate

    times, latents = _morph(session, "plain").timeline()
    dense = interpolate(times, latents, np.arange(0, times[-1], 0.05), "linear")
    assert distance(bent) < 0.8 * distance(dense)
    assert np.allclose(bent[0], latents[0]) and np.allclose(bent[-1], latents[-1])


def test_a_shaped_trajectory_survives_a_save(tmp_path, session):
    from glissando.core.trajectory import Trajectory

    doc = _morph(session, "centroid", np.array([[0.0, 800.0], [2.5, 1600.0]]))
    path = doc.save(tmp_path / "morph.json")
    back = Trajectory.load(path, latent_dim=len(doc.keyframes[0].latent))
    assert back.shape == "centroid" and np.allclose(back.curve, doc.curve)
    bad = tmp_path / "bad.json"
    bad.write_text(path.read_text().replace('"centroid"', '"sparkle"'))
    with pytest.raises(Exception, match="unknown path shape 'sparkle'"):
        Trajectory.load(bad)
