"""Property-based fuzzing of what reads a user's input: the note-string parser, MIDI files, WAV files and
model files. Whatever the input, each example ends in a correct result or a GlissandoError of one line,
never another exception (a traceback for the user), and within a time box (never a hang).

GLISSANDO_FUZZ_EXAMPLES sets the examples per fuzzer (500 by default, as in make test; make fuzz runs more).
"""
import json
import math
import os
import re
import signal
import struct
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from glissando.core.errors import GlissandoError

EXAMPLES = int(os.environ.get("GLISSANDO_FUZZ_EXAMPLES", 500))
# No example database: nothing is written into the working tree (a failure prints its example to replay).
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


class Hang(Exception):
    pass


@contextmanager
def time_box(seconds: float):
    """Fail an example that runs longer than ``seconds`` (a hang), by SIGALRM: hypothesis' deadline only
    judges an example once it has returned."""
    def expire(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_refusal(exc: GlissandoError, path=None) -> None:
    message = str(exc)
    # Counted by kind in --hypothesis-show-statistics: the reason, without the path, quotes and details.
    reason = message.split(": ", 2)[-1] if message.startswith("--notes") else message.split(": ", 1)[-1]
    event("refused: " + re.sub(r"'[^']*'|\"[^\"]*\"", "_", reason.split(" (")[0])[:50])
    assert message and "\n" not in message and "\r" not in message, repr(message)
    if path is not None:
        assert message.startswith(f"{path}: ") or message.startswith(f"{path}"), message


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# -- mutations of bytes ---------------------------------------------------------------------------------------

INTERESTING = [0x00, 0x01, 0x7F, 0x80, 0xFF]
INTERESTING_WORDS = [0, 1, 2, 3, 7, 8, 16, 24, 32, 64, 255, 1000, 22050, 44100, 65535, 0x7FFFFFFF, 0xFFFFFFFF]


@st.composite
def mutated(draw, bases: list[bytes], header: int, keep: int):
    """One of ``bases`` with a few mutations: bytes flipped or set to edge values, 32-bit words set to edge
    sizes, bytes inserted or deleted, or the file truncated; half of them in the first ``header`` bytes,
    where the sizes and formats are. Half the files keep their first ``keep`` bytes (the magic numbers and
    chunk names) intact, so that mutations of what follows are read too, not all refused at once."""
    data = bytearray(draw(st.sampled_from(bases)))
    low = draw(st.sampled_from([0, keep]))
    for _ in range(draw(st.integers(1, 4))):
        if len(data) <= low:
            break
        kind = draw(st.sampled_from(["flip", "edge", "word", "insert", "delete", "truncate"]))
        limit = min(len(data), max(header, low + 1)) if draw(st.booleans()) else len(data)
        at = draw(st.sampled_from(range(low, limit)))  # uniform: st.integers favours the first, the magic number
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "edge":
            data[at] = draw(st.sampled_from(INTERESTING))
        elif kind == "word" and at + 4 <= len(data):
            data[at:at + 4] = struct.pack(draw(st.sampled_from(["<I", ">I"])), draw(st.sampled_from(INTERESTING_WORDS)))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 16))]
        elif kind == "truncate":
            del data[at:]
    return bytes(data)


# -- the note-string parser -----------------------------------------------------------------------------------

# Each part of a token: valid values most of the time (so that whole lists parse too), edge cases and junk.
NUMBERS = st.one_of(st.floats(0.01, 600).map(repr), st.floats(0.01, 600).map(repr),
                    st.sampled_from(["nan", "inf", "-inf", "1e9", "1e-9", "0", "-0", "-1", "1e400", "0.5", "600",
                                     "600.0001", "0.01", "0.00999", "1_0", "0x10", "", "1.5.2", "infinity", "NaN"]),
                    st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-10**6, 10**6).map(str))
NAMES = st.one_of(st.builds("{}{}{}".format, st.sampled_from("CDEFGABcdefgab"), st.sampled_from(["", "#", "b"]),
                            st.integers(-1, 9)),
                  st.sampled_from(["C4", "Cb-1", "C-1", "G9", "G#9", "B9", "A0", "H4", "R", "r", "C", "C10", "",
                                   "4", "C44"]))
DYNAMICS = st.one_of(st.sampled_from(["pp", "p", "mf", "f", "ff"]), st.sampled_from(["", "fff", "MF", "silent"]))
INSTRUMENTS = st.one_of(st.sampled_from(["flute", "piano", "violin"]),
                        st.sampled_from(["", "kazoo", "silent", "Flute"]))


@st.composite
def note_text(draw):
    tokens = []
    for _ in range(draw(st.integers(0, 6))):
        parts = [draw(NAMES)] + [draw(s) for s in (DYNAMICS, NUMBERS, INSTRUMENTS)][: draw(st.integers(0, 4))]
        tokens.append(":".join(parts))
    if draw(st.booleans()):
        tokens.append(draw(st.text(max_size=20)))
    return draw(st.sampled_from([" ", "  ", "\t", "\n"])).join(tokens)


