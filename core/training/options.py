"""The training verbs' command-line arguments, shared by ``glissando train`` and the worker each torchrun
process runs (``python -m glissando.core.training.train``): both parse the same arguments.

Imports neither torch nor anything that does: the CLI builds its parser from here and refuses a bad
argument before torch's import.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any, Callable

# The choices the parser offers, written here rather than imported from the modules that define them
# (device, models.vae), which import torch. tests/core/test_bad_input.py checks each is the module's own.
DEVICES = ("auto", "cpu", "cuda")  # device.DEVICES
ARCHITECTURES = ("paper", "conv")  # models.vae.ARCHITECTURES
PRECISIONS = ("32", "16-mixed", "bf16-mixed")  # train.PRECISIONS


def number(kind: Callable[[str], Any], low: float, high: float, what: str) -> Callable[[str], Any]:
    """An argparse type: a finite ``kind`` (int or float) from ``low`` to ``high``, described as ``what``
    in its refusal."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:  # int() also refuses more than 4300 digits
            raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}; "
                                             f"give {what}") from None
        if (isinstance(value, float) and not math.isfinite(value)) or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is out of range; give {what}")
        return value

    return parse


def add_training_options(parser) -> list[argparse.Action]:
    """The options of every verb that trains (train, loso); the actions added."""
    add = parser.add_argument
    return [
        add("--data", type=Path, required=True, nargs="+",
            help="data set folder(s); several are combined (same spectral settings and dynamics)"),
        add("--device", choices=DEVICES, default="auto"),
        add("--arch", choices=ARCHITECTURES, default="conv",
            help="signal encoder: conv (harmonic-stack convolutions, default) or the paper's MLP"),
        add("--epochs", type=number(int, 1, 100000, "1 to 100000"), default=60, help="(1-100000, default 60)"),
        add("--batch-size", type=number(int, 1, 65536, "1 to 65536"), default=256,
            help="global batch: split evenly over the processes of --nproc (1-65536, default 256)"),
        add("--hidden", type=number(int, 1, 65536, "1 to 65536"),
            help="signal VAE hidden units (1-65536; paper: 2000)"),
        add("--beta-max", type=number(float, 0, 100, "a number from 0 to 100"),
            help="final weight of the KL terms after warm-up (0-100)"),
        add("--seed", type=number(int, 0, 2**32 - 1, "0 to 4294967295"), default=0),
        add("--no-augment", action="store_true", help="no frame augmentation during training"),
        add("--transpose", type=number(float, 0, 1, "a share from 0 to 1"), default=0.5,
            help="share of training frames transposed by up to --transpose-semitones, relabelled (0-1, default 0.5)"),
        add("--transpose-semitones", type=number(int, 0, 12, "0 to 12"), default=2,
            help="largest transposition (0-12, default 2)"),
        add("--eq-db", type=number(float, 0, 24, "a number of dB from 0 to 24"),
            help="frame augmentation: random EQ and tilt (dB/octave) up to this (0-24, default 1.5)"),
        add("--eq-keep-level", action="store_true",
            help="rescale the EQ and tilt to keep each frame's energy, so that they may be strong "
                 "without touching the level that carries dynamics"),
        add("--vary-level", type=number(float, 0, 1, "a share from 0 to 1"), default=0.3,
            help="share of training frames moved -30 to +6 dB in level, their dynamics label dropped: "
                 "pitch, instrument and silence learnt apart from level (0-1, default 0.3)"),
        add("--dropout", type=number(float, 0, 0.95, "a number from 0 to 0.95"), default=0.2,
            help="dropout in the conv encoder's head (0-0.95, default 0.2)"),
        add("--perceptual", type=number(float, 0, 100, "a weight from 0 to 100"), default=0.0,
            help="weight of the perceptual term: latent distances follow timbre-descriptor distances "
                 "(centroid, bandwidth, flatness, rolloff, loudness; seed paper 003); default 0: off"),
        add("--voices", type=number(int, 1, 3, "1 to 3"), default=1,
            help="notes the model hears at once: 1 (single notes, default), or 2-3 for mixtures and chords "
                 "(train on data made with make-dataset --mixtures)"),
    ]


