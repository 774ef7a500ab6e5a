"""Training of the cross-modal VAE: beta warm-up, augmentation, checkpoints, resume; in one process, or in
several through torchrun (see distributed.py). ``python -m glissando.core.training.train`` is the worker
torchrun starts: it takes the arguments of ``glissando train``."""
from __future__ import annotations

import contextlib
import functools
import json
import math
import platform
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from ..data.labels import FAMILIES, INSTRUMENTS
from ..data.store import Dataset, combine_datasets, load_dataset, read_rows
from ..device import pick_device
from ..errors import one_line
from ..jobs import CancelFn, Cancelled, GlissandoError, ProgressFn, atomic_write, check_cancel, no_progress
from ..models.modelfile import MODEL_FILENAME, save_model
from ..models.noise import StepNoise
from ..models.vae import CrossModalVAE, ModelConfig
from ..spectral import SpectralConfig
from . import distributed
from .arrays import SplitRows, split_rows, vocabulary_for
from .augment import AugmentConfig, augment_frames, label_values, transpose_frames, vary_level
from .perceptual import descriptor_distance_loss, frame_descriptors

CHECKPOINT_FILENAME = "checkpoint.pt"
EpochFn = Callable[[int, dict], None]
PRECISIONS = ("32", "16-mixed", "bf16-mixed")
CHUNK = 4096  # frames per batch when encoding or scoring whole splits


@dataclass
class TrainConfig:
    epochs: int = 100
    batch_size: int = 256
    learning_rate: float = 1e-3
    final_learning_rate: float = 1e-4
    warmup_fraction: float = 0.25  # beta rises linearly from 0 to beta_max over this part of training
    # 1.0 (the paper's ELBO) leaves the shared latent too poor in information for the labels: on
    # FluidR3 notes pitch class stalls near chance; 0.1 reaches 97% in a few epochs.
    beta_max: float = 0.1
    seed: int = 0
    held_out: float = 0.15  # test share of the (instrument, pitch) groups
    validation: float = 0.1  # validation share: chooses the epoch whose weights are kept
    # Sample sets left out of training entirely (leave-one-source-out evaluation).
    exclude_collections: list = field(default_factory=list)
    augment: bool = True
    augment_config: dict = field(default_factory=lambda: AugmentConfig().to_dict())
    # Weight of the perceptual term (training/perceptual.py: latent distances follow timbre-descriptor
    # distances); 0 leaves it out, as in the paper.
    perceptual_weight: float = 0.0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def beta_at(epoch_progress: float, warmup_epochs: float, beta_max: float = 1.0) -> float:
    return beta_max * (1.0 if warmup_epochs <= 0 else min(1.0, epoch_progress / warmup_epochs))


def instrument_ranges(dataset: Dataset) -> dict[str, list[int]]:
    ranges: dict[str, list[int]] = {}
    for n in dataset.notes:
        if n.instrument and n.midi is not None and not n.silent:
            lo, hi = ranges.get(n.instrument, [n.midi, n.midi])
            ranges[n.instrument] = [min(lo, n.midi), max(hi, n.midi)]
    return ranges


def check_precision(precision: str, dev: torch.device) -> None:
    if precision not in PRECISIONS:
        raise GlissandoError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "16-mixed" and dev.type != "cuda":
        # float16 autocast on the CPU is slow and needs loss scaling that only pays off on a GPU.
        raise GlissandoError("precision 16-mixed needs a CUDA device; on the CPU use bf16-mixed or 32")


def _autocast(dev: torch.device, precision: str):
    if precision == "32":
        return contextlib.nullcontext()
    return torch.autocast(dev.type, dtype=torch.float16 if precision == "16-mixed" else torch.bfloat16)


def frame_chunks(frames: np.ndarray, rows: np.ndarray, size: int = CHUNK) -> Iterator[torch.Tensor]:
    """The frames of ``rows`` as float32 tensors of ``size`` frames: a split read without holding it all."""
    for start in range(0, len(rows), size):
        yield torch.from_numpy(read_rows(frames, rows[start : start + size]))


