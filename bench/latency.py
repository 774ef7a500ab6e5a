"""Live playback: time from a control change to the first output sample that reflects it, and
underruns during 60 s of continuous cursor movement while another thread keeps the interpreter busy
(the GUI thread's share of work), with a fake output device that pulls blocks at the real pace.

    .venv/bin/python bench/latency.py [--seconds 60] [--block 256]

The reference in the same run is the budget's floor: one block's duration (no engine can answer
faster than the device asks). Ends with: latency_ms=<median> underruns=<count>
"""
from __future__ import annotations

import argparse
import statistics
import threading
import time

import numpy as np

from glissando.core.playback.engine import EngineSettings, LiveEngine
from glissando.core.session import ModelSession


class PacedDevice:
    """Calls the engine's callback every block period on its own thread, as PortAudio would, and
    notes when each control generation first reaches the output."""

    def __init__(self, samplerate, channels, dtype, blocksize, device, callback, finished_callback):
        self.rate, self.block, self.callback = samplerate, blocksize, callback
        self.engine = None
        self.first_heard: dict[int, float] = {}
        self._running = False

    def start(self):
        self._running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        out = np.zeros((self.block, 1), dtype=np.float32)
        period = self.block / self.rate
        due = time.perf_counter()
        while self._running:
            due += period
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            self.callback(out, self.block, None, None)
            generation = int(self.engine.playing_generation)
            if generation not in self.first_heard:
                self.first_heard[generation] = time.perf_counter()

    def stop(self):
        self._running = False
        self.thread.join()

    def close(self):
        pass


def busy_interpreter(stop: threading.Event) -> None:
    """Pure-Python work holding the GIL in short slices, like a GUI thread redrawing plots."""
    x = 0
    while not stop.is_set():
        for i in range(20000):
            x += i * i % 7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--block", type=int, default=256)
    args = parser.parse_args()
    session = ModelSession(device="cpu")
    devices = []
    engine = LiveEngine(session, EngineSettings(block=args.block),
                        stream_factory=lambda **kw: devices.append(PacedDevice(**kw)) or devices[-1])
    targets = [session.label_latent(m, "mf", i) for m in range(60, 73) for i in ("flute", "violin", "trumpet")]
    rng = np.random.default_rng(0)
    engine.start()
    device = devices[0]
    device.engine = engine
    time.sleep(0.5)
    underruns_before = engine.underruns
    stop = threading.Event()
    busy = threading.Thread(target=busy_interpreter, args=(stop,), daemon=True)
    busy.start()
    sent: dict[int, float] = {}
    start = time.perf_counter()
    # Continuous cursor movement: a new position every 20 ms, drifting between label targets.
    a, b = targets[0], targets[1]
    step = 0
    while time.perf_counter() - start < args.seconds:
        w = (step % 50) / 50
        if step % 50 == 0:
            a, b = b, targets[rng.integers(len(targets))]
        generation = engine.set_target(a + (b - a) * w, glide=0.02)
        sent[generation] = time.perf_counter()
        step += 1
        time.sleep(0.02)
    stop.set()
    time.sleep(0.2)
    engine.stop()
    device.stop()
    latencies = [1000 * (device.first_heard[g] - t) for g, t in sent.items() if g in device.first_heard]
    # A control superseded before its hop was made is never heard on its own: count only the heard ones.
    median = statistics.median(latencies)
    floor_ms = 1000 * args.block / session.spectral.sample_rate
    underruns = engine.underruns - underruns_before
    print(f"controls sent {len(sent)}, heard {len(latencies)}; latency ms: median {median:.1f}, "
          f"p90 {np.percentile(latencies, 90):.1f}, max {max(latencies):.1f}; one block = {floor_ms:.1f} ms "
          f"(ratio {median / floor_ms:.2f} blocks)")
    print(f"latency_ms={median:.1f} underruns={underruns}")


if __name__ == "__main__":
    main()
