"""The producer: follows the newest control and synthesises hop by hop into the ring (ring.py), a little ahead
of the moment the device will ask for it.

By default it runs in a process of its own (``process_main``), with the output stream's callback beside it:
there, neither the GUI's interpreter lock nor its garbage collector can hold up a hop or a callback. On two
cores with a busy GUI thread and a CPU-bound process, a thread of the GUI's process waited up to 200 ms for
the lock; that is more than any lead worth playing with. ``LiveEngine`` can also run it as a thread.

How far ahead is adaptive: the lead starts at ``min_lead`` seconds before the device's next request, grows
after every underrun or near miss (up to ``latency_blocks`` blocks) and shrinks back a step after each quiet
spell.
"""
from __future__ import annotations

import gc
import math
import pickle
import sys
import threading
import time
from collections import OrderedDict, deque
from typing import Any, Callable, Optional

import numpy as np

from ..interpolation import interpolate, slerp
from .output import AudioUnavailable, StreamHolder
from .ring import (
    BLOCK,
    CALLBACK_TIME,
    CLOCK_OFFSET,
    LEAD,
    LOOP_LEVEL,
    RATE,
    READ,
    READY,
    STOP,
    UNDERRUNS,
    WRITE,
    RingReader,
    SharedState,
)
from .synth import PartialSynth

SWITCH_INTERVAL = 0.0001  # seconds
# A held sound moves to its loop (loops.py) once the sounding latent has not changed for this long:
# a cursor being dragged (a new position every 20 ms or so) never asks for one.
STEADY_SECONDS = 0.035
LOOP_FADE_OUT_SECONDS = 0.035  # back to the synth this soon after a move: the move is heard at once
HISTORY = 2048  # samples of the synth's output kept to line the loop up with it (a 30 Hz period and more)
LEAD_STEP = 0.003  # seconds the lead grows by after an underrun, and shrinks by after a quiet spell
QUIET_SECONDS = 20.0
# A hop that used more than this share of the lead (waking late, then computing) is a near miss: the lead grows
# a step before an underrun happens, and shrinks only after a quiet spell whose worst hop fits the smaller lead.
NEAR_MISS = 0.8
CLOCK_CHECK_SECONDS = 1.0
# SCHED_FIFO priority of the synthesis process's threads: low among real-time audio threads (JACK and PipeWire
# run theirs at 70-95; rtkit grants clients up to 20), above every ordinary task.
REALTIME_PRIORITY = 10


def _ease(w: float, mode: str) -> float:
    if mode == "none":
        return 1.0
    if mode == "cubic":  # zero slope at both ends: the glide leaves and lands smoothly
        return w * w * (3.0 - 2.0 * w)
    return w


