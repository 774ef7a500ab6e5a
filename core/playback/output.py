"""Finding audio output through sounddevice, which is optional: without PortAudio or a device,
the reason is reported and everything but playback works."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional

import numpy as np


class AudioUnavailable(Exception):
    """Playback cannot work here; the message says why, for the window's notice."""


def _sounddevice():
    try:
        import sounddevice
    except OSError as exc:  # the module imports, but PortAudio (apt libportaudio2) is missing
        raise AudioUnavailable(f"playback is off: the PortAudio library is not installed ({exc})") from None
    except ImportError:
        raise AudioUnavailable("playback is off: the sounddevice package is not installed") from None
    return sounddevice


def output_devices() -> list[tuple[int, str]]:
    """(index, name) of every device that can play; raises AudioUnavailable when there is none."""
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
    except Exception as exc:
        raise AudioUnavailable(f"playback is off: audio devices cannot be listed ({exc})") from None
    found = [(i, d["name"]) for i, d in enumerate(devices) if d.get("max_output_channels", 0) > 0]
    if not found:
        raise AudioUnavailable("playback is off: no audio output device was found")
    return found


class PulledStream:
    """An output stream with no sound card behind it: its holder pulls the audio through the
    engine's callback, block by block, no faster than the engine's producer fills the ring. For
    tests, benchmarks and comparing sounds; built with sounddevice.OutputStream's keywords."""

    def __init__(self, samplerate, channels, dtype, blocksize, device, callback, finished_callback):
        self.samplerate, self.block = samplerate, blocksize
        self.callback, self.finished = callback, finished_callback
        self.out = np.zeros((blocksize, 1), dtype=np.float32)

    def start(self):
        pass

    def stop(self):
        pass

    def close(self):
        pass

    def pull(self, engine, samples: int, wait_s: float = 2.0) -> np.ndarray:
        """The next ``samples`` samples the engine plays (waiting up to ``wait_s`` for each block)."""
        import time

        got = []
        for _ in range(-(-int(samples) // self.block)):
            deadline = time.monotonic() + wait_s
            while engine.write - engine.read < self.block and time.monotonic() < deadline:
                time.sleep(0.0005)
            self.callback(self.out, self.block, None, None)
            got.append(self.out[:, 0].copy())
        return np.concatenate(got)[: int(samples)] if got else np.zeros(0, dtype=np.float32)


class StreamHolder:
    """Opens the output stream at the model's rate, or at the first common rate the device takes when it
    refuses that one (raw ALSA hardware, WASAPI in shared mode; the producer then resamples), and reopens it
    after the device is lost. ``on_rate(rate, block)`` runs before a stream at a new rate starts."""

    def __init__(self, factory: Optional[Callable], device: Optional[int], sample_rate: int, block: int,
                 callback: Callable, on_notice: Callable[[str], None], on_rate: Callable[[int, int], None]):
        self.factory, self.device, self.sample_rate = factory, device, sample_rate
        self.callback, self.on_notice, self.on_rate = callback, on_notice, on_rate
        self.model_block = block
        self.rate, self.block = sample_rate, block  # the device's, once open
        self.stream = None

    def rates_to_try(self) -> list[int]:
        # The common rates before the device's own default: resampling to 96 or 192 kHz costs CPU for nothing.
        rates = [self.sample_rate, 48000, 44100]
        if self.factory is None:
            try:
                rates.append(int(_sounddevice().query_devices(self.device, "output")["default_samplerate"]))
            except Exception:
                pass  # no such device, or no PortAudio: the common rates are all there is to try
        return list(dict.fromkeys(rates))

    def open(self) -> None:
        """AudioUnavailable says why no rate worked."""
        factory = self.factory or _sounddevice().OutputStream
        failure: Optional[Exception] = None
        for rate in self.rates_to_try():
            block = self.model_block if rate == self.sample_rate else round(self.model_block * rate / self.sample_rate)
            try:
                stream = factory(samplerate=rate, channels=1, dtype="float32", blocksize=block,
                                 device=self.device, callback=self.callback, finished_callback=self.finished)
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
            self.stream = stream
            return
        raise AudioUnavailable(f"playback is off: the audio device cannot be opened ({failure})")

    def _use_rate(self, rate: int, block: int) -> None:
        if rate == self.rate and block == self.block:
            return
        if rate != self.sample_rate:
            try:
                import soxr  # noqa: F401  (the producer resamples with it)
            except ImportError:
                raise AudioUnavailable(f"playback is off: the audio device plays only at {rate} Hz, and resampling "
                                       f"needs the soxr package (pip install soxr)") from None
            self.on_notice(f"the audio device plays at {rate} Hz, not the model's {self.sample_rate} Hz: resampling")
        self.rate, self.block = rate, block
        self.on_rate(rate, block)

    def close(self) -> None:
        stream, self.stream = self.stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:
                pass  # a vanished device cannot be closed twice; there is nothing left to release

    def finished(self) -> None:
        # close() forgets the stream first; a stream still known here ended on its own: the device
        # failed or was unplugged. recover() reopens it.
        if self.stream is not None:
            self.stream = None
            self.on_notice("audio device lost: playback paused, retrying")

    def recover(self) -> None:
        try:
            self.open()
            self.on_notice("audio device back: playback resumed")
        except AudioUnavailable:
            pass  # still gone; try again a little later

    def clock_offset(self) -> float:
        """The stream's clock (the one its callback's time info uses) minus time.monotonic(); 0 for a stream
        without one."""
        stream: Any = self.stream
        try:
            before = time.monotonic()
            now = float(stream.time)
            after = time.monotonic()
        except Exception:
            return 0.0
        return now - (before + after) / 2


class _TimeInfo:
    __slots__ = ("currentTime", "outputBufferDacTime", "inputBufferAdcTime")

    def __init__(self, current: float, dac: float):
        self.currentTime, self.outputBufferDacTime, self.inputBufferAdcTime = current, dac, 0.0


class _Flags:
    __slots__ = ("output_underflow",)

    def __init__(self, underflow: bool):
        self.output_underflow = underflow

    def __bool__(self) -> bool:
        return self.output_underflow


class PacedStream:
    """A sound card with no sound behind it: calls the callback every block period on a thread of its own,
    with the time info PortAudio passes (``currentTime``: when the block was due; ``outputBufferDacTime``:
    when it plays, ``device_blocks`` blocks later, behind what the card already holds). A callback that comes
    after its block should have started playing is an output underflow, flagged as PortAudio does, and the card
    goes on from then (a real one has played silence meanwhile). Its clock, ``time``, is time.monotonic().

    ``realtime``: it keeps its own pace like a sound card, so an engine that synthesises in a process of its
    own opens it there (it is pickled: keep subclasses at module level)."""

    realtime = True
    device_blocks = 1  # double buffering: the block handed over now plays once the one before it has

    def __init__(self, samplerate, channels, dtype, blocksize, device, callback, finished_callback):
        self.samplerate, self.block = samplerate, blocksize
        self.callback, self.finished = callback, finished_callback
        self.out = np.zeros((blocksize, 1), dtype=np.float32)
        self.underflows = 0
        self._running = False
        self._thread: Optional[threading.Thread] = None

    @property
    def time(self) -> float:
        return time.monotonic()

    def start(self):
        self._running = True
        self._thread = threading.Thread(target=self._run, name="paced-stream", daemon=True)
        self._thread.start()

    def stop(self):
        self._running = False
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        self._thread = None

    def close(self):
        self.stop()

    def played(self, block: np.ndarray) -> None:
        """Each block as the card plays it (a copy is needed to keep it): for subclasses that record."""

    def _run(self):
        period = self.block / self.samplerate
        ahead = self.device_blocks * period
        due = time.monotonic()
        while self._running:
            due += period
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now = time.monotonic()
            late = now > due + ahead
            if late:
                self.underflows += 1
                due = now
            self.callback(self.out, self.block, _TimeInfo(due, due + ahead), _Flags(late))
            self.played(self.out[:, 0])
