"""Live playback: time from a control change to the first output sample that reflects it, and
underruns during 60 s of continuous cursor movement while another thread keeps the interpreter busy
(the GUI thread's share of work), with a fake output device that pulls blocks at the real pace.

    .venv/bin/python bench/latency.py [--seconds 60] [--block 256] [--held-seconds 20]

Also measures, per instrument, how far the live sound of a held note (2.5 s, held in real time) is
from its offline rendering (spectral convergence in the model's transform), with the streaming synth
alone and with held loops; then underruns while notes are held long enough to settle into their loops.
The reference in the same run is the latency budget's floor: one block's duration (no engine can
answer faster than the device asks).
Ends with: latency_ms=<median> underruns=<count> live_sc=<median> held_underruns=<count>
"""
from __future__ import annotations

import argparse
import statistics
import threading
import time

import numpy as np

from glissando.core.playback import EngineSettings, LiveEngine
from glissando.core.session import ModelSession


class PacedDevice:
    """Calls the engine's callback every block period on its own thread, as PortAudio would, and
    notes when each control generation first reaches the output."""

    def __init__(self, samplerate, channels, dtype, blocksize, device, callback, finished_callback):
        self.rate, self.block, self.callback = samplerate, blocksize, callback
        self.engine = None
        self.recording: list | None = None  # when a list, every block played is appended to it
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
            if self.recording is not None:
                self.recording.append(out[:, 0].copy())
            generation = int(self.engine.playing_generation)
            if generation not in self.first_heard:
                self.first_heard[generation] = time.perf_counter()

    def stop(self):
        self._running = False
        self.thread.join()

    def close(self):
        pass


HELD = [(60, "mf", "flute"), (45, "ff", "cello"), (72, "pp", "violin"), (55, "mf", "french_horn"),
        (67, "ff", "trumpet"), (50, "mf", "bassoon"), (64, "mf", "oboe"), (60, "mf", "piano"), (62, "mf", "clarinet"),
        (66, "mf", "alto_sax"), (50, "mf", "trombone")]


HOLD_S = 2.5


def live_vs_offline(session, held_loops: bool = True) -> tuple[list[float], list[float]]:
    """Spectral convergence between the live sound of a held label set and its offline rendering
    (render-midi's method), in the model's own transform (the one its training frames come from),
    over the frames 1.1 s to 1.9 s into a 2.5 s note. The note is held in real time on a paced
    device, as a player would hold it. Also returns, per note, how long the sound took to settle
    into its reconstructed loop (ms; nan without loops)."""
    from glissando.core.midi import Note
    from glissando.core.render import render_notes
    from glissando.core.spectral import NSGTransform, spectral_convergence

    block = session.spectral.block
    transform = NSGTransform.for_length(block, session.spectral)
    inner = slice(transform.n_frames // 4, 3 * transform.n_frames // 4)
    first = int(0.75 * session.spectral.sample_rate)
    result, settled = [], []
    for midi, dynamics, instrument in HELD:
        devices: list = []
        engine = LiveEngine(session, EngineSettings(held_loops=held_loops),
                            stream_factory=lambda devices=devices, **kw: devices.append(PacedDevice(**kw))
                            or devices[-1])
        devices_recording = []
        engine.start()
        device = devices[0]
        device.engine, device.recording = engine, devices_recording
        start = time.perf_counter()
        engine.set_target(session.label_latent(midi, dynamics, instrument))
        settle = float("nan")
        while time.perf_counter() - start < HOLD_S:
            if np.isnan(settle) and engine.loop_level >= 1.0:
                settle = 1000 * (time.perf_counter() - start)
            time.sleep(0.005)
        engine.stop()
        device.stop()
        live = np.concatenate(devices_recording)
        offline = render_notes(session, [Note(0.0, HOLD_S, midi, dynamics, instrument)])
        heard = transform.forward(live[first : first + block])[1:-1][:, inner]
        exported = np.abs(transform.forward(offline[first : first + block])[1:-1])[:, inner]
        result.append(spectral_convergence(exported, heard))
        settled.append(settle)
    return result, settled


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
    parser.add_argument("--held-seconds", type=float, default=20.0)
    args = parser.parse_args()
    session = ModelSession(device="cpu")
    synth_only, _ = live_vs_offline(session, held_loops=False)
    print("live vs offline spectral convergence, streaming synth alone: "
          + " ".join(f"{i}={v:.3f}" for (_, _, i), v in zip(HELD, synth_only))
          + f"; median {statistics.median(synth_only):.3f}")
    match, settled = live_vs_offline(session)
    print("live vs offline spectral convergence, held loops: "
          + " ".join(f"{i}={v:.3f}" for (_, _, i), v in zip(HELD, match)) + f"; median {statistics.median(match):.3f}; "
          f"settled into the loop after a median {statistics.median(settled):.0f} ms (max {max(settled):.0f})")
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
    # Then a player holding notes: a new label set every 0.6 s, each long enough to settle into its
    # loop, so loops are being made (on their own thread) while the busy thread and the producer run.
    held_before, looped, notes = engine.underruns, 0, 0
    start = time.perf_counter()
    while time.perf_counter() - start < args.held_seconds:
        engine.set_target(targets[rng.integers(len(targets))])
        notes += 1
        until = time.perf_counter() + 0.6
        reached = False
        while time.perf_counter() < until:
            reached = reached or engine.loop_level >= 1.0
            time.sleep(0.005)
        looped += reached
    held_underruns = engine.underruns - held_before
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
    print(f"held notes: {notes} in {args.held_seconds:.0f} s, {looped} reached their loop; underruns {held_underruns}")
    print(f"latency_ms={median:.1f} underruns={underruns} live_sc={statistics.median(match):.3f} "
          f"held_underruns={held_underruns}")


if __name__ == "__main__":
    main()