class Producer:
    """The hop-by-hop synthesis. Controls come from ``state`` (the newest one, lock-free); trajectories and
    clips as messages through ``post`` (in order). ``loops`` makes held sounds' loops (``request`` / ``get``:
    the engine's LoopCache, or a LoopProxy in the synthesis process); ``notify`` takes one-line notices."""

    def __init__(self, state: SharedState, decode: Callable[[np.ndarray], np.ndarray], synth: PartialSynth,
                 sample_rate: int, settings: Any, silence: np.ndarray, loops: Any = None,
                 notify: Callable[[str], None] = lambda m: None):
        self.state, self.decode, self.synth, self.settings = state, decode, synth, settings
        self.sample_rate, self.block = sample_rate, settings.block
        self.loops, self.notify = loops, notify
        self.silence = silence
        self.produced = 0  # model-rate samples synthesised: the clock trajectories are played by
        hop_seconds = self.block / sample_rate
        self._steady_hops = max(1, round(STEADY_SECONDS / hop_seconds))
        self._fade_out_hops = max(1, round(LOOP_FADE_OUT_SECONDS / hop_seconds))
        self._messages: deque = deque()
        self._seen_seq = -1
        self._control: tuple[int, np.ndarray, float, str] = (0, silence, 0.0, settings.interpolation)
        self._modulation: tuple[np.ndarray, float] = (np.zeros_like(silence), 0.0)
        self._clip: tuple[Optional[np.ndarray], int] = (None, 0)
        # (generation, times, latents, mode, release glide) until its control is the newest; then
        # (start sample, times, latents, mode, release glide) while it plays.
        self._pending_path: Optional[tuple] = None
        self._path: Optional[tuple[int, np.ndarray, np.ndarray, str, Optional[float]]] = None
        self._path_generation = -1
        self._current = silence.copy()
        self._glide_from, self._glide_done, self._glide_total, self._generation = silence.copy(), 0, 1, -1
        self._mode = settings.interpolation
        self._mags_for: Optional[np.ndarray] = None  # the latent self._mags was decoded from
        self._mags: Optional[np.ndarray] = None
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
        # The device's rate and block (from the state: whoever opens the stream writes them), and the lead.
        self.device_rate, self.device_block, self._resampler = sample_rate, self.block, None
        self.min_lead = settings.min_lead
        self.max_lead = max(self.min_lead, settings.latency_blocks * self.block / sample_rate)
        self.lead = self.min_lead
        self._underruns_seen = 0
        self._calm_since = 0.0
        self._worst = 0.0  # the most of the lead a hop used since the lead last changed

    def post(self, message: tuple) -> None:
        """("path", generation, times, latents, mode, release glide) or ("clip", audio or None); any thread."""
        self._messages.append(message)

    # == the loop =====================================================================================
    def run(self, holder: Optional[StreamHolder] = None) -> None:
        """Until the state's STOP is set. ``holder``: the output stream when it lives in this process, reopened
        here when the device is lost."""
        c, floats = self.state.counters, self.state.floats
        self._underruns_seen, self._calm_since = int(c[UNDERRUNS]), time.monotonic()
        next_clock_check = 0.0
        while not c[STOP]:
            if holder is not None and holder.stream is None:
                holder.recover()
                time.sleep(0.2)
                continue
            self._take_controls()
            self._follow_device()
            now = time.monotonic()
            if holder is not None and now >= next_clock_check:
                floats[CLOCK_OFFSET] = holder.clock_offset()
                next_clock_check = now + CLOCK_CHECK_SECONDS
            self._adapt_lead(now)
            wait = self._hop_due_in(now)
            if wait > 0:
                time.sleep(min(wait, self.device_block / self.device_rate / 4))
                continue
            self._write_hop()
            c[READY] = 1
            if floats[CALLBACK_TIME] == floats[CALLBACK_TIME]:  # a timed device: how much of the lead it took
                self._note_hop(time.monotonic() - (now + wait), now)

    def _hop_due_in(self, now: float) -> float:
        """Seconds until the next hop must be written; <= 0: now."""
        c = self.state.counters
        queued = int(c[WRITE]) - int(c[READ])
        block = self.device_block
        period = block / self.device_rate
        if queued >= (math.ceil(self.max_lead / period) + 2) * block:
            return period / 4  # the device has stopped asking (or is lost): never overwrite what it has not played
        due = float(self.state.floats[CALLBACK_TIME])
        if due != due:
            # A stream that does not say when it plays (a pulled one): the lead in whole blocks, and at least one
            # whole block queued whenever it asks (a resampled hop is not exactly a block: 557.3 samples at 48 kHz).
            blocks = max(1, math.ceil(self.lead / period - 1e-9))
            return 0.0 if queued < blocks * block else period / 8
        # The next hop starts at sample WRITE, which the (queued // block + 1)-th request from now takes.
        return due + (queued // block + 1) * period - self.lead - now

    def _adapt_lead(self, now: float) -> None:
        underruns = int(self.state.counters[UNDERRUNS])
        if underruns != self._underruns_seen:
            if underruns > self._underruns_seen:
                self.lead = min(self.max_lead, self.lead + LEAD_STEP)
            self._underruns_seen, self._calm_since, self._worst = underruns, now, 0.0
        elif self.lead > self.min_lead and now - self._calm_since > QUIET_SECONDS:
            if self._worst < NEAR_MISS * (self.lead - LEAD_STEP):
                self.lead = max(self.min_lead, self.lead - LEAD_STEP)
            self._calm_since, self._worst = now, 0.0
        self.state.floats[LEAD] = self.lead

    def _note_hop(self, used: float, now: float) -> None:
        """``used``: seconds from the moment a hop was due to start (its request's time less the lead) to the
        moment it was in the ring."""
        self._worst = max(self._worst, used)
        if used > NEAR_MISS * self.lead and self.lead < self.max_lead:
            self.lead = min(self.max_lead, self.lead + LEAD_STEP)
            self._calm_since, self._worst = now, 0.0

    def _follow_device(self) -> None:
        c = self.state.counters
        rate, block = int(c[RATE]), int(c[BLOCK])
        if rate == self.device_rate and block == self.device_block:
            return
        self.device_rate, self.device_block, self._resampler = rate, block, None
        if rate != self.sample_rate:
            import soxr

            # 'LQ': flat to 8 kHz (-3.5 dB at 9 kHz) and it returns samples for every hop at once; the
            # better recipes hold back three hops (35 ms), more than the whole latency budget.
            self._resampler = soxr.ResampleStream(self.sample_rate, rate, 1, dtype="float32", quality="LQ")

    def _take_controls(self) -> None:
        got = self.state.read_control(self._seen_seq)
        if got is not None:
            seq, generation, latent, glide, mode, direction, amount = got
            self._seen_seq = seq
            if generation != self._control[0]:
                self._control = (generation, latent, glide, mode)
            self._modulation = (direction, amount)
        while self._messages:
            message = self._messages.popleft()
            if message[0] == "path":
                self._pending_path = message[1:]
            elif message[0] == "clip":
                self._clip = (message[1], 0)

    # == one hop ======================================================================================
    def _start_glide(self, glide: float, mode: str) -> None:
        self._control_age = 0
        self._glide_from = self._current.copy()
        self._glide_total = max(1, int(round(glide * self.sample_rate / self.block))) if mode != "none" else 1
        self._glide_done = 0
        self._mode = mode

    def _follow_path(self, generation: int) -> bool:
        """Moves along the trajectory playing, if any; False when none plays."""
        pending = self._pending_path
        if pending is not None and pending[0] <= generation:
            if pending[0] == generation:  # its first target is the newest control: it starts now
                self._path, self._path_generation = (self.produced, *pending[1:]), generation
            self._pending_path = None  # (or a newer control came first: it is not played)
        path = self._path
        if path is None or self._path_generation != generation:
            self._path = None  # a newer control replaced the trajectory
            return False
        start, times, latents, path_mode, release_glide = path
        t = (self.produced - start) / self.sample_rate
        # The path's own control is used up: once it ends, the sound stays where the path did.
        self._generation, self._glide_done, self._glide_total = generation, 1, 1
        self._control_age = self._steady_hops + 1  # the path's first target is no held sound to prepare
        if t <= times[-1]:
            self._current = interpolate(times, latents, np.array([t]), path_mode)[0]
            return True
        self._path = None
        self._current = latents[-1].copy()
        if release_glide is not None:  # the trajectory asked to end in silence, from the next hop
            self._control = (generation, self.silence, release_glide, "linear")
            self._start_glide(release_glide, "linear")
        return True

    def _next_latent(self) -> tuple[int, np.ndarray]:
        generation, target, glide, mode = self._control
        if self._follow_path(generation):
            return generation, self._current
        if generation != self._generation:  # a new control: glide from wherever the sound is now
            self._generation = generation
            self._start_glide(glide, mode)
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
            mags = self._mags = self.decode(latent)
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
            self._clip = (clip, position + self.block)
        if self._resampler is not None:
            hop = self._resampler.resample_chunk(hop)
        self.produced += self.block
        self._write_ring(hop, generation)

    def _write_ring(self, samples: np.ndarray, generation: int) -> None:
        n = len(samples)
        if not n:
            return
        state = self.state
        ring, marks, block = state.ring, state.marks, self.device_block
        write = int(state.counters[WRITE])
        start = write & state.mask
        first = min(n, len(ring) - start)
        ring[start : start + first] = samples[:first]
        ring[: n - first] = samples[first:]
        for index in range(write // block, (write + n - 1) // block + 1):
            marks[index % len(marks)] = generation
        state.counters[WRITE] = write + n

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
            goal_mags = self.decode(goal)
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
        self.state.floats[LOOP_LEVEL] = level
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


# == the synthesis process ============================================================================
class NumpyDecoder:
    """ModelSession.frame_decoder's function as a picklable object, so the synthesis process gets its own copy
    of the weights: latent (D,) -> magnitudes (n_bins,)."""

    def __init__(self, layers: list, scale: float, mean: float, floor: float):
        self.layers, self.scale, self.mean, self.floor = layers, scale, mean, floor

    def __call__(self, latent: np.ndarray) -> np.ndarray:
        x = np.asarray(latent, dtype=np.float32)
        for layer in self.layers:
            x = np.maximum(x, 0.0) if layer is None else x @ layer[0] + layer[1]
        return np.maximum(np.exp(x * self.scale + self.mean) - self.floor, 0.0)

    @classmethod
    def like(cls, decode: Callable, probes: np.ndarray) -> Callable:
        """``decode`` itself when it pickles; otherwise a copy read from its closure, checked bit for bit
        against it on ``probes`` (latents, one per row). ValueError when neither works."""
        try:
            pickle.dumps(decode)
            return decode
        except Exception:
            pass
        closure = getattr(decode, "__closure__", None) or ()
        names = getattr(getattr(decode, "__code__", None), "co_freevars", ())
        found = dict(zip(names, (cell.cell_contents for cell in closure)))
        try:
            copy = cls(found["layers"], found["scale"], found["mean"], found["floor"])
            same = all(np.array_equal(copy(p), decode(p)) for p in probes)
        except Exception:
            same = False
        if not same:
            raise ValueError("the model's frame decoder cannot be copied to another process")
        return copy


class LoopProxy:
    """The synthesis process's side of the engine's LoopCache: loops arrive as messages, requests leave as
    messages (one per new key: the cache keeps only the newest request anyway)."""

    def __init__(self, send: Callable[[tuple], None], capacity: int = 48):
        self._send, self.capacity = send, capacity
        self._loops: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._asked: Optional[bytes] = None

    def get(self, key: bytes) -> Optional[np.ndarray]:
        return self._loops.get(key)

    def request(self, key: bytes, magnitudes: np.ndarray) -> None:
        if key == self._asked or key in self._loops:
            return
        self._asked = key
        self._send(("loop_request", key, magnitudes))

    def add(self, key: bytes, loop: np.ndarray) -> None:
        self._loops[key] = loop
        while len(self._loops) > self.capacity:
            self._loops.popitem(last=False)


def one_blas_thread() -> None:
    """OpenBLAS's second thread, waiting for a core that a competing process holds, made the decoder's matrix
    products slow: 7 ms median and 60 ms at p99 per frame with two threads, 1.2 ms and 8 ms with one, on two
    busy cores. The synthesis process does one frame at a time: one thread is all it needs."""
    # What threadpoolctl does, for numpy's own OpenBLAS only (the wheels bundle it beside the package).
    import ctypes
    import glob
    import os

    here = os.path.dirname(np.__file__)
    for path in glob.glob(os.path.join(os.path.dirname(here), "numpy.libs", "*openblas*")) + \
            glob.glob(os.path.join(here, ".dylibs", "*openblas*")):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("openblas_set_num_threads64_", "openblas_set_num_threads", "scipy_openblas_set_num_threads64_"):
            setter = getattr(library, name, None)
            if setter is not None:
                setter(1)
                return


def ask_realtime(priority: int = REALTIME_PRIORITY) -> bool:
    """Real-time (SCHED_FIFO) scheduling for the calling thread and the threads it starts from now on (they
    inherit it), where the system permits it (root, or RLIMIT_RTPRIO as the audio group usually has); False
    otherwise. Under a competing load on two cores an ordinary thread woke up to 45 ms late for its
    11.6 ms period, a SCHED_FIFO one at most 0.7 ms late: the difference between a lead that absorbs the
    stalls and one that does not."""
    import os

    if not hasattr(os, "sched_setscheduler"):
        return False  # not Linux: CoreAudio and WASAPI give their callback threads real-time priority themselves
    tries = [priority]
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_RTPRIO)[0]
        if 0 < soft < priority:
            tries.append(int(soft))
    except (ImportError, OSError, ValueError):
        pass
    for value in tries:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(value))
            return True
        except OSError:
            continue
    return False


