"""Audio output. sounddevice (and PortAudio under it) is optional: without it everything else works."""
from .output import AudioUnavailable, ClipPlayer, output_devices

__all__ = ["AudioUnavailable", "ClipPlayer", "output_devices"]
