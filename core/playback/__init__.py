"""Audio output and live input. sounddevice (PortAudio) and python-rtmidi are optional: without them
everything else works, and the reason is reported."""
from .engine import EngineSettings, LiveEngine
from .midi_input import MidiNotes, MidiUnavailable, input_ports
from .output import AudioUnavailable, PacedStream, PulledStream, output_devices

__all__ = ["AudioUnavailable", "EngineSettings", "LiveEngine", "MidiNotes", "MidiUnavailable",
           "PacedStream", "PulledStream", "input_ports", "output_devices"]
