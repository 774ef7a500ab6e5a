"""A data set on disk: one folder with the notes' labels and their frames.

    notes.json        format version, spectral settings, one record per note, skipped files
    frames.npy        float16 (n_frames, n_bins) log-magnitude NSGT frames (not normalized)
    frame_note.npy    int32 (n_frames,) index of each frame's note
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import GlissandoError
from ..jobs import atomic_write
from ..spectral import SpectralConfig
from .labels import FAMILIES, SILENT, midi_to_labels

DATASET_FORMAT = 2  # 2: notes carry their collection and variation


@dataclass
class NoteRecord:
    source: str
    midi: Optional[int] = None
    dynamics: Optional[str] = None
    instrument: Optional[str] = None
    silent: bool = False
    extra: dict = field(default_factory=dict)
    # The sample set the note comes from (a SoundFont's name, "SOL", "NSynth", a CSV's name): what
    # leave-one-source-out evaluation holds out.
    collection: str = ""
    # The seed of the audio augmentation this rendering went through; None for the plain note.
    variation: Optional[int] = None

    def labels(self) -> dict[str, Optional[str]]:
        """Family -> label string; None where the label is unknown (semi-supervised frames)."""
        if self.silent:
            return {f: SILENT for f in FAMILIES}
        pc, octave = midi_to_labels(self.midi) if self.midi is not None else (None, None)
        return {"pitch_class": pc, "octave": octave, "dynamics": self.dynamics, "instrument": self.instrument}


@dataclass
class Dataset:
    path: Path
    spectral: SpectralConfig
    notes: list[NoteRecord]
    frames: np.ndarray
    frame_note: np.ndarray
    skipped: list[str]

    def frame_labels(self, family: str) -> list[Optional[str]]:
        per_note = [n.labels()[family] for n in self.notes]
        return [per_note[i] for i in self.frame_note]

    def collections(self) -> list[str]:
        return sorted({n.collection for n in self.notes if not n.silent and n.collection})

    def vocabulary(self, family: str) -> list[str]:
        return sorted({lab for n in self.notes if (lab := n.labels()[family]) is not None and lab != SILENT})


def save_dataset(path: Path, spectral: SpectralConfig, notes: list[NoteRecord], note_frames: list[np.ndarray],
                 skipped: list[str]) -> Dataset:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    frames = np.concatenate(note_frames).astype(np.float16)
    frame_note = np.concatenate([np.full(len(f), i, dtype=np.int32) for i, f in enumerate(note_frames)])
    meta = {"format": DATASET_FORMAT, "spectral": spectral.to_dict(), "notes": [asdict(n) for n in notes],
            "skipped": skipped}
    # notes.json last: a new data set interrupted while being written has none, and does not load.
    for name, array in (("frames.npy", frames), ("frame_note.npy", frame_note)):
        with atomic_write(path / name, suffix=".tmp.npy") as tmp:  # np.save adds .npy to any other name
            np.save(tmp, array)
    with atomic_write(path / "notes.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=1))
    return Dataset(path, spectral, notes, frames, frame_note, skipped)


def load_dataset(path: str | Path) -> Dataset:
    path = Path(path)
    meta_path = path / "notes.json"
    if not meta_path.exists():
        raise GlissandoError(f"{path}: not a Glissando data set "
                             "(no notes.json; build one with 'glissando make-dataset')")
    try:
        meta = json.loads(meta_path.read_text())
        frames = np.load(path / "frames.npy", allow_pickle=False)
        frame_note = np.load(path / "frame_note.npy", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise GlissandoError(f"{path}: the data set is damaged ({exc})") from None
    if meta.get("format") not in (1, DATASET_FORMAT):
        raise GlissandoError(f"{path}: data set format {meta.get('format')} is not supported "
                             f"(expected {DATASET_FORMAT})")
    notes = [NoteRecord(**n) for n in meta["notes"]]
    for n in notes:  # format 1 named a SoundFont note's bank only in its extra
        if not n.collection and not n.silent:
            n.collection = Path(n.extra.get("soundfont", "")).stem
    if len(frames) == 0 or len(frames) != len(frame_note):
        raise GlissandoError(f"{path}: the data set holds no usable note")
    return Dataset(path, SpectralConfig.from_dict(meta["spectral"]), notes, frames, frame_note, meta.get("skipped", []))


def combine_datasets(datasets: list[Dataset]) -> Dataset:
    """Several data sets trained as one. Their spectral settings must agree (frames of another rate or
    resolution are other features), and so must their dynamics, which name loudness steps of one scale."""
    first = datasets[0]
    if len(datasets) == 1:
        return first
    notes: list[NoteRecord] = []
    frames: list[np.ndarray] = []
    frame_note: list[np.ndarray] = []
    skipped: list[str] = []
    for ds in datasets:
        if ds.spectral != first.spectral:
            a, b = first.spectral.to_dict(), ds.spectral.to_dict()
            diff = ", ".join(f"{k} {a[k]} vs {b.get(k)}" for k in a if a[k] != b.get(k))
            raise GlissandoError(f"{first.path} and {ds.path}: different spectral settings ({diff}); "
                                 "rebuild one of them")
        if ds.vocabulary("dynamics") != first.vocabulary("dynamics"):
            raise GlissandoError(f"{first.path} and {ds.path}: different dynamics labels "
                                 f"({', '.join(first.vocabulary('dynamics'))} "
                                 f"vs {', '.join(ds.vocabulary('dynamics'))})")
        frame_note.append(ds.frame_note + len(notes))
        notes += ds.notes
        frames.append(ds.frames)
        skipped += ds.skipped
    return Dataset(first.path, first.spectral, notes, np.concatenate(frames), np.concatenate(frame_note), skipped)