def add_train_arguments(parser) -> list[argparse.Action]:
    """Every argument of ``glissando train`` (and of its torchrun worker); the actions added."""
    add = parser.add_argument
    return add_training_options(parser) + [
        add("--out", type=Path, required=True, help="model folder (model.safetensors, checkpoint.pt)"),
        add("--symbol-hidden", type=number(int, 1, 65536, "1 to 65536"),
            help="symbol VAE hidden units (1-65536; paper: 800)"),
        add("--threads", type=number(int, 1, 1024, "1 to 1024"), help="CPU threads for torch, per process (1-1024)"),
        add("--leave-out", action="append", metavar="SOURCE", help="train without this sample set (repeatable)"),
        add("--resume", action="store_true",
            help="continue from OUT/checkpoint.pt (with any number of processes)"),
        add("--precision", choices=PRECISIONS, default="32",
            help="32 (default), or mixed precision with torch.autocast: 16-mixed (CUDA only) or bf16-mixed"),
        add("--workers", type=number(int, 0, 64, "0 to 64"), default=0,
            help="data loader processes reading frames, per training process (0-64, default 0: none)"),
    ]


def forward_argv(actions: list[argparse.Action], args: argparse.Namespace) -> list[str]:
    """The arguments that give ``args`` again, for the processes torchrun starts."""
    argv: list[str] = []
    for action in actions:
        value = getattr(args, action.dest, None)
        flag = action.option_strings[0]
        if action.nargs == 0:  # a switch
            argv += [flag] if value else []
        elif isinstance(value, list) and action.nargs in ("+", "*"):
            argv += [flag, *map(str, value)]
        elif isinstance(value, list):  # repeated (action="append")
            for v in value:
                argv += [flag, str(v)]
        elif value is not None:
            argv += [flag, str(value)]
    return argv


def train_config(args):
    """The TrainConfig the training options ask for."""
    from .train import TrainConfig

    cfg = TrainConfig(epochs=args.epochs, seed=args.seed, batch_size=args.batch_size, augment=not args.no_augment,
                      exclude_collections=list(getattr(args, "leave_out", None) or []),
                      perceptual_weight=args.perceptual)
    cfg.augment_config["shift_probability"] = args.transpose
    cfg.augment_config["shift_semitones"] = args.transpose_semitones
    if args.eq_db is not None:
        cfg.augment_config["eq_db"] = args.eq_db
        cfg.augment_config["tilt_db_per_octave"] = args.eq_db
    cfg.augment_config["keep_level"] = args.eq_keep_level
    cfg.augment_config["level_probability"] = args.vary_level
    if args.beta_max is not None:
        cfg.beta_max = args.beta_max
    return cfg


def model_overrides(args) -> dict:
    overrides: dict = {}
    if args.hidden:
        overrides["signal_hidden"] = args.hidden
    if getattr(args, "symbol_hidden", None):
        overrides["symbol_hidden"] = args.symbol_hidden
    overrides.update(arch=args.arch, dropout=args.dropout, voices=args.voices)
    return overrides


def epoch_line(epoch: int, record: dict) -> str:
    """One epoch's losses and validation accuracy, as ``glissando train`` prints them."""
    acc = record.get("validation_signal_to_symbol", {})
    accs = " ".join(f"{k}={v:.3f}" for k, v in acc.items() if v is not None)
    return (f"epoch {epoch}: loss={record['loss']:.1f} rec_signal={record['rec_signal']:.1f} "
            f"rec_symbol={record.get('rec_symbol', float('nan')):.3f} "
            f"cross_kl={record.get('cross_kl', float('nan')):.2f} "
            f"beta={record['beta']:.2f} | validation {accs}")
