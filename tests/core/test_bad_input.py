"""Every bad input gets one line naming the file and the reason, a non-zero exit, no traceback,
and never a half-written output."""
import numpy as np
import pytest
import soundfile as sf

from glissando.core.cli import main as cli


def _run(capsys, *argv):
    code = cli(list(argv))
    err = capsys.readouterr().err
    return code, err


@pytest.fixture
def wav(tmp_path, renderer):
    path = tmp_path / "note.wav"
    sf.write(str(path), renderer.render_sequence(73, [(0.1, 0.6, 72, 90)]), 22050)
    return path


def test_not_audio(tmp_path, capsys):
    bad = tmp_path / "notes.txt.wav"
    bad.write_text("hello")
    code, err = _run(capsys, "transcribe", str(bad), "-o", str(tmp_path / "x.json"))
    assert code != 0 and "notes.txt.wav: not a readable audio file" in err and "Traceback" not in err


def test_empty_and_silent_wavs(tmp_path, capsys):
    empty, silent = tmp_path / "empty.wav", tmp_path / "silent.wav"
    sf.write(str(empty), np.zeros(0), 22050)
    sf.write(str(silent), np.zeros(22050), 22050)
    code, err = _run(capsys, "transcribe", str(empty), "-o", str(tmp_path / "e.json"))
    assert code != 0 and "empty.wav: the audio file is empty" in err
    code, err = _run(capsys, "transcribe", str(silent), "-o", str(tmp_path / "s.json"))
    assert code != 0 and "silent.wav: the audio is silent" in err


def test_corrupt_empty_and_drums_only_midi(tmp_path, capsys):
    import mido

    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\xff\xff garbage")
    empty = tmp_path / "empty.mid"
    mido.MidiFile().save(str(empty))
    drums = tmp_path / "drums.mid"
    mid = mido.MidiFile()
    track = mido.MidiTrack([mido.Message("note_on", channel=9, note=36, velocity=100, time=0),
                            mido.Message("note_off", channel=9, note=36, velocity=0, time=480)])
    mid.tracks.append(track)
    mid.save(str(drums))
    for path, reason in ((corrupt, "not a readable MIDI file"), (empty, "has no notes"),
                         (drums, "has no notes (only drums)")):
        code, err = _run(capsys, "render-midi", str(path), "-o", str(tmp_path / "o.wav"))
        assert code != 0 and f"{path.name}: the MIDI file" in err or reason in err
        assert reason in err and "Traceback" not in err
    assert not (tmp_path / "o.wav").exists()


def test_unwritable_output_and_existing_output(tmp_path, wav, capsys):
    code, err = _run(capsys, "synth", "--notes", "C4:mf:0.3", "-o", str(tmp_path / "missing" / "out.wav"))
    assert code != 0 and "does not exist" in err
    existing = tmp_path / "keep.wav"
    existing.write_bytes(b"precious")
    code, err = _run(capsys, "synth", "--notes", "C4:mf:0.3", "-o", str(existing))
    assert code != 0 and "already exists (use --force" in err
    assert existing.read_bytes() == b"precious"
    assert _run(capsys, "synth", "--notes", "C4:mf:0.3", "-o", str(existing), "--force")[0] == 0
    assert sf.info(str(existing)).duration > 0.3


def test_interrupted_export_leaves_the_old_file(tmp_path, monkeypatch):
    from glissando.core import render

    target = tmp_path / "out.wav"
    target.write_bytes(b"old and good")

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("soundfile.write", explode)
    with pytest.raises(KeyboardInterrupt):
        render.write_wav(target, np.zeros(100), force=True)
    assert target.read_bytes() == b"old and good"
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


def test_notes_outside_the_range(tmp_path, capsys):
    import mido

    mid = mido.MidiFile()
    track = mido.MidiTrack([mido.Message("program_change", program=73, time=0),
                            mido.Message("note_on", note=40, velocity=80, time=0),
                            mido.Message("note_off", note=40, velocity=0, time=480)])
    mid.tracks.append(track)
    path = tmp_path / "low.mid"
    mid.save(str(path))
    code, err = _run(capsys, "render-midi", str(path), "-o", str(tmp_path / "o.wav"), "--strict")
    assert code != 0 and "E2 at 0.00 s is outside the flute's trained range B3-D7" in err
    code, err = _run(capsys, "render-midi", str(path), "-o", str(tmp_path / "o.wav"))
    assert code == 0 and "moved by octaves" in err
    code, err = _run(capsys, "synth", "--notes", "C1:mf:0.5", "--instrument", "flute", "-o", str(tmp_path / "f.wav"))
    assert code != 0 and "C1 is outside the flute's trained range B3-D7" in err


def test_bad_note_text_and_unknown_model(tmp_path, capsys):
    code, err = _run(capsys, "synth", "--notes", "C4:mf:abc", "-o", str(tmp_path / "x.wav"))
    assert code != 0 and "cannot read 'C4:mf:abc'" in err
    fake = tmp_path / "fake.safetensors"
    fake.write_bytes(b"not a model")
    code, err = _run(capsys, "synth", "--notes", "C4", "--model", str(fake), "-o", str(tmp_path / "y.wav"))
    assert code != 0 and "fake.safetensors: not a Glissando model" in err


def test_core_errors_describe_the_problem_and_the_cli_adds_its_flag(tmp_path, capsys):
    """Core's messages name no command-line flag (the app shows them as they are); the CLI adds the flag."""
    from glissando.core.cli import error_message
    from glissando.core.errors import DeviceUnavailable, OutputExists, UnknownFormat
    from glissando.core.render import write_wav
    from glissando.core.transcribe import write_notes

    existing = tmp_path / "keep.json"
    existing.write_text("{}")
    errors = []
    for call in (lambda: write_notes([], existing), lambda: write_wav(existing, np.zeros(100)),
                 lambda: write_notes([], tmp_path / "notes.txt")):
        with pytest.raises((OutputExists, UnknownFormat)) as info:
            call()
        errors.append(info.value)
    assert [str(e) for e in errors] == [f"{existing}: already exists", f"{existing}: already exists",
                                        f"{tmp_path / 'notes.txt'}: cannot tell the format from the file name; "
                                        "it can be json, csv or mid"]
    assert error_message(errors[0]) == f"{existing}: already exists (use --force to replace it)"
    assert error_message(errors[2]).endswith("(choose one with --format)")
    assert error_message(DeviceUnavailable("cuda", "no CUDA device is available")) == \
        "device cuda: no CUDA device is available (use --device cpu or auto)"


def test_cli_hints_the_flag_for_a_missing_device(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, err = _run(capsys, "synth", "--notes", "C4:mf:0.3", "--device", "cuda", "-o", str(tmp_path / "x.wav"))
    assert code == 2 and "glissando: device cuda: no CUDA device is available (use --device cpu or auto)" in err


def test_gui_finds_the_app_through_its_entry_point(capsys, monkeypatch):
    import importlib.metadata

    from glissando.core.cli import FRONTENDS

    # Installed: the app registers itself; core names it nowhere.
    registered = importlib.metadata.entry_points(group=FRONTENDS, name="gui")
    assert [ep.value for ep in registered] == ["glissando.app.main:run_app"]
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: [])
    code, err = _run(capsys, "gui")
    assert code == 2 and "the gui front end is not installed" in err and "'gui' extra" in err
    broken = importlib.metadata.EntryPoint(name="gui", value="glissando_no_such_frontend:run_app", group=FRONTENDS)
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: [broken])
    code, err = _run(capsys, "gui")
    assert code == 2 and "the gui front end is not available (No module named 'glissando_no_such_frontend')" in err
