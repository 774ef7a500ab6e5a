"""Held sounds as seamless loops: what a note sounds like once the cursor or the key rests on it.

Streaming partial synthesis (synth.py) answers within a hop but only approximates a decoded frame
(spectral convergence about 0.19 against it): each peak becomes one sinusoid, and the decoded peaks
are wider than sinusoids. A held label set has all the time it wants, though. Here a worker thread
reconstructs, for the frame being held, one block of audio whose NSGT magnitudes match that frame
everywhere, with fast Griffin-Lim on a circular signal: the transform treats the block as periodic,
so the result tiles without a seam (about 0.03 from the decoded frame after 40 iterations, 0.2 s on
one core). The engine cross-fades from the synth into the loop and back out when the sound moves.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Callable, Optional

import numpy as np

from ..spectral import SpectralConfig
from ..spectral.phase import LOOP_ITERATIONS, steady_loop

log = logging.getLogger(__name__)


class LoopCache:
    """Loops by key, made on a worker thread of its own (one torch thread). The producer asks with ``request``
    and looks with ``get``; neither blocks. Only the newest request is kept: a cursor that moved on does not
    queue work."""

    def __init__(self, config: SpectralConfig, capacity: int = 48, length: Optional[int] = None,
                 iterations: int = LOOP_ITERATIONS):
        # By default the model's own analysis block (its training frames are analysed with it): the low
        # bins' windows depend on the length, so a loop made with another one would match the frame less
        # well there. It is also offline rendering's block, which renders held notes from the same loops
        # (render.py).
        self.length = config.block if length is None else length
        self.config, self.capacity, self.iterations = config, capacity, iterations
        # Written by the worker only (insert, evict the oldest); the producer only reads.
        self._loops: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._pending: Optional[tuple[bytes, np.ndarray]] = None
        self._busy_with: Optional[bytes] = None
        self._wake = threading.Event()
        # Called on the worker with each new loop: the engine forwards loops to a synthesis process this way.
        self.on_made: Optional[Callable[[bytes, np.ndarray], None]] = None
        self._running = False
        self._thread: Optional[threading.Thread] = None

    def get(self, key: bytes) -> Optional[np.ndarray]:
        return self._loops.get(key)

    def request(self, key: bytes, magnitudes: np.ndarray) -> None:
        if key == self._busy_with or key in self._loops:
            return
        pending = self._pending
        if pending is None or pending[0] != key:
            self._pending = (key, magnitudes)
            self._wake.set()

    def start(self) -> None:
        if self._running:
            return
        import torch

        self._running = True
        threads = torch.get_num_threads()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._work, args=(ready,), name="glissando-held-loops", daemon=True)
        self._thread.start()
        ready.wait(10.0)
        # torch.set_num_threads also sets the count that threads started later begin with (renders on
        # new worker threads ran on one core): give that back. The worker keeps its own.
        torch.set_num_threads(threads)

    def stop(self) -> None:
        self._running = False
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None

    def _work(self, ready: threading.Event) -> None:
        import torch

        # One torch thread, so the audio producer and the GUI keep the other cores (with two, 16
        # underruns in bench/latency.py's 20 s of held notes; none with one). A thread takes torch's
        # shared count at its first torch call: make that call first, then set this thread's own.
        torch.get_num_threads()
        torch.set_num_threads(1)
        ready.set()
        while self._running:
            self._wake.wait(0.5)
            self._wake.clear()
            request, self._pending = self._pending, None
            if request is None or request[0] in self._loops:
                continue
            key, magnitudes = request
            self._busy_with = key
            try:
                loop = steady_loop(magnitudes, self.config, self.length, self.iterations)
            except Exception as exc:  # the streaming synth goes on playing; say why the loop did not come
                log.warning("held loop not made: %s", exc)
                self._busy_with = None
                continue
            self._loops[key] = loop
            while len(self._loops) > self.capacity:
                self._loops.popitem(last=False)
            self._busy_with = None
            on_made = self.on_made
            if on_made is not None:
                on_made(key, loop)
