"""Training in several processes (torchrun, gloo on the CPU), the memory-mapped frame store, precision."""
import json
import os
import pickle

import numpy as np
import pytest
import torch

from glissando.core.cli import main
from glissando.core.data.store import PARTIAL, DatasetWriter, NoteRecord, load_dataset
from glissando.core.spectral import SpectralConfig

TINY = ["--hidden", "128", "--symbol-hidden", "64", "--arch", "paper", "--device", "cpu", "--batch-size", "128"]


def _train(data, out, *extra):
    return main(["train", "--data", str(data), "--out", str(out), *TINY, *extra])


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory, tiny_dataset):
    out = tmp_path_factory.mktemp("ddp")
    assert _train(tiny_dataset.path, out, "--epochs", "2", "--nproc", "2") == 0
    return out


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="two training processes need two cores")
def test_two_gloo_processes_train_a_model_that_loads(two_process_run):
    from glissando.core.models.modelfile import load_model

    loaded = load_model(two_process_run / "model.safetensors")
    training = loaded.info["training"]
    assert training["processes"] == 2 and len(training["history"]) == 2
    assert float(loaded.model.norm_scale) > 0  # rank 0's statistics, not the untouched default


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="two training processes need two cores")
def test_a_two_process_checkpoint_resumes_in_one_process(two_process_run, tiny_dataset):
    from glissando.core.models.modelfile import load_model

    ckpt = torch.load(two_process_run / "checkpoint.pt", weights_only=True)
    assert int(ckpt["epoch"]) == 2 and not any(k.startswith("module.") for k in ckpt["model"])
    assert _train(tiny_dataset.path, two_process_run, "--epochs", "3", "--resume") == 0
    history = load_model(two_process_run / "model.safetensors").info["training"]["history"]
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert load_model(two_process_run / "model.safetensors").info["training"]["processes"] == 1


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="two training processes need two cores")
def test_one_process_trains_as_two_did_with_the_same_seed_and_global_batch(two_process_run, tiny_dataset, tmp_path):
    """Every process draws the step's noise for the global batch (models/noise.py): the two runs see the same
    augmentation, dropout and sampling noise, and differ only by the order of floating-point sums."""
    from glissando.core.models.modelfile import load_model

    assert _train(tiny_dataset.path, tmp_path, "--epochs", "2") == 0
    one = load_model(tmp_path / "model.safetensors").info["training"]["history"]
    two = load_model(two_process_run / "model.safetensors").info["training"]["history"][:2]  # (a test resumes it)
    for a, b in zip(one, two):
        for part in ("loss", "rec_signal", "rec_symbol", "cross_kl"):
            assert a[part] == pytest.approx(b[part], rel=1e-3, abs=1e-3), (part, a, b)
        for family, accuracy in a["validation_signal_to_symbol"].items():
            assert accuracy == pytest.approx(b["validation_signal_to_symbol"][family], abs=0.01), family


def test_rank_shards_are_distinct_and_together_make_the_single_process_batches(tiny_dataset):
    from glissando.core.training.arrays import split_rows, vocabulary_for
    from glissando.core.training.distributed import World
    from glissando.core.training.train import TrainConfig, _Steps

    cfg = TrainConfig(batch_size=64, seed=3)
    vocab = vocabulary_for(tiny_dataset)
    rows = split_rows(tiny_dataset, vocab, cfg.seed)
    dev = torch.device("cpu")

    def batches(rank: int, size: int, epoch: int) -> list[np.ndarray]:
        run = _Steps.for_run(cfg, tiny_dataset, rows, vocab, dev, World(rank, size))
        run.sampler.set_epoch(epoch)
        return [np.asarray(list(b)) for b in torch.utils.data.BatchSampler(run.sampler, run.loader.batch_size, False)]

    n = len(rows.train)
    for epoch in (0, 1):
        single = batches(0, 1, epoch)
        r0, r1 = batches(0, 2, epoch), batches(1, 2, epoch)
        assert sorted(np.concatenate(single)) == list(range(n))  # every frame once
        assert len(r0) == len(r1) == len(single)  # the ranks step together
        shard0, shard1 = np.concatenate(r0), np.concatenate(r1)
        # Disjoint but for the sampler's padding of the last step (n odd: one frame seen twice).
        assert len(set(shard0) & set(shard1)) == (n % 2)
        assert set(shard0) | set(shard1) == set(range(n))
        for s, b0, b1 in zip(single, r0, r1):
            assert set(b0) | set(b1) >= set(s)  # step s of the two ranks is the single process's step s
    assert not np.array_equal(np.concatenate(batches(0, 2, 0)), np.concatenate(batches(0, 2, 1)))


def _notes(n, bins=7, frames=3, seed=0):
    rng = np.random.default_rng(seed)
    return [(f"k{i}", NoteRecord(source=f"n{i}.wav", midi=60 + i, dynamics="mf", instrument="flute"),
             rng.standard_normal((frames, bins)).astype(np.float16)) for i in range(n)]


