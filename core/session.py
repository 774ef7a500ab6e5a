"""ModelSession: one model loaded on one device, translating in both directions in batches."""
from __future__ import annotations

import os
from typing import Optional

import numpy as np
import torch

from .data.labels import FAMILIES, INSTRUMENTS, SILENT, midi_to_labels, note_name
from .jobs import GlissandoError
from .models.modelfile import LoadedModel, load_model
from .training.train import pick_device

BATCH = 8192


class ModelSession:
    """Encode and decode in both domains with one loaded model.

    Frames are log-magnitude NSGT frames (T, n_bins) as the data sets store them; latents are
    (T, latent_dim) float32 arrays. Everything returns numpy so callers never hold torch tensors.
    """

    def __init__(self, model: Optional[str | os.PathLike] = None, device: str = "auto"):
        self.device = pick_device(device)
        self.loaded: LoadedModel = load_model(model, self.device)
        self.model = self.loaded.model.eval()
        self.config = self.loaded.config
        self.spectral = self.loaded.spectral
        self.vocabulary: dict[str, list[str]] = self.config.vocabulary
        self._label_cache: dict[tuple, np.ndarray] = {}

    def close(self) -> None:
        """Release the model's memory (GPU memory too) now rather than when the session is collected."""
        self.model = None
        self.loaded = None
        self._label_cache.clear()
        if self.device.type == "cuda":
            import gc

            gc.collect()
            torch.cuda.empty_cache()

    # -- facts ---------------------------------------------------------------------------------
    @property
    def path(self):
        return self.loaded.path

    @property
    def instruments(self) -> list[str]:
        return [i for i in self.vocabulary["instrument"] if i != SILENT]

    @property
    def dynamics(self) -> list[str]:
        return [d for d in self.vocabulary["dynamics"] if d != SILENT]

    @property
    def missing_instruments(self) -> list[str]:
        """Instruments Glissando knows that this model was not trained on (a model from an older
        vocabulary, or one trained on a few instruments)."""
        return self.loaded.missing_instruments

    def instrument_range(self, instrument: str) -> tuple[int, int]:
        lo, hi = self.loaded.instrument_ranges.get(instrument, (21, 108))
        return int(lo), int(hi)

    def check_note(self, midi: int, dynamics: str, instrument: str) -> None:
        if instrument not in self.instruments:
            why = "was trained without" if instrument in INSTRUMENTS else "does not know the instrument"
            raise GlissandoError(f"{self.path}: the model {why} {instrument!r} (it knows {', '.join(self.instruments)})")
        if dynamics not in self.dynamics:
            raise GlissandoError(f"{self.path}: the model does not know the dynamic {dynamics!r} (it knows {', '.join(self.dynamics)})")
        lo, hi = self.instrument_range(instrument)
        if not lo <= midi <= hi:
            raise GlissandoError(f"{note_name(midi)} is outside the {instrument}'s trained range "
                                 f"{note_name(lo)}-{note_name(hi)} in {self.path}")

    # -- the four translations -----------------------------------------------------------------
    @torch.no_grad()
    def encode_signal(self, log_frames: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.asarray(log_frames, dtype=np.float32)).to(self.device)
        return torch.cat([self.model.encode_signal(self.model.normalize(b))[0] for b in x.split(BATCH)]).cpu().numpy() \
            if len(x) else np.zeros((0, self.config.latent_dim), np.float32)

    @torch.no_grad()
    def decode_signal(self, latents: np.ndarray) -> np.ndarray:
        """Latents -> log-magnitude frames (the decoded Gaussian's mean)."""
        z = torch.from_numpy(np.asarray(latents, dtype=np.float32)).to(self.device)
        out = [self.model.denormalize(self.model.decode_signal(b)[0]) for b in z.split(BATCH)]
        return torch.cat(out).cpu().numpy() if out else np.zeros((0, self.config.n_bins), np.float32)

    def decode_magnitudes(self, latents: np.ndarray) -> np.ndarray:
        """Latents -> linear NSGT magnitudes (T, n_bins).

        A held note repeats one latent for hundreds of frames: each distinct latent is decoded once.
        """
        latents = np.asarray(latents, dtype=np.float32)
        if len(latents) == 0:
            return np.zeros((0, self.config.n_bins), np.float32)
        # Runs of equal consecutive rows (np.unique with an axis sorts, which costs more than it saves).
        new = np.concatenate([[True], np.any(latents[1:] != latents[:-1], axis=1)])
        mags = np.maximum(np.exp(self.decode_signal(latents[new])) - self.spectral.log_floor, 0.0)
        return mags[np.cumsum(new) - 1]

    def frame_decoder(self):
        """A numpy copy of the signal decoder for one latent at a time: latent (D,) -> magnitudes (n_bins,).

        The live engine decodes one frame per 11.6 ms hop; torch's thread pool, woken for each tiny
        matrix product, stalls for tens of milliseconds when the cores are busy, numpy does not.
        Built from the model's own layers, so it is the same network.
        """
        layers = []
        for module in self.model.signal_decoder:
            if isinstance(module, torch.nn.Linear):
                layers.append((module.weight.detach().cpu().numpy().T.copy(), module.bias.detach().cpu().numpy().copy()))
            elif isinstance(module, torch.nn.ReLU):
                layers.append(None)
            else:
                raise TypeError(f"frame_decoder does not know the layer {type(module).__name__}")
        scale, mean = float(self.model.norm_scale), float(self.model.norm_mean)
        floor = self.spectral.log_floor

        def decode(latent: np.ndarray) -> np.ndarray:
            x = np.asarray(latent, dtype=np.float32)
            for layer in layers:
                x = np.maximum(x, 0.0) if layer is None else x @ layer[0] + layer[1]
            return np.maximum(np.exp(x * scale + mean) - floor, 0.0)

        return decode

    @torch.no_grad()
    def decode_symbols(self, latents: np.ndarray) -> dict[str, np.ndarray]:
        """Latents -> per-family label probabilities, each (T, vocabulary size)."""
        z = torch.from_numpy(np.asarray(latents, dtype=np.float32)).to(self.device)
        parts = [[lg.softmax(-1) for lg in self.model.decode_symbols(b)] for b in z.split(BATCH)]
        return {f: torch.cat([p[j] for p in parts]).cpu().numpy() for j, f in enumerate(FAMILIES)}

    def signal_to_symbols(self, log_frames: np.ndarray) -> dict[str, np.ndarray]:
        return self.decode_symbols(self.encode_signal(log_frames))

    def reconstruct(self, log_frames: np.ndarray) -> np.ndarray:
        return self.decode_signal(self.encode_signal(log_frames))

    @torch.no_grad()
    def label_latent(self, midi: Optional[int], dynamics: Optional[str], instrument: Optional[str]) -> np.ndarray:
        """The symbol encoder's mean for one label set; ``midi=None`` means silence."""
        key = (midi, dynamics, instrument)
        if key not in self._label_cache:
            if midi is None:
                labels = {f: SILENT for f in FAMILIES}
            else:
                pc, octave = midi_to_labels(midi)
                labels = {"pitch_class": pc, "octave": octave, "dynamics": dynamics, "instrument": instrument}
            idx = self.model.label_indices([labels])
            self._label_cache[key] = self.model.encode_symbols(idx)[0][0].cpu().numpy()
        return self._label_cache[key]

    def silence_latent(self) -> np.ndarray:
        return self.label_latent(None, None, None)

    @torch.no_grad()
    def label_distribution(self, midi: int, dynamics: str, instrument: str) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the symbol encoder's posterior for one label set."""
        pc, octave = midi_to_labels(midi)
        idx = self.model.label_indices([{"pitch_class": pc, "octave": octave, "dynamics": dynamics, "instrument": instrument}])
        mu, logvar = self.model.encode_symbols(idx)
        return mu[0].cpu().numpy(), (0.5 * logvar[0]).exp().cpu().numpy()

    def bin_frequencies(self) -> np.ndarray:
        """Centre frequency (Hz) of each of the decoded magnitudes' bins."""
        return self.spectral.bin_frequencies(self.config.n_bins)

    def move_in_view(self, latent: np.ndarray, point_3d: np.ndarray) -> np.ndarray:
        """The latent that projects to ``point_3d`` and differs from ``latent`` only inside the
        navigator's 3-D subspace: what the navigator's cursor becomes when the user moves it."""
        components = self.loaded.projection["components"].numpy()
        delta = np.asarray(point_3d, dtype=np.float32) - self.project_3d(latent)
        return (np.asarray(latent, dtype=np.float32) + delta @ components).astype(np.float32)

    def project_3d(self, latents: np.ndarray) -> np.ndarray:
        """Latents -> the navigator's 3-D coordinates (PCA of the training posteriors)."""
        p = self.loaded.projection
        return (np.asarray(latents) - p["mean"].numpy()) @ p["components"].numpy().T