@torch.no_grad()
def latent_projection(model: CrossModalVAE, x, y: torch.Tensor, max_points: int = 4000,
                      seed: int = 0) -> dict:
    """PCA (3 components) of the training posteriors' means, with a labelled sample of points for
    the navigator's point cloud. ``x``: the frames, a tensor or an iterable of chunks of them.

    The means are summed into a 32 x 32 covariance as they come, not kept: holding every frame's latent
    grew with the corpus (300 MB for 2.4 million frames, twice that for the decomposition)."""
    chunks = x.split(CHUNK) if isinstance(x, torch.Tensor) else x
    g = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(y), generator=g)[:max_points]
    order = torch.argsort(pick)
    picked: list[torch.Tensor] = []
    total, outer, count = None, None, 0
    for b in chunks:
        mu = model.encode_signal(model.normalize(b))[0].cpu().double()
        total = mu.sum(0) if total is None else total + mu.sum(0)
        outer = mu.T @ mu if outer is None else outer + mu.T @ mu
        rows = pick[order]
        inside = rows[(rows >= count) & (rows < count + len(mu))]
        picked.append(mu[inside - count])
        count += len(mu)
    assert total is not None and outer is not None, "no frames to project"
    mean = total / count
    covariance = outer / count - torch.outer(mean, mean)
    _, vectors = torch.linalg.eigh(covariance)  # ascending eigenvalues: the last three are the components
    components = vectors[:, -3:].flip(1).T
    points = torch.empty((len(pick), mean.numel()), dtype=torch.float64)
    points[order] = torch.cat(picked)
    return {"mean": mean.float(), "components": components.float(),
            "points": ((points - mean) @ components.T).half(),
            "point_labels": y[pick][:, :len(FAMILIES)].to(torch.int16)}  # the lowest note's labels


def _save_checkpoint(path: Path, model, optimizer, epoch: int, history: list, train_cfg: TrainConfig, elapsed: float,
                     best_state: Optional[dict] = None) -> None:
    """The run's state, the same whatever the number of processes: the weights without DDP's wrapper, one
    optimizer state (every rank's is the same: they step on the same averaged gradients), the epoch."""
    state = {"model": model.state_dict(), "best_model": best_state or model.state_dict(),
             "optimizer": optimizer.state_dict(), "epoch": epoch,
             "history": json.dumps(history), "train_config": json.dumps(asdict(train_cfg)),
             "model_config": json.dumps(model.config.to_dict()), "elapsed": elapsed,
             "torch_rng": torch.get_rng_state()}
    with atomic_write(path) as tmp:
        torch.save(state, tmp)


def load_training_data(data) -> Dataset:
    """One data set from a folder or a list of folders (combined; see combine_datasets)."""
    paths = [data] if isinstance(data, (str, Path)) else list(data)
    return combine_datasets([load_dataset(p) for p in paths])


def _validation_score(acc: dict) -> float:
    known = [v for v in acc.values() if v is not None]
    return float(np.mean(known)) if known else 0.0


def _resume_from(ckpt_path: Path, train_cfg: TrainConfig) -> tuple[dict, TrainConfig]:
    """The checkpoint to resume, and the training config it was made with (``train_cfg``'s epochs kept:
    a resumed run may be asked for more)."""
    if not ckpt_path.exists():
        raise GlissandoError(f"{ckpt_path}: no checkpoint to resume from")
    try:
        checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)  # never runs code
    except Exception as exc:
        raise GlissandoError(f"{ckpt_path}: not a usable checkpoint ({exc})") from None
    saved_epochs = train_cfg.epochs
    saved_cfg = json.loads(checkpoint["train_config"])
    if "validation" not in saved_cfg:
        raise GlissandoError(f"{ckpt_path}: a checkpoint from before the (instrument, pitch) split; its notes would "
                             "now sit on other sides of the split: train again without resuming")
    train_cfg = TrainConfig(**saved_cfg)
    train_cfg.epochs = saved_epochs
    return checkpoint, train_cfg


