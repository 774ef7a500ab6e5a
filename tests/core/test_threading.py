"""The threading model (docs/threading.md): one ModelSession shared by many threads, closed safely under
running jobs; the live engine restores the process-wide settings it changes."""
import gc
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from glissando.core.errors import Cancelled, GlissandoError
from glissando.core.midi import Note
from glissando.core.playback import AudioUnavailable, EngineSettings, LiveEngine, PulledStream
from glissando.core.playback.engine import SWITCH_INTERVAL
from glissando.core.render import RenderSettings, render_notes
from glissando.core.session import ModelSession, SessionClosed
from glissando.core.transcribe import transcribe

LABELS = [(60, "mf", "flute"), (67, "ff", "trumpet"), (45, "mf", "cello"), (72, "pp", "violin"), (None, None, None)]


@pytest.fixture(scope="module")
def session():
    return ModelSession(device="cpu")


def fresh_session() -> ModelSession:
    """A session of its own, for tests that close it or need its label cache empty."""
    return ModelSession(device="cpu")


def run_together(n: int, work):
    """Run ``work(k)`` on n threads released at once; their results in order."""
    barrier = threading.Barrier(n)

    def start(k):
        barrier.wait(timeout=10)
        return work(k)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(start, range(n)))


def test_threads_decoding_from_one_session_agree_with_sequential_calls(session):
    rng = np.random.default_rng(0)
    base = np.stack([session.label_latent(*labels) for labels in LABELS])
    jobs = [(base + rng.normal(0, 0.3, base.shape)).astype(np.float32) for _ in range(6)]
    frames = [np.log(session.decode_magnitudes(z) + session.spectral.log_floor) for z in jobs]

    def all_of(k):
        z, x = jobs[k % len(jobs)], frames[k % len(frames)]
        return (session.decode_magnitudes(z), session.decode_symbols(z), session.encode_signal(x),
                session.signal_to_symbols(x))

    expected = [all_of(k) for k in range(len(jobs))]
    got = run_together(2 * len(jobs), all_of)
    for k, result in enumerate(got):
        want = expected[k % len(jobs)]
        # The same network on the same inputs; a tolerance only for a BLAS that splits work by thread.
        np.testing.assert_allclose(result[0], want[0], rtol=1e-5, atol=1e-7)
        for family in want[1]:
            np.testing.assert_allclose(result[1][family], want[1][family], rtol=1e-5, atol=1e-7)
            np.testing.assert_allclose(result[3][family], want[3][family], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(result[2], want[2], rtol=1e-5, atol=1e-6)


def test_threads_filling_the_label_cache_all_get_the_same_read_only_latents(session):
    fresh = fresh_session()
    try:
        got = run_together(8, lambda k: [fresh.label_latent(*LABELS[(k + j) % len(LABELS)])
                                         for j in range(len(LABELS))])
        for k, latents in enumerate(got):
            for j, z in enumerate(latents):
                labels = LABELS[(k + j) % len(LABELS)]
                assert z is fresh.label_latent(*labels)  # one array per label set, whoever encoded it first
                assert not z.flags.writeable
                np.testing.assert_allclose(z, session.label_latent(*labels), rtol=1e-6, atol=1e-7)
    finally:
        fresh.close()


def test_the_torch_call_hook_names_each_call_and_its_thread():
    fresh = fresh_session()
    calls = []
    fresh.torch_call_hook = lambda method: calls.append((method, threading.current_thread().name))
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="worker") as pool:
            z = pool.submit(fresh.label_latent, 60, "mf", "flute").result()
            pool.submit(fresh.decode_magnitudes, z[None]).result()
            pool.submit(fresh.signal_to_symbols, np.zeros((2, fresh.config.n_bins), np.float32)).result()
        assert [m for m, _ in calls] == ["label_latent", "decode_magnitudes", "signal_to_symbols"]
        assert all(t.startswith("worker") for _, t in calls)
        calls.clear()
        fresh.label_latent(60, "mf", "flute")  # cached: no torch, no report
        fresh.frame_decoder()(z)  # a numpy copy of the decoder: no forward pass
        assert calls == []
        # A function set on the class is called with the name alone (not bound as a method).
        del fresh.torch_call_hook
        ModelSession.torch_call_hook = lambda method: calls.append(method)
        fresh.decode_signal(z[None])
        assert calls == ["decode_signal"]
        # A hook that raises forbids torch on its thread: the error comes out of the call.
        fresh.torch_call_hook = lambda method: (_ for _ in ()).throw(AssertionError(f"torch on this thread: {method}"))
        with pytest.raises(AssertionError, match="decode_symbols"):
            fresh.decode_symbols(z[None])
    finally:
        ModelSession.torch_call_hook = None
        fresh.close()


