import json

import numpy as np
import pytest

from glissando.core.cli import main as cli
from glissando.core.data.importers import build_dataset
from glissando.core.data.store import load_dataset
from glissando.core.errors import GlissandoError

from ..conftest import write_wav


def _sol_folder(tmp_path, renderer):
    folder = tmp_path / "sol"
    write_wav(folder / "Fl-ord-C5-mf-N-N.wav", renderer.render_note(73, 72, 64))
    write_wav(folder / "TpC" / "TpC-ord-A#4-ff-N-N.wav", renderer.render_note(56, 70, 120))
    write_wav(folder / "Xyl-ord-C5-mf-N-N.wav", renderer.render_note(13, 72, 64))  # unknown abbreviation
    (folder / "Vn-ord-G4-pp-N-N.wav").write_bytes(b"this is not audio")  # corrupt
    write_wav(folder / "Ob-ord-A4-pp-N-N.wav", np.zeros(22050))  # silent
    return folder


def test_sol_import_keeps_good_files_and_reports_the_rest(tmp_path, renderer):
    warnings = []
    ds = build_dataset(tmp_path / "ds", sol_folder=_sol_folder(tmp_path, renderer), silent_notes=2,
                       warn=warnings.append)
    notes = {(n.instrument, n.midi, n.dynamics) for n in ds.notes if not n.silent}
    assert notes == {("flute", 72, "mf"), ("trumpet", 70, "ff")}
    assert any("Xyl-ord-C5" in w and "unknown instrument abbreviation" in w for w in warnings)
    assert len(ds.skipped) == 2  # the corrupt and the silent file
    assert any("Vn-ord-G4-pp-N-N.wav" in s for s in ds.skipped)
    assert any("Ob-ord-A4-pp-N-N.wav" in s and "silent" in s for s in ds.skipped)
    again = load_dataset(tmp_path / "ds")
    assert again.frames.shape == ds.frames.shape and again.frames.shape[1] == 410


def test_cli_reports_skipped_count(tmp_path, renderer, capsys):
    sol = _sol_folder(tmp_path, renderer)
    assert cli(["make-dataset", "--import-sol", str(sol), "--out", str(tmp_path / "ds")]) == 0
    out = capsys.readouterr()
    assert "2 notes" in out.out and "skipped 2 file(s)" in out.out
    assert "unknown instrument abbreviation 'Xyl'" in out.err


def test_nsynth_and_csv_imports(tmp_path, renderer):
    ns = tmp_path / "nsynth"
    write_wav(ns / "audio" / "flute_acoustic_002-067-050.wav", renderer.render_note(73, 67, 50))
    (ns / "examples.json").write_text(json.dumps({"flute_acoustic_002-067-050": {
        "pitch": 67, "velocity": 50, "instrument_family_str": "flute", "instrument_family": 2}}))
    csv_dir = tmp_path / "csv"
    write_wav(csv_dir / "a.wav", renderer.render_note(71, 62, 100))
    write_wav(csv_dir / "b.wav", renderer.render_note(40, 69, 100))
    (csv_dir / "labels.csv").write_text("file,note,dynamics,instrument\na.wav,D4,ff,clarinet\nb.wav,,,\n")
    ds = build_dataset(tmp_path / "ds", nsynth_folder=ns, csv_file=csv_dir / "labels.csv", silent_notes=1)
    labels = [n.labels() for n in ds.notes if not n.silent]
    assert {"pitch_class": "G", "octave": "4", "dynamics": "mf", "instrument": "flute"} in labels
    assert {"pitch_class": "D", "octave": "4", "dynamics": "ff", "instrument": "clarinet"} in labels
    assert {"pitch_class": None, "octave": None, "dynamics": None, "instrument": None} in labels  # unlabeled: kept


def test_soundfont_without_the_instrument_stops(tmp_path, capsys):
    sf2 = tmp_path / "empty.sf2"
    sf2.write_bytes(b"RIFF0000sfbk")
    assert cli(["make-dataset", "--soundfont", str(sf2), "--instruments", "flute", "--out", str(tmp_path / "o")]) != 0
    assert "empty.sf2" in capsys.readouterr().err


def test_unknown_instrument_is_reported(tmp_path, timgm6mb):
    with pytest.raises(GlissandoError, match="unknown instrument 'kazoo'"):
        build_dataset(tmp_path / "o", soundfont=timgm6mb, instruments=["kazoo"])


def test_folder_with_no_usable_note_stops(tmp_path, capsys):
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "Fl-ord-C4-mf-N-N.wav").write_bytes(b"garbage")
    assert cli(["make-dataset", "--import-sol", str(folder), "--out", str(tmp_path / "o")]) != 0
    err = capsys.readouterr().err
    assert "no usable note" in err and "Traceback" not in err


def test_second_build_uses_the_cache(tmp_path, timgm6mb, monkeypatch):
    from glissando.core.data import soundfont

    build_dataset(tmp_path / "a", soundfont=timgm6mb, instruments=["oboe"], silent_notes=1)
    calls = []
    original = soundfont.SoundFontRenderer.render_note
    monkeypatch.setattr(soundfont.SoundFontRenderer, "render_note",
                        lambda self, *a, **k: calls.append(a) or original(self, *a, **k))
    ds = build_dataset(tmp_path / "b", soundfont=timgm6mb, instruments=["oboe"], silent_notes=1)
    assert calls == [] and len(ds.notes) > 30
