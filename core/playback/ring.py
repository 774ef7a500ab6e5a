"""The state the engine's two sides share without locks: the ring of audio, the counters around it, the newest
control and, per control, when it was sent and when the device played it.

All of it lives in one flat buffer: plain memory when the producer is a thread of this process, a
multiprocessing.RawArray when it is a process of its own (the buffer travels to it when it starts). Each
counter has one writer: the callback owns ``READ``, ``UNDERRUNS``, ``PLAYING`` and the device times; the
producer owns ``WRITE``, ``READY`` and the lead; the engine (any thread, under its own lock) owns the control.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

# int64 counters
READ, WRITE, UNDERRUNS, PLAYING, READY, STOP, RATE, BLOCK, DEVICE_UNDERFLOWS, CONTROL_SEQ, GENERATION, MODE = range(12)
N_COUNTERS = 16
# float64 values
LOOP_LEVEL, LEAD, CALLBACK_TIME, CLOCK_OFFSET, GLIDE, MOD_AMOUNT = range(6)
N_FLOATS = 8
# Per control generation (modulo this), when it was sent and when its first block reached the DAC.
RECORDS = 1 << 13
MODE_NAMES = ("none", "linear", "cubic", "spherical")


class SharedState:
    """Numpy views over one buffer; ``SharedState(buffer=..., **layout)`` rebuilds the same views in the
    synthesis process."""

    def __init__(self, capacity: int, latent_dim: int, buffer: Any = None, shared: bool = False):
        self.capacity, self.latent_dim = capacity, latent_dim
        parts = [("counters", np.int64, N_COUNTERS), ("floats", np.float64, N_FLOATS),
                 ("latent", np.float64, latent_dim), ("mod_direction", np.float64, latent_dim),
                 ("sent", np.float64, RECORDS), ("heard", np.float64, RECORDS),
                 ("marks", np.int64, max(1, capacity // 64)), ("ring", np.float32, capacity)]
        nbytes = sum(8 * math.ceil(np.dtype(t).itemsize * n / 8) for _, t, n in parts)
        if buffer is None:
            if shared:
                import ctypes
                import multiprocessing

                buffer = multiprocessing.get_context("spawn").RawArray(ctypes.c_byte, nbytes)
            else:
                buffer = bytearray(nbytes)
        self.buffer = buffer
        views, offset = [], 0
        for _, dtype, n in parts:
            views.append(np.frombuffer(buffer, dtype=dtype, count=n, offset=offset))
            offset += 8 * math.ceil(np.dtype(dtype).itemsize * n / 8)
        self.counters, self.floats, self.latent, self.mod_direction = views[:4]
        self.sent, self.heard, self.marks, self.ring = views[4:]
        self.mask = capacity - 1

    @property
    def layout(self) -> dict:
        return {"capacity": self.capacity, "latent_dim": self.latent_dim}

    def reset(self, rate: int, block: int) -> None:
        """Before a producer starts: nothing queued, nothing heard yet, the device's rate and block."""
        c = self.counters
        c[READ] = c[WRITE] = 0
        c[READY] = c[STOP] = 0
        c[RATE], c[BLOCK] = rate, block
        self.marks[:] = c[PLAYING]
        self.floats[CALLBACK_TIME] = np.nan
        self.floats[CLOCK_OFFSET] = 0.0
        self.floats[LOOP_LEVEL] = 0.0

    def set_device(self, rate: int, block: int) -> None:
        """The stream (re)opened at ``rate`` with ``block``: what was queued at the old rate is dropped (no
        callback runs while a stream opens) and the producer resamples from its next hop."""
        c = self.counters
        c[RATE], c[BLOCK] = rate, block
        c[READ] = c[WRITE]

    # -- the control: a seqlock, written by the engine under its lock, read by the producer --------
    def write_control(self, generation: int, latent: np.ndarray, glide: float, mode: str, sent: float) -> None:
        c = self.counters
        c[CONTROL_SEQ] += 1  # odd: being written
        c[GENERATION] = generation
        self.latent[:] = latent
        self.floats[GLIDE] = glide
        c[MODE] = MODE_NAMES.index(mode)
        self.sent[generation % RECORDS] = sent
        self.heard[generation % RECORDS] = np.nan
        c[CONTROL_SEQ] += 1

    def write_modulation(self, direction: np.ndarray, amount: float) -> None:
        c = self.counters
        c[CONTROL_SEQ] += 1
        self.mod_direction[:] = direction
        self.floats[MOD_AMOUNT] = amount
        c[CONTROL_SEQ] += 1

    def read_control(self, seen: int) -> Optional[tuple]:
        """(seq, generation, latent, glide, mode, direction, amount) when it changed since ``seen`` and was
        read whole; None otherwise (unchanged, or being written: the next hop reads it)."""
        c = self.counters
        seq = int(c[CONTROL_SEQ])
        if seq == seen or seq & 1:
            return None
        got = (seq, int(c[GENERATION]), self.latent.copy(), float(self.floats[GLIDE]), MODE_NAMES[int(c[MODE])],
               self.mod_direction.copy(), float(self.floats[MOD_AMOUNT]))
        return got if int(c[CONTROL_SEQ]) == seq else None

    def latencies(self, first: int, last: int) -> tuple[np.ndarray, int]:
        """Seconds from each control ``first..last`` being sent to its first block at the DAC, for those heard,
        and how many were not heard on their own (a newer control replaced them before their hop)."""
        first = max(first, last - RECORDS + 1, 1)
        index = np.arange(first, last + 1) % RECORDS
        delay = self.heard[index] - self.sent[index]
        heard = delay[np.isfinite(delay)]
        return heard, len(delay) - len(heard)


class RingReader:
    """The output stream's callback: copies from the ring, pads with silence when it runs dry and counts that
    (once the producer is ready), and notes when each control generation first reaches the DAC. No buffers
    allocated, no locks, no model."""

    def __init__(self, state: SharedState):
        self.state = state
        self.ring, self.marks, self.counters, self.floats = state.ring, state.marks, state.counters, state.floats
        self.heard, self.mask, self.size = state.heard, state.mask, len(state.ring)

    def callback(self, outdata, frames, time_info, status) -> None:
        c = self.counters
        r = int(c[READ])
        available = int(c[WRITE]) - r
        n = frames if available >= frames else max(available, 0)
        start = r & self.mask
        end = start + n
        if end <= self.size:
            outdata[:n, 0] = self.ring[start:end]
        else:
            first = self.size - start
            outdata[:first, 0] = self.ring[start:]
            outdata[first:n, 0] = self.ring[: n - first]
        if n < frames:
            outdata[n:, 0] = 0.0
            if c[READY]:  # before the producer's first hops, silence is the start, not an underrun
                c[UNDERRUNS] += 1
        if status and status.output_underflow:
            c[DEVICE_UNDERFLOWS] += 1
        # The device's clock, moved onto time.monotonic()'s by the producer's offset. Some host APIs leave a
        # time at 0 (unknown): the producer then keeps whole blocks queued, and no latency is recorded.
        if time_info is not None and time_info.currentTime > 0:
            self.floats[CALLBACK_TIME] = time_info.currentTime - self.floats[CLOCK_OFFSET]
        if n:
            generation = self.marks[(r // c[BLOCK]) % len(self.marks)]
            if generation != c[PLAYING]:
                c[PLAYING] = generation
                if time_info is not None and time_info.outputBufferDacTime > 0:
                    self.heard[generation % RECORDS] = time_info.outputBufferDacTime - self.floats[CLOCK_OFFSET]
        c[READ] = r + n
