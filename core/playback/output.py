"""Finding audio output through sounddevice, which is optional: without PortAudio or a device,
the reason is reported and everything but playback works."""
from __future__ import annotations


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
