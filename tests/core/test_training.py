import pickle

import numpy as np
import pytest
import torch

from glissando.core.data.store import load_dataset
from glissando.core.errors import GlissandoError
from glissando.core.models.modelfile import FORMAT_VERSION, ModelFileError, load_model, save_model
from glissando.core.training.evaluate import evaluate, format_table
from glissando.core.training.train import TrainConfig, train

TINY = dict(signal_hidden=256, symbol_hidden=128, latent_dim=8)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_dataset):
    out = tmp_path_factory.mktemp("model")
    history = []
    path = train(tiny_dataset.path, out, TrainConfig(epochs=10, batch_size=128), TINY, device="cpu",
                 on_epoch=lambda e, r: history.append(r))
    return path, history


def test_losses_fall(trained):
    _, history = trained
    assert history[-1]["rec_signal"] < history[0]["rec_signal"]
    assert history[-1]["rec_symbol"] < history[0]["rec_symbol"]


def test_model_file_carries_everything(trained, tiny_dataset):
    path, _ = trained
    loaded = load_model(path)
    vocab = loaded.config.vocabulary
    assert vocab["instrument"] == ["flute", "trumpet", "silent"] and vocab["dynamics"] == ["pp", "mf", "ff", "silent"]
    assert loaded.instrument_ranges == {"flute": [59, 98], "trumpet": [52, 86]}
    assert loaded.projection["points"].shape[1] == 3 and loaded.projection["components"].shape == (3, 8)
    assert float(loaded.model.norm_scale) > 0


def test_save_load_round_trip_gives_the_same_outputs(trained, tmp_path, tiny_dataset):
    loaded = load_model(trained[0])
    copy = save_model(tmp_path / "copy.safetensors", loaded.model, loaded.spectral, loaded.info, loaded.projection,
                      half=False)
    again = load_model(copy)
    x = torch.from_numpy(tiny_dataset.frames[:64].astype(np.float32))
    for a, b in zip(loaded.model.signal_to_symbol_probs(x), again.model.signal_to_symbol_probs(x)):
        assert torch.allclose(a, b, atol=1e-6)


def test_the_analysis_block_travels_in_the_model_file(tmp_path):
    """The spectral config, analysis block included, is saved with the model; model files from before the
    block was stored load with 32768."""
    import json
    from dataclasses import replace

    from safetensors import safe_open
    from safetensors.torch import save_file

    from glissando.core.models.modelfile import read_metadata
    from glissando.core.spectral import SpectralConfig

    shipped = load_model()
    assert shipped.spectral.block == 32768 and shipped.spectral == SpectralConfig()
    copy = save_model(tmp_path / "copy.safetensors", shipped.model, replace(shipped.spectral, block=16384),
                      shipped.info, shipped.projection)
    assert read_metadata(copy)["spectral"]["block"] == 16384
    assert load_model(copy).spectral.block == 16384

    with safe_open(str(copy), "pt") as fh:  # the same file as an older Glissando wrote it: no block
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        meta = json.loads(fh.metadata()["glissando"])
    del meta["spectral"]["block"]
    older = tmp_path / "older.safetensors"
    save_file(tensors, str(older), metadata={"glissando": json.dumps(meta)})
    assert load_model(older).spectral.block == 32768


class _RunsCode:
    def __reduce__(self):
        import os
        return (os.system, ("touch PWNED_BY_MODEL_FILE",))


def test_a_file_that_would_run_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "model.safetensors"
    evil.write_bytes(pickle.dumps({"weights": _RunsCode()}))
    with pytest.raises(ModelFileError, match="model.safetensors: not a Glissando model"):
        load_model(evil)
    assert not (tmp_path / "PWNED_BY_MODEL_FILE").exists()


def test_foreign_corrupt_and_newer_files_are_refused(trained, tmp_path):
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, str(foreign))
    with pytest.raises(ModelFileError, match="another program"):
        load_model(foreign)
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(trained[0].read_bytes()[:5000])
    with pytest.raises(ModelFileError, match="corrupt.safetensors"):
        load_model(corrupt)
    with safe_open(str(trained[0]), framework="pt") as fh:
        meta = json.loads(fh.metadata()["glissando"])
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    meta["format_version"] = FORMAT_VERSION + 1
    newer = tmp_path / "newer.safetensors"
    save_file(tensors, str(newer), metadata={"glissando": json.dumps(meta)})
    with pytest.raises(ModelFileError, match="newer than this Glissando reads"):
        load_model(newer)


def test_resume_continues_from_the_checkpoint(tmp_path, tiny_dataset):
    out = tmp_path / "m"
    with pytest.raises(KeyboardInterrupt):
        def stop_after_two(epoch, record):
            if epoch == 2:
                raise KeyboardInterrupt
        train(tiny_dataset.path, out, TrainConfig(epochs=3, batch_size=128), TINY, device="cpu",
              on_epoch=stop_after_two)
    assert (out / "checkpoint.pt").exists() and not (out / "model.safetensors").exists()
    seen = []
    train(tiny_dataset.path, out, TrainConfig(epochs=3, batch_size=128), TINY, device="cpu", resume=True,
          on_epoch=lambda e, r: seen.append(e))
    assert seen == [3]
    info = load_model(out).info["training"]
    assert [h["epoch"] for h in info["history"]] == [1, 2, 3]
    # A checkpoint of another configuration is never continued under new settings: the difference is named.
    with pytest.raises(GlissandoError, match="another configuration \\(signal_hidden 256 -> 512\\)"):
        train(tiny_dataset.path, out, TrainConfig(epochs=4, batch_size=128), {**TINY, "signal_hidden": 512},
              device="cpu", resume=True)


def test_evaluate_reports_the_papers_metrics(trained, tiny_dataset):
    result = evaluate(load_model(trained[0]), load_dataset(tiny_dataset.path))
    for key in ("signal_to_signal", "symbol_to_signal"):
        assert np.isfinite(result[key]["log_likelihood"]) and result[key]["itakura_saito"] >= 0
    for key in ("symbol_to_symbol", "signal_to_symbol", "baseline_signal_to_symbol"):
        assert set(result[key]) == {"pitch_class", "octave", "dynamics", "instrument"}
        assert all(0 <= v <= 1 for v in result[key].values())
    # Even ten tiny epochs tell two instruments apart far above chance (1/2 after the silent class).
    assert result["signal_to_symbol"]["instrument"] > 0.7
    assert "Itakura-Saito" in format_table(result)
