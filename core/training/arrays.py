"""From a data set on disk to tensors: label indices, a note-level train / held-out split."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from ..data.labels import DYNAMICS, FAMILIES, OCTAVES, PITCH_CLASSES, SILENT
from ..data.store import Dataset, read_rows


def vocabulary_for(dataset: Dataset) -> dict[str, list[str]]:
    """Each family's labels in a musical order, silent last."""
    vocab = {}
    order = {"pitch_class": PITCH_CLASSES, "octave": OCTAVES, "dynamics": DYNAMICS}
    for f in FAMILIES:
        present = dataset.vocabulary(f)
        if f in order:
            present = [v for v in order[f] if v in present] + sorted(set(present) - set(order[f]))
        vocab[f] = present + [SILENT]
    return vocab


def label_matrix(dataset: Dataset, vocab: dict[str, list[str]], voices: int = 1) -> np.ndarray:
    """(n_frames, 4 x voices) int64 class indices, lowest note's slot first, -1 where the label is unknown
    or outside the vocabulary."""
    per_note = np.full((len(dataset.notes), len(FAMILIES) * voices), -1, dtype=np.int64)
    for i, note in enumerate(dataset.notes):
        for k, labels in enumerate(note.voice_labels(voices)):
            for j, f in enumerate(FAMILIES):
                v = labels[f]
                if v is not None and v in vocab[f]:
                    per_note[i, k * len(FAMILIES) + j] = vocab[f].index(v)
    return per_note[dataset.frame_note]


TRAIN, VALIDATION, TEST = 0, 1, 2


def group_split(dataset: Dataset, seed: int, test: float = 0.15, validation: float = 0.1,
                test_groups: Optional[list] = None) -> np.ndarray:
    """Side of each note: TRAIN, VALIDATION or TEST.

    Notes are split in groups of one (instrument, pitch): every dynamic, every sample set and every
    augmented rendering of, say, the violin's A4 sit on one side. Split by note, 272 of 290 held-out
    notes had their instrument and pitch in training at another dynamic, and the held-out figures
    measured interpolation across dynamics rather than recognition of a note the model never heard.
    Silent notes are split one by one; unlabeled notes (no instrument or pitch) always train.
    ``test_groups`` (a model's own, from its file) fixes the test side whatever else the data holds.
    """
    keys: list[Optional[tuple[str, int]]] = []  # each note's group; None: unlabeled, always trains
    for i, n in enumerate(dataset.notes):
        if n.silent or n.voices:  # silence, and mixtures (whose notes are many groups), one by one
            keys.append(("silent" if n.silent else "mixture", i))
        elif n.instrument is None or n.midi is None:
            keys.append(None)
        else:
            keys.append((n.instrument, n.midi))
    groups = sorted({k for k in keys if k is not None}, key=str)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(groups))
    n_test, n_val = int(round(len(groups) * test)), int(round(len(groups) * validation))
    side_of = {}
    for rank, g in enumerate(order):
        side_of[groups[g]] = TEST if rank < n_test else VALIDATION if rank < n_test + n_val else TRAIN
    if test_groups is not None:
        fixed = {(inst, int(midi)) for inst, midi in test_groups}
        for g in groups:
            if g[0] not in ("silent", "mixture") and (g in fixed or side_of[g] == TEST):
                side_of[g] = TEST if g in fixed else TRAIN
    return np.array([TRAIN if k is None else side_of[k] for k in keys], dtype=np.int8)


def groups_on_test_side(dataset: Dataset, side: np.ndarray) -> list[tuple[str, int]]:
    """The (instrument, pitch) groups on the test side, for the model file: notes of these a model never
    trained on, from any bank, whatever data set they are later rendered into."""
    return sorted({(n.instrument, int(n.midi)) for n, s in zip(dataset.notes, side) if s == TEST and not n.silent
                   and not n.voices and n.instrument is not None and n.midi is not None}, key=str)


@dataclass
class SplitArrays:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    test_note: np.ndarray  # note index of each test frame
    test_groups: list[tuple[str, int]]  # (instrument, midi) of every test group


@dataclass
class SplitRows:
    """Each side's frames as row numbers into the data set's frames, with their labels: what training
    reads a batch at a time from a memory-mapped corpus instead of holding every frame in memory."""

    train: np.ndarray  # int64 rows of dataset.frames, ascending
    validation: np.ndarray
    test: np.ndarray
    y_train: torch.Tensor
    y_val: torch.Tensor
    y_test: torch.Tensor
    test_note: np.ndarray  # note index of each test frame
    test_groups: list[tuple[str, int]]  # (instrument, midi) of every test group


def split_rows(dataset: Dataset, vocab: dict[str, list[str]], seed: int, test: float = 0.15,
               validation: float = 0.1, exclude_collections: tuple = (),
               test_groups: Optional[list] = None, voices: int = 1) -> SplitRows:
    """The rows and label indices (``voices`` slots) of each side. Notes of ``exclude_collections`` are on no side (the
    source a leave-one-source-out run holds out); augmented renderings are kept out of validation
    and test, which measure the sounds as the sample sets give them."""
    labels = torch.from_numpy(label_matrix(dataset, vocab, voices))
    side = group_split(dataset, seed, test, validation, test_groups)
    excluded = np.array([n.collection in exclude_collections for n in dataset.notes])
    augmented = np.array([n.variation is not None for n in dataset.notes])
    side = np.where(excluded, -1, np.where(augmented & (side != TRAIN), -1, side))
    frame_side = side[dataset.frame_note]
    on = {s: np.flatnonzero(frame_side == s) for s in (TRAIN, VALIDATION, TEST)}
    y = {s: labels[torch.from_numpy(rows)] for s, rows in on.items()}
    return SplitRows(on[TRAIN], on[VALIDATION], on[TEST], y[TRAIN], y[VALIDATION], y[TEST],
                     dataset.frame_note[on[TEST]], groups_on_test_side(dataset, side))


def split_arrays(dataset: Dataset, vocab: dict[str, list[str]], seed: int, test: float = 0.15,
                 validation: float = 0.1, exclude_collections: tuple = (),
                 test_groups: Optional[list] = None, voices: int = 1) -> SplitArrays:
    """split_rows with every side's frames read into memory (float32), for evaluation and the baseline."""
    r = split_rows(dataset, vocab, seed, test, validation, exclude_collections, test_groups, voices)

    def frames(rows: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(read_rows(dataset.frames, rows))

    return SplitArrays(frames(r.train), r.y_train, frames(r.validation), r.y_val, frames(r.test), r.y_test,
                       r.test_note, r.test_groups)
