"""Clip playback through a stand-in for sounddevice's stream."""
import numpy as np
import pytest

from glissando.core.playback import AudioUnavailable, ClipPlayer
from glissando.core.playback import output as output_module


class Stream:
    def __init__(self, fail=False, **kwargs):
        if fail:
            raise RuntimeError("Device unavailable [PaErrorCode -9985]")
        self.callback, self.finished = kwargs["callback"], kwargs["finished_callback"]
        self.blocksize = kwargs["blocksize"]

    def start(self):
        pass

    def stop(self):
        pass

    def close(self):
        pass

    def pull(self, blocks):
        out = np.zeros((blocks * self.blocksize, 1), np.float32)
        for b in range(blocks):
            self.callback(out[b * self.blocksize : (b + 1) * self.blocksize], self.blocksize, None, None)
        return out[:, 0]


def test_clip_plays_then_silence_and_a_new_clip_restarts():
    streams = []
    player = ClipPlayer(block_size=64, stream_factory=lambda **kw: streams.append(Stream(**kw)) or streams[-1])
    clip = np.sin(np.arange(200) / 5).astype(np.float32)
    player.play(clip)
    out = streams[0].pull(4)
    np.testing.assert_array_equal(out[:200], clip)
    assert np.all(out[200:] == 0) and not player.playing
    player.play(clip[:10] * 0.5)
    np.testing.assert_array_equal(streams[0].pull(1)[:10], clip[:10] * 0.5)
    assert len(streams) == 1  # the stream stays open between clips


def test_a_device_that_cannot_open_is_reported():
    player = ClipPlayer(stream_factory=lambda **kw: Stream(fail=True, **kw))
    with pytest.raises(AudioUnavailable, match="cannot be opened"):
        player.play(np.zeros(10))


def test_a_device_that_goes_away_is_reported_and_reopened_at_the_next_play():
    errors, streams = [], []
    player = ClipPlayer(stream_factory=lambda **kw: streams.append(Stream(**kw)) or streams[-1], on_error=errors.append)
    player.play(np.ones(10))
    streams[0].finished()  # PortAudio ended the stream on its own
    assert errors and "went away" in errors[0]
    player.play(np.ones(10))
    assert len(streams) == 2


def test_without_portaudio_the_reason_is_given(monkeypatch):
    def missing():
        raise AudioUnavailable("playback is off: the PortAudio library is not installed")

    monkeypatch.setattr(output_module, "_sounddevice", missing)
    with pytest.raises(AudioUnavailable, match="PortAudio"):
        output_module.output_devices()
    with pytest.raises(AudioUnavailable, match="PortAudio"):
        ClipPlayer().play(np.zeros(4))
