"""Finding audio output through sounddevice, which is optional: without PortAudio or a device,
the reason is reported and everything but playback works."""
from __future__ import annotations

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
