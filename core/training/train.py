"""Training of the cross-modal VAE: beta warm-up, augmentation, checkpoints, resume."""
from __future__ import annotations

import json
import math
import platform
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch

from ..data.labels import FAMILIES
from ..data.store import Dataset, combine_datasets, load_dataset
from ..device import pick_device
from ..jobs import CancelFn, Cancelled, GlissandoError, ProgressFn, atomic_write, check_cancel, no_progress
from ..models.modelfile import MODEL_FILENAME, save_model
from ..models.vae import CrossModalVAE, ModelConfig
from ..spectral import SpectralConfig
from .arrays import split_arrays, vocabulary_for
from .augment import AugmentConfig, augment_frames, label_values, transpose_frames

CHECKPOINT_FILENAME = "checkpoint.pt"
EpochFn = Callable[[int, dict], None]


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


@torch.no_grad()
def latent_projection(model: CrossModalVAE, x: torch.Tensor, y: torch.Tensor, max_points: int = 4000,
                      seed: int = 0) -> dict:
    """PCA (3 components) of the training posteriors' means, with a labelled sample of points for
    the navigator's point cloud."""
    mus = torch.cat([model.encode_signal(model.normalize(b))[0] for b in x.split(4096)]).cpu()
    mean = mus.mean(0)
    _, _, v = torch.linalg.svd(mus - mean, full_matrices=False)
    components = v[:3]
    g = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(mus), generator=g)[:max_points]
    return {"mean": mean, "components": components, "points": ((mus[pick] - mean) @ components.T).half(),
            "point_labels": y[pick].to(torch.int16)}


def _save_checkpoint(path: Path, model, optimizer, epoch: int, history: list, train_cfg: TrainConfig, elapsed: float,
                     best_state: Optional[dict] = None) -> None:
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
        return config
    return ModelConfig(n_bins=dataset.frames.shape[1], vocabulary=vocab,
                       **{"bins_per_octave": dataset.spectral.bins_per_octave, **(model_overrides or {})})


def _split(data, dataset: Dataset, vocab: dict, train_cfg: TrainConfig):
    """The data set's training, validation and test arrays (split by instrument and pitch)."""
    missing = sorted(set(train_cfg.exclude_collections) - set(dataset.collections()))
    if missing:
        raise GlissandoError(f"{data}: no notes from {', '.join(missing)} to leave out "
                             f"(it holds {', '.join(dataset.collections())})")
    arrays = split_arrays(dataset, vocab, train_cfg.seed, train_cfg.held_out, train_cfg.validation,
                          tuple(train_cfg.exclude_collections))
    if len(arrays.x_train) == 0:
        raise GlissandoError(f"{data}: nothing left to train on")
    return arrays


def _new_model(config: ModelConfig, x_train: torch.Tensor, dev: torch.device) -> CrossModalVAE:
    """A fresh model on ``dev``, normalizing frames with the training frames' statistics."""
    model = CrossModalVAE(config)
    mean = x_train.mean()
    model.norm_mean.fill_(mean)
    model.norm_scale.fill_((x_train - mean).abs().max())
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


@dataclass
class _Steps:
    """What every optimisation step of a run reads: the training frames and labels on the device, the
    augmentation's settings; and the validation split (on the CPU) the epochs are scored on."""

    train_cfg: TrainConfig
    x: torch.Tensor
    y: torch.Tensor
    values: tuple[torch.Tensor, torch.Tensor]
    aug_cfg: AugmentConfig
    spectral: SpectralConfig  # the data set's
    steps_per_epoch: int
    total_steps: int
    x_val: torch.Tensor
    y_val: torch.Tensor

    @classmethod
    def for_run(cls, train_cfg: TrainConfig, arrays, vocab: dict, spectral, dev: torch.device) -> "_Steps":
        steps_per_epoch = math.ceil(len(arrays.x_train) / train_cfg.batch_size)
        # Without a validation split, the epochs are scored on the first training frames.
        if len(arrays.x_val):
            x_val, y_val = arrays.x_val, arrays.y_val
        else:
            x_val, y_val = arrays.x_train[:4096], arrays.y_train[:4096]
        return cls(train_cfg, arrays.x_train.to(dev), arrays.y_train.to(dev), label_values(vocab, dev),
                   AugmentConfig(**train_cfg.augment_config), spectral, steps_per_epoch,
                   steps_per_epoch * train_cfg.epochs, x_val, y_val)


