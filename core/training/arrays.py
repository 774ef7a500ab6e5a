"""From a data set on disk to tensors: label indices, a note-level train / held-out split."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.labels import FAMILIES, SILENT, DYNAMICS, OCTAVES, PITCH_CLASSES
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


def note_split(n_notes: int, seed: int, held_out: float = 0.2) -> np.ndarray:
    """Boolean mask over notes: True for the held-out notes. Split by note, never by frame, so that
    frames of one note never sit on both sides."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(n_notes, dtype=bool)
    mask[rng.permutation(n_notes)[: int(round(n_notes * held_out))]] = True
    return mask


@dataclass
class SplitArrays:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    test_note: np.ndarray  # note index of each held-out frame


def split_arrays(dataset: Dataset, vocab: dict[str, list[str]], seed: int, held_out: float = 0.2) -> SplitArrays:
    labels = label_matrix(dataset, vocab)
    held = note_split(len(dataset.notes), seed, held_out)[dataset.frame_note]
    x = torch.from_numpy(dataset.frames.astype(np.float32))
    y = torch.from_numpy(labels)
    return SplitArrays(x[~held], y[~held], x[held], y[held], dataset.frame_note[held])
