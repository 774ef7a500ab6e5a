"""Live playback: time from a control change to the first output sample that reflects it, and
underruns during 60 s of continuous cursor movement while another thread keeps the interpreter busy
(the GUI thread's share of work), with a fake output device that pulls blocks at the real pace.

    .venv/bin/python bench/latency.py [--seconds 60] [--block 256]

Also prints, per instrument, how far the live sound of a held note is from its offline rendering
(spectral convergence). The reference in the same run is the budget's floor: one block's duration (no engine can answer
faster than the device asks). Ends with: latency_ms=<median> underruns=<count> live_sc=<median>
"""
from __future__ import annotations

import argparse
import statistics
import threading
import time

import numpy as np

from glissando.core.playback import EngineSettings, LiveEngine, PulledStream
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


HELD = [(60, "mf", "flute"), (45, "ff", "cello"), (72, "pp", "violin"), (55, "mf", "french_horn"), (67, "ff", "trumpet"),
        (50, "mf", "bassoon"), (64, "mf", "oboe"), (60, "mf", "piano"), (62, "mf", "clarinet"), (66, "mf", "alto_sax"),
        (50, "mf", "trombone")]


def live_vs_offline(session) -> list[float]:
    """Spectral convergence between the live sound of a held label set and its offline rendering
    (render-midi's method), over the steady middle of a 2 s note."""
    from glissando.core.midi import Note
    from glissando.core.render import render_notes
    from glissando.core.spectral import NSGTransform

    transform = NSGTransform.for_length(16384, session.spectral)
    inner = slice(transform.n_frames // 4, 3 * transform.n_frames // 4)
    centre = session.spectral.sample_rate // 2 + 8192
    result = []
    for midi, dynamics, instrument in HELD:
        devices = []
        engine = LiveEngine(session, EngineSettings(), stream_factory=lambda **kw: devices.append(PulledStream(**kw)) or devices[-1])
        engine.start()
        engine.set_target(session.label_latent(midi, dynamics, instrument))
        live = devices[0].pull(engine, 2 * session.spectral.sample_rate)
        engine.stop()
        offline = render_notes(session, [Note(0.0, 2.0, midi, dynamics, instrument)])
        a = np.abs(transform.forward(live[centre - 8192 : centre + 8192])[1:-1])[:, inner]
        b = np.abs(transform.forward(offline[centre - 8192 : centre + 8192])[1:-1])[:, inner]
        result.append(float(np.linalg.norm(a - b) / np.linalg.norm(b)))
    return result


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
    match = live_vs_offline(session)
    print("live vs offline spectral convergence: " + " ".join(f"{i}={v:.3f}" for (_, _, i), v in zip(HELD, match))
          + f"; median {statistics.median(match):.3f}")
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
    underruns = engine.underruns - underruns_before  # before stopping: a stopped producer starves the device
    stop.set()
    time.sleep(0.2)
    engine.stop()
    device.stop()
    latencies = [1000 * (device.first_heard[g] - t) for g, t in sent.items() if g in device.first_heard]
    # A control superseded before its hop was made is never heard on its own: count only the heard ones.
    median = statistics.median(latencies)
    floor_ms = 1000 * args.block / session.spectral.sample_rate
    print(f"controls sent {len(sent)}, heard {len(latencies)}; latency ms: median {median:.1f}, "
          f"p90 {np.percentile(latencies, 90):.1f}, max {max(latencies):.1f}; one block = {floor_ms:.1f} ms "
          f"(ratio {median / floor_ms:.2f} blocks)")
    print(f"latency_ms={median:.1f} underruns={underruns} live_sc={statistics.median(match):.3f}")


if __name__ == "__main__":
    main()
