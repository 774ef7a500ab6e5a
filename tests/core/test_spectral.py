import numpy as np
import pytest

from glissando.core.data.frames import log_frames_long
from glissando.core.errors import GlissandoError
from glissando.core.spectral import NSGTransform, griffin_lim, load_audio, spectral_convergence

from ..conftest import write_wav


def test_grid_matches_the_paper():
    t = NSGTransform.for_length(32768)
    assert t.n_bins == 410
    assert t.frequencies[0] == pytest.approx(30.0) and t.frequencies[-1] == pytest.approx(11000.0, rel=1e-3)
    assert 60 < t.hop < 80  # about 70 samples between frames


def test_nsgt_round_trip_is_exact():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(32768)
    t = NSGTransform.for_length(32768)
    y = t.backward(t.forward(x))
    assert np.max(np.abs(y - x)) < 1e-9


def test_a440_lands_in_its_bin():
    sr = 22050
    audio = 0.5 * np.sin(2 * np.pi * 440 * np.arange(32768) / sr)
    t = NSGTransform.for_length(32768)
    frames = t.magnitude_frames(audio)
    peak_bin = int(np.argmax(frames[len(frames) // 2]))
    assert abs(t.frequencies[peak_bin] - 440) / 440 < 0.015  # within a quarter-tone-bin


def test_stereo_44k_is_mixed_and_resampled(tmp_path):
    sr = 44100
    tone = 0.3 * np.sin(2 * np.pi * 1000 * np.arange(sr) / sr)
    path = write_wav(tmp_path / "stereo.wav", np.stack([tone, tone], axis=1), sr)
    audio = load_audio(path)
    assert len(audio) == pytest.approx(22050, abs=2)
    spectrum = np.abs(np.fft.rfft(audio))
    assert np.argmax(spectrum) == pytest.approx(1000, abs=2)  # 1 Hz per rfft bin for 1 s


def test_long_audio_frames_are_continuous_and_match_single_block():
    sr = 22050
    audio = 0.3 * np.sin(2 * np.pi * 330 * np.arange(3 * 32768) / sr)
    frames, times = log_frames_long(audio)
    assert np.all(np.diff(times) > 0)
    assert times[-1] == pytest.approx(len(audio) / sr, abs=0.01)
    t = NSGTransform.for_length(32768)
    mid = t.log_frames(audio[:32768])[len(t.log_frames(audio[:32768])) // 2]
    k = int(np.argmin(np.abs(times - 0.5 * 32768 / sr)))
    assert np.max(np.abs(frames[k] - mid)) < 0.5


def test_unreadable_audio_names_the_file(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00not really a wave file")
    with pytest.raises(GlissandoError, match="broken.wav"):
        load_audio(bad)


def test_griffin_lim_reference_converges_on_a_rendered_note(renderer):
    note = renderer.render_note(73, 72, 90)  # flute C5
    t = NSGTransform.for_length(len(note))
    target = np.abs(t.forward(note))
    _, sc_ref = griffin_lim(target, t, n_iter=30, momentum=0.0, seed=0)
    assert sc_ref < 0.1
    _, sc_fast = griffin_lim(target, t, n_iter=30, momentum=0.99, seed=0)
    assert sc_fast < sc_ref  # the faster option converges further in the same iterations
    random_phase = target * np.exp(2j * np.pi * np.random.default_rng(0).random(target.shape))
    assert spectral_convergence(target, t.forward(t.backward(random_phase))) > sc_ref


@pytest.mark.parametrize("length", [32768, 8192])
@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-12), ("float32", 2e-6)])
def test_torch_nsgt_matches_nsgt_forward_and_backward(length, dtype, tolerance):
    """The batched torch transform (rendering, held loops, the live engine) is nsgt's transform: the
    same coefficients for the same signal, and the same signal from the same coefficients, to the
    precision of its float type, for every block of a batch."""
    import torch

    from glissando.core.spectral.torch_nsgt import TorchNSGT

    t = NSGTransform.for_length(length)
    tn = TorchNSGT(t, dtype=getattr(torch, dtype))
    rng = np.random.default_rng(5)
    sr = t.config.sample_rate
    signals = np.stack([rng.standard_normal(length),
                        0.5 * np.sin(2 * np.pi * 261.63 * np.arange(length) / sr)])  # noise and a C4
    expected = np.stack([t.forward(x) for x in signals])
    got = tn.forward(torch.from_numpy(signals)).numpy()
    assert got.shape == expected.shape == (2, t.n_rows, t.n_frames)
    assert np.max(np.abs(got - expected)) < tolerance * np.max(np.abs(expected))
    # Inverse of coefficients no signal has (random phases): nsgt's backward is a fixed linear map too.
    coefficients = np.abs(expected) * np.exp(2j * np.pi * rng.random(expected.shape))
    expected_audio = np.stack([t.backward(c) for c in coefficients])
    audio = tn.backward(torch.from_numpy(coefficients)).numpy()
    assert audio.shape == expected_audio.shape == (2, length)
    assert np.max(np.abs(audio - expected_audio)) < tolerance * np.max(np.abs(expected_audio))


def test_a_steady_loop_matches_its_frame_and_repeats_without_a_click():
    from glissando.core.session import ModelSession
    from glissando.core.spectral.phase import steady_loop

    session = ModelSession(device="cpu")
    frame = session.decode_magnitudes(session.label_latent(60, "mf", "flute")[None])[0]
    length = 32768
    loop = steady_loop(frame, session.spectral, length)
    transform = NSGTransform.for_length(length)
    heard = transform.forward(loop)[1:-1]
    assert spectral_convergence(np.broadcast_to(frame[:, None], heard.shape), heard) < 0.06
    # Played end to start, the step across the seam is no larger than the steps inside the loop.
    assert abs(float(loop[0]) - float(loop[-1])) <= np.abs(np.diff(loop)).max()
    assert np.array_equal(loop, steady_loop(frame, session.spectral, length))  # the same frame, the same loop


def test_every_audio_suffix_is_readable(tmp_path):
    """AUDIO_SUFFIXES is what load_audio reads: MP3 too (libsndfile >= 1.1)."""
    import soundfile as sf

    from glissando.core.spectral import AUDIO_SUFFIXES, SAMPLE_RATE

    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE)).astype(np.float32)
    formats = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".aif": "AIFF", ".aiff": "AIFF", ".mp3": "MP3"}
    assert set(AUDIO_SUFFIXES) == set(formats)
    for suffix, fmt in formats.items():
        path = tmp_path / f"tone{suffix}"
        sf.write(str(path), tone, SAMPLE_RATE, format=fmt)
        audio = load_audio(path)
        assert abs(len(audio) - len(tone)) < 0.1 * SAMPLE_RATE, suffix  # MP3 pads its frames
        assert np.argmax(np.abs(np.fft.rfft(audio))) == pytest.approx(440 * len(audio) / SAMPLE_RATE, abs=3), suffix
