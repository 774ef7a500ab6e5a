"""From a data set on disk to tensors: label indices, a note-level train / held-out split."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from ..data.labels import DYNAMICS, FAMILIES, OCTAVES, PITCH_CLASSES, SILENT
from ..data.store import Dataset


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


def label_matrix(dataset: Dataset, vocab: dict[str, list[str]]) -> np.ndarray:
    """(n_frames, 4) int64 class indices, -1 where the label is unknown or outside the vocabulary."""
    per_note = np.full((len(dataset.notes), len(FAMILIES)), -1, dtype=np.int64)
    for i, note in enumerate(dataset.notes):
        labels = note.labels()
        for j, f in enumerate(FAMILIES):
            v = labels[f]
            if v is not None and v in vocab[f]:
                per_note[i, j] = vocab[f].index(v)
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
        if n.silent:
            keys.append(("silent", i))
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
            if g[0] != "silent" and (g in fixed or side_of[g] == TEST):
                side_of[g] = TEST if g in fixed else TRAIN
    return np.array([TRAIN if k is None else side_of[k] for k in keys], dtype=np.int8)


def groups_on_test_side(dataset: Dataset, side: np.ndarray) -> list[tuple[str, int]]:
    """The (instrument, pitch) groups on the test side, for the model file: notes of these a model never
    trained on, from any bank, whatever data set they are later rendered into."""
    return sorted({(n.instrument, int(n.midi)) for n, s in zip(dataset.notes, side) if s == TEST and not n.silent
                   and n.instrument is not None and n.midi is not None}, key=str)


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


def split_arrays(dataset: Dataset, vocab: dict[str, list[str]], seed: int, test: float = 0.15,
                 validation: float = 0.1, exclude_collections: tuple = (),
                 test_groups: Optional[list] = None) -> SplitArrays:
    """Frames and label indices of each side. Notes of ``exclude_collections`` are on no side (the
    source a leave-one-source-out run holds out); augmented renderings are kept out of validation
    and test, which measure the sounds as the sample sets give them."""
    labels = label_matrix(dataset, vocab)
    side = group_split(dataset, seed, test, validation, test_groups)
    excluded = np.array([n.collection in exclude_collections for n in dataset.notes])
    augmented = np.array([n.variation is not None for n in dataset.notes])
    side = np.where(excluded, -1, np.where(augmented & (side != TRAIN), -1, side))
    frame_side = side[dataset.frame_note]
    x = torch.from_numpy(dataset.frames.astype(np.float32))
    y = torch.from_numpy(labels)

    def pick(s):
        m = torch.from_numpy(frame_side == s)
        return x[m], y[m]

    (xt, yt), (xv, yv), (xs, ys) = pick(TRAIN), pick(VALIDATION), pick(TEST)
    return SplitArrays(xt, yt, xv, yv, xs, ys, dataset.frame_note[frame_side == TEST],
                       groups_on_test_side(dataset, side))
