"""ModelSession: one model loaded on one device, translating in both directions in batches."""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

import numpy as np
import torch

from .data.labels import FAMILIES, SILENT, midi_to_labels
from .device import pick_device
from .jobs import GlissandoError
from .models.modelfile import LoadedModel, ModelFacts, load_model
from .models.vae import CrossModalVAE
from .views import LatentView, pca_view

BATCH = 8192
CLOSE_TIMEOUT = 10.0  # seconds close() waits for the calls in progress (docs/threading.md)


class SessionClosed(GlissandoError):
    """A call reached a ModelSession after close(): the job using it ends with this message."""


class ModelSession:
    """Encode and decode in both domains with one loaded model.

    Frames are log-magnitude NSGT frames (T, n_bins) as the data sets store them; latents are
    (T, latent_dim) float32 arrays. Everything returns numpy so callers never hold torch tensors.

    Threads (docs/threading.md)
    ---------------------------
    Any number of threads may call one session at once. The network is in eval mode and every
    forward pass runs under ``torch.no_grad()``; no forward pass writes to the module (no batch-norm
    statistics, no dropout in eval), so concurrent forward passes are safe. The only state a call
    mutates is the label cache of :meth:`label_latent`, guarded by a lock; its arrays are read-only,
    shared by every caller (copy one before changing it).

    :meth:`close` stops new calls at once (they raise :class:`SessionClosed`, a GlissandoError
    "the model NAME was closed"), waits up to ``timeout`` seconds for the calls in progress and then
    releases the network. Long jobs (render_notes, transcribe) call the session between blocks, so
    a session closed under them ends them with that error, never a torch or attribute error.
    The facts (``path``, ``name``, ``spectral``, ``config``, ``vocabulary``, instruments, ranges,
    ``check_note``, ``bin_frequencies``, ``project_3d``, ``move_in_view``) stay readable after close;
    ``loaded`` and ``model`` become None.

    Attributes
    ----------
    torch_call_hook : Optional[Callable[[str], None]]
        Called on the calling thread, with the public method's name, at the start of every call that
        runs a torch forward pass: ``encode_signal``, ``decode_signal``, ``decode_magnitudes``,
        ``decode_symbols``, ``signal_to_symbols``, ``reconstruct``, ``label_distribution``, and
        ``label_latent`` / ``silence_latent`` (reported as ``label_latent``) only when the label set is
        not cached yet. Not called by ``frame_decoder`` (a copy of weights, no forward pass) nor by the
        numpy decoder it returns. One call per public call (methods that use others report once, under
        their own name). Set it on the class to watch every session, or on one instance (which takes
        precedence); None (the default) costs nothing. A test can record
        ``threading.current_thread()`` in it, or raise to forbid torch on a thread (the exception
        propagates out of the session call, before any torch work).
    """

    torch_call_hook: Optional[Callable[[str], None]] = None

    def __init__(self, model: Optional[str | os.PathLike] = None, device: str = "auto"):
        self.device = pick_device(device)
        self.loaded: Optional[LoadedModel] = load_model(model, self.device)
        self.model: Optional[CrossModalVAE] = self.loaded.model.eval()
        self.config = self.loaded.config
        self.spectral = self.loaded.spectral
        self.vocabulary: dict[str, list[str]] = self.config.vocabulary
        # Facts kept beside the network, so that they outlive close().
        self._path = self.loaded.path
        self._instrument_ranges = dict(self.loaded.instrument_ranges)
        self._facts = ModelFacts(self._path, self.vocabulary, self._instrument_ranges)
        self._missing_instruments = list(self.loaded.missing_instruments)
        # Counted once here, where torch may run (the app asks from its GUI thread, which must not call torch).
        self.weight_bytes = sum(t.numel() * t.element_size()
                                for t in (*self.model.parameters(), *self.model.buffers()))
        self._projection = self.loaded.projection
        # The navigator's views: the file's PCA at once, others added by whoever computes them (views.py).
        self._views: dict[str, LatentView] = {"pca": pca_view(self._projection)}
        self._view = self._views["pca"]
        self._label_cache: dict[tuple, np.ndarray] = {}
        self._cache_lock = threading.Lock()
        # Life cycle: _in_flight counts the calls in progress; close() sets _closed, waits for the
        # count to reach zero, and the network is released once (_released) by whoever sees it last.
        self._state = threading.Condition()
        self._in_flight = 0
        self._closed = False
        self._released = False

    # -- life cycle ----------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def close(self, timeout: float = CLOSE_TIMEOUT) -> bool:
        """Refuse new calls, wait up to ``timeout`` seconds for the calls in progress, then release the
        model's memory (GPU memory too) rather than when the session is collected.

        Returns True when the network was released (now, or by an earlier close); False when calls
        were still running after ``timeout``: the last of them releases it as it returns. Safe to call
        from any thread and more than once; calls that start after it raise :class:`SessionClosed`.
        Never call it from inside a session call on the same thread (it would wait for itself).
        """
        with self._state:
            self._closed = True
            idle = self._state.wait_for(lambda: self._in_flight == 0, timeout)
            release = idle and not self._released
            if release:
                self._released = True
        if release:
            self._release()
        return idle

    def check_open(self) -> None:
        """Raise :class:`SessionClosed` if the session was closed (long jobs call it between blocks)."""
        if self._closed:
            raise SessionClosed(f"the model {self.name} was closed")

    @contextmanager
    def _in_use(self) -> Iterator[None]:
        """Count one call in progress; close() waits for it, and a call after close() is refused."""
        with self._state:
            self.check_open()
            self._in_flight += 1
        try:
            yield
        finally:
            with self._state:
                self._in_flight -= 1
                release = self._in_flight == 0 and self._closed and not self._released
                if release:
                    self._released = True
                self._state.notify_all()
            if release:  # close() gave up waiting: the last call out releases the network
                self._release()

    def _torch_call(self, method: str) -> None:
        # Looked up on the instance first; a function set on the class is read from the class
        # __dict__ chain, not bound as a method, so the hook always receives just the name.
        hook = self.__dict__.get("torch_call_hook")
        if hook is None:
            hook = type(self).torch_call_hook
        if hook is not None:
            hook(method)

    @property
    def _net(self) -> CrossModalVAE:
        """The network, for code inside ``_in_use``: that refuses a closed session, and the network is
        released only once no call is in use, so it is there."""
        model = self.model
        assert model is not None, "the network is used only inside _in_use"
        return model

    def _release(self) -> None:
        self.model = None
        self.loaded = None
        with self._cache_lock:
            self._label_cache.clear()
        if self.device.type == "cuda":
            import gc

            gc.collect()
            torch.cuda.empty_cache()

    # -- facts ---------------------------------------------------------------------------------
    @property
    def path(self):
        return self._path

    @property
    def name(self) -> str:
        """The model's name for messages: its folder (models/NAME/model.safetensors), else the file's stem."""
        return self._path.parent.name if self._path.stem == "model" else self._path.stem

    @property
    def instruments(self) -> list[str]:
        return [i for i in self.vocabulary["instrument"] if i != SILENT]

    @property
    def voices(self) -> int:
        """Notes the model hears at once (1: single notes; more: a mixture model, lowest note first)."""
        return int(self.config.voices)

    @property
    def dynamics(self) -> list[str]:
        return [d for d in self.vocabulary["dynamics"] if d != SILENT]

    @property
    def missing_instruments(self) -> list[str]:
        """Instruments Glissando knows that this model was not trained on (a model from an older
        vocabulary, or one trained on a few instruments)."""
        return self._missing_instruments

    def instrument_range(self, instrument: str) -> tuple[int, int]:
        return self._facts.instrument_range(instrument)

    def check_note(self, midi: int, dynamics: str, instrument: str) -> None:
        """The refusals the command line gives from the file's header alone (ModelFacts), word for word."""
        self._facts.check_note(midi, dynamics, instrument)

    # -- the four translations -----------------------------------------------------------------
    # Each public method that runs the network counts itself in progress (_in_use), reports to the
    # hook, and calls the unguarded _methods below, so that one public call is one hook call.
    def encode_signal(self, log_frames: np.ndarray) -> np.ndarray:
        with self._in_use():
            self._torch_call("encode_signal")
            return self._encode_signal(log_frames)

    def decode_signal(self, latents: np.ndarray) -> np.ndarray:
        """Latents -> log-magnitude frames (the decoded Gaussian's mean)."""
        with self._in_use():
            self._torch_call("decode_signal")
            return self._decode_signal(latents)

    def decode_magnitudes(self, latents: np.ndarray) -> np.ndarray:
        """Latents -> linear NSGT magnitudes (T, n_bins).

        A held note repeats one latent for hundreds of frames: each distinct latent is decoded once.
        """
        with self._in_use():
            latents = np.asarray(latents, dtype=np.float32)
            if len(latents) == 0:
                return np.zeros((0, self.config.n_bins), np.float32)
            self._torch_call("decode_magnitudes")
            # Runs of equal consecutive rows (np.unique with an axis sorts, which costs more than it saves).
            new = np.concatenate([[True], np.any(latents[1:] != latents[:-1], axis=1)])
            mags = np.maximum(np.exp(self._decode_signal(latents[new])) - self.spectral.log_floor, 0.0)
            return mags[np.cumsum(new) - 1]

    def frame_decoder(self):
        """A numpy copy of the signal decoder for one latent at a time: latent (D,) -> magnitudes (n_bins,).

        The live engine decodes one frame per 11.6 ms hop; torch's thread pool, woken for each tiny
        matrix product, stalls for tens of milliseconds when the cores are busy, numpy does not.
        Built from the model's own layers, so it is the same network. The function holds its own
        copies of the weights: any thread may call it, and it keeps working after close().
        """
        with self._in_use():
            layers: list[Optional[tuple[np.ndarray, np.ndarray]]] = []  # (weight, bias) of a Linear; None: ReLU
            for module in self._net.signal_decoder:
                if isinstance(module, torch.nn.Linear):
                    layers.append((module.weight.detach().cpu().numpy().T.copy(),
                                   module.bias.detach().cpu().numpy().copy()))
                elif isinstance(module, torch.nn.ReLU):
                    layers.append(None)
                else:
                    raise TypeError(f"frame_decoder does not know the layer {type(module).__name__}")
            scale, mean = float(self._net.norm_scale), float(self._net.norm_mean)
        floor = self.spectral.log_floor

        def decode(latent: np.ndarray) -> np.ndarray:
            x = np.asarray(latent, dtype=np.float32)
            for layer in layers:
                x = np.maximum(x, 0.0) if layer is None else x @ layer[0] + layer[1]
            return np.maximum(np.exp(x * scale + mean) - floor, 0.0)

        return decode

    def decode_symbols(self, latents: np.ndarray) -> dict[str, np.ndarray]:
        """Latents -> per-family label probabilities, each (T, vocabulary size)."""
        with self._in_use():
            self._torch_call("decode_symbols")
            return self._decode_symbols(latents)

    def signal_to_symbols(self, log_frames: np.ndarray) -> dict[str, np.ndarray]:
        with self._in_use():
            self._torch_call("signal_to_symbols")
            return self._decode_symbols(self._encode_signal(log_frames))

    def signal_to_voices(self, log_frames: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Per voice slot, lowest note first, each family's probabilities for every frame (one slot for a
        single-note model)."""
        with self._in_use():
            self._torch_call("signal_to_voices")
            z = self._tensor(self._encode_signal(log_frames))
            with torch.no_grad():
                parts = [[lg.softmax(-1) for lg in self._net.decode_symbols(b)] for b in z.split(BATCH)]
            n = len(FAMILIES)
            return [{f: torch.cat([p[k * n + j] for p in parts]).cpu().numpy() for j, f in enumerate(FAMILIES)}
                    for k in range(self.voices)]

    def reconstruct(self, log_frames: np.ndarray) -> np.ndarray:
        with self._in_use():
            self._torch_call("reconstruct")
            return self._decode_signal(self._encode_signal(log_frames))

    def label_latent(self, midi: Optional[int], dynamics: Optional[str], instrument: Optional[str]) -> np.ndarray:
        """The symbol encoder's mean for one label set; ``midi=None`` means silence.

        Cached per label set: the array returned is shared with every caller and read-only.
        """
        key = (midi, dynamics, instrument)
        with self._in_use():
            with self._cache_lock:
                cached = self._label_cache.get(key)
            if cached is not None:
                return cached
            self._torch_call("label_latent")
            if midi is None:
                labels: dict[str, Optional[str]] = {f: SILENT for f in FAMILIES}
            else:
                labels = _note_labels(midi, dynamics, instrument)
            # Encoded outside the lock (two threads may both encode a new label set; the first stored
            # wins, so every caller gets the same array).
            with torch.no_grad():
                latent = self._net.encode_symbols(self._net.label_indices([labels]))[0][0].cpu().numpy()
            latent.setflags(write=False)
            with self._cache_lock:
                return self._label_cache.setdefault(key, latent)

    def silence_latent(self) -> np.ndarray:
        return self.label_latent(None, None, None)

    def label_latents(self, label_sets: list[tuple[int, str, str]]) -> np.ndarray:
        """(N, latent_dim): :meth:`label_latent` of many sounding label sets, the ones not cached yet encoded
        in one batch (a view of every label set the model knows takes one forward pass, not thousands)."""
        with self._in_use():
            with self._cache_lock:
                missing = sorted({key for key in label_sets if key not in self._label_cache})
            if missing:
                self._torch_call("label_latent")
                labels = [_note_labels(*key) for key in missing]
                with torch.no_grad():
                    encoded = self._net.encode_symbols(self._net.label_indices(labels))[0].cpu().numpy()
                with self._cache_lock:
                    for key, latent in zip(missing, encoded):
                        latent.setflags(write=False)
                        self._label_cache.setdefault(key, latent)
            with self._cache_lock:
                return np.stack([self._label_cache[key] for key in label_sets])

    def label_distribution(self, midi: int, dynamics: str, instrument: str) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the symbol encoder's posterior for one label set."""
        with self._in_use():
            self._torch_call("label_distribution")
            labels = _note_labels(midi, dynamics, instrument)
            with torch.no_grad():
                mu, logvar = self._net.encode_symbols(self._net.label_indices([labels]))
            return mu[0].cpu().numpy(), (0.5 * logvar[0]).exp().cpu().numpy()

    def chord_distribution(self, notes: list[tuple[int, str, str]]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the symbol encoder's posterior for several notes at once, each
        ``(midi, dynamics, instrument)``: a mixture model's label set with one note per voice slot, lowest
        note first (the order the model was trained in, whatever order ``notes`` come in), the slots no note
        fills silent. One note is :meth:`label_distribution`'s answer.

        Refused with a GlissandoError: a chord of more notes than the model's voices (the limit named), and
        a note the model cannot play (the note named, as :meth:`check_note` words it). Reported to the
        torch hook as ``chord_distribution``.
        """
        notes = sorted(notes, key=lambda n: n[0])
        if not notes:
            raise GlissandoError("a chord needs at least one note")
        if len(notes) > self.voices:
            one = "one note at a time" if self.voices == 1 else f"at most {self.voices} notes at once"
            raise GlissandoError(f"a chord of {len(notes)} notes is beyond the model {self.name}: it hears {one} "
                                 f"(its voices: {self.voices})")
        for midi, dynamics, instrument in notes:
            self.check_note(midi, dynamics, instrument)
        with self._in_use():
            self._torch_call("chord_distribution")
            chord = [_note_labels(*note) for note in notes]
            with torch.no_grad():
                mu, logvar = self._net.encode_symbols(self._net.label_indices([chord]))
            return mu[0].cpu().numpy(), (0.5 * logvar[0]).exp().cpu().numpy()

    # The unguarded forward passes, for callers already inside _in_use.
    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        a = np.asarray(array, dtype=np.float32)
        if not a.flags.writeable:  # a cached latent (or a view of one): torch warns on memory it may not write
            a = a.copy()
        return torch.from_numpy(a).to(self.device)

    @torch.no_grad()
    def _encode_signal(self, log_frames: np.ndarray) -> np.ndarray:
        x = self._tensor(log_frames)
        return torch.cat([self._net.encode_signal(self._net.normalize(b))[0] for b in x.split(BATCH)]).cpu().numpy() \
            if len(x) else np.zeros((0, self.config.latent_dim), np.float32)

    @torch.no_grad()
    def _decode_signal(self, latents: np.ndarray) -> np.ndarray:
        z = self._tensor(latents)
        out = [self._net.denormalize(self._net.decode_signal(b)[0]) for b in z.split(BATCH)]
        return torch.cat(out).cpu().numpy() if out else np.zeros((0, self.config.n_bins), np.float32)

    @torch.no_grad()
    def _decode_symbols(self, latents: np.ndarray) -> dict[str, np.ndarray]:
        z = self._tensor(latents)
        parts = [[lg.softmax(-1) for lg in self._net.decode_symbols(b)] for b in z.split(BATCH)]
        return {f: torch.cat([p[j] for p in parts]).cpu().numpy() for j, f in enumerate(FAMILIES)}

    def bin_frequencies(self) -> np.ndarray:
        """Centre frequency (Hz) of each of the decoded magnitudes' bins."""
        return self.spectral.bin_frequencies(self.config.n_bins)

    def move_in_view(self, latent: np.ndarray, point_3d: np.ndarray) -> np.ndarray:
        """The latent that projects to ``point_3d`` and differs from ``latent`` only inside the
        navigator's 3-D subspace: what the navigator's cursor becomes when the user moves it."""
        return self._view.move(latent, point_3d)

    def project_3d(self, latents: np.ndarray) -> np.ndarray:
        """Latents -> the navigator's 3-D coordinates in the current view (PCA of the training posteriors
        until another view is chosen)."""
        return self._view.project(latents)

    @property
    def view(self) -> LatentView:
        return self._view

    @property
    def views(self) -> dict[str, LatentView]:
        return dict(self._views)

    def add_view(self, view: LatentView) -> None:
        self._views[view.name] = view

    def use_view(self, name: str) -> LatentView:
        """Project and move in view ``name`` from now on (every caller of project_3d / move_in_view)."""
        if name not in self._views:
            raise GlissandoError(f"the model {self.name} has no view {name!r} (it has {', '.join(self._views)})")
        self._view = self._views[name]
        return self._view


def _note_labels(midi: int, dynamics: Optional[str], instrument: Optional[str]) -> dict[str, Optional[str]]:
    """One sounding note's labels, family by family, as the symbol encoder takes them."""
    pc, octave = midi_to_labels(midi)
    return {"pitch_class": pc, "octave": octave, "dynamics": dynamics, "instrument": instrument}
