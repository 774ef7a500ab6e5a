"""The perceptual term (seed paper 003, with timbre descriptors for the listeners' ratings)."""
import numpy as np
import torch

from glissando.core.descriptors import spectral_descriptors
from glissando.core.spectral import SpectralConfig
from glissando.core.training.perceptual import descriptor_distance_loss, frame_descriptors


def test_the_training_descriptors_are_the_descriptor_maps_own():
    config = SpectralConfig()
    freqs = config.bin_frequencies(410)
    rng = np.random.default_rng(0)
    # Harmonic spectra of several brightnesses and a noise, as log-magnitude frames.
    mags = rng.uniform(0, 1e-3, (6, 410))
    for i, f0 in enumerate((110, 220, 440, 880, 1760)):
        for k in range(1, 12):
            mags[i, np.argmin(np.abs(freqs - f0 * k))] += 0.5 / k ** (0.5 + i / 4)
    mags[5] = rng.uniform(0, 0.1, 410)
    logs = torch.from_numpy(np.log(mags + config.log_floor)).float()
    ours = frame_descriptors(logs, torch.from_numpy(freqs).float(), config.log_floor).numpy()
    ref = spectral_descriptors(mags, freqs)
    assert np.allclose(ours[:, 0], np.log2(ref["centroid"]), atol=0.01)
    assert np.allclose(ours[:, 1], np.log2(ref["bandwidth"]), atol=0.01)
    assert np.allclose(ours[:, 2], ref["flatness"], atol=0.1)
    assert np.allclose(ours[:, 3], np.log2(ref["rolloff"]), atol=0.01)
    assert np.allclose(ours[:, 4], ref["loudness"], atol=0.1)
    assert ours[5, 2] > ours[0, 2] + 10  # the noise is flatter than any harmonic spectrum


def test_the_term_is_zero_when_latents_are_the_descriptors_up_to_scale_and_rotation_and_pulls_others_there():
    g = torch.Generator().manual_seed(0)
    descriptors = torch.randn(64, 5, generator=g) * torch.tensor([1.0, 3.0, 10.0, 0.5, 20.0])
    standardized = (descriptors - descriptors.mean(0)) / descriptors.std(0)
    rotation, _ = torch.linalg.qr(torch.randn(8, 8, generator=g))
    latents = torch.nn.functional.pad(standardized, (0, 3)) @ rotation * 0.3 + 2.0
    assert float(descriptor_distance_loss(latents, descriptors)) < 1e-6
    free = torch.randn(64, 8, generator=g, requires_grad=True)
    start = float(descriptor_distance_loss(free, descriptors).detach())
    optimizer = torch.optim.Adam([free], lr=0.05)
    for _ in range(200):
        optimizer.zero_grad()
        loss = descriptor_distance_loss(free, descriptors)
        loss.backward()
        assert torch.isfinite(free.grad).all()
        optimizer.step()
    assert float(descriptor_distance_loss(free, descriptors)) < 0.2 * start


def test_training_with_the_term_makes_latent_distances_follow_descriptor_distances(tiny_dataset, tmp_path):
    from glissando.core.data.store import load_dataset
    from glissando.core.models.modelfile import load_model
    from glissando.core.training.train import TrainConfig, train

    small = dict(signal_hidden=128, symbol_hidden=64, latent_dim=8, arch="paper")
    frames = torch.from_numpy(np.asarray(load_dataset(tiny_dataset.path).frames, dtype=np.float32))
    config = SpectralConfig()
    descriptors = frame_descriptors(frames, torch.from_numpy(config.bin_frequencies(frames.shape[1])).float(),
                                    config.log_floor)
    sounding = descriptors[:, 4] > -60  # silent frames' descriptors mean nothing
    fit = {}
    for weight in (0.0, 30.0):
        path = train(tiny_dataset.path, tmp_path / f"w{weight}", TrainConfig(epochs=4, batch_size=128,
                     perceptual_weight=weight), small, device="cpu")
        model = load_model(path).model
        with torch.no_grad():
            mu = model.encode_signal(model.normalize(frames[sounding]))[0]
        fit[weight] = float(descriptor_distance_loss(mu, descriptors[sounding]))
    assert fit[30.0] < 0.5 * fit[0.0], fit