def _read_inbox(inbox: Any, producer: Producer, loops: Optional[LoopProxy], state: SharedState) -> None:
    import multiprocessing
    import queue

    parent = multiprocessing.parent_process()
    while not state.counters[STOP]:
        try:
            message = inbox.get(timeout=1.0)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                break  # the engine's process is gone (killed): nobody will ask this one to stop
            continue
        except (EOFError, OSError):
            break
        if message[0] == "stop":
            break
        if message[0] == "loop":
            if loops is not None:
                loops.add(message[1], message[2])
        else:
            producer.post(message)
    state.counters[STOP] = 1


def process_main(buffer: Any, layout: dict, spec: dict, inbox: Any, outbox: Any) -> None:
    """The synthesis process: the producer, and the output stream too when it is a sound card (``spec['device']``
    set), whose callback then never waits for the GUI's interpreter lock; with real-time scheduling where
    permitted. Replies ("started", rate, block, realtime) or ("failed", why) first; then sends ("notice", text)
    and ("loop_request", key, magnitudes)."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    one_blas_thread()
    state = SharedState(buffer=buffer, **layout)
    try:
        settings = spec["settings"]
        loops = LoopProxy(outbox.put) if settings.held_loops else None
        synth = PartialSynth(spec["spectral"], spec["n_bins"], settings.block, gains=spec["gains"])

        def notify(text: str) -> None:
            outbox.put(("notice", text))

        producer = Producer(state, spec["decode"], synth, spec["spectral"].sample_rate, settings, spec["silence"],
                            loops, notify)
        # Before any thread starts (the device's, the inbox's, the queue's): they inherit it, so none of them can
        # hold this interpreter's lock while an ordinary-priority task has their core.
        realtime = settings.realtime and ask_realtime()
        holder = None
        if spec["device"] is not None:
            factory, device = spec["device"]
            holder = StreamHolder(factory, device, spec["spectral"].sample_rate, settings.block,
                                  RingReader(state).callback, notify, state.set_device)
            holder.open()
    except AudioUnavailable as exc:
        outbox.put(("failed", str(exc)))
        return
    except Exception as exc:
        outbox.put(("error", f"{type(exc).__name__}: {exc}"))
        return
    reader = threading.Thread(target=_read_inbox, args=(inbox, producer, loops, state), name="glissando-inbox",
                              daemon=True)
    reader.start()
    outbox.put(("started", int(state.counters[RATE]), int(state.counters[BLOCK]), realtime))
    gc.collect()
    gc.freeze()  # what setup made stays; later collections walk only what playing allocates
    try:
        producer.run(holder)
    except Exception as exc:
        outbox.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        state.counters[STOP] = 1
        if holder is not None:
            holder.close()
