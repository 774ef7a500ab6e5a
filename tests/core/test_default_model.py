"""The shipped default model: present, self-describing, and transcribing notes it never trained on."""
import pytest

from glissando.core.data.importers import build_dataset
from glissando.core.data.labels import DEFAULT_INSTRUMENTS
from glissando.core.data.soundfont import TRAINING_SOUNDFONTS
from glissando.core.models.modelfile import default_model_path, load_model
from glissando.core.training.evaluate import note_accuracy


@pytest.fixture(scope="module")
def default_model():
    path = default_model_path()
    assert path.exists(), f"the default model must ship at {path}"
    return load_model(path)


def test_default_model_is_small_and_complete(default_model):
    assert default_model.path.stat().st_size < 50 * 1024 * 1024
    vocab = default_model.config.vocabulary
    assert set(DEFAULT_INSTRUMENTS) <= set(vocab["instrument"]) and default_model.missing_instruments == []
    assert {"pp", "mf", "ff", "silent"} <= set(vocab["dynamics"])
    assert default_model.instrument_ranges["flute"] == [59, 98]
    assert default_model.instrument_ranges["violin"] == [55, 105]
    assert sorted(default_model.info["training"]["collections"]) == sorted(TRAINING_SOUNDFONTS)
    assert len(default_model.projection["points"]) > 1000


def test_transcribes_notes_of_instruments_and_pitches_it_never_trained_on(default_model, timgm6mb, tmp_path):
    # The model's test groups: (instrument, pitch) pairs no bank gave it in training. Rendered at mf.
    groups = default_model.info["training"]["test_groups"]
    instruments = sorted({inst for inst, _ in groups})
    ds = build_dataset(tmp_path / "tim", soundfont=timgm6mb, instruments=instruments, dynamics=["mf"], silent_notes=0)
    wanted = {(inst, midi) for inst, midi in groups}
    for note in ds.notes:
        if (note.instrument, note.midi) not in wanted:
            note.silent = True  # note_accuracy skips silent notes: only the test groups count
    acc = note_accuracy(default_model, ds)
    assert acc["notes"] >= 0.8 * len(groups)
    assert acc["pitch"] >= 0.90, acc