def _train_epoch(model: CrossModalVAE, optimizer, epoch: int, run: _Steps, progress: ProgressFn,
                 cancel: Optional[CancelFn]) -> dict[str, float]:
    """One epoch of steps (cosine learning rate, augmentation, beta warm-up); the loss parts summed."""
    cfg, spectral = run.train_cfg, run.spectral
    bins_per_semitone = spectral.bins_per_octave // 12
    floor_value = float(np.log(spectral.log_floor))
    model.train()
    perm = torch.randperm(len(run.x), device=run.x.device)
    sums: dict[str, float] = {}
    for step in range(run.steps_per_epoch):
        check_cancel(cancel)
        global_step = epoch * run.steps_per_epoch + step
        frac = global_step / max(1, run.total_steps)
        cosine = 0.5 * (1 + math.cos(math.pi * frac))
        lr = cfg.final_learning_rate + (cfg.learning_rate - cfg.final_learning_rate) * cosine
        for group in optimizer.param_groups:
            group["lr"] = lr
        idx = perm[step * cfg.batch_size : (step + 1) * cfg.batch_size]
        xb, yb = run.x[idx], run.y[idx]
        if cfg.augment:
            if run.aug_cfg.shift_probability > 0:
                xb, yb = transpose_frames(xb, yb, run.values, run.aug_cfg, bins_per_semitone, floor_value)
            xb = augment_frames(xb, run.aug_cfg, spectral.log_floor, spectral.bins_per_octave)
        beta = beta_at(epoch + step / run.steps_per_epoch, cfg.warmup_fraction * cfg.epochs, cfg.beta_max)
        loss, parts = model.loss(model.normalize(xb), yb, beta)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v
        progress(global_step + 1, run.total_steps, f"epoch {epoch + 1}/{cfg.epochs}")
    return sums


def _epoch_record(model: CrossModalVAE, epoch: int, sums: dict[str, float], run: _Steps) -> dict:
    """The history's record of one epoch: mean loss parts, beta, and signal-to-symbol accuracy on the
    validation split."""
    cfg = run.train_cfg
    record: dict[str, Any] = {k: v / run.steps_per_epoch for k, v in sums.items()}
    record["epoch"] = epoch + 1
    record["beta"] = beta_at(epoch + 1, cfg.warmup_fraction * cfg.epochs, cfg.beta_max)
    dev = run.x.device
    record["validation_signal_to_symbol"] = held_out_accuracy(model, run.x_val.to(dev), run.y_val.to(dev))
    return record


def _fit(model: CrossModalVAE, optimizer, run: _Steps, state: _RunState, ckpt_path: Path, t0: float,
         progress: ProgressFn, on_epoch: Optional[EpochFn], cancel: Optional[CancelFn]) -> None:
    """Train from the epochs ``state`` completed to the config's, keeping the best weights by validation
    score; a checkpoint after every epoch, and one on Ctrl-C or cancel (which then propagates)."""
    train_cfg = run.train_cfg
    completed = state.epoch
    try:
        for epoch in range(state.epoch, train_cfg.epochs):
            sums = _train_epoch(model, optimizer, epoch, run, progress, cancel)
            record = _epoch_record(model, epoch, sums, run)
            score = _validation_score(record["validation_signal_to_symbol"])
            if score >= state.best_score:
                state.best_score, record["best"] = score, True
                state.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            state.history.append(record)
            _save_checkpoint(ckpt_path, model, optimizer, epoch + 1, state.history, train_cfg, time.perf_counter() - t0,
                             state.best_state)
            completed = epoch + 1
            if on_epoch:
                on_epoch(epoch + 1, record)
    except (KeyboardInterrupt, Cancelled):
        # Weights from part-way through an epoch, counted as the epochs completed: --resume redoes that epoch.
        _save_checkpoint(ckpt_path, model, optimizer, completed, state.history[:completed], train_cfg,
                         time.perf_counter() - t0, state.best_state)
        raise