def test_the_store_is_written_in_shards_read_memory_mapped_and_resumes(tmp_path):
    notes = _notes(10)
    spectral = SpectralConfig()
    # An import interrupted after 7 notes: two shards of 3 committed, the seventh note lost with the process.
    w = DatasetWriter(tmp_path / "ds", spectral, shard_notes=3)
    for key, record, frames in notes[:7]:
        w.add(key, record, frames)
    assert len(list((tmp_path / "ds" / PARTIAL).glob("shard-*.json"))) == 2
    del w
    again = DatasetWriter(tmp_path / "ds", spectral, shard_notes=3)
    assert again.resumed == 6 and [again.done(k) for k, *_ in notes[5:8]] == [True, False, False]
    for key, record, frames in notes:
        if not again.done(key):
            again.add(key, record, frames)
    again.skip("bad", "bad.wav: not audio")
    ds = again.finish()
    assert not (tmp_path / "ds" / PARTIAL).exists()
    loaded = load_dataset(tmp_path / "ds")
    assert isinstance(loaded.frames, np.memmap) and loaded.frames.dtype == np.float16
    assert np.array_equal(np.asarray(loaded.frames), np.concatenate([f for *_, f in notes]))
    assert list(loaded.frame_note) == [i for i in range(10) for _ in range(3)]
    assert [n.source for n in loaded.notes] == [f"n{i}.wav" for i in range(10)]
    assert loaded.skipped == ["bad.wav: not audio"] and len(ds.notes) == 10
    with pytest.raises(ValueError):  # read-only: nothing can change a data set through a loaded copy
        loaded.frames[0, 0] = 1


def test_an_existing_single_file_data_set_loads_memory_mapped(tiny_dataset):
    loaded = load_dataset(tiny_dataset.path)
    assert isinstance(loaded.frames, np.memmap)
    meta = json.loads((tiny_dataset.path / "notes.json").read_text())
    assert len(loaded.notes) == len(meta["notes"]) and loaded.frames.shape[0] == len(loaded.frame_note)


def test_training_reads_frames_a_batch_at_a_time_without_loading_them(tiny_dataset):
    from glissando.core.training.train import FrameSet

    rows = np.arange(0, len(tiny_dataset.frames), 2)
    labels = torch.arange(len(rows) * 4).reshape(-1, 4)
    fs = FrameSet(load_dataset(tiny_dataset.path).frames, rows, labels)
    # What travels to a DataLoader worker is where the frames are, not the frames.
    assert len(pickle.dumps(fs)) < 0.2 * tiny_dataset.frames.nbytes
    copy = pickle.loads(pickle.dumps(fs))
    for positions in ([0, 5, 3], [len(rows) - 1]):
        x, y = copy.__getitems__(positions)  # read from the file, not a map: still the same frames
        assert torch.equal(x, torch.from_numpy(np.asarray(tiny_dataset.frames[rows[positions]], dtype=np.float32)))
        assert torch.equal(y, labels[positions])


def _mapped_resident_bytes(path) -> int:
    """Resident bytes of this process's maps of ``path`` (Linux's /proc/self/smaps)."""
    total, inside = 0, False
    for line in open("/proc/self/smaps"):
        if "-" in line.split(" ", 1)[0]:  # a mapping's header line: address range, ..., pathname
            inside = line.rstrip().endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1]) * 1024
    return total


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="reads resident pages from Linux's /proc")
def test_passes_over_a_mapped_corpus_leave_none_of_it_resident(tmp_path):
    """A corpus larger than memory is read whole for the normalization, the validation and the projection:
    those passes must not leave the file resident in the training process."""
    from glissando.core.data.store import read_rows
    from glissando.core.training.train import frame_chunks

    path = tmp_path / "frames.npy"
    np.save(path, np.random.default_rng(0).standard_normal((40000, 410)).astype(np.float16))  # 31 MiB
    frames = np.load(path, mmap_mode="r")
    rows = np.arange(0, len(frames))
    read = read_rows(frames, rows[:20000])
    assert _mapped_resident_bytes(path) < 0.05 * path.stat().st_size
    total = sum(float(c.sum(dtype=torch.float64)) for c in frame_chunks(frames, rows, 4096))
    assert _mapped_resident_bytes(path) < 0.05 * path.stat().st_size
    # The same frames as through the map, which is how they stayed resident before.
    kept = np.asarray(frames[rows[:20000]], dtype=np.float32)
    assert np.array_equal(read, kept)
    assert _mapped_resident_bytes(path) > 0.4 * path.stat().st_size  # the measure does see mapped pages
    assert total == pytest.approx(float(np.asarray(frames, dtype=np.float64).sum()), rel=1e-9)


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="reads resident pages from Linux's /proc")
def test_training_batches_drawn_at_random_keep_few_pages_of_the_corpus_resident(tmp_path):
    """Each row of a shuffled batch lies elsewhere in the file: read through a map, each would bring in its
    pages and their neighbours, and the whole corpus would soon be resident."""
    from glissando.core.training.train import FrameSet

    path = tmp_path / "frames.npy"
    np.save(path, np.random.default_rng(0).standard_normal((40000, 410)).astype(np.float16))  # 31 MiB
    frames = np.load(path, mmap_mode="r")
    fs = FrameSet(frames, np.arange(len(frames)), torch.zeros(len(frames), 4))
    del frames
    rng = np.random.default_rng(1)
    most = 0
    for _ in range(100):  # 100 batches of 256 random rows: 25,600 pages touched, the whole file many times over
        positions = rng.integers(0, 40000, 256)
        x, _ = fs.__getitems__(list(positions))
        most = max(most, _mapped_resident_bytes(path))
    assert torch.equal(x[0], torch.from_numpy(np.load(path)[positions[0]].astype(np.float32)))
    assert most < 1 << 20  # nothing of the 31 MiB file stays mapped in


