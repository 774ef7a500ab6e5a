"""The real-time engine: a producer follows the latent target and synthesises hop by hop into a preallocated
ring buffer; the output stream's callback only copies out of that ring.

The producer runs in a process of its own by default (producer.py says why), with a sound card's stream and
its callback beside it; the ring and the controls are shared memory (ring.py). A stream this process pulls
from (tests, comparisons) stays here and its callback reads the shared ring. ``EngineSettings(synthesis=
"thread")`` keeps the producer a thread of this process, as before, and is what the engine falls back to
when no process can be started.

Controls (the navigator's cursor, label picks, MIDI notes, the mod wheel) arrive from any thread and are
written whole into the shared control under a lock only writers take; the producer picks up the newest at
its next hop without locking. The GUI reads ``underruns``, ``playing_generation`` and ``loop_level`` from a
timer. ``control_latencies`` says how long each control took to reach the device's output (DAC) time.
"""
from __future__ import annotations

import gc
import queue
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from ..interpolation import MODES
from .loops import LoopCache
from .output import AudioUnavailable, StreamHolder
from .producer import SWITCH_INTERVAL, NumpyDecoder, Producer, process_main
from .ring import (
    BLOCK,
    DEVICE_UNDERFLOWS,
    LEAD,
    LOOP_LEVEL,
    PLAYING,
    RATE,
    READ,
    STOP,
    UNDERRUNS,
    WRITE,
    RingReader,
    SharedState,
)
from .synth import PartialSynth

__all__ = ["EngineSettings", "LiveEngine", "SWITCH_INTERVAL"]

MAX_DEVICE_RATE = 192000  # the ring is sized for a device this fast (the producer resamples to it)
START_TIMEOUT = 60.0  # seconds for the synthesis process to start and open its device

# Process-wide settings a playing engine changes (the interpreter's switch interval, a frozen garbage
# collector) when its callback or producer runs in this process. Shared by every engine: the first to start
# records them, the last to stop restores them, so two engines started and stopped in any order never leave
# the other one playing without them.
_process_lock = threading.Lock()
_process_users = 0
_saved_switch_interval = 0.005
_unfreeze_on_release = False


def _take_process_settings() -> None:
    global _process_users, _saved_switch_interval, _unfreeze_on_release
    with _process_lock:
        if _process_users == 0:
            _saved_switch_interval = sys.getswitchinterval()
            # gc.unfreeze() cannot tell our frozen objects from others': if the process had frozen some
            # before (a fork server's gc.freeze(), say), we leave the permanent generation as we found it.
            _unfreeze_on_release = gc.get_freeze_count() == 0
        _process_users += 1
        # A full garbage collection walks every object the process holds (torch, numpy, Qt) with the
        # GIL taken for tens of ms: one such pause a minute was the last source of underruns in
        # bench/latency.py. Objects alive now move to a permanent generation that later collections skip.
        gc.collect()
        gc.freeze()
        # The callback and the producer need the GIL promptly even while the GUI thread computes: each hop
        # takes and releases it dozens of times, and each time may wait a whole switch interval.
        # bench/latency.py with a busy interpreter thread, 20 s: 375 underruns at 2 ms, 42 at 0.5 ms, 0 at
        # 0.1 ms (Python's default is 5 ms). Set here, under the lock with its record.
        if sys.getswitchinterval() > SWITCH_INTERVAL:
            sys.setswitchinterval(SWITCH_INTERVAL)


def _give_back_process_settings() -> None:
    global _process_users
    with _process_lock:
        _process_users -= 1
        if _process_users:
            return
        sys.setswitchinterval(_saved_switch_interval)
        # Frozen objects are skipped by every collection for good, so garbage cycles among them (a closed
        # model's, a closed window's) would never be freed. That is the price of no pauses while playing;
        # once stopped, unfreezing returns them to the oldest generation and the next full collection
        # frees what died meanwhile. The pause it costs falls outside playback.
        if _unfreeze_on_release:
            gc.unfreeze()