def _training_info(data, dataset: Dataset, arrays, train_cfg: TrainConfig, history: list, dev: torch.device,
                   seconds: float) -> dict:
    """The model file's info: instrument ranges, and how and on what the model was trained."""
    best_epoch = max((r["epoch"] for r in history if r.get("best")), default=len(history))
    return {
        "instrument_ranges": instrument_ranges(dataset),
        "training": {
            "data": str(data) if isinstance(data, (str, Path)) else [str(p) for p in data],
            "notes": len(dataset.notes), "frames": int(len(dataset.frames)),
            "collections": [c for c in dataset.collections() if c not in train_cfg.exclude_collections],
            "train_frames": int(len(arrays.x_train)), "held_out": train_cfg.held_out,
            "validation": train_cfg.validation,
            "split": "instrument_pitch", "split_seed": train_cfg.seed, "test_groups": arrays.test_groups,
            "epochs": train_cfg.epochs, "best_epoch": best_epoch, "seconds": round(seconds, 1), "device": str(dev),
            "hardware": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
                        if dev.type == "cpu" else torch.cuda.get_device_name(dev),
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
) -> Path:
    """Train a model on the data set at ``data`` and write ``out/model.safetensors``.

    A checkpoint is written after every epoch and when the run is cancelled or interrupted
    (Ctrl-C), so ``resume=True`` continues where it stopped. Returns the model file's path.
    ``train_cfg`` None: the defaults.
    """
    if train_cfg is None:
        train_cfg = TrainConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dataset = load_training_data(data)
    dev = pick_device(device)
    if threads:
        torch.set_num_threads(threads)
    ckpt_path = out / CHECKPOINT_FILENAME
    checkpoint = None
    if resume:
        checkpoint, train_cfg = _resume_from(ckpt_path, train_cfg)
    seed_everything(train_cfg.seed)

    vocab = vocabulary_for(dataset)
    config = _model_config(data, dataset, vocab, checkpoint, ckpt_path, model_overrides)
    arrays = _split(data, dataset, vocab, train_cfg)
    model = _new_model(config, arrays.x_train, dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=train_cfg.learning_rate)
    state = _restore(model, optimizer, checkpoint) if checkpoint is not None else _RunState()
    run = _Steps.for_run(train_cfg, arrays, vocab, dataset.spectral, dev)
    t0 = time.perf_counter() - state.elapsed
    _fit(model, optimizer, run, state, ckpt_path, t0, progress, on_epoch, cancel)

    if state.best_state is not None:
        model.load_state_dict(state.best_state)
    model.eval()
    info = _training_info(data, dataset, arrays, train_cfg, state.history, dev, time.perf_counter() - t0)
    projection = latent_projection(model.cpu(), arrays.x_train, arrays.y_train, seed=train_cfg.seed)
    return save_model(out / MODEL_FILENAME, model, dataset.spectral, info, projection)


@torch.no_grad()
def held_out_accuracy(model: CrossModalVAE, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Frame-level signal->symbol accuracy per family on the held-out split."""
    model.eval()
    batches = [model.decode_symbols(model.encode_signal(model.normalize(b))[0]) for b in x.split(4096)]
    logits = [torch.cat(parts) for parts in zip(*batches)]
    out = {}
    for j, f in enumerate(FAMILIES):
        known = y[:, j] >= 0
        out[f] = round(float((logits[j].argmax(-1)[known] == y[known, j]).float().mean()), 4) if known.any() else None
    model.train()
    return out
