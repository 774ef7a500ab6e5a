"""Playing rendered audio through sounddevice.

The stream's callback runs on PortAudio's real-time thread: it only copies from a clip prepared
beforehand (and pads with silence), so nothing there allocates, locks or waits on Python work.
"""
from __future__ import annotations

from typing import Callable, Optional

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


class ClipPlayer:
    """Plays one clip at a time; a new clip replaces the one playing.

    ``stream_factory`` builds the output stream (sounddevice.OutputStream's signature); tests pass a
    fake one. Errors from the device are reported through ``on_error`` and close the stream, so the
    next ``play`` tries to open it again (a device plugged back in works without a restart).
    """

    def __init__(self, sample_rate: int = 22050, device: Optional[int] = None, block_size: int = 512,
                 stream_factory: Optional[Callable] = None, on_error: Callable[[str], None] = lambda m: None):
        self.sample_rate = sample_rate
        self.device = device
        self.block_size = block_size
        self.on_error = on_error
        self._factory = stream_factory
        self._stream = None
        self._state: tuple[np.ndarray, int] = (np.zeros(0, dtype=np.float32), 0)

    # -- called from the app's thread ------------------------------------------------------------
    def play(self, audio: np.ndarray) -> None:
        clip = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        self._ensure_stream()
        # Clip and position travel as one tuple, replaced in one store: the callback sees the old
        # clip or the new one, each with its own position.
        self._state = (clip, 0)

    def stop(self) -> None:
        self._state = (self._state[0], len(self._state[0]))

    @property
    def playing(self) -> bool:
        clip, position = self._state
        return self._stream is not None and position < len(clip)

    @property
    def position_seconds(self) -> float:
        return self._state[1] / self.sample_rate

    def set_device(self, device: Optional[int]) -> None:
        self.close()
        self.device = device

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:
                pass  # a device that already vanished cannot be closed twice; nothing to keep

    def _ensure_stream(self) -> None:
        if self._stream is not None:
            return
        factory = self._factory or _sounddevice().OutputStream
        try:
            stream = factory(samplerate=self.sample_rate, channels=1, dtype="float32", blocksize=self.block_size,
                             device=self.device, callback=self._callback, finished_callback=self._finished)
            stream.start()
        except AudioUnavailable:
            raise
        except Exception as exc:
            raise AudioUnavailable(f"playback is off: the audio device cannot be opened ({exc})") from None
        self._stream = stream

    # -- called on the audio thread --------------------------------------------------------------
    def _callback(self, outdata, frames, time, status) -> None:
        state = self._state
        clip, pos = state
        n = min(frames, len(clip) - pos)
        if n > 0:
            outdata[:n, 0] = clip[pos : pos + n]
            outdata[n:, 0] = 0.0
            if self._state is state:  # a clip started meanwhile keeps its own position
                self._state = (clip, pos + n)
        else:
            outdata[:, 0] = 0.0

    def _finished(self) -> None:
        # close() forgets the stream before stopping it; a stream still known here ended on its own:
        # the device failed or went away.
        if self._stream is not None:
            self._stream = None
            self.on_error("playback stopped: the audio device went away")