@FUZZ
@given(text=st.one_of(note_text(), st.text(max_size=60)))
def test_fuzz_note_strings(text):
    from glissando.core.cli import parse_note_list
    from glissando.core.data.labels import DYNAMICS as KNOWN_DYNAMICS
    from glissando.core.data.labels import INSTRUMENTS as KNOWN_INSTRUMENTS
    from glissando.core.midi import MAX_NOTE_SECONDS, MAX_SECONDS, MIN_NOTE_SECONDS

    with time_box(5):
        try:
            notes = parse_note_list(text)
        except GlissandoError as exc:
            check_refusal(exc)
            assert str(exc).startswith("--notes: ")
            return
    event("parsed")
    assert notes
    end = 0.0
    for n in notes:
        assert math.isfinite(n.start) and math.isfinite(n.end) and end <= n.start < n.end <= MAX_SECONDS
        assert MIN_NOTE_SECONDS - 1e-9 <= n.end - n.start <= MAX_NOTE_SECONDS + 1e-9  # rounding of start + seconds
        assert 0 <= n.midi <= 127 and n.dynamics in KNOWN_DYNAMICS
        assert n.instrument == "" or n.instrument in KNOWN_INSTRUMENTS
        end = n.end


# -- MIDI files -----------------------------------------------------------------------------------------------

def _midi_bases() -> list[bytes]:
    import io

    import mido

    def save(mid) -> bytes:
        buf = io.BytesIO()
        mid.save(file=buf)
        return buf.getvalue()

    tune = mido.MidiFile(ticks_per_beat=96)
    events = [mido.MetaMessage("set_tempo", tempo=500000, time=0), mido.Message("program_change", program=73, time=0)]
    for k in range(12):  # a phrase of notes, legato and detached, a tempo change in the middle
        events += [mido.Message("note_on", note=60 + k, velocity=20 + 9 * k, time=0 if k % 3 else 24),
                   mido.Message("note_off" if k % 2 else "note_on", note=60 + k, velocity=0, time=48)]
        if k == 6:
            events.append(mido.MetaMessage("set_tempo", tempo=250000, time=0))
    tune.tracks.append(mido.MidiTrack(events))
    two = mido.MidiFile(type=1, ticks_per_beat=480)
    two.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=600000, time=0)]))
    two.tracks.append(mido.MidiTrack([
        mido.Message("program_change", channel=1, program=40, time=0),
        mido.Message("note_on", channel=1, note=55, velocity=100, time=0),
        mido.Message("note_on", channel=9, note=36, velocity=100, time=0),
        mido.Message("note_off", channel=9, note=36, velocity=0, time=240),
        mido.Message("note_off", channel=1, note=55, velocity=0, time=240)]))
    return [save(tune), save(two)]


MIDI_BASES = _midi_bases()


@FUZZ
@given(data=mutated(MIDI_BASES, header=40, keep=22))
def test_fuzz_midi_files(folder, data):
    from glissando.core.midi import check_note_times, parse_midi, read_midi

    path = folder / "fuzz.mid"
    path.write_bytes(data)
    with time_box(5):
        try:
            parsed = parse_midi(path)
            notes = read_midi(path, ["flute", "violin"], "piano", ["pp", "mf", "ff"], parsed=parsed)
            check_note_times(notes, str(path), longest=1e12)
        except GlissandoError as exc:
            check_refusal(exc, path)
            return
    event("read")
    assert notes and parsed.events
    assert [(n.start, n.midi) for n in notes] == sorted((n.start, n.midi) for n in notes)
    for n in notes:
        assert math.isfinite(n.start) and math.isfinite(n.end) and 0 <= n.start < n.end
        assert 0 <= n.midi <= 127 and n.dynamics in ("pp", "mf", "ff") and n.instrument in ("flute", "violin", "piano")


# -- WAV files ------------------------------------------------------------------------------------------------

def _wav_bases() -> list[bytes]:
    import io

    rng = np.random.default_rng(0)
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(600) / 22050)
    out = []
    for audio, rate, subtype in ((tone, 22050, "PCM_16"), (np.stack([tone, -tone], 1), 44100, "FLOAT"),
                                 (tone, 8000, "PCM_24"), (rng.uniform(-1, 1, 300), 16000, "PCM_U8"),
                                 (np.zeros(10), 22050, "PCM_16")):
        buf = io.BytesIO()
        sf.write(buf, audio, rate, subtype=subtype, format="WAV")
        out.append(buf.getvalue())
    return out


WAV_BASES = _wav_bases()


