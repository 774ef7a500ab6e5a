"""A data set on disk: one folder with the notes' labels and their frames.

    notes.json        format version, spectral settings, one record per note, skipped files
    frames.npy        float16 (n_frames, n_bins) log-magnitude NSGT frames (not normalized)
    frame_note.npy    int32 (n_frames,) index of each frame's note

frames.npy is opened memory-mapped: a corpus larger than memory loads in an instant and is paged in as
training reads it. While a data set is being built its notes go to ``.partial/`` in shards of
SHARD_NOTES notes (bounded memory, and an interrupted import resumes after the last whole shard); the
shards are joined into frames.npy when the import finishes, so finished data sets keep one layout.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from ..errors import GlissandoError
from ..jobs import atomic_write
from ..spectral import SpectralConfig
from .labels import FAMILIES, SILENT, midi_to_labels

DATASET_FORMAT = 2  # 2: notes carry their collection and variation
PARTIAL = ".partial"  # the shards of a data set being built
# 512 notes of 24 frames of 410 bins: 10 MB of float16 held before a shard is written.
SHARD_NOTES = 512
# Data sets trained together (train --data A B) whose frames take more than this are joined in one
# memory-mapped file rather than in memory, so that a corpus in several folders trains in bounded memory
# as one folder does.
JOIN_IN_MEMORY_BYTES = 256 << 20


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
    # A mixture (data/mixtures.py): the notes sounding with this one, above it, lowest first, each
    # {"midi", "dynamics", "instrument"}; this record's own labels are the lowest note's.
    voices: list = field(default_factory=list)

    def labels(self) -> dict[str, Optional[str]]:
        """Family -> label string; None where the label is unknown (semi-supervised frames)."""
        if self.silent:
            return {f: SILENT for f in FAMILIES}
        pc, octave = midi_to_labels(self.midi) if self.midi is not None else (None, None)
        return {"pitch_class": pc, "octave": octave, "dynamics": self.dynamics, "instrument": self.instrument}

    def voice_labels(self, voices: int) -> list[dict[str, Optional[str]]]:
        """The labels of ``voices`` slots, lowest note first: this note, the notes above it, then silence
        (a single note is slot 0 of a chord whose other slots are silent)."""
        out = [self.labels()]
        for v in self.voices[: voices - 1]:
            pc, octave = midi_to_labels(int(v["midi"]))
            out.append({"pitch_class": pc, "octave": octave, "dynamics": v["dynamics"], "instrument": v["instrument"]})
        silent = {f: SILENT for f in FAMILIES} if out[0]["pitch_class"] is not None else {f: None for f in FAMILIES}
        return out + [dict(silent) for _ in range(voices - len(out))]


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
        return sorted({lab for n in self.notes for slot in n.voice_labels(1 + len(n.voices))
                       if (lab := slot[family]) is not None and lab != SILENT})

    def voices(self) -> int:
        """The most notes any of its records sounds at once (1: single notes only)."""
        return max((1 + len(n.voices) for n in self.notes), default=1)


class DatasetWriter:
    """Builds a data set note by note in bounded memory, resuming an interrupted build.

    Notes are kept in memory only until SHARD_NOTES of them are written to ``.partial/`` as one shard
    (frames, then a JSON of their records that commits it). ``key`` names a note's source and analysis
    settings: notes whose key a committed shard holds, written or skipped, are ``done`` and an import
    run again skips them. ``finish`` joins the shards into frames.npy and writes notes.json last.
    """

    def __init__(self, path: str | Path, spectral: SpectralConfig, shard_notes: int = SHARD_NOTES):
        self.path = Path(path)
        self.spectral = spectral
        self.shard_notes = shard_notes
        self.partial = self.path / PARTIAL
        self.notes: list[NoteRecord] = []
        self.skipped: list[str] = []
        self._counts: list[int] = []  # frames per written note
        self._done: set[str] = set()
        self._shards: list[Path] = []
        self._pending: list[tuple[str, Optional[NoteRecord], Optional[np.ndarray], str]] = []
        self.n_bins: Optional[int] = None
        self._resume()

    def _resume(self) -> None:
        settings = self.partial / "settings.json"
        if settings.exists() and json.loads(settings.read_text()) != self.spectral.to_dict():
            shutil.rmtree(self.partial)  # shards of other spectral settings: other features, never mixed
        self.partial.mkdir(parents=True, exist_ok=True)
        settings.write_text(json.dumps(self.spectral.to_dict()))
        for meta_path in sorted(self.partial.glob("shard-*.json")):
            frames_path = meta_path.with_suffix(".npy")
            try:
                meta = json.loads(meta_path.read_text())
                shape = np.load(frames_path, mmap_mode="r").shape
            except (OSError, ValueError):
                break  # a shard cut short: it and any after it are written again
            if shape[0] != sum(meta["counts"]):
                break
            self._shards.append(frames_path)
            self.notes += [NoteRecord(**n) for n in meta["notes"]]
            self._counts += meta["counts"]
            self.skipped += meta["skipped"]
            self._done.update(meta["keys"])
            if shape[0]:
                self.n_bins = shape[1]

    def done(self, key: str) -> bool:
        return key in self._done

    @property
    def resumed(self) -> int:
        """Notes (written or skipped) found in the shards of an earlier, interrupted build."""
        return len(self._done)

    def add(self, key: str, record: NoteRecord, frames: np.ndarray) -> None:
        if self.n_bins is None:
            self.n_bins = frames.shape[1]
        self._pending.append((key, record, np.asarray(frames, dtype=np.float16), ""))
        self._maybe_flush()

    def skip(self, key: str, message: str) -> None:
        self._pending.append((key, None, None, message))
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if len(self._pending) >= self.shard_notes:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        written = [(k, r, f) for k, r, f, _ in self._pending if r is not None and f is not None]
        bins = self.n_bins or 0
        frames = np.concatenate([f for _, _, f in written]) if written else np.zeros((0, bins), np.float16)
        counts = [len(f) for _, _, f in written]
        keys = [k for k, *_ in self._pending]
        skipped = [m for _, r, _, m in self._pending if r is None]
        meta = {"notes": [asdict(r) for _, r, _ in written], "counts": counts, "keys": keys, "skipped": skipped}
        stem = self.partial / f"shard-{len(self._shards):06d}"
        with atomic_write(stem.with_suffix(".npy"), suffix=".tmp.npy") as tmp:
            np.save(tmp, frames)
        with atomic_write(stem.with_suffix(".json")) as tmp:  # the shard counts once this is written
            tmp.write_text(json.dumps(meta))
        self._shards.append(stem.with_suffix(".npy"))
        self.notes += [r for _, r, _ in written]
        self._counts += counts
        self.skipped += skipped
        self._done.update(keys)
        self._pending = []

    def finish(self) -> "Dataset":
        """Join the shards into the data set's files (streamed: memory stays at one shard), and load it."""
        self.flush()
        n_frames = sum(self._counts)
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float16)), "fortran_order": False,
                  "shape": (n_frames, self.n_bins or 0)}
        # Written with plain file writes rather than through a writable memmap, whose dirty pages would
        # count in this process's resident memory until the kernel wrote them back.
        with atomic_write(self.path / "frames.npy", suffix=".tmp.npy") as tmp, open(tmp, "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, header)
            for shard in self._shards:
                fh.write(np.load(shard, mmap_mode="r").tobytes())
        frame_note = np.repeat(np.arange(len(self._counts), dtype=np.int32), self._counts)
        with atomic_write(self.path / "frame_note.npy", suffix=".tmp.npy") as tmp:
            np.save(tmp, frame_note)
        meta = {"format": DATASET_FORMAT, "spectral": self.spectral.to_dict(),
                "notes": [asdict(n) for n in self.notes], "skipped": self.skipped}
        # notes.json last: a new data set interrupted while being written has none, and does not load.
        with atomic_write(self.path / "notes.json") as tmp:
            tmp.write_text(json.dumps(meta, indent=1))
        shutil.rmtree(self.partial, ignore_errors=True)
        return load_dataset(self.path)


def save_dataset(path: Path, spectral: SpectralConfig, notes: list[NoteRecord], note_frames: Iterable[np.ndarray],
                 skipped: list[str]) -> Dataset:
    """Write a data set whose notes are all at hand (DatasetWriter builds one note by note)."""
    shutil.rmtree(Path(path) / PARTIAL, ignore_errors=True)  # its keys would not be these notes'
    writer = DatasetWriter(path, spectral)
    for i, (note, frames) in enumerate(zip(notes, note_frames)):
        writer.add(f"note-{i}", note, frames)
    writer.skipped += skipped
    return writer.finish()


def load_dataset(path: str | Path) -> Dataset:
    path = Path(path)
    meta_path = path / "notes.json"
    if not meta_path.exists():
        raise GlissandoError(f"{path}: not a Glissando data set "
                             "(no notes.json; build one with 'glissando make-dataset')")
    try:
        meta = json.loads(meta_path.read_text())
        # Read-only memory map: pages come in as they are read, and any writer gets an error, not a silent copy.
        frames = np.load(path / "frames.npy", mmap_mode="r", allow_pickle=False)
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
    return Dataset(first.path, first.spectral, notes, join_frames(frames), np.concatenate(frame_note), skipped)


def read_rows(frames: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``frames[rows]`` as float32. A memory-mapped store's rows are read from its file with pread, one
    call per run of consecutive rows, never through the map.

    Pages of a file read through a map count in the process's resident memory until the kernel needs them,
    and each row read through it brings in the pages around it (fault-around, whole large folios on recent
    kernels): a pass over a corpus larger than memory (the normalization statistics, each epoch's
    validation, the navigator's projection), or shuffled training batches, would soon show the whole file as
    resident (1.5 GB of a 1.9 GB corpus). Read with pread, the pages stay in the kernel's page cache, which
    the kernel gives back by itself. Numpy and the standard library have no scattered read of a file
    without mapping it, hence the loop.
    """
    rows = np.asarray(rows)
    filename = getattr(frames, "filename", None)
    if not (isinstance(frames, np.memmap) and filename and frames.flags.c_contiguous
            and frames.offset + frames.nbytes == os.path.getsize(filename)):  # not a whole store file: index it
        return np.asarray(frames[rows], dtype=np.float32)
    row_bytes = frames.strides[0]
    order = np.argsort(rows, kind="stable")
    ordered = np.empty((len(rows), *frames.shape[1:]), dtype=frames.dtype)
    raw = ordered.reshape(-1).view(np.uint8).data
    sorted_rows = rows[order]
    breaks = np.flatnonzero(np.diff(sorted_rows) != 1) + 1
    with open(filename, "rb", buffering=0) as fh:
        for first, last in zip(np.r_[0, breaks], np.r_[breaks, len(rows)]):
            if os.preadv(fh.fileno(), [raw[first * row_bytes : last * row_bytes]],
                         frames.offset + int(sorted_rows[first]) * row_bytes) != (last - first) * row_bytes:
                raise GlissandoError(f"{filename}: the frames file is shorter than its header says (truncated?)")
    out = np.empty((len(rows), *frames.shape[1:]), dtype=np.float32)
    out[order] = ordered
    return out


def join_frames(parts: list[np.ndarray], in_memory_bytes: int = JOIN_IN_MEMORY_BYTES) -> np.ndarray:
    """The parts' rows one after another: in memory when small, else in a read-only memory-mapped file in
    the cache folder (not /tmp, which may be memory itself), copied a block at a time and removed when
    the process ends."""
    rows, bins, dtype = sum(len(p) for p in parts), parts[0].shape[1], parts[0].dtype
    if rows * bins * dtype.itemsize <= in_memory_bytes:
        return np.concatenate(parts)
    root = Path(os.environ.get("GLISSANDO_CACHE", Path.home() / ".cache" / "glissando"))
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="joined-", dir=root))
    atexit.register(shutil.rmtree, folder, True)
    joined = np.lib.format.open_memmap(folder / "frames.npy", mode="w+", dtype=dtype, shape=(rows, bins))
    at = 0
    for part in parts:
        for start in range(0, len(part), SHARD_NOTES * 64):
            block = part[start : start + SHARD_NOTES * 64]
            joined[at : at + len(block)] = block
            at += len(block)
    joined.flush()
    del joined
    return np.load(folder / "frames.npy", mmap_mode="r", allow_pickle=False)
