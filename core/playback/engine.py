"""The real-time engine: a producer thread follows the latent target and synthesises hop by hop into a
preallocated ring buffer; the output stream's callback only copies out of that ring.

Controls (the navigator's cursor, label picks, MIDI notes, the mod wheel) arrive from any thread as
one tuple replaced in a single store, so neither side ever takes a lock; the producer picks up the
newest control at its next hop. The GUI reads ``underruns`` and ``playing_generation`` from a timer.
"""
from __future__ import annotations

import gc
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..interpolation import MODES, interpolate, slerp
from .loops import LoopCache
from .output import AudioUnavailable, _sounddevice
from .synth import PartialSynth

SWITCH_INTERVAL = 0.0001  # seconds
# A held sound moves to its loop (loops.py) once the sounding latent has not changed for this long:
# a cursor being dragged (a new position every 20 ms or so) never asks for one.
STEADY_SECONDS = 0.035
LOOP_FADE_OUT_SECONDS = 0.035  # back to the synth this soon after a move: the move is heard at once
HISTORY = 2048  # samples of the synth's output kept to line the loop up with it (a 30 Hz period and more)

# Process-wide settings a playing engine changes (the interpreter's switch interval, a frozen garbage
# collector). Shared by every engine: the first to start records them, the last to stop restores them,
# so two engines started and stopped in any order never leave the other one playing without them.
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
        # See _produce: the callback and the producer need the GIL promptly. Set here, under the lock
        # with its record, rather than first in the producer thread, which could run after a stop.
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
    latency_blocks: int = 2  # how many blocks the producer keeps ahead of the callback
    glide: float = 0.06  # seconds to move between targets (none: jump)
    interpolation: str = "linear"
    capacity: int = 1 << 14  # ring size in samples (a power of two, a multiple of the block)
    held_loops: bool = True  # held sounds move from the streaming synth to their reconstructed loop
    loop_fade: float = 0.1  # seconds of cross-fade into a loop


def _ease(w: float, mode: str) -> float:
    if mode == "none":
        return 1.0
    if mode == "cubic":  # zero slope at both ends: the glide leaves and lands smoothly
        return w * w * (3.0 - 2.0 * w)
    return w


