"""The real-time engine and live MIDI, with an output stream the test pulls from."""
import time
import tracemalloc

import mido
import numpy as np
import pytest

from glissando.core.playback import EngineSettings, LiveEngine, MidiNotes, PulledStream
from glissando.core.playback.output import StreamHolder
from glissando.core.session import ModelSession
from glissando.core.spectral import SAMPLE_RATE as SR
from glissando.core.spectral import spectral_convergence


@pytest.fixture(scope="module")
def session():
    return ModelSession(device="cpu")


@pytest.fixture
def live(session):
    streams, notices = [], []
    engine = LiveEngine(session, EngineSettings(),
                        stream_factory=lambda **kw: streams.append(PulledStream(**kw)) or streams[-1],
                        on_notice=notices.append)
    engine.start()
    yield engine, streams, notices
    engine.stop()


def yin_midi(audio):
    import librosa

    f0 = librosa.yin(audio.astype(np.float64), fmin=60, fmax=2000, sr=SR, frame_length=2048)
    return float(np.median(librosa.hz_to_midi(f0)))


@pytest.mark.parametrize("midi, instrument", [(60, "flute"), (67, "trumpet"), (45, "cello")])
def test_a_held_note_sounds_at_its_labelled_pitch(live, session, midi, instrument):
    engine, streams, _ = live
    engine.set_target(session.label_latent(midi, "mf", instrument))
    audio = streams[0].pull(engine, int(1.2 * SR))[int(0.2 * SR):]
    assert abs(yin_midi(audio) - midi) < 0.5
    assert np.sqrt(np.mean(audio ** 2)) > 1e-3


def settle_into_loop(engine, stream, timeout_s=10.0):
    """Pull, at about the real pace, until the held sound plays from its loop; the loop level reached."""
    deadline = time.monotonic() + timeout_s
    while engine.loop_level < 1.0 and time.monotonic() < deadline:
        stream.pull(engine, 256)
        time.sleep(0.004)
    return engine.loop_level


