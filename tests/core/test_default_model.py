"""The shipped default model: present, self-describing, and generalizing to a SoundFont it never heard."""
import pytest

from glissando.core.data.importers import build_dataset
from glissando.core.data.labels import DEFAULT_INSTRUMENTS
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
    assert set(DEFAULT_INSTRUMENTS) <= set(vocab["instrument"])
    assert {"pp", "mf", "ff", "silent"} <= set(vocab["dynamics"])
    assert default_model.instrument_ranges["flute"] == [60, 96]
    assert len(default_model.projection["points"]) > 1000


def test_transcribes_timgm6mb_notes_it_never_heard(default_model, timgm6mb, tmp_path):
    # Every instrument of the model over its whole range, at the middle dynamic, from another SoundFont.
    ds = build_dataset(tmp_path / "tim", soundfont=timgm6mb, instruments=DEFAULT_INSTRUMENTS, dynamics=["mf"], silent_notes=0)
    acc = note_accuracy(default_model, ds)
    assert acc["notes"] > 400
    assert acc["pitch"] >= 0.90, acc