def _model_config(data, dataset: Dataset, vocab: dict, checkpoint: Optional[dict], ckpt_path: Path,
                  model_overrides: Optional[dict]) -> ModelConfig:
    """The resumed checkpoint's model config (refused if it has other labels than the data), else a new one."""
    if checkpoint is not None:
        config = ModelConfig.from_dict(json.loads(checkpoint["model_config"]))
        if config.vocabulary != vocab:
            raise GlissandoError(f"{ckpt_path}: the checkpoint was trained on other labels than {data}")
        saved = config.to_dict()
        changed = [f"{k} {saved[k]!r} -> {v!r}" for k, v in sorted((model_overrides or {}).items())
                   if k in saved and saved[k] != v]
        if changed:
            raise GlissandoError(f"{ckpt_path}: the checkpoint is a model of another configuration "
                                 f"({', '.join(changed)}): resume with its settings, or train anew elsewhere")
        return config
    return ModelConfig(n_bins=dataset.frames.shape[1], vocabulary=vocab,
                       **{"bins_per_octave": dataset.spectral.bins_per_octave, **(model_overrides or {})})


def _split(data, dataset: Dataset, vocab: dict, train_cfg: TrainConfig, voices: int = 1) -> SplitRows:
    """The data set's training, validation and test rows (split by instrument and pitch), labelled for
    ``voices`` voice slots."""
    if dataset.voices() > voices:
        raise GlissandoError(f"{data}: holds mixtures of up to {dataset.voices()} notes, and the model hears "
                             f"{voices} at once: train with --voices {dataset.voices()}")
    missing = sorted(set(train_cfg.exclude_collections) - set(dataset.collections()))
    if missing:
        raise GlissandoError(f"{data}: no notes from {', '.join(missing)} to leave out "
                             f"(it holds {', '.join(dataset.collections())})")
    arrays = split_rows(dataset, vocab, train_cfg.seed, train_cfg.held_out, train_cfg.validation,
                        tuple(train_cfg.exclude_collections), voices=voices)
    if len(arrays.train) == 0:
        raise GlissandoError(f"{data}: nothing left to train on")
    return arrays


def _new_model(config: ModelConfig, frames: np.ndarray, rows: np.ndarray, dev: torch.device,
               statistics: bool = True) -> CrossModalVAE:
    """A fresh model on ``dev``, normalizing frames with the training frames' statistics (read in chunks,
    two passes; ``statistics`` False skips them, for ranks that receive rank 0's weights)."""
    model = CrossModalVAE(config)
    if statistics:
        total = sum(float(c.sum(dtype=torch.float64)) for c in frame_chunks(frames, rows, 65536))
        mean = total / (len(rows) * frames.shape[1])
        scale = max(max(float(c.max()) - mean, mean - float(c.min())) for c in frame_chunks(frames, rows, 65536))
        model.norm_mean.fill_(mean)
        model.norm_scale.fill_(scale)
    return model.to(dev)


@dataclass
class _RunState:
    """Where a run stands: epochs completed, seconds spent, history, the best weights and their score."""

    epoch: int = 0
    elapsed: float = 0.0
    history: list = field(default_factory=list)
    best_state: Optional[dict] = None
    best_score: float = -1.0


def _restore(model: CrossModalVAE, optimizer, checkpoint: dict) -> _RunState:
    """Load a checkpoint's weights, optimizer and random state into the run; where it stood."""
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    state = _RunState(int(checkpoint["epoch"]), float(checkpoint["elapsed"]), json.loads(checkpoint["history"]))
    torch.set_rng_state(checkpoint["torch_rng"])
    if "best_model" in checkpoint and state.history:
        state.best_state = checkpoint["best_model"]
        state.best_score = max(_validation_score(r.get("validation_signal_to_symbol", {})) for r in state.history)
    return state