@dataclass
class EngineSettings:
    block: int = 256  # samples per callback and per synthesised hop
    # The most the producer's lead may grow to after underruns, in blocks. It starts at min_lead.
    latency_blocks: int = 2
    # Seconds of audio the producer keeps ready before the device's next request, to start with and again
    # after each quiet spell. A stream that does not say when it plays (a pulled one) gets whole blocks.
    min_lead: float = 0.008
    glide: float = 0.06  # seconds to move between targets (none: jump)
    interpolation: str = "linear"
    capacity: int = 1 << 14  # the least ring size in samples (a power of two, a multiple of the block)
    held_loops: bool = True  # held sounds move from the streaming synth to their reconstructed loop
    loop_fade: float = 0.1  # seconds of cross-fade into a loop
    synthesis: str = "process"  # "process": a process of its own; "thread": a thread of this one
    # The synthesis process asks for real-time scheduling (SCHED_FIFO, where the system permits it).
    realtime: bool = True


class _NoProcess(Exception):
    """The synthesis process could not be started; the engine plays from a thread instead."""


class LiveEngine:
    """``session`` decodes latents; ``stream_factory`` builds the output stream (sounddevice.OutputStream
    by default; tests and benchmarks pass a fake). A factory with a true ``realtime`` attribute (a simulated
    sound card, output.PacedStream) is opened where the synthesis runs, like the default; any other is opened
    in this process. ``on_notice`` receives one-line messages for the user (device gone, reopened) on the
    engine's threads. ``settings`` None: the defaults.

    The synthesis process is started with multiprocessing's ``spawn``, which imports the main module again:
    a script that starts an engine needs the usual ``if __name__ == "__main__":`` guard."""

    def __init__(self, session, settings: Optional[EngineSettings] = None, stream_factory: Optional[Callable] = None,
                 device: Optional[int] = None, on_notice: Callable[[str], None] = lambda m: None):
        if settings is None:
            settings = EngineSettings()
        if settings.synthesis not in ("process", "thread"):
            raise ValueError(f"unknown synthesis {settings.synthesis!r}: 'process' or 'thread'")
        self.session = session
        self.settings = settings
        self.sample_rate = session.spectral.sample_rate
        self.block = settings.block
        self.device = device
        self.on_notice = on_notice
        self._factory = stream_factory
        if settings.capacity % self.block or settings.capacity & (settings.capacity - 1):
            raise ValueError("the ring capacity must be a power of two and a multiple of the block")
        self.synth = PartialSynth(session.spectral, session.config.n_bins, self.block)
        self._decode = session.frame_decoder()
        self.silence = session.silence_latent().astype(np.float64)
        self.loops = LoopCache(session.spectral) if settings.held_loops else None
        # Room for the largest lead plus two blocks, four times over, at the fastest rate a device may ask
        # for (the producer resamples to it): a 192 kHz device with 1024-sample blocks queues 25000 samples.
        most_lead = max(settings.min_lead, settings.latency_blocks * self.block / self.sample_rate)
        device_block = self.block * MAX_DEVICE_RATE / self.sample_rate
        needed = int(4 * (most_lead * MAX_DEVICE_RATE + 3 * device_block))
        capacity = max(settings.capacity, 1 << (needed - 1).bit_length())
        self.state = SharedState(capacity, len(self.silence), shared=settings.synthesis == "process")
        self.state.reset(self.sample_rate, self.block)
        self.ring = self.state.ring
        self._reader = RingReader(self.state)
        # (generation, target latent, glide seconds, interpolation) and (direction, amount): the newest
        # control and modulation as sent, also written to the shared state.
        self._writers = threading.Lock()
        self._control: tuple[int, np.ndarray, float, str] = (0, self.silence, 0.0, settings.interpolation)
        self._modulation: tuple[np.ndarray, float] = (np.zeros_like(self.silence), 0.0)
        self.state.write_control(0, self.silence, 0.0, settings.interpolation, time.monotonic())
        self._holder: Optional[StreamHolder] = None  # the stream, when it is opened in this process
        self._producer: Optional[Producer] = None  # the producer, when it is a thread of this process
        self._thread: Optional[threading.Thread] = None
        self._process: Any = None
        self._inbox: Any = None
        self._outbox: Any = None
        self._listener: Optional[threading.Thread] = None
        self._running = False
        self._holds_process_settings = False  # whether this engine counts in _process_users
        self.realtime = False  # whether the synthesis process got real-time scheduling

    # == what the GUI and the tests read ==============================================================
    @property
    def started(self) -> bool:
        return self._running

    @property
    def in_process(self) -> bool:
        """Whether the producer runs in a process of its own (False: a thread of this one, or stopped)."""
        return self._process is not None

    @property
    def loop_level(self) -> float:
        """0 while the streaming synth alone sounds, 1 once a held sound plays from its loop."""
        return float(self.state.floats[LOOP_LEVEL])

    @property
    def underruns(self) -> int:
        """Callbacks that found the ring short of a block since the engine was made."""
        return int(self.state.counters[UNDERRUNS])

    @property
    def device_underflows(self) -> int:
        """Callbacks the device flagged as coming too late (output underflow): glitches no lead can prevent."""
        return int(self.state.counters[DEVICE_UNDERFLOWS])

    @property
    def playing_generation(self) -> int:
        return int(self.state.counters[PLAYING])

    @property
    def lead(self) -> float:
        """Seconds of audio the producer now keeps ready before the device's next request."""
        return float(self.state.floats[LEAD])

    @property
    def read(self) -> int:
        return int(self.state.counters[READ])

    @property
    def write(self) -> int:
        return int(self.state.counters[WRITE])

    @property
    def device_rate(self) -> int:
        return int(self.state.counters[RATE])

    @property
    def device_block(self) -> int:
        return int(self.state.counters[BLOCK])

    def control_latencies(self, first: int, last: int) -> tuple[np.ndarray, int]:
        """Seconds from each control (generations ``first..last``) being sent to the device's output time of
        the first block that reflects it, for those heard; and how many were never heard on their own (a
        newer control came before their hop). Needs a stream that passes time info (PortAudio's does)."""
        return self.state.latencies(first, last)

    # == controls (any thread) ========================================================================
    def set_target(self, latent: np.ndarray, glide: Optional[float] = None, interpolation: Optional[str] = None) -> int:
        mode = interpolation or self.settings.interpolation
        if mode not in MODES:
            raise ValueError(f"unknown interpolation {mode!r}")
        latent = np.asarray(latent, dtype=np.float64).copy()
        glide = self.settings.glide if glide is None else float(glide)
        with self._writers:
            generation = self._control[0] + 1
            self._control = (generation, latent, glide, mode)
            self.state.write_control(generation, latent, glide, mode, time.monotonic())
        return generation

    def release(self, glide: float = 0.08) -> int:
        """Back to silence (a note-off)."""
        return self.set_target(self.silence, glide, "linear")

    def set_modulation(self, direction: np.ndarray, amount: float) -> None:
        """Offset the sound along ``direction`` (a latent vector) by ``amount`` (0..1): the mod wheel."""
        direction = np.asarray(direction, dtype=np.float64)
        with self._writers:
            self._modulation = (direction, float(amount))
            self.state.write_modulation(direction, float(amount))

    def play_path(self, times: np.ndarray, latents: np.ndarray, interpolation: str,
                  release_glide: Optional[float] = None) -> int:
        """Follow a trajectory in real time, starting at the next hop; with ``release_glide``, fade to silence
        over that many seconds once it has been played."""
        times, latents = np.asarray(times, float), np.asarray(latents, float)
        with self._writers:  # no other control between the path's first target and the path
            generation = self._set_target_locked(latents[0])
            self._post(("path", generation, times, latents, interpolation, release_glide))
        return generation

    def _set_target_locked(self, latent: np.ndarray) -> int:
        generation = self._control[0] + 1
        latent = np.asarray(latent, dtype=np.float64).copy()
        self._control = (generation, latent, 0.0, "none")
        self.state.write_control(generation, latent, 0.0, "none", time.monotonic())
        return generation

    def play_clip(self, audio: np.ndarray) -> None:
        self._post(("clip", np.ascontiguousarray(audio, dtype=np.float32)))

    def stop_clip(self) -> None:
        self._post(("clip", None))

    def _post(self, message: tuple) -> None:
        """To the producer, in order; dropped while stopped (nothing plays then)."""
        if self._inbox is not None:
            self._inbox.put(message)
        elif self._producer is not None:
            self._producer.post(message)

    # == lifetime =====================================================================================
    def start(self) -> None:
        """Open the stream and start the producer; AudioUnavailable says why it cannot."""
        if self._running:
            return
        self.state.reset(self.sample_rate, self.block)
        # The switch interval and a frozen GC, restored by stop() (see _take_process_settings): for a callback
        # or producer in this process, and for the threads that carry messages and make held loops.
        if not self._holds_process_settings:
            _take_process_settings()
            self._holds_process_settings = True
        try:
            if self.settings.synthesis == "process":
                try:
                    self._start_process()
                except _NoProcess as exc:
                    self.on_notice(f"playback runs in the app's process, where a busy window can interrupt it ({exc})")
                    self._start_thread()
            else:
                self._start_thread()
        except BaseException:
            self._holds_process_settings = False
            _give_back_process_settings()
            raise
        if self.loops is not None:
            self.loops.start()
        self._running = True

    def stop(self) -> None:
        self._running = False
        self.state.counters[STOP] = 1
        if self._process is not None:
            self._stop_process()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None
        self._producer = None
        self.realtime = False
        if self.loops is not None:
            self.loops.on_made = None
            self.loops.stop()
        if self._holder is not None:
            self._holder.close()
            self._holder = None
        # A later start opens the device afresh, at whatever rate it then takes.
        self.state.counters[RATE], self.state.counters[BLOCK] = self.sample_rate, self.block
        if self._holds_process_settings:  # after the producer has ended: it no longer needs them
            self._holds_process_settings = False
            _give_back_process_settings()

    def _callback(self, outdata, frames, time_info, status) -> None:
        """The callback of a stream opened in this process (see ring.RingReader)."""
        self._reader.callback(outdata, frames, time_info, status)

    def _open_here(self) -> None:
        """Open the stream in this process (its callback reads the shared ring)."""
        holder = StreamHolder(self._factory, self.device, self.sample_rate, self.block, self._callback,
                              self.on_notice, self.state.set_device)
        holder.open()
        self._holder = holder

    def _start_thread(self) -> None:
        self._open_here()
        producer = Producer(self.state, self._decode, self.synth, self.sample_rate, self.settings, self.silence,
                            self.loops, self.on_notice)
        self._producer = producer
        self._thread = threading.Thread(target=producer.run, args=(self._holder,), name="glissando-audio-producer",
                                        daemon=True)
        self._thread.start()

    # == the synthesis process ========================================================================
    def _start_process(self) -> None:
        import multiprocessing

        card = self._factory is None or bool(getattr(self._factory, "realtime", False))
        try:
            probes = np.stack([self.silence, self._control[1], self.silence + 0.5])
            decode = NumpyDecoder.like(self._decode, probes)
        except ValueError as exc:
            raise _NoProcess(str(exc)) from None
        if not card:
            self._open_here()
        spec = {"settings": self.settings, "spectral": self.session.spectral, "n_bins": self.session.config.n_bins,
                "gains": self.synth.gains, "decode": decode, "silence": self.silence,
                "device": (self._factory, self.device) if card else None}
        context = multiprocessing.get_context("spawn")
        inbox, outbox = context.Queue(), context.Queue()
        process = context.Process(target=process_main, args=(self.state.buffer, self.state.layout, spec, inbox, outbox),
                                  name="glissando-synthesis", daemon=True)
        try:
            process.start()
            reply = self._first_reply(process, outbox)
        except BaseException as exc:
            if process.is_alive():
                process.terminate()
            if process.pid is not None:
                process.join(timeout=5.0)
            for q in (inbox, outbox):
                q.cancel_join_thread()
                q.close()
            self._close_here()
            if isinstance(exc, (AudioUnavailable, KeyboardInterrupt)):
                raise
            raise _NoProcess(f"{type(exc).__name__}: {exc}") from None
        self._process, self._inbox, self._outbox = process, inbox, outbox
        self.realtime = bool(reply[3])
        if self.loops is not None:
            self.loops.on_made = self._send_loop
        self._listener = threading.Thread(target=self._listen, name="glissando-synthesis-listener", daemon=True)
        self._listener.start()

    def _first_reply(self, process: Any, outbox: Any) -> tuple:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                reply = outbox.get(timeout=0.1)
            except queue.Empty:
                if not process.is_alive():
                    raise RuntimeError(f"it ended at start (exit code {process.exitcode})") from None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no answer in {START_TIMEOUT:.0f} s") from None
                continue
            if reply[0] == "failed":
                raise AudioUnavailable(reply[1])
            if reply[0] == "error":
                raise RuntimeError(reply[1])
            if reply[0] == "notice":
                self.on_notice(reply[1])
                continue
            return reply

    def _close_here(self) -> None:
        if self._holder is not None:
            self._holder.close()
            self._holder = None

    def _send_loop(self, key: bytes, loop: np.ndarray) -> None:
        inbox = self._inbox
        if inbox is not None:
            inbox.put(("loop", key, loop))

    def _listen(self) -> None:
        """Messages from the synthesis process; and, for a stream opened here, reopening it once it is lost."""
        process, outbox = self._process, self._outbox
        next_recovery = 0.0
        while not self.state.counters[STOP]:
            try:
                message = outbox.get(timeout=0.2)
            except queue.Empty:
                message = None
            except (EOFError, OSError):
                break
            if message is not None:
                self._handle(message)
            holder = self._holder
            if holder is not None and holder.stream is None and time.monotonic() >= next_recovery:
                holder.recover()
                next_recovery = time.monotonic() + 0.2
            if not process.is_alive():
                if not self.state.counters[STOP]:
                    self.on_notice(f"playback stopped: the synthesis process ended (exit code {process.exitcode})")
                break

    def _handle(self, message: tuple) -> None:
        kind = message[0]
        if kind == "notice":
            self.on_notice(message[1])
        elif kind == "error":
            self.on_notice(f"playback stopped: {message[1]}")
        elif kind == "loop_request" and self.loops is not None:
            key, magnitudes = message[1], message[2]
            loop = self.loops.get(key)
            if loop is not None:
                self._send_loop(key, loop)  # made before, and forgotten there since
            else:
                self.loops.request(key, magnitudes)

    def _stop_process(self) -> None:
        process, inbox, outbox = self._process, self._inbox, self._outbox
        self._inbox = None
        try:
            inbox.put(("stop",))
        except Exception:
            pass  # the process is gone already
        process.join(timeout=5.0)
        if process.is_alive():
            process.terminate()
            process.join(timeout=5.0)
        self._process = None
        if self._listener is not None:
            self._listener.join(timeout=5.0)
            self._listener = None
        for q in (inbox, outbox):
            q.cancel_join_thread()  # what is left in a pipe nobody reads must not hold up this thread
            q.close()
        self._outbox = None