@FUZZ
@given(data=mutated(WAV_BASES, header=48, keep=16))
def test_fuzz_wav_files(folder, data):
    from glissando.core.spectral.nsgt_frames import audio_file_info, load_audio

    path = folder / "fuzz.wav"
    path.write_bytes(data)
    with time_box(5):
        try:
            info = audio_file_info(path)
            audio = load_audio(path)
        except GlissandoError as exc:
            check_refusal(exc, path)
            return
    event("read")
    assert info.frames > 0
    assert audio.dtype == np.float32 and audio.ndim == 1 and np.all(np.isfinite(audio))
    # At most the declared frames, resampled (a truncated file holds fewer).
    assert len(audio) <= math.ceil(info.frames * 22050 / info.samplerate) + 1


@pytest.fixture(scope="module")
def session():
    from glissando.core.session import ModelSession

    return ModelSession(device="cpu")


@settings(FUZZ, max_examples=max(20, EXAMPLES // 10))
@given(data=mutated(WAV_BASES, header=48, keep=16))
def test_fuzz_transcribing_wav_files(folder, session, data):
    """The whole transcription of damaged short files: notes, none (with a warning for silence), or a refusal."""
    from glissando.core.transcribe import transcribe

    path = folder / "transcribe.wav"
    path.write_bytes(data)
    warnings = []
    with time_box(30):
        try:
            notes, post = transcribe(session, path, warn=warnings.append)
        except GlissandoError as exc:
            check_refusal(exc, path)
            return
    event("silent" if post.silent else "transcribed")
    assert all(math.isfinite(n.start) and n.start < n.end and 0 <= n.midi <= 127 for n in notes)
    assert not (post.silent and notes)
    assert len(warnings) == (1 if post.silent else 0)


# -- model files ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped_model():
    """The shipped model's header (the JSON safetensors starts with), its metadata, and its tensor bytes."""
    from glissando.core.models.modelfile import default_model_path

    blob = default_model_path().read_bytes()
    (size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + size])
    return header, json.loads(header["__metadata__"]["glissando"]), blob[8 + size:]


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.sampled_from([0, 1, -1, 2**31, 10**9]),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
              st.sampled_from(["conv", "paper", "silent", "glissando-model", "C", "flute"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=8)


@st.composite
def mutated_metadata(draw, meta: dict):
    """The metadata with a few of its values replaced, keys deleted or added, somewhere below one of its
    sections (each section as likely, whatever its size); or the JSON text itself damaged."""
    meta = json.loads(json.dumps(meta))
    for _ in range(draw(st.integers(1, 3))):
        section = draw(st.sampled_from(["format", "format_version", "config", "config", "spectral", "info"]))
        parent, key = meta, section
        while isinstance(parent.get(key) if isinstance(parent, dict) else parent[key], (dict, list)) \
                and draw(st.booleans()):
            node = parent[key]
            if not node:
                break
            parent, key = node, draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            parent.pop(key, None)
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(JSON_VALUES)
        else:
            parent[key] = draw(JSON_VALUES)
    text = json.dumps(meta)
    if draw(st.integers(0, 9)) == 0:  # the text: truncated or a byte changed
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] if draw(st.booleans()) else text[:at] + draw(st.characters()) + text[at + 1:]
    return text


@pytest.fixture
def no_unpickling(monkeypatch):
    """Loading a model file never runs code from it: nothing is unpickled."""
    import pickle

    import torch

    def no_code(*args, **kwargs):
        raise AssertionError("loading a model file unpickled something")

    for module, name in ((pickle, "loads"), (pickle, "load"), (torch, "load")):
        monkeypatch.setattr(module, name, no_code)


@FUZZ
@given(data=st.data())
def test_fuzz_model_metadata(folder, shipped_model, no_unpickling, data):
    from glissando.core.session import ModelSession
    from glissando.core.spectral import SpectralConfig

    header, meta, tensors = shipped_model
    text = data.draw(mutated_metadata(meta))
    mutated_header = dict(header, __metadata__={"glissando": text})
    head = json.dumps(mutated_header).encode()
    path = folder / "model.safetensors"
    path.write_bytes(struct.pack("<Q", len(head)) + head + tensors)
    with time_box(30):
        try:
            session = ModelSession(path, device="cpu")
        except GlissandoError as exc:
            check_refusal(exc, path)
            return
        # Loaded: what the file says, weights of the shapes its config builds (load_state_dict is strict),
        # and a session that translates every instrument's lowest and highest note.
        event("loaded")
        reread = json.loads(text)
        assert session.vocabulary == reread["config"]["vocabulary"]
        assert session.spectral == SpectralConfig.from_dict(reread["spectral"])
        for instrument in session.instruments:
            for midi in session.instrument_range(instrument):
                session.check_note(midi, session.dynamics[0], instrument)
                assert np.all(np.isfinite(session.label_latent(midi, session.dynamics[0], instrument)))
        assert all(12 <= lo <= hi <= 119 for lo, hi in session.loaded.instrument_ranges.values())