def test_close_waits_for_a_call_in_progress_and_refuses_later_calls():
    fresh = fresh_session()
    z = fresh.label_latent(60, "mf", "flute")
    inside, go_on = threading.Event(), threading.Event()

    def hold(method):  # runs inside the call, counted as in progress
        inside.set()
        assert go_on.wait(10)

    fresh.torch_call_hook = hold
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(fresh.decode_magnitudes, z[None])
        assert inside.wait(10)
        assert fresh.close(timeout=0.1) is False  # still running: not released under it
        assert fresh.closed and fresh.model is not None
        with pytest.raises(SessionClosed, match="the model default was closed"):
            fresh.decode_signal(z[None])
        go_on.set()
        assert call.result(timeout=10).shape == (1, fresh.config.n_bins)  # the call in progress finished
    # The last call out released the network; a second close says so at once.
    assert fresh.model is None and fresh.loaded is None
    assert fresh.close(timeout=0) is True
    # Facts stay readable; everything that needs the network says the model was closed.
    assert fresh.name == "default" and "flute" in fresh.instruments
    for call in (lambda: fresh.label_latent(62, "mf", "flute"), fresh.silence_latent,
                 lambda: fresh.decode_symbols(z[None]),
                 lambda: fresh.encode_signal(np.zeros((1, fresh.config.n_bins), np.float32)), fresh.frame_decoder,
                 lambda: fresh.label_distribution(60, "mf", "flute")):
        with pytest.raises(GlissandoError, match="was closed"):
            call()


def test_close_returns_once_a_running_call_ends():
    fresh = fresh_session()
    z = fresh.label_latent(60, "mf", "flute")
    inside, go_on = threading.Event(), threading.Event()
    fresh.torch_call_hook = lambda method: inside.set() or go_on.wait(10)
    with ThreadPoolExecutor(2) as pool:
        call = pool.submit(fresh.decode_signal, z[None])
        assert inside.wait(10)
        closing = pool.submit(fresh.close, 10.0)
        assert not closing.done()
        threading.Timer(0.2, go_on.set).start()
        assert closing.result(timeout=10) is True
        assert call.result(timeout=1).shape == (1, fresh.config.n_bins)
    assert fresh.model is None


def test_closing_the_session_under_a_render_ends_it_cleanly():
    fresh = fresh_session()
    notes = [Note(0.4 * k, 0.4 * k + 0.35, 60 + k % 12, "mf", "flute") for k in range(40)]  # 16 s: many batches
    rendering = threading.Event()
    outcome = {}

    def render():
        try:
            outcome["audio"] = render_notes(fresh, notes, RenderSettings(batch_blocks=2),
                                            progress=lambda done, total, message: rendering.set())
        except BaseException as exc:  # noqa: BLE001 - the test inspects whatever ended the render
            outcome["error"] = exc

    worker = threading.Thread(target=render)
    worker.start()
    try:
        assert rendering.wait(60), "the render never reported progress"
        assert fresh.close(timeout=10) is True
    finally:
        worker.join(60)
    assert not worker.is_alive()
    assert "audio" not in outcome
    assert isinstance(outcome["error"], (Cancelled, GlissandoError)), repr(outcome["error"])
    with pytest.raises(GlissandoError, match="was closed"):
        render_notes(fresh, notes[:1])


def test_transcribing_with_a_closed_session_says_it_was_closed(tmp_path):
    import soundfile as sf

    path = tmp_path / "a.wav"
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 440 * np.arange(22050) / 22050)).astype(np.float32), 22050)
    fresh = fresh_session()
    fresh.close()
    with pytest.raises(GlissandoError, match="the model default was closed"):
        transcribe(fresh, path)


def pulled(streams):
    return lambda **kw: streams.append(PulledStream(**kw)) or streams[-1]


def test_the_engine_restores_the_switch_interval_and_the_gc_after_stop(session):
    before = sys.getswitchinterval()
    frozen_before, enabled_before = gc.get_freeze_count(), gc.isenabled()
    sys.setswitchinterval(0.004)  # a value of our own, to see it come back
    try:
        streams = []
        engine = LiveEngine(session, EngineSettings(), stream_factory=pulled(streams))
        engine.start()
        try:
            assert sys.getswitchinterval() <= SWITCH_INTERVAL and gc.get_freeze_count() > 0
            engine.set_target(session.label_latent(60, "mf", "flute"))
            assert np.abs(streams[0].pull(engine, 4096)).max() > 0
        finally:
            engine.stop()
        assert sys.getswitchinterval() == pytest.approx(0.004)
        assert gc.isenabled() == enabled_before
        if frozen_before == 0:  # objects someone else froze stay frozen (see _take_process_settings)
            assert gc.get_freeze_count() == 0
        engine.stop()  # a second stop gives back nothing more
        assert sys.getswitchinterval() == pytest.approx(0.004)
    finally:
        sys.setswitchinterval(before)


def test_two_engines_keep_the_settings_until_the_last_stops_and_a_failed_start_restores_them(session):
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.004)
    try:
        a = LiveEngine(session, EngineSettings(), stream_factory=pulled([]))
        b = LiveEngine(session, EngineSettings(), stream_factory=pulled([]))
        a.start()
        b.start()
        a.stop()
        assert sys.getswitchinterval() <= SWITCH_INTERVAL  # b still plays
        b.stop()
        assert sys.getswitchinterval() == pytest.approx(0.004)

        def no_device(**kw):
            raise AudioUnavailable("playback is off: no device")

        with pytest.raises(AudioUnavailable):
            LiveEngine(session, EngineSettings(), stream_factory=no_device).start()
        assert sys.getswitchinterval() == pytest.approx(0.004)
    finally:
        sys.setswitchinterval(before)
