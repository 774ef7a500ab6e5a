import pytest

from glissando.core.data.importers import SolNameError, parse_sol_name
from glissando.core.data.labels import midi_to_labels, velocity_to_dynamics
from glissando.core.units import hz_to_midi, midi_to_hz, note_name, parse_note


@pytest.mark.parametrize("name, midi", [("C4", 60), ("A#3", 58), ("Db5", 73), ("Bb1", 34), ("Cb4", 59), ("A0", 21),
                                        ("C8", 108), ("c#2", 37)])
def test_note_names(name, midi):
    assert parse_note(name) == midi


@pytest.mark.parametrize("bad", ["H4", "C", "C##4", "4C", ""])
def test_bad_note_names(bad):
    with pytest.raises(ValueError):
        parse_note(bad)


def test_labels_round_trip():
    assert midi_to_labels(60) == ("C", "4")
    assert midi_to_labels(58) == ("A#", "3")
    assert note_name(73) == "C#5"
    assert velocity_to_dynamics(20) == "pp" and velocity_to_dynamics(127) == "ff"
    assert velocity_to_dynamics(70, ["pp", "mf", "ff"]) == "mf"


def test_pitch_units():
    assert midi_to_hz(69) == pytest.approx(440.0) and midi_to_hz(60) == pytest.approx(261.6256, abs=1e-3)
    assert hz_to_midi([440.0, 880.0, 220.0]).tolist() == pytest.approx([69.0, 81.0, 57.0])
    assert hz_to_midi(midi_to_hz(61.5)) == pytest.approx(61.5)


@pytest.mark.parametrize("filename, instrument, midi, dynamics", [
    ("Fl-ord-C4-mf-N-N.wav", "flute", 60, "mf"),
    ("ASax-ord-A#3-ff-N-N.wav", "alto_sax", 58, "ff"),
    ("Vn-ord-G3-pp-4c-N.wav", "violin", 55, "pp"),
    ("TpC-ord-C4-mf-N-N.wav", "trumpet", 60, "mf"),
    ("Pno-ord-C#5-ff-N-N.wav", "piano", 73, "ff"),
    ("ClBb-ord-D3-p-N-N.wav", "clarinet", 50, "p"),
    ("Ob-ord-A#5-f-N-N.wav", "oboe", 82, "f"),
    ("Bn-ord-A#1-pp-N-N.wav", "bassoon", 34, "pp"),
    ("Hn-ord-F5-ff-N-R100d.wav", "french_horn", 77, "ff"),
    ("TbTb-ord-E2-mf-N-N.wav", "trombone", 40, "mf"),
    ("Vc-ord-C2-mf-1c-N.wav", "cello", 36, "mf"),
    ("Va-ord-C3-mf-4c-N.wav", "viola", 48, "mf"),
    ("Cb-ord-E1-ff-4c-N.wav", "contrabass", 28, "ff"),
])
def test_sol_names(filename, instrument, midi, dynamics):
    rec = parse_sol_name(filename)
    assert (rec.instrument, rec.midi, rec.dynamics) == (instrument, midi, dynamics)
    assert rec.extra["technique"] == filename.split("-")[1]


@pytest.mark.parametrize("filename, problem", [
    ("Xyl-ord-C4-mf-N-N.wav", "unknown instrument abbreviation 'Xyl'"),
    ("Fl-ord-H4-mf-N-N.wav", "not a note name"),
    ("Fl-ord-C4-loud-N-N.wav", "not a dynamic"),
    ("flute_c4.wav", "not a SOL name"),
])
def test_sol_names_rejected_not_guessed(filename, problem):
    with pytest.raises(SolNameError, match=problem):
        parse_sol_name(filename)