def test_a_held_note_settles_into_its_loop_and_sounds_like_its_export(live, session):
    from glissando.core.midi import Note
    from glissando.core.render import render_notes
    from glissando.core.spectral import NSGTransform

    engine, streams, _ = live
    block = session.spectral.block
    engine.set_target(session.label_latent(55, "mf", "french_horn"))
    assert settle_into_loop(engine, streams[0]) == 1.0
    heard = streams[0].pull(engine, block)
    exported = render_notes(session, [Note(0.0, 2.5, 55, "mf", "french_horn")])[int(0.75 * SR) :][:block]
    transform = NSGTransform.for_length(block, session.spectral)
    inner = slice(transform.n_frames // 4, 3 * transform.n_frames // 4)
    a, b = (transform.forward(x)[1:-1][:, inner] for x in (heard, exported))
    # The streaming synth alone was 0.20 away from the export of this note.
    assert spectral_convergence(np.abs(b), a) < 0.15
    assert abs(yin_midi(heard) - 55) < 0.5 and engine.underruns == 0

    # Moving on leaves the loop at once: the next note is heard from the synth within a few hops.
    engine.set_target(session.label_latent(62, "mf", "clarinet"), glide=0.03)
    streams[0].pull(engine, 8 * 256)
    assert engine.loop_level == 0.0
    assert abs(yin_midi(streams[0].pull(engine, int(0.3 * SR))) - 62) < 0.5


def test_a_device_that_refuses_the_models_rate_plays_resampled_at_its_own(session):
    streams, notices = [], []

    def only_48k(**kw):
        if kw["samplerate"] != 48000:
            raise RuntimeError("Invalid sample rate [PaErrorCode -9997]")
        streams.append(PulledStream(**kw))
        return streams[-1]

    engine = LiveEngine(session, EngineSettings(), stream_factory=only_48k, on_notice=notices.append)
    engine.start()
    try:
        assert streams[0].samplerate == 48000 and any("48000 Hz" in n for n in notices)
        engine.set_target(session.label_latent(67, "mf", "trumpet"))
        audio = streams[0].pull(engine, 48000)[9600:].astype(np.float64)
        import librosa

        f0 = librosa.yin(audio, fmin=60, fmax=2000, sr=48000, frame_length=4096)
        assert abs(float(np.median(librosa.hz_to_midi(f0))) - 67) < 0.5
        generation = engine.set_target(session.label_latent(60, "mf", "flute"))
        queued = 0
        while engine.playing_generation < generation and queued < 48000:
            streams[0].pull(engine, streams[0].block)
            queued += streams[0].block
        assert queued / 48000 * 1000 <= 30.0 and engine.underruns == 0
        # Trajectories keep the model's clock: a 1 s path at 48 kHz once lasted 0.48 s.
        a, b = session.label_latent(60, "mf", "flute"), session.label_latent(67, "mf", "flute")
        engine.play_path(np.array([0.0, 0.5]), np.stack([a, b]), "none")  # a for 0.5 s, then b
        played = streams[0].pull(engine, int(1.0 * 48000)).astype(np.float64)
        f0 = librosa.yin(played, fmin=60, fmax=2000, sr=48000, frame_length=4096)
        midi = librosa.hz_to_midi(f0)
        assert abs(np.median(midi[int(0.3 * len(midi)) : int(0.45 * len(midi))]) - 60) < 0.5
        assert abs(np.median(midi[int(0.65 * len(midi)) : int(0.9 * len(midi))]) - 67) < 0.5
    finally:
        engine.stop()


@pytest.mark.parametrize("midi, dynamics, instrument", [(67, "mf", "trumpet"), (45, "ff", "cello")])
def test_settling_into_the_loop_neither_dips_nor_clicks(live, session, midi, dynamics, instrument):
    engine, streams, _ = live
    engine.set_target(session.label_latent(midi, dynamics, instrument))
    hops, levels = [], []
    deadline = time.monotonic() + 10.0
    while (not levels or levels[-1] < 1.0 or len(levels) - levels.index(1.0) < 20) and time.monotonic() < deadline:
        hops.append(streams[0].pull(engine, 256))
        levels.append(engine.loop_level)
        time.sleep(0.004)
    levels = np.array(levels)
    rms = np.sqrt(np.mean(np.stack(hops) ** 2, axis=1))
    # The level is read after the pull, up to latency_blocks hops ahead of the audio: widen the span.
    first, last = np.argmax(levels > 0), np.argmax(levels >= 1.0)
    assert first >= 12, "the loop came before the synth had played long enough to compare"
    before, after = rms[first - 12 : first - 2].mean(), rms[last + 4 : last + 14].mean()
    # Without the power correction the level fell to about half in every run (0.45-0.55 of it).
    assert rms[first - 2 : last + 4].min() > 0.7 * min(before, after)
    steps = np.abs(np.diff(np.concatenate(hops)))
    assert steps[(first - 2) * 256 : (last + 4) * 256].max() < 2 * steps[-10 * 256 :].max()


def test_a_trajectory_played_live_stays_on_its_last_target(live, session):
    engine, streams, _ = live
    a, b = session.label_latent(60, "mf", "flute"), session.label_latent(67, "mf", "flute")
    engine.play_path(np.array([0.0, 0.3]), np.stack([a, b]), "linear")
    audio = streams[0].pull(engine, int(1.0 * SR))
    assert abs(yin_midi(audio[int(0.5 * SR):]) - 67) < 0.5  # it used to jump back to the first target


def test_a_192k_device_with_large_blocks_gets_a_ring_big_enough(session, monkeypatch):
    streams = []

    def only_192k(**kw):
        if kw["samplerate"] != 192000:
            raise RuntimeError("Invalid sample rate")
        streams.append(PulledStream(**kw))
        return streams[-1]

    monkeypatch.setattr(StreamHolder, "rates_to_try", lambda self: [22050, 192000])  # a device whose default is 192 kHz
    engine = LiveEngine(session, EngineSettings(block=1024, latency_blocks=4, held_loops=False),
                        stream_factory=only_192k)
    engine.start()
    try:
        most_queued = 0
        audio = []
        for _ in range(40):
            audio.append(streams[0].pull(engine, streams[0].block))
            most_queued = max(most_queued, engine.write - engine.read)
            if len(audio) == 2:
                engine.set_target(session.label_latent(57, "mf", "oboe"))
        # With a 16384-sample ring the producer overwrote audio not yet played (queues of 25000).
        assert most_queued < len(engine.ring)
        import librosa

        f0 = librosa.yin(np.concatenate(audio[20:]).astype(np.float64), fmin=60, fmax=2000, sr=192000,
                         frame_length=16384)
        assert abs(float(np.median(librosa.hz_to_midi(f0))) - 57) < 0.5
    finally:
        engine.stop()


def test_the_loop_worker_leaves_other_threads_all_cores(session):
    import threading

    import torch

    def new_thread_count():
        seen = []
        thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        thread.start()
        thread.join()
        return seen[0]

    before = new_thread_count()
    engine = LiveEngine(session, EngineSettings(), stream_factory=lambda **kw: PulledStream(**kw))
    engine.start()
    try:
        # A render started now on a fresh worker thread gets every core, as before the engine ran.
        assert new_thread_count() == before == torch.get_num_threads()
    finally:
        engine.stop()


def test_a_control_is_heard_within_the_latency_budget(live, session):
    engine, streams, _ = live
    engine.set_target(session.label_latent(60, "mf", "flute"))
    streams[0].pull(engine, 40 * 256)
    generation = engine.set_target(session.label_latent(72, "ff", "violin"))
    old_samples = 0
    while True:
        streams[0].pull(engine, 256)
        if engine.playing_generation >= generation:
            break
        old_samples += 256
    # Whatever was already queued plays first: at most latency_blocks blocks, about 23 ms at 22050 Hz.
    assert old_samples / SR * 1000 <= 30.0
    assert engine.underruns == 0


def test_the_callback_allocates_no_buffers(live, session):
    engine, streams, _ = live
    engine.set_target(session.label_latent(64, "mf", "oboe"))
    streams[0].pull(engine, 20 * 256)
    engine.stop()  # the producer's own allocations must not count: measure the callback alone
    out = np.zeros((256, 1), dtype=np.float32)
    for _ in range(10):
        engine._callback(out, 256, None, None)
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    for _ in range(2000):  # plays out the ring, then runs dry (the underrun path too)
        engine._callback(out, 256, None, None)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Interpreter temporaries (integers, array views) come and go; a block of audio would be 1 KB.
    assert peak - base < 1024 and current - base < 256
    assert engine.underruns > 0 and np.all(out == 0)


def test_an_unplugged_device_is_reported_and_playback_recovers(live, session):
    engine, streams, notices = live
    engine.set_target(session.label_latent(62, "mf", "clarinet"))
    streams[0].pull(engine, 10 * 256)
    streams[0].finished()  # PortAudio ended the stream: the device went away
    assert any("lost" in n for n in notices)
    deadline = time.monotonic() + 5
    while len(streams) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(streams) == 2 and any("back" in n for n in notices)
    audio = streams[1].pull(engine, int(0.8 * SR))[int(0.2 * SR):]
    assert abs(yin_midi(audio) - 62) < 0.5


def test_live_midi_last_note_priority_release_range_and_mod_wheel(live, session):
    engine, streams, notices = live
    notes = MidiNotes(engine, session, "flute", on_notice=notices.append)

    def target():
        return engine._control[1]

    notes.handle(mido.Message("note_on", note=60, velocity=100))
    np.testing.assert_allclose(target(), session.label_latent(60, "ff", "flute"))
    notes.handle(mido.Message("note_on", note=64, velocity=20))
    np.testing.assert_allclose(target(), session.label_latent(64, "pp", "flute"))
    notes.handle(mido.Message("note_off", note=64))
    np.testing.assert_allclose(target(), session.label_latent(60, "ff", "flute"))  # back to the held note
    notes.handle(mido.Message("note_on", note=60, velocity=0))  # running-status note-off
    np.testing.assert_allclose(target(), session.silence_latent())
    notes.handle(mido.Message("note_on", note=40, velocity=64))  # below the flute's range
    assert any("outside the flute's range" in n for n in notices)
    np.testing.assert_allclose(target(), session.label_latent(64, "mf", "flute"))
    notes.mod_direction = np.ones(session.config.latent_dim)
    notes.handle(mido.Message("control_change", control=1, value=127))
    assert engine._modulation[1] == pytest.approx(1.0)


def test_a_flood_of_midi_events_keeps_the_newest_and_audio_flowing(live, session):
    engine, streams, _ = live
    notes = MidiNotes(engine, session, "violin")
    start = time.perf_counter()
    for i in range(1000):
        note = 60 + i % 12
        notes.handle(mido.Message("note_on", note=note, velocity=80))
        notes.handle(mido.Message("note_off", note=note))
    notes.handle(mido.Message("note_on", note=67, velocity=80))
    assert time.perf_counter() - start < 1.0  # a second's worth of a flood is handled well within a second
    audio = streams[0].pull(engine, int(1.0 * SR))[int(0.3 * SR):]
    assert abs(yin_midi(audio) - 67) < 0.5
    assert engine.underruns == 0


@pytest.mark.parametrize("synthesis", ["process", "thread"])
def test_the_producer_runs_in_a_process_of_its_own_or_as_a_thread(session, synthesis):
    streams = []
    engine = LiveEngine(session, EngineSettings(synthesis=synthesis),
                        stream_factory=lambda **kw: streams.append(PulledStream(**kw)) or streams[-1])
    engine.start()
    try:
        assert engine.in_process == (synthesis == "process")
        engine.set_target(session.label_latent(64, "mf", "violin"))
        assert abs(yin_midi(streams[0].pull(engine, int(0.8 * SR))[int(0.3 * SR):]) - 64) < 0.5
        assert engine.underruns == 0
    finally:
        engine.stop()
    assert not engine.in_process and not engine.started


def test_without_a_process_the_engine_plays_from_a_thread_and_says_so(session, monkeypatch):
    from glissando.core.playback.producer import NumpyDecoder

    def cannot(decode, probes):
        raise ValueError("the model's frame decoder cannot be copied to another process")

    monkeypatch.setattr(NumpyDecoder, "like", staticmethod(cannot))
    streams, notices = [], []
    engine = LiveEngine(session, EngineSettings(held_loops=False), on_notice=notices.append,
                        stream_factory=lambda **kw: streams.append(PulledStream(**kw)) or streams[-1])
    engine.start()
    try:
        assert not engine.in_process and any("cannot be copied" in n for n in notices)
        engine.set_target(session.label_latent(60, "mf", "flute"))
        assert abs(yin_midi(streams[0].pull(engine, int(0.8 * SR))[int(0.3 * SR):]) - 60) < 0.5
    finally:
        engine.stop()


def test_the_decoder_copied_for_the_process_decodes_bit_for_bit_as_the_sessions(session):
    import pickle

    from glissando.core.playback.producer import NumpyDecoder

    decode = session.frame_decoder()
    probes = np.random.default_rng(0).normal(size=(4, session.config.latent_dim))
    copy = pickle.loads(pickle.dumps(NumpyDecoder.like(decode, probes)))
    for latent in probes:
        np.testing.assert_array_equal(copy(latent), decode(latent))


def test_a_sound_card_in_the_synthesis_process_reports_when_each_control_reaches_its_output(session):
    from glissando.core.playback.output import PacedStream

    engine = LiveEngine(session, EngineSettings(held_loops=False), stream_factory=PacedStream)
    engine.start()
    try:
        assert engine.in_process  # a realtime stream is opened beside the producer, not here
        first = None
        for i in range(40):
            generation = engine.set_target(session.label_latent(60 + i % 12, "mf", "flute"), glide=0.02)
            first = first or generation
            time.sleep(0.02)
        time.sleep(0.2)
        latencies, dropped = engine.control_latencies(first, generation)
        # Not a timed assertion: each control is heard after it was sent, at a DAC time the card gave.
        assert len(latencies) + dropped == 40 and len(latencies) >= 20
        assert np.all(latencies > 0) and np.all(latencies < 5.0)
        assert engine.playing_generation == generation and engine.lead >= engine.settings.min_lead
    finally:
        engine.stop()


def test_the_lead_grows_after_an_underrun_and_shrinks_back_after_a_quiet_spell(session):
    from glissando.core.playback.producer import LEAD_STEP, NEAR_MISS, QUIET_SECONDS, Producer
    from glissando.core.playback.ring import UNDERRUNS, SharedState
    from glissando.core.playback.synth import PartialSynth

    settings = EngineSettings(latency_blocks=2)
    state = SharedState(1 << 14, session.config.latent_dim)
    synth = PartialSynth(session.spectral, session.config.n_bins, settings.block)
    silence = session.silence_latent().astype(np.float64)
    producer = Producer(state, session.frame_decoder(), synth, SR, settings, silence)
    assert producer.lead == settings.min_lead
    producer._adapt_lead(0.0)
    for t in (1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8):  # an underrun each time: up a step, up to the cap
        state.counters[UNDERRUNS] += 1
        producer._adapt_lead(t)
    cap = 2 * settings.block / SR
    assert producer.lead == pytest.approx(cap)
    producer._adapt_lead(1.8 + QUIET_SECONDS / 2)
    assert producer.lead == pytest.approx(cap)  # not quiet for long enough yet
    producer._adapt_lead(1.9 + QUIET_SECONDS)
    assert producer.lead == pytest.approx(cap - LEAD_STEP)
    t = 1.9 + QUIET_SECONDS
    for _ in range(10):
        t += QUIET_SECONDS + 0.1
        producer._adapt_lead(t)
    assert producer.lead == pytest.approx(settings.min_lead)

    # A hop that used most of the lead (it woke late, or computed slowly) raises it before any underrun...
    producer._note_hop(0.9 * settings.min_lead, t)
    assert producer.lead == pytest.approx(settings.min_lead + LEAD_STEP)
    producer._note_hop(0.5 * producer.lead, t)  # well within it
    assert producer.lead == pytest.approx(settings.min_lead + LEAD_STEP)
    producer._note_hop(producer.lead, t)
    assert producer.lead == pytest.approx(settings.min_lead + 2 * LEAD_STEP)
    # ... and a quiet spell whose worst hop would not fit the smaller lead keeps it.
    lead = producer.lead
    producer._note_hop(NEAR_MISS * (lead - LEAD_STEP) + 0.0001, t)
    t += QUIET_SECONDS + 0.1
    producer._adapt_lead(t)
    assert producer.lead == pytest.approx(lead)
    t += QUIET_SECONDS + 0.1
    producer._adapt_lead(t)
    assert producer.lead == pytest.approx(lead - LEAD_STEP)


def test_the_latency_bench_load_mode_runs_and_reports():
    """A few seconds of bench/latency.py --load: it starts its competing load, measures and reports. The 60 s
    figures belong to the bench, not to this test."""
    import subprocess
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parents[2] / "bench" / "latency.py"
    done = subprocess.run([sys.executable, str(bench), "--load", "--seconds", "3", "--reference-seconds", "2",
                           "--held-seconds", "1.5"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    fields = dict(part.split("=") for part in last.split())
    assert {"underruns", "device_underflows", "latency_ms", "p95_ms", "dropped", "reference_latency_ms",
            "ratio"} <= set(fields)
    assert float(fields["latency_ms"]) > 0 and int(fields["dropped"]) >= 0
    assert "busy GUI thread + 1 CPU-bound process" in done.stdout