class LiveEngine:
    """``session`` decodes latents; ``stream_factory`` builds the output stream (sounddevice.OutputStream
    by default; tests and benchmarks pass a fake). ``on_notice`` receives one-line messages for the
    user (device gone, reopened) on the engine's threads. ``settings`` None: the defaults."""

    def __init__(self, session, settings: Optional[EngineSettings] = None, stream_factory: Optional[Callable] = None,
                 device: Optional[int] = None, on_notice: Callable[[str], None] = lambda m: None):
        if settings is None:
            settings = EngineSettings()
        self.session = session
        self.settings = settings
        self.sample_rate = session.spectral.sample_rate
        self.block = settings.block
        self.device = device
        self.on_notice = on_notice
        self._factory = stream_factory
        if settings.capacity % self.block or settings.capacity & (settings.capacity - 1):
            raise ValueError("the ring capacity must be a power of two and a multiple of the block")
        # The ring holds audio at the device's rate: the model's, unless the device refuses it (then
        # the producer resamples, see _open_stream). One control generation per device block.
        self.device_rate = self.sample_rate
        self.device_block = self.block
        self._resampler = None
        self._allocate_ring(settings.capacity)
        self.read = 0  # advanced only by the callback
        self.write = 0  # advanced only by the producer (device samples)
        self.produced = 0  # model-rate samples synthesised: the clock trajectories are played by
        hop_seconds = self.block / self.sample_rate
        self._steady_hops = max(1, round(STEADY_SECONDS / hop_seconds))
        self._fade_out_hops = max(1, round(LOOP_FADE_OUT_SECONDS / hop_seconds))
        self.underruns = 0
        self.playing_generation = 0
        self.synth = PartialSynth(session.spectral, session.config.n_bins, self.block)
        self._decode = session.frame_decoder()
        silence = session.silence_latent().astype(np.float64)
        self.silence = silence
        # (generation, target latent, glide seconds, interpolation): replaced whole by every control
        self._control = (0, silence, 0.0, settings.interpolation)
        self._modulation = (np.zeros_like(silence), 0.0)  # (direction, amount): the mod wheel
        # Rendered audio mixed in (MIDI renders, trajectories), and its position.
        self._clip: tuple[Optional[np.ndarray], int] = (None, 0)
        # (start sample, times, latents, mode, release glide): a trajectory played live.
        self._path: Optional[tuple[int, np.ndarray, np.ndarray, str, Optional[float]]] = None
        self._current = silence.copy()
        self._glide_from, self._glide_done, self._glide_total, self._generation = silence.copy(), 0, 1, 0
        self._mode = settings.interpolation
        self._mags_for: Optional[np.ndarray] = None  # the latent self._mags was decoded from
        self._mags: Optional[np.ndarray] = None
        self.loops = LoopCache(session.spectral) if settings.held_loops else None
        self._steady = 0  # hops the sounding latent has stayed exactly the same
        self._control_age = 0  # hops since the newest control arrived
        self._latent_key = b""
        self._loop: Optional[tuple[bytes, np.ndarray]] = None  # the loop playing or fading
        self._loop_pos = 0
        self._loop_level = 0.0  # 0: the synth alone .. 1: the loop alone
        self._loop_step = 0.0  # level change per hop: > 0 fading in, < 0 fading out
        self._fade_gain = 1.0  # the last hop's power correction during a cross-fade
        self._history = np.zeros(HISTORY, dtype=np.float32)
        self._ramp = np.arange(1, self.block + 1, dtype=np.float32) / self.block
        self._stream = None
        self._thread: Optional[threading.Thread] = None
        self._running = False
        self._holds_process_settings = False  # whether this engine counts in _process_users

    @property
    def started(self) -> bool:
        return self._running

    @property
    def loop_level(self) -> float:
        """0 while the streaming synth alone sounds, 1 once a held sound plays from its loop."""
        return self._loop_level

    # == controls (any thread) ========================================================================
    def set_target(self, latent: np.ndarray, glide: Optional[float] = None, interpolation: Optional[str] = None) -> int:
        mode = interpolation or self.settings.interpolation
        if mode not in MODES:
            raise ValueError(f"unknown interpolation {mode!r}")
        generation = self._control[0] + 1
        self._path = None
        self._control = (generation, np.asarray(latent, dtype=np.float64).copy(),
                         self.settings.glide if glide is None else float(glide), mode)
        return generation

    def release(self, glide: float = 0.08) -> int:
        """Back to silence (a note-off)."""
        return self.set_target(self.silence, glide, "linear")

    def set_modulation(self, direction: np.ndarray, amount: float) -> None:
        """Offset the sound along ``direction`` (a latent vector) by ``amount`` (0..1): the mod wheel."""
        self._modulation = (np.asarray(direction, dtype=np.float64), float(amount))

    def play_path(self, times: np.ndarray, latents: np.ndarray, interpolation: str,
                  release_glide: Optional[float] = None) -> int:
        """Follow a trajectory in real time, starting now; with ``release_glide``, fade to silence
        over that many seconds once it has been played."""
        generation = self.set_target(latents[0], 0.0, "none")
        self._path = (self.produced, np.asarray(times, float), np.asarray(latents, float), interpolation, release_glide)
        return generation

    def play_clip(self, audio: np.ndarray) -> None:
        self._clip = (np.ascontiguousarray(audio, dtype=np.float32), 0)

    def stop_clip(self) -> None:
        self._clip = (None, 0)

    # == lifetime =====================================================================================
    def start(self) -> None:
        """Open the stream and start the producer; AudioUnavailable says why it cannot."""
        if self._running:
            return
        # The switch interval and a frozen GC, restored by stop() (see _take_process_settings).
        if not self._holds_process_settings:
            _take_process_settings()
            self._holds_process_settings = True
        try:
            self._open_stream()
        except BaseException:
            self._holds_process_settings = False
            _give_back_process_settings()
            raise
        if self.loops is not None:
            self.loops.start()
        self._running = True
        self._thread = threading.Thread(target=self._produce, name="glissando-audio-producer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None
        if self.loops is not None:
            self.loops.stop()
        self._close_stream()
        # A later start opens the device afresh, at whatever rate it then takes.
        self._resampler, self.device_rate, self.device_block = None, self.sample_rate, self.block
        if self._holds_process_settings:  # after the producer has ended: it no longer needs them
            self._holds_process_settings = False
            _give_back_process_settings()

    def _open_stream(self) -> None:
        """Open at the model's rate; a device that refuses it (raw ALSA hardware, WASAPI in shared
        mode) is opened at its own rate, and the producer resamples."""
        factory = self._factory or _sounddevice().OutputStream
        failure = None
        for rate in self._rates_to_try():
            block = self.block if rate == self.sample_rate else int(round(self.block * rate / self.sample_rate))
            try:
                stream = factory(samplerate=rate, channels=1, dtype="float32", blocksize=block,
                                 device=self.device, callback=self._callback, finished_callback=self._finished)
            except AudioUnavailable:
                raise
            except Exception as exc:
                failure = failure or exc
                continue
            self._use_rate(rate, block)
            try:
                stream.start()
            except Exception as exc:
                failure = failure or exc
                try:
                    stream.close()
                except Exception:
                    pass  # it never started; nothing more can be released
                continue
            self._stream = stream
            return
        raise AudioUnavailable(f"playback is off: the audio device cannot be opened ({failure})")

    def _rates_to_try(self) -> list[int]:
        # The common rates before the device's own default: resampling to 96 or 192 kHz costs CPU for nothing.
        rates = [self.sample_rate, 48000, 44100]
        if self._factory is None:
            try:
                rates.append(int(_sounddevice().query_devices(self.device, "output")["default_samplerate"]))
            except Exception:
                pass  # no such device, or no PortAudio: the common rates are all there is to try
        return list(dict.fromkeys(rates))

    def _allocate_ring(self, capacity: int) -> None:
        self.ring = np.zeros(capacity, dtype=np.float32)
        self.ring_generation = np.zeros(capacity // 64, dtype=np.int64)
        self.mask = capacity - 1

    def _use_rate(self, rate: int, block: int) -> None:
        if rate == self.device_rate:
            return
        resampler = None
        if rate != self.sample_rate:
            try:
                import soxr
            except ImportError:
                raise AudioUnavailable(f"playback is off: the audio device plays only at {rate} Hz, and resampling "
                                       f"needs the soxr package (pip install soxr)") from None
            # 'LQ': flat to 8 kHz (-3.5 dB at 9 kHz) and it returns samples for every hop at once; the
            # better recipes hold back three hops (35 ms), more than the whole latency budget.
            resampler = soxr.ResampleStream(self.sample_rate, rate, 1, dtype="float32", quality="LQ")
            self.on_notice(f"the audio device plays at {rate} Hz, not the model's {self.sample_rate} Hz: resampling")
        # No callback runs now (no stream is started): what is queued at the old rate is dropped, and
        # the ring grows if the device's blocks would not leave it room to spare (96 and 192 kHz).
        needed = 4 * (self.settings.latency_blocks + 2) * block
        if needed > len(self.ring):
            self._allocate_ring(1 << (needed - 1).bit_length())
        self.read = self.write
        self._resampler, self.device_rate, self.device_block = resampler, rate, block

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:
                pass  # a vanished device cannot be closed twice; there is nothing left to release

    def _finished(self) -> None:
        # close() forgets the stream first; a stream still known here ended on its own: the device
        # failed or was unplugged. The producer reopens it (see _recover).
        if self._stream is not None:
            self._stream = None
            self.on_notice("audio device lost: playback paused, retrying")

    def _recover(self) -> None:
        try:
            self._open_stream()
            self.on_notice("audio device back: playback resumed")
        except AudioUnavailable:
            pass  # still gone; try again a little later

    # == the real-time side ===========================================================================
    def _callback(self, outdata, frames, time_info, status) -> None:
        """PortAudio's thread: copy from the ring, pad with silence when it runs dry. No allocation of
        buffers, no locks, no model, no Qt."""
        r = self.read
        available = self.write - r
        n = frames if available >= frames else max(available, 0)
        start = r & self.mask
        end = start + n
        if end <= len(self.ring):
            outdata[:n, 0] = self.ring[start:end]
        else:
            first = len(self.ring) - start
            outdata[:first, 0] = self.ring[start:]
            outdata[first:n, 0] = self.ring[: n - first]
        if n < frames:
            outdata[n:, 0] = 0.0
            self.underruns += 1
        if n:
            self.playing_generation = self.ring_generation[(r // self.device_block) % len(self.ring_generation)]
        self.read = r + n

    # == the producer thread ==========================================================================
    def _produce(self) -> None:
        # The callback and this thread need the GIL promptly even while the GUI thread computes: each
        # hop takes and releases it dozens of times, and each time may wait a whole switch interval.
        # bench/latency.py with a busy interpreter thread, 20 s: 375 underruns at 2 ms, 42 at 0.5 ms,
        # 0 at 0.1 ms (Python's default is 5 ms).
        if sys.getswitchinterval() > SWITCH_INTERVAL:
            sys.setswitchinterval(SWITCH_INTERVAL)
        period = self.block / self.sample_rate
        while self._running:
            if self._stream is None:
                self._recover()
                time.sleep(0.2)
                continue
            # Half a block short of the target, not a whole one: a resampled hop is not exactly a device
            # block (557.3 samples at 48 kHz), and topping up at a full target would let the queue, and
            # the latency, reach a third block. At the model's rate the two rules keep the same queue.
            if self.write - self.read >= (self.settings.latency_blocks * self.device_block) - self.device_block // 2:
                time.sleep(period / 8)
                continue
            self._write_hop()

    def _next_latent(self) -> tuple[int, np.ndarray]:
        generation, target, glide, mode = self._control
        path = self._path
        if path is not None and path[0] <= self.produced:
            start, times, latents, path_mode, release_glide = path
            t = (self.produced - start) / self.sample_rate
            if t > times[-1]:
                self._path = None
                self._current = latents[-1].copy()
                if release_glide is not None:  # the trajectory asked to end in silence
                    self.release(release_glide)
            else:
                self._current = interpolate(times, latents, np.array([t]), path_mode)[0]
            # The path's own control is used up: once it ends, the sound stays where the path did.
            self._generation, self._glide_done, self._glide_total = generation, 1, 1
            self._control_age = self._steady_hops + 1  # the path's first target is no held sound to prepare
            return generation, self._current
        if generation != self._generation:  # a new control: glide from wherever the sound is now
            self._generation = generation
            self._control_age = 0
            self._glide_from = self._current.copy()
            self._glide_total = max(1, int(round(glide * self.sample_rate / self.block))) if mode != "none" else 1
            self._glide_done = 0
            self._mode = mode
        else:
            self._control_age += 1
        if self._glide_done < self._glide_total:
            self._glide_done += 1
            w = _ease(self._glide_done / self._glide_total, self._mode)
            if w >= 1.0:  # land exactly on the target: a held sound is known by its latent's bytes
                self._current = target.copy()
            elif self._mode == "spherical":
                self._current = slerp(self._glide_from[None], target[None], np.array([[w]]))[0]
            else:
                self._current = self._glide_from + (target - self._glide_from) * w
        return generation, self._current

    def _write_hop(self) -> None:
        generation, latent = self._next_latent()
        direction, amount = self._modulation
        if amount:
            latent = latent + direction * amount
        mags = self._mags
        if mags is None or self._mags_for is None or not np.array_equal(latent, self._mags_for):
            mags = self._mags = self._decode(latent)
            self._mags_for = latent.copy()
            self._latent_key = latent.tobytes()
            self._steady = 0
        else:
            self._steady += 1
        hop = self.synth.next_hop(mags)
        self._history[: -self.block] = self._history[self.block :]
        self._history[-self.block :] = hop
        if self.loops is not None:
            hop = self._with_held_loop(hop)
        clip, position = self._clip
        if clip is not None and position < len(clip):
            part = clip[position : position + self.block]
            hop[: len(part)] += part
            self._clip = (clip, position + self.block) if self._clip[0] is clip else self._clip
        if self._resampler is not None:
            hop = self._resampler.resample_chunk(hop)
        self.produced += self.block
        self._write_ring(hop, generation)

    def _write_ring(self, samples: np.ndarray, generation: int) -> None:
        n = len(samples)
        if not n:
            return
        start = self.write & self.mask
        first = min(n, len(self.ring) - start)
        self.ring[start : start + first] = samples[:first]
        self.ring[: n - first] = samples[first:]
        marks = self.ring_generation
        for index in range(self.write // self.device_block, (self.write + n - 1) // self.device_block + 1):
            marks[index % len(marks)] = generation
        self.write += n

    # == held sounds: from the synth to their loop and back ===========================================
    def _audible(self, mags: np.ndarray) -> bool:
        return float(mags.max()) > self.synth.floor

    def _with_held_loop(self, hop: np.ndarray) -> np.ndarray:
        loops, mags = self.loops, self._mags
        assert loops is not None and mags is not None  # held loops are on; _write_hop decoded the hop
        key = self._latent_key
        if self._path is None and self._control_age == self._steady_hops:
            # A control that has stayed 35 ms is likely to be held: start its loop during the glide.
            _, target, _, _ = self._control
            direction, amount = self._modulation
            goal = target + direction * amount if amount else target
            goal_mags = self._decode(goal)
            if self._audible(goal_mags):
                loops.request(goal.tobytes(), goal_mags)
        if self._loop is not None and self._loop[0] != key and self._loop_step >= 0:
            self._loop_step = -1.0 / self._fade_out_hops  # the sound moved: back to the synth
            self._fade_gain = 1.0
        if self._loop is None and self._steady >= self._steady_hops and self._audible(mags):
            loop = loops.get(key)
            if loop is None:
                loops.request(key, mags)
            else:
                self._enter_loop(key, loop)
        if self._loop is None:
            return hop
        loop = self._loop[1]
        index = np.arange(self._loop_pos, self._loop_pos + self.block) % len(loop)
        self._loop_pos = int(index[-1] + 1) % len(loop)
        level = self._loop_level + self._loop_step
        level = 1.0 if level > 1.0 - 1e-9 else 0.0 if level < 1e-9 else level
        if level == self._loop_level:
            mixed = loop[index] if level == 1.0 else hop
        else:
            w = self._loop_level + (level - self._loop_level) * self._ramp
            held = loop[index]
            mixed = (1 - w) * hop + w * held
            # Partials the two share in opposite phase cancel mid-fade (the level fell by up to 8 dB in
            # 100 ms): each hop is scaled to the power the fade should have, the gain ramped from the
            # last hop's so it never steps.
            wanted = float(np.mean((1 - w) * hop * hop + w * held * held))
            got = float(np.mean(mixed * mixed))
            gain = min(4.0, max(0.25, np.sqrt(wanted / got))) if got > 0 else 1.0
            if level in (0.0, 1.0):
                gain = 1.0  # the fade's last hop lands on the loop (or the synth) alone, unscaled
            mixed = (mixed * (self._fade_gain + (gain - self._fade_gain) * self._ramp)).astype(np.float32)
            self._fade_gain = gain
        self._loop_level = level
        if level == 0.0 and self._loop_step < 0:
            self._loop, self._loop_step = None, 0.0
        elif level == 1.0:
            self._loop_step = 0.0
        return mixed

    def _enter_loop(self, key: bytes, loop: np.ndarray) -> None:
        """Start the loop where it best continues what the synth just played (the circular
        cross-correlation's peak), so that the strongest partials the two share stay in phase across
        the fade."""
        n = len(loop)
        correlation = np.fft.irfft(np.fft.rfft(loop) * np.conj(np.fft.rfft(self._history, n)), n)
        offset = int(np.argmax(correlation))
        self._loop = (key, loop)
        # The history ends with the hop about to be mixed: the loop's part for that hop starts one block
        # before the history's end (a block later put the shared partials in opposite phase: the mean
        # correlation over the fade was -0.5 for trumpet and cello, +0.6 this way).
        self._loop_pos = (offset + HISTORY - self.block) % n
        self._fade_gain = 1.0
        self._loop_level = 0.0
        self._loop_step = self.block / (self.settings.loop_fade * self.sample_rate)