def test_data_sets_trained_together_join_in_a_memory_mapped_file_when_large(tiny_dataset, tmp_path, monkeypatch):
    from glissando.core.data.store import combine_datasets, join_frames
    from glissando.core.training.train import FrameSet

    monkeypatch.setenv("GLISSANDO_CACHE", str(tmp_path / "cache"))
    one = load_dataset(tiny_dataset.path)
    small = combine_datasets([one, one])
    assert not isinstance(small.frames, np.memmap)  # below the limit: in memory, as before
    joined = join_frames([one.frames, one.frames[:7]], in_memory_bytes=0)
    assert isinstance(joined, np.memmap) and str(tmp_path / "cache") in str(joined.filename)
    assert np.array_equal(np.asarray(joined), np.concatenate([one.frames, one.frames[:7]]))
    # Training reads it as it reads one folder: through the map, which travels to a worker by name.
    rows = np.array([0, len(one.frames) + 3])
    fs = pickle.loads(pickle.dumps(FrameSet(joined, rows, torch.zeros(2, 4))))
    assert torch.equal(fs.__getitems__([0, 1])[0], torch.from_numpy(np.asarray(joined[rows], dtype=np.float32)))


def test_the_navigator_projection_is_the_pca_of_all_training_latents_read_in_chunks():
    from glissando.core.training.train import latent_projection

    class Encoder:  # a linear "posterior mean" with one dominant direction per component
        def normalize(self, b):
            return b

        def encode_signal(self, b):
            return b[:, :8] * torch.tensor([5.0, 3.0, 2.0, 0.5, 0.4, 0.3, 0.2, 0.1]) + 1.0, None

    x, y = torch.randn(5000, 12, generator=torch.Generator().manual_seed(1)), torch.randint(0, 5, (5000, 6))
    whole = latent_projection(Encoder(), x, y, max_points=300)
    chunked = latent_projection(Encoder(), iter(x.split(777)), y, max_points=300)
    assert torch.allclose(whole["mean"], torch.ones(8), atol=0.2)
    # The three components are the three strongest axes (up to sign), and the chunking changes nothing.
    assert torch.allclose(whole["components"].abs(), torch.eye(8)[:3], atol=0.1)
    for key in ("mean", "components", "points"):
        assert torch.allclose(whole[key].float(), chunked[key].float(), atol=1e-3)
    assert whole["points"].shape == (300, 3) and torch.equal(whole["point_labels"], chunked["point_labels"])


def test_16_bit_mixed_precision_is_refused_on_the_cpu_before_any_work(tmp_path, capsys, tiny_dataset):
    out = tmp_path / "m"
    assert _train(tiny_dataset.path, out, "--precision", "16-mixed") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "16-mixed needs a CUDA device" in err
    assert not (out / "checkpoint.pt").exists()


def test_more_processes_than_cores_are_refused(tmp_path, capsys, tiny_dataset):
    assert _train(tiny_dataset.path, tmp_path / "m", "--nproc", str(len(os.sched_getaffinity(0)) + 1)) == 2
    assert "CPU core(s)" in capsys.readouterr().err


def test_bf16_mixed_precision_trains_on_the_cpu(tmp_path, tiny_dataset):
    from glissando.core.models.modelfile import load_model

    assert _train(tiny_dataset.path, tmp_path / "m", "--epochs", "1", "--precision", "bf16-mixed") == 0
    loaded = load_model(tmp_path / "m" / "model.safetensors")
    assert loaded.info["training"]["precision"] == "bf16-mixed"
    assert np.isfinite(loaded.info["training"]["history"][0]["loss"])


def test_the_option_lists_match_the_modules():
    from glissando.core import device
    from glissando.core.models import vae
    from glissando.core.training import options, train

    assert options.DEVICES == device.DEVICES and options.ARCHITECTURES == vae.ARCHITECTURES
    assert options.PRECISIONS == train.PRECISIONS
