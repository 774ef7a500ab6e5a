"""Live playback: time from a control change to the moment the device plays the first block that reflects it
(PortAudio's outputBufferDacTime for that block minus the time the control was sent), and underruns during
continuous cursor movement, with a simulated sound card (core's PacedStream: it calls back every block period
and plays each block one block after it is handed over).

    .venv/bin/python bench/latency.py [--seconds 60] [--block 256] [--held-seconds 20]
    .venv/bin/python bench/latency.py --load [--seconds 60] [--reference-seconds 20] [--processes 1]

Default: the live sound of held notes against their offline renderings (spectral convergence in the model's
transform, streaming synth alone and with held loops), then 60 s of cursor movement while another thread keeps
the interpreter busy (the GUI thread's share of work), then notes held long enough to settle into their loops.

--load ("playback that survives a busy machine"): first a reference, the same engine on an idle machine
(--reference-seconds of cursor movement); then the same while a busy GUI-like thread and --processes
CPU-bound processes (numpy, one thread each) compete for the cores: --seconds of cursor movement, then
--held-seconds of held notes. Prints underruns (the ring ran dry), device underflows (a callback came after
its block should have been playing), device-side latency (median, p95) and controls dropped (never heard on
their own: a newer control came before their hop), and the latency under load as a ratio of the reference.
--synthesis thread runs the producer as a thread of this process instead (the configuration before);
--no-realtime keeps the synthesis process at ordinary priority (as where the system does not grant real-time).
Ends with: underruns=<n> device_underflows=<n> latency_ms=<median> p95_ms=<p95> dropped=<n> ...
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

import numpy as np

from glissando.core.playback import EngineSettings, LiveEngine
from glissando.core.playback.output import PacedStream


class RecordingStream(PacedStream):
    """A simulated sound card that keeps every block it plays; opened in this process (the recording is read
    here), so it is no ``realtime`` device for the engine."""

    realtime = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.recording: list = []

    def played(self, block):
        self.recording.append(block.copy())


HELD = [(60, "mf", "flute"), (45, "ff", "cello"), (72, "pp", "violin"), (55, "mf", "french_horn"),
        (67, "ff", "trumpet"), (50, "mf", "bassoon"), (64, "mf", "oboe"), (60, "mf", "piano"), (62, "mf", "clarinet"),
        (66, "mf", "alto_sax"), (50, "mf", "trombone")]


HOLD_S = 2.5
# One core's worth of work that is not Python: what another application (or a render) puts on the machine.
SPIN = "import numpy as np\nx = np.random.rand(256, 256)\nwhile True:\n    x = np.tanh(x @ x.T / 256)\n"


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
                            stream_factory=lambda devices=devices, **kw: devices.append(RecordingStream(**kw))
                            or devices[-1])
        engine.start()
        device = devices[0]
        start = time.perf_counter()
        engine.set_target(session.label_latent(midi, dynamics, instrument))
        settle = float("nan")
        while time.perf_counter() - start < HOLD_S:
            if np.isnan(settle) and engine.loop_level >= 1.0:
                settle = 1000 * (time.perf_counter() - start)
            time.sleep(0.005)
        engine.stop()
        live = np.concatenate(device.recording)
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


class Load:
    """A busy GUI-like thread in this process, and ``processes`` CPU-bound processes (one BLAS thread each)."""

    def __init__(self, busy_thread: bool, processes: int):
        self.stop = threading.Event()
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.processes = [subprocess.Popen([sys.executable, "-c", SPIN], env=env) for _ in range(processes)]
        self.thread = threading.Thread(target=busy_interpreter, args=(self.stop,), daemon=True) if busy_thread else None
        if self.thread is not None:
            self.thread.start()

    def end(self) -> None:
        self.stop.set()
        for process in self.processes:
            process.kill()
            process.wait()
        if self.thread is not None:
            self.thread.join()


def move_cursor(engine, targets, seconds: float, rng) -> tuple[int, int, float]:
    """Continuous cursor movement: a new position every 20 ms, drifting between label targets. Returns the
    first and last control generations sent and the largest lead the producer took meanwhile."""
    a, b = targets[0], targets[1]
    first = last = None
    step, most_lead = 0, engine.lead
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        w = (step % 50) / 50
        if step % 50 == 0:
            a, b = b, targets[rng.integers(len(targets))]
        last = engine.set_target(a + (b - a) * w, glide=0.02)
        first = first or last
        most_lead = max(most_lead, engine.lead)
        step += 1
        time.sleep(0.02)
    time.sleep(0.2)  # the last controls reach the device
    return first, last, most_lead


def hold_notes(engine, targets, seconds: float, rng) -> tuple[int, int]:
    """A player holding notes: a new label set every 0.6 s, each long enough to settle into its loop, so loops
    are being made (on their own thread) meanwhile. Returns (notes, notes that reached their loop)."""
    looped, notes = 0, 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        engine.set_target(targets[rng.integers(len(targets))])
        notes += 1
        until = time.perf_counter() + 0.6
        reached = False
        while time.perf_counter() < until:
            reached = reached or engine.loop_level >= 1.0
            time.sleep(0.005)
        looped += reached
    return notes, looped


def cursor_run(engine, targets, seconds: float, rng) -> dict:
    underruns, underflows = engine.underruns, engine.device_underflows
    first, last, most_lead = move_cursor(engine, targets, seconds, rng)
    latencies, dropped = engine.control_latencies(first, last)
    latencies = 1000 * latencies
    return {"underruns": engine.underruns - underruns, "underflows": engine.device_underflows - underflows,
            "sent": last - first + 1, "dropped": dropped, "median": float(np.median(latencies)),
            "p95": float(np.percentile(latencies, 95)), "max": float(latencies.max()), "lead": 1000 * most_lead}


def describe(name: str, r: dict, seconds: float) -> str:
    return (f"{name}: {r['underruns']} underruns, {r['underflows']} device underflows in {seconds:.0f} s; latency at "
            f"the device ms: median {r['median']:.1f}, p95 {r['p95']:.1f}, max {r['max']:.1f}; controls {r['sent']}, "
            f"dropped {r['dropped']}; lead up to {r['lead']:.1f} ms")


def load_mode(session, args) -> None:
    settings = EngineSettings(block=args.block, latency_blocks=args.latency_blocks, synthesis=args.synthesis,
                              realtime=not args.no_realtime)
    engine = LiveEngine(session, settings, stream_factory=PacedStream)
    targets = [session.label_latent(m, "mf", i) for m in range(60, 73) for i in ("flute", "violin", "trumpet")]
    rng = np.random.default_rng(0)
    engine.start()
    where = "its own process" if engine.in_process else "a thread of this process"
    where += " with real-time scheduling" if engine.realtime else " (ordinary scheduling)"
    print(f"producer in {where}; block {args.block} ({1000 * args.block / engine.sample_rate:.1f} ms), lead "
          f"{1000 * settings.min_lead:.0f} ms growing up to {args.latency_blocks} blocks; the device plays a block "
          f"{PacedStream.device_blocks} block(s) after it is handed over", flush=True)
    try:
        time.sleep(0.5)
        reference = cursor_run(engine, targets, args.reference_seconds, rng)
        print(describe("reference, idle", reference, args.reference_seconds), flush=True)
        load = Load(busy_thread=True, processes=args.processes)
        try:
            time.sleep(0.5)  # the competing processes have started
            loaded = cursor_run(engine, targets, args.seconds, rng)
            print(describe(f"busy GUI thread + {args.processes} CPU-bound process(es)", loaded, args.seconds),
                  flush=True)
            held_before = engine.underruns
            notes, looped = hold_notes(engine, targets, args.held_seconds, rng)
            held_underruns = engine.underruns - held_before
        finally:
            load.end()
    finally:
        engine.stop()
    print(f"held notes under the same load: {notes} in {args.held_seconds:.0f} s, {looped} reached their loop; "
          f"underruns {held_underruns}")
    ratio = loaded["median"] / reference["median"]
    print(f"latency under load / idle reference: median {ratio:.2f}x, p95 {loaded['p95'] / reference['p95']:.2f}x")
    print(f"underruns={loaded['underruns']} device_underflows={loaded['underflows']} latency_ms={loaded['median']:.1f} "
          f"p95_ms={loaded['p95']:.1f} dropped={loaded['dropped']} held_underruns={held_underruns} "
          f"reference_latency_ms={reference['median']:.1f} reference_underruns={reference['underruns']} "
          f"ratio={ratio:.2f}")


def default_mode(session, args) -> None:
    synth_only, _ = live_vs_offline(session, held_loops=False)
    print("live vs offline spectral convergence, streaming synth alone: "
          + " ".join(f"{i}={v:.3f}" for (_, _, i), v in zip(HELD, synth_only))
          + f"; median {statistics.median(synth_only):.3f}")
    match, settled = live_vs_offline(session)
    print("live vs offline spectral convergence, held loops: "
          + " ".join(f"{i}={v:.3f}" for (_, _, i), v in zip(HELD, match)) + f"; median {statistics.median(match):.3f}; "
          f"settled into the loop after a median {statistics.median(settled):.0f} ms (max {max(settled):.0f})")
    engine = LiveEngine(session, EngineSettings(block=args.block, synthesis=args.synthesis,
                                                realtime=not args.no_realtime), stream_factory=PacedStream)
    targets = [session.label_latent(m, "mf", i) for m in range(60, 73) for i in ("flute", "violin", "trumpet")]
    rng = np.random.default_rng(0)
    engine.start()
    load = Load(busy_thread=True, processes=0)
    try:
        time.sleep(0.5)
        result = cursor_run(engine, targets, args.seconds, rng)
        held_before = engine.underruns
        notes, looped = hold_notes(engine, targets, args.held_seconds, rng)
        held_underruns = engine.underruns - held_before
    finally:
        load.end()
        engine.stop()
    floor_ms = 1000 * args.block / session.spectral.sample_rate
    print(describe("busy GUI thread", result, args.seconds)
          + f"; one block = {floor_ms:.1f} ms (ratio {result['median'] / floor_ms:.2f} blocks)")
    print(f"held notes: {notes} in {args.held_seconds:.0f} s, {looped} reached their loop; underruns {held_underruns}")
    print(f"latency_ms={result['median']:.1f} underruns={result['underruns']} live_sc={statistics.median(match):.3f} "
          f"held_underruns={held_underruns}")


def main() -> None:
    from glissando.core.session import ModelSession

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--block", type=int, default=256)
    parser.add_argument("--latency-blocks", type=int, default=EngineSettings.latency_blocks,
                        help="the most the producer's lead may grow to, in blocks")
    parser.add_argument("--held-seconds", type=float, default=20.0)
    parser.add_argument("--load", action="store_true", help="the reference, then a busy GUI thread and processes")
    parser.add_argument("--reference-seconds", type=float, default=20.0)
    parser.add_argument("--processes", type=int, default=1, help="CPU-bound processes started in --load")
    parser.add_argument("--synthesis", choices=("process", "thread"), default="process")
    parser.add_argument("--no-realtime", action="store_true", help="the synthesis process does not ask for "
                        "real-time scheduling (as where the system does not permit it)")
    args = parser.parse_args()
    session = ModelSession(device="cpu")
    (load_mode if args.load else default_mode)(session, args)


if __name__ == "__main__":
    main()