class FrameSet(torch.utils.data.Dataset):
    """The training frames, read a batch at a time from the data set's frames (``read_rows``: from the
    file, not through a memory map, so a corpus larger than memory trains in bounded resident memory).

    ``__getitems__`` serves a whole batch at once (torch's DataLoader calls it instead of one
    ``__getitem__`` per frame). A memory-mapped store travels to another process (DataLoader workers started
    by spawn) by its file's name and is opened again there.
    """

    def __init__(self, frames: np.ndarray, rows: np.ndarray, labels: torch.Tensor):
        self.rows, self.labels, self._frames = rows, labels, frames

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        if isinstance(self._frames, np.memmap) and self._frames.filename:
            state["_frames"] = str(self._frames.filename)  # where the frames are, not the frames
        return state

    def __setstate__(self, state: dict) -> None:
        if isinstance(state["_frames"], str):
            state["_frames"] = np.load(state["_frames"], mmap_mode="r", allow_pickle=False)
        self.__dict__.update(state)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        return self.__getitems__([i])

    def __getitems__(self, positions: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        pos = np.asarray(positions)
        return torch.from_numpy(read_rows(self._frames, self.rows[pos])), self.labels[torch.from_numpy(pos)]


def _whole_batch(batch):
    """The DataLoader's collate: FrameSet.__getitems__ already gives the batch's tensors."""
    return batch


@dataclass
class _Steps:
    """What every optimisation step of a run reads: the training frames and labels (a loader of this
    rank's shard of each epoch), the augmentation's settings; and the validation split the epochs are
    scored on (rows of the frames, read in chunks)."""

    train_cfg: TrainConfig
    loader: DataLoader
    sampler: DistributedSampler
    dev: torch.device
    values: tuple[torch.Tensor, torch.Tensor]
    aug_cfg: AugmentConfig
    spectral: SpectralConfig  # the data set's
    steps_per_epoch: int
    total_steps: int
    frames: np.ndarray
    val_rows: np.ndarray
    y_val: torch.Tensor
    here: distributed.World
    precision: str = "32"
    silent_dynamics: int = -2  # the vocabulary's silent dynamics class (-2: none), kept by vary_level

    @functools.cached_property
    def frequencies(self) -> torch.Tensor:
        """The frames' bin centres (Hz), for the perceptual term's descriptors."""
        return torch.from_numpy(self.spectral.bin_frequencies(self.frames.shape[1])).float().to(self.dev)

    @classmethod
    def for_run(cls, train_cfg: TrainConfig, dataset: Dataset, arrays: SplitRows, vocab: dict, dev: torch.device,
                here: distributed.World, precision: str = "32", workers: int = 0) -> "_Steps":
        frames = FrameSet(dataset.frames, arrays.train, arrays.y_train)
        # The same sampler with one process or several: each epoch's order is a function of the seed and
        # the epoch, and rank r takes every size-th frame of it from the r-th, so the ranks' batches of
        # step s together are the single process's batch s (with the batch split evenly among them).
        # The sampler pads the last step with at most size - 1 frames repeated from the epoch's start.
        sampler: DistributedSampler = DistributedSampler(frames, num_replicas=here.size, rank=here.rank, shuffle=True,
                                     seed=train_cfg.seed)
        loader = DataLoader(frames, batch_size=train_cfg.batch_size // here.size, sampler=sampler,
                            num_workers=workers, collate_fn=_whole_batch, persistent_workers=workers > 0,
                            pin_memory=dev.type == "cuda")
        steps_per_epoch = len(loader)
        # Without a validation split, the epochs are scored on the first training frames.
        if len(arrays.validation):
            val_rows, y_val = arrays.validation, arrays.y_val
        else:
            val_rows, y_val = arrays.train[:CHUNK], arrays.y_train[:CHUNK]
        return cls(train_cfg, loader, sampler, dev, label_values(vocab, dev), AugmentConfig(**train_cfg.augment_config),
                   dataset.spectral, steps_per_epoch, steps_per_epoch * train_cfg.epochs, dataset.frames, val_rows,
                   y_val, here, precision,
                   vocab["dynamics"].index("silent") if "silent" in vocab["dynamics"] else -2)


class _StepLoss(torch.nn.Module):
    """The loss as a module's forward: DistributedDataParallel averages gradients of what runs through
    its wrapped module's forward only."""

    def __init__(self, model: CrossModalVAE):
        super().__init__()
        self.model = model

    def forward(self, xb: torch.Tensor, yb: torch.Tensor, beta: float, noise: Optional[StepNoise] = None,
                descriptors: Optional[torch.Tensor] = None, perceptual_weight: float = 0.0):
        regularizer = None
        if descriptors is not None:
            def regularizer(mu: torch.Tensor) -> torch.Tensor:
                return perceptual_weight * descriptor_distance_loss(mu, descriptors)
        return self.model.loss(self.model.normalize(xb), yb, beta, regularizer, noise)


def _train_epoch(step_loss: torch.nn.Module, optimizer, scaler, epoch: int, run: _Steps, progress: ProgressFn,
                 cancel: Optional[CancelFn], stop: Optional[distributed.StopRequests]) -> dict[str, float]:
    """One epoch of steps (cosine learning rate, augmentation, beta warm-up); the loss parts summed.
    Several processes: every step they agree whether any was asked to stop (KeyboardInterrupt in all)."""
    cfg, spectral, dev = run.train_cfg, run.spectral, run.dev
    bins_per_semitone = spectral.bins_per_octave // 12
    floor_value = float(np.log(spectral.log_floor))
    step_loss.train()
    run.sampler.set_epoch(epoch)
    sums: dict[str, float] = {}
    for step, (xb, yb) in enumerate(run.loader):
        if stop is not None:
            if distributed.any_rank(stop.requested or bool(cancel and cancel()), dev):
                raise KeyboardInterrupt
        else:
            check_cancel(cancel)
        xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
        global_step = epoch * run.steps_per_epoch + step
        frac = global_step / max(1, run.total_steps)
        cosine = 0.5 * (1 + math.cos(math.pi * frac))
        lr = cfg.final_learning_rate + (cfg.learning_rate - cfg.final_learning_rate) * cosine
        for group in optimizer.param_groups:
            group["lr"] = lr
        noise = StepNoise(cfg.seed, global_step, run.here.size, run.here.rank, dev)
        if cfg.augment:
            if run.aug_cfg.shift_probability > 0:
                xb, yb = transpose_frames(xb, yb, run.values, run.aug_cfg, bins_per_semitone, floor_value, noise)
            if run.aug_cfg.level_probability > 0:
                xb, yb = vary_level(xb, yb, run.aug_cfg, spectral.log_floor, run.silent_dynamics, noise)
            xb = augment_frames(xb, run.aug_cfg, spectral.log_floor, spectral.bins_per_octave, noise)
        beta = beta_at(epoch + step / run.steps_per_epoch, cfg.warmup_fraction * cfg.epochs, cfg.beta_max)
        descriptors = frame_descriptors(xb, run.frequencies, spectral.log_floor) if cfg.perceptual_weight else None
        with _autocast(dev, run.precision):
            loss, parts = step_loss(xb, yb, beta, noise, descriptors, cfg.perceptual_weight)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v
        progress(global_step + 1, run.total_steps, f"epoch {epoch + 1}/{cfg.epochs}")
    if run.here.distributed:
        sums = distributed.mean_over_ranks(sums, dev)
    return sums


@torch.no_grad()
def _split_accuracy(model: CrossModalVAE, frames: np.ndarray, rows: np.ndarray, y: torch.Tensor,
                    dev: torch.device) -> dict:
    """held_out_accuracy over the frames of ``rows``, read in chunks."""
    model.eval()
    correct = torch.zeros(len(FAMILIES), dtype=torch.long)
    known = (y >= 0).sum(0)
    for start, x in zip(range(0, len(rows), CHUNK), frame_chunks(frames, rows)):
        yb = y[start : start + CHUNK]
        logits = model.decode_symbols(model.encode_signal(model.normalize(x.to(dev)))[0])
        for j in range(len(FAMILIES)):
            correct[j] += int(((logits[j].argmax(-1).cpu() == yb[:, j]) & (yb[:, j] >= 0)).sum())
    model.train()
    return {f: round(float(correct[j]) / int(known[j]), 4) if int(known[j]) else None for j, f in enumerate(FAMILIES)}


def _epoch_record(model: CrossModalVAE, epoch: int, sums: dict[str, float], run: _Steps) -> dict:
    """The history's record of one epoch: mean loss parts, beta, and signal-to-symbol accuracy on the
    validation split."""
    cfg = run.train_cfg
    record: dict[str, Any] = {k: v / run.steps_per_epoch for k, v in sums.items()}
    record["epoch"] = epoch + 1
    record["beta"] = beta_at(epoch + 1, cfg.warmup_fraction * cfg.epochs, cfg.beta_max)
    record["validation_signal_to_symbol"] = _split_accuracy(model, run.frames, run.val_rows, run.y_val, run.dev)
    return record


def _fit(model: CrossModalVAE, step_loss: torch.nn.Module, optimizer, run: _Steps, state: _RunState, ckpt_path: Path,
         t0: float, progress: ProgressFn, on_epoch: Optional[EpochFn], cancel: Optional[CancelFn]) -> None:
    """Train from the epochs ``state`` completed to the config's, keeping the best weights by validation
    score; a checkpoint after every epoch, and one on Ctrl-C or cancel (which then propagates). Rank 0
    alone scores epochs and writes checkpoints. With several processes, a stop asked of any of them, or
    one of them failing (a collective call then fails in the others), ends all at one step boundary."""
    train_cfg, here = run.train_cfg, run.here
    completed = state.epoch
    scaler = torch.amp.GradScaler(run.dev.type, enabled=run.precision == "16-mixed")

    def checkpoint(epochs: int, history: list) -> None:
        if here.main:
            _save_checkpoint(ckpt_path, model, optimizer, epochs, history, train_cfg, time.perf_counter() - t0,
                             state.best_state)

    with distributed.StopRequests() if here.distributed else contextlib.nullcontext() as stop:
        try:
            for epoch in range(state.epoch, train_cfg.epochs):
                sums = _train_epoch(step_loss, optimizer, scaler, epoch, run, progress, cancel, stop)
                if here.main:
                    record = _epoch_record(model, epoch, sums, run)
                    score = _validation_score(record["validation_signal_to_symbol"])
                    if score >= state.best_score:
                        state.best_score, record["best"] = score, True
                        state.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                    state.history.append(record)
                checkpoint(epoch + 1, state.history)
                completed = epoch + 1
                if on_epoch and here.main:
                    on_epoch(epoch + 1, state.history[-1])
        except (KeyboardInterrupt, Cancelled):
            # Weights from part-way through an epoch, counted as the epochs completed: --resume redoes that epoch.
            checkpoint(completed, state.history[:completed])
            raise
        except RuntimeError as exc:  # torch.distributed's errors: a rank stopped or failed during a collective
            if not here.distributed:
                raise
            checkpoint(completed, state.history[:completed])
            raise RankStopped(f"rank {here.rank}: another training process stopped ({one_line(exc)})") from None


class RankStopped(GlissandoError):
    """Another process of a distributed run stopped or failed: this one has stopped too."""


def kindred_presets(dataset: Dataset) -> dict[str, list[str]]:
    """Instrument -> the names of the kindred presets (labels.Kin) among its notes."""
    names = {(inst.name, k.program): k.name for inst in INSTRUMENTS.values() for k in inst.kin}
    found: dict[str, set[str]] = {}
    for note in dataset.notes:
        key = (note.instrument or "", note.extra.get("program", -1))
        if key in names:
            found.setdefault(key[0], set()).add(names[key])
    return {inst: sorted(v) for inst, v in sorted(found.items())}


def _training_info(data, dataset: Dataset, arrays: SplitRows, train_cfg: TrainConfig, history: list,
                   dev: torch.device, seconds: float, here: distributed.World, precision: str) -> dict:
    """The model file's info: instrument ranges, and how and on what the model was trained."""
    best_epoch = max((r["epoch"] for r in history if r.get("best")), default=len(history))
    return {
        "instrument_ranges": instrument_ranges(dataset),
        "training": {
            "data": str(data) if isinstance(data, (str, Path)) else [str(p) for p in data],
            "notes": len(dataset.notes), "frames": int(len(dataset.frames)),
            "collections": [c for c in dataset.collections() if c not in train_cfg.exclude_collections],
            "kindred_presets": kindred_presets(dataset),
            "train_frames": int(len(arrays.train)), "held_out": train_cfg.held_out,
            "validation": train_cfg.validation,
            "split": "instrument_pitch", "split_seed": train_cfg.seed, "test_groups": arrays.test_groups,
            "epochs": train_cfg.epochs, "best_epoch": best_epoch, "seconds": round(seconds, 1), "device": str(dev),
            "hardware": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
                        if dev.type == "cpu" else torch.cuda.get_device_name(dev),
            "processes": here.size, "precision": precision,
            "train_config": asdict(train_cfg), "history": history,
        },
    }


def train(
    data: str | Path | list,
    out: str | Path,
    train_cfg: Optional[TrainConfig] = None,
    model_overrides: Optional[dict] = None,
    device: str = "auto",
    resume: bool = False,
    progress: ProgressFn = no_progress,
    on_epoch: Optional[EpochFn] = None,
    cancel: Optional[CancelFn] = None,
    threads: Optional[int] = None,
    precision: str = "32",
    workers: int = 0,
) -> Path:
    """Train a model on the data set at ``data`` and write ``out/model.safetensors``.

    A checkpoint is written after every epoch and when the run is cancelled or interrupted
    (Ctrl-C), so ``resume=True`` continues where it stopped. Returns the model file's path.
    ``train_cfg`` None: the defaults. ``precision``: one of PRECISIONS (torch.autocast);
    ``workers``: DataLoader processes reading frames.

    In a process group (the torchrun worker, ``main``, joins one) every process runs this with the same
    arguments: DistributedDataParallel over the group, ``train_cfg.batch_size`` the global batch split
    evenly; rank 0 alone reports progress and epochs and writes the checkpoint and the model. The
    checkpoint does not depend on the number of processes: a run may resume with another.
    """
    if train_cfg is None:
        train_cfg = TrainConfig()
    here = distributed.world()
    dev = distributed.rank_device(pick_device(device), here)
    check_precision(precision, dev)
    if train_cfg.batch_size % here.size:
        raise GlissandoError(f"a batch of {train_cfg.batch_size} frames does not split evenly over {here.size} "
                             "processes: choose a batch size divisible by their number")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dataset = load_training_data(data)
    if threads:
        torch.set_num_threads(threads)
    ckpt_path = out / CHECKPOINT_FILENAME
    checkpoint = None
    if resume:
        checkpoint, train_cfg = _resume_from(ckpt_path, train_cfg)
    seed_everything(train_cfg.seed)

    vocab = vocabulary_for(dataset)
    config = _model_config(data, dataset, vocab, checkpoint, ckpt_path, model_overrides)
    arrays = _split(data, dataset, vocab, train_cfg, config.voices)
    model = _new_model(config, dataset.frames, arrays.train, dev, statistics=here.main and checkpoint is None)
    optimizer = torch.optim.Adam(model.parameters(), lr=train_cfg.learning_rate)
    state = _restore(model, optimizer, checkpoint) if checkpoint is not None else _RunState()
    step_loss: torch.nn.Module = _StepLoss(model)
    if here.distributed:
        # Rank 0's weights and buffers (its normalization statistics) go to every rank here, once: they do
        # not change after. Labels all unknown in a batch leave the symbol networks unused, which DDP must
        # then be told to expect.
        step_loss = DistributedDataParallel(step_loss, forward_sync_buffers=False,
                                            find_unused_parameters=bool((arrays.y_train < 0).all(1).any()))
    run = _Steps.for_run(train_cfg, dataset, arrays, vocab, dev, here, precision, workers)
    t0 = time.perf_counter() - state.elapsed
    _fit(model, step_loss, optimizer, run, state, ckpt_path, t0, progress if here.main else no_progress,
         on_epoch, cancel)

    path = out / MODEL_FILENAME
    if not here.main:
        return path
    if state.best_state is not None:
        model.load_state_dict(state.best_state)
    model.eval()
    info = _training_info(data, dataset, arrays, train_cfg, state.history, dev, time.perf_counter() - t0, here,
                          precision)
    projection = latent_projection(model.cpu(), frame_chunks(dataset.frames, arrays.train), arrays.y_train,
                                   seed=train_cfg.seed)
    return save_model(path, model, dataset.spectral, info, projection)


def main(argv: Optional[list[str]] = None) -> int:
    """The torchrun worker: ``glissando train``'s arguments, trained in the process group torchrun set up
    (or in this process alone without torchrun). Rank 0 draws the progress bar and prints the epochs."""
    import argparse

    from torch.distributed.elastic.multiprocessing.errors import record

    from .options import add_train_arguments, epoch_line, model_overrides, train_config

    parser = argparse.ArgumentParser(prog="python -m glissando.core.training.train",
                                     description="train a cross-modal model (one process of a torchrun run)")
    add_train_arguments(parser)
    args = parser.parse_args(argv)

    @record  # torchrun's failure summary then names this rank's exception and traceback
    def run():
        try:
            dev = pick_device(args.device)
        except GlissandoError as exc:
            print(f"glissando: {one_line(exc)}", file=sys.stderr)
            return 2
        with distributed.process_group(dev) as here:
            bar = _tqdm_progress() if here.main else no_progress
            try:
                path = train(args.data, args.out, train_config(args), model_overrides(args), device=args.device,
                             resume=args.resume, progress=bar, threads=args.threads, precision=args.precision,
                             workers=args.workers,
                             on_epoch=lambda epoch, record: _tqdm_write(epoch_line(epoch, record)))
            except (KeyboardInterrupt, Cancelled):
                if here.main:
                    print(f"\ninterrupted: checkpoint saved in {args.out}; continue with --resume", file=sys.stderr)
                return distributed.INTERRUPTED
            except GlissandoError as exc:
                print(f"glissando: {one_line(exc)}", file=sys.stderr)
                return 1 if isinstance(exc, RankStopped) else 2
            finally:
                getattr(bar, "close", lambda: None)()
            if here.main:
                print(f"model written to {path}")
        return 0

    return int(run() or 0)


def _tqdm_progress():
    from tqdm import tqdm

    class Bar:
        def __init__(self) -> None:
            self.bar: Any = None

        def __call__(self, done: int, total: int, message: str = "") -> None:
            if self.bar is None:
                self.bar = tqdm(total=total, unit="step", dynamic_ncols=True, file=sys.stderr)
            self.bar.set_description(message)
            self.bar.update(done - self.bar.n)

        def close(self) -> None:
            if self.bar is not None:
                self.bar.close()

    return Bar()


def _tqdm_write(text: str) -> None:
    from tqdm import tqdm

    tqdm.write(text, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
