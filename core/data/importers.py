"""Turn note sources (a SoundFont, a SOL / TinySOL folder, an NSynth folder, a CSV) into a data set."""
from __future__ import annotations

import csv
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from ..jobs import CancelFn, GlissandoError, ProgressFn, check_cancel, no_progress
from ..spectral import AUDIO_SUFFIXES, SpectralConfig, load_audio
from ..units import parse_note
from .frames import FRAMES_PER_NOTE, FrameCache, file_identity, note_frames
from .labels import (
    DEFAULT_INSTRUMENTS,
    INSTRUMENTS,
    RENDERED_DYNAMICS,
    SOL_ABBREVIATIONS,
    TRAINING_VELOCITY,
    canonical_dynamics,
    rendered_presets,
    velocity_to_dynamics,
)
from .soundfont import NOTE_TOTAL_SAMPLES, SoundFontRenderer, source_name
from .store import Dataset, DatasetWriter, NoteRecord

WarnFn = Callable[[str], None]


@dataclass
class PendingNote:
    record: NoteRecord
    identity: dict
    load: Callable[[], np.ndarray]


class SolNameError(ValueError):
    pass


def parse_sol_name(filename: str) -> NoteRecord:
    """Labels from a SOL / TinySOL file name: ``Instr-technique-Note-dynamics[-more].wav``.

    Raises SolNameError, naming the problem, for names that do not follow the scheme or use an
    instrument abbreviation we do not know (never guessed).
    """
    stem = Path(filename).stem
    parts = stem.split("-")
    if len(parts) < 4:
        raise SolNameError(f"{filename}: not a SOL name (expected Instrument-technique-Note-dynamics)")
    abbr, technique, note, dynamics = parts[:4]
    if abbr not in SOL_ABBREVIATIONS:
        raise SolNameError(f"{filename}: unknown instrument abbreviation {abbr!r}")
    try:
        midi = parse_note(note)
    except ValueError:
        raise SolNameError(f"{filename}: {note!r} is not a note name") from None
    try:
        dyn = canonical_dynamics(dynamics)
    except GlissandoError:
        raise SolNameError(f"{filename}: {dynamics!r} is not a dynamic") from None
    return NoteRecord(source=filename, midi=midi, dynamics=dyn, instrument=SOL_ABBREVIATIONS[abbr],
                      extra={"technique": technique})


def _file_note(path: Path, record: NoteRecord) -> PendingNote:
    return PendingNote(record, file_identity(path), lambda: load_audio(path))


def soundfont_notes(soundfont: Path, instruments: Iterable[str], dynamics: Iterable[str], warn: WarnFn,
                    variations: int = 0, kindred: bool = False) -> list[PendingNote]:
    """Every note of each instrument's full range at each dynamic, plus ``variations`` augmented
    renderings of each (vibrato, room, colouring, noise: see variation.py). An instrument the bank
    has no preset for is reported and left out; the bank's other instruments still build. ``kindred``:
    the instruments' kindred presets too (labels.Kin), under the instrument's label."""
    renderer = SoundFontRenderer(soundfont)
    collection = source_name(soundfont)
    unknown = [n for n in instruments if n not in INSTRUMENTS]
    if unknown:
        raise GlissandoError(f"unknown instrument {unknown[0]!r} (known: {', '.join(sorted(INSTRUMENTS))})")
    pending = []
    for name in instruments:
        inst = INSTRUMENTS[name]
        if not renderer.has_program(inst.gm_program):
            warn(f"{soundfont}: no preset for {name} (GM program {inst.gm_program + 1}); "
                 f"{name} comes from the other sources")
            continue
        for program, low, high in rendered_presets(inst, kindred):
            if not renderer.has_program(program):
                continue  # a kindred preset only adds variety: the instrument's own is there
            for midi in range(low, high + 1):
                for dyn in dynamics:
                    pending += _soundfont_note(renderer, collection, soundfont, name, program, midi, dyn, variations)
    return pending


def _soundfont_note(renderer: SoundFontRenderer, collection: str, soundfont: Path, name: str, program: int, midi: int,
                    dyn: str, variations: int) -> list[PendingNote]:
    """One note as the bank gives it, then ``variations`` augmented renderings of it."""
    from .variation import apply_variation, draw_variation, pitch_contour

    velocity = TRAINING_VELOCITY[canonical_dynamics(dyn)]
    ident = renderer.identity(program, midi, velocity)
    own = program == INSTRUMENTS[name].gm_program
    extra = {"soundfont": soundfont.name} | ({} if own else {"program": program})
    pending = []
    for k in range(variations + 1):
        record = NoteRecord(source=f"{soundfont.name}:{program}:{midi}:{velocity}", midi=midi, dynamics=dyn,
                            instrument=name, extra=dict(extra), collection=collection)
        if k == 0:
            def render_plain(p=program, m=midi, v=velocity):
                return renderer.render_note(p, m, v)
            pending.append(PendingNote(record, ident, render_plain))
            continue
        # One seed per (bank, preset, note, dynamic, k): the same variation every rebuild, a different one for
        # every note. The instrument's own preset keeps the seeds it always had, so cached renderings stay valid.
        key = f"{collection}:{name}:{midi}:{dyn}:{k}" if own else f"{collection}:{name}:{program}:{midi}:{dyn}:{k}"
        var = draw_variation(zlib.crc32(key.encode()))
        record.variation = var.seed

        def load(p=program, m=midi, v=velocity, var=var):
            sr = renderer.sample_rate
            audio = renderer.render_note(p, m, v, bend_cents=pitch_contour(var, NOTE_TOTAL_SAMPLES, sr))
            return apply_variation(audio, var, sr)
        pending.append(PendingNote(record, {**ident, "variation": var.to_dict()}, load))
    return pending


def sol_notes(folder: Path, warn: WarnFn) -> list[PendingNote]:
    pending = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
        try:
            record = parse_sol_name(path.name)
        except SolNameError as exc:
            warn(f"skipped {path}: {str(exc).split(': ', 1)[1]}")
            continue
        record.source = str(path)
        record.collection = "SOL"
        pending.append(_file_note(path, record))
    return pending


def nsynth_notes(folder: Path, warn: WarnFn) -> list[PendingNote]:
    meta_path = folder / "examples.json"
    if not meta_path.exists():
        raise GlissandoError(f"{folder}: not an NSynth folder (no examples.json)")
    try:
        examples = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise GlissandoError(f"{meta_path}: unreadable ({exc})") from None
    pending = []
    for key, ex in sorted(examples.items()):
        path = folder / "audio" / f"{key}.wav"
        try:
            record = NoteRecord(source=str(path), midi=int(ex["pitch"]),
                                dynamics=velocity_to_dynamics(int(ex["velocity"]), centres=TRAINING_VELOCITY),
                                instrument=str(ex.get("instrument_family_str") or ex["instrument_family"]),
                                collection="NSynth")
        except (KeyError, TypeError, ValueError) as exc:
            warn(f"skipped {key}: incomplete NSynth entry ({exc})")
            continue
        pending.append(_file_note(path, record))
    return pending


def csv_notes(csv_path: Path, warn: WarnFn) -> list[PendingNote]:
    """CSV columns: file (required), then any of note (C4, A#3) or midi, dynamics, instrument.
    Empty or missing label columns make the frames unlabeled (trained in the signal domain only)."""
    try:
        with open(csv_path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise GlissandoError(f"{csv_path}: unreadable CSV ({exc})") from None
    if rows and "file" not in rows[0]:
        raise GlissandoError(f"{csv_path}: the CSV needs a 'file' column")
    pending = []
    for line, row in enumerate(rows, start=2):
        path = (csv_path.parent / row["file"]).resolve()
        try:
            midi = None
            if (row.get("note") or "").strip():
                midi = parse_note(row["note"])
            elif (row.get("midi") or "").strip():
                midi = int(row["midi"])
            dyn = canonical_dynamics(row["dynamics"]) if (row.get("dynamics") or "").strip() else None
        except (ValueError, GlissandoError) as exc:
            warn(f"skipped {csv_path}:{line} ({row['file']}): {exc}")
            continue
        inst = (row.get("instrument") or "").strip() or None
        pending.append(_file_note(path, NoteRecord(source=str(path), midi=midi, dynamics=dyn, instrument=inst,
                                                   collection=csv_path.stem)))
    return pending


def silence_frames(notes: int, n_bins: int, config: SpectralConfig, seed: int = 0,
                   count: int = FRAMES_PER_NOTE) -> list[np.ndarray]:
    """Frames of silence and faint noise, labelled silent in every family so rests are representable."""
    from ..spectral import NSGTransform

    rng = np.random.default_rng(seed)
    transform = NSGTransform.for_length(config.block, config)
    out = []
    for i in range(notes):
        level = 0.0 if i == 0 else 10 ** rng.uniform(-5, -3)  # -100 .. -60 dBFS
        noise = rng.standard_normal(config.block) * level
        if i % 2:  # pink-ish noise as well as white: rooms hum low
            noise = np.cumsum(noise) * 0.05
            noise -= noise.mean()
        frames = transform.log_frames(noise)
        idx = np.linspace(0, len(frames) - 1, count).round().astype(int)
        out.append(frames[idx].astype(np.float16))
    return out


def build_dataset(
    out: Path,
    *,
    soundfont: Optional[Path | Sequence[Path]] = None,
    instruments: Iterable[str] = DEFAULT_INSTRUMENTS,
    dynamics: Iterable[str] = RENDERED_DYNAMICS,
    sol_folder: Optional[Path] = None,
    nsynth_folder: Optional[Path] = None,
    csv_file: Optional[Path] = None,
    silent_notes: int = 40,
    variations: int = 0,
    mixtures: int = 0,
    single_notes: bool = True,
    kindred: bool = False,
    frames_per_note: int = FRAMES_PER_NOTE,
    config: SpectralConfig = SpectralConfig(),  # noqa: B008 (frozen: a shared default is safe)
    cache: Optional[FrameCache] = None,
    warn: WarnFn = lambda msg: None,
    progress: ProgressFn = no_progress,
    cancel: Optional[CancelFn] = None,
) -> Dataset:
    """Render or import every note, extract its sustained frames (cached) and save the data set.

    ``soundfont`` may name several banks: their notes make one data set, each note remembering its
    bank as its collection. ``variations`` augmented renderings of every SoundFont note are added, and
    ``mixtures`` mixtures of 2 and 3 notes from each bank (data/mixtures.py); ``single_notes`` False: the
    banks give their mixtures only; ``kindred``: each instrument's kindred presets too (labels.Kin)."""
    cache = cache or FrameCache()
    fonts = [soundfont] if isinstance(soundfont, (str, Path)) else list(soundfont or [])
    names = [source_name(f) for f in fonts]
    if len(set(names)) < len(names):
        raise GlissandoError(f"two SoundFonts share the name {max(names, key=names.count)!r}: "
                             "their notes could not be told apart")
    pending = _pending_notes(fonts if single_notes else [], list(instruments), list(dynamics), sol_folder,
                             nsynth_folder, csv_file, variations, warn, kindred)
    if mixtures:
        pending += _mixture_notes(fonts, list(instruments), list(dynamics), mixtures, warn)
    # Notes go to disk in shards as they are analysed (bounded memory); a build run again after an
    # interruption skips the notes its shards hold.
    writer = DatasetWriter(Path(out), config)
    _analyse_notes(pending, cache, config, frames_per_note, writer, warn, progress, cancel)
    for i, f in enumerate(silence_frames(silent_notes, writer.n_bins or 0, config, count=frames_per_note)):
        key = cache.key({"silence": i, "of": silent_notes}, config, frames_per_note)
        if not writer.done(key):
            writer.add(key, NoteRecord(source="silence", silent=True), f)
    return writer.finish()


def _pending_notes(fonts: list, instruments: list[str], dynamics: list[str], sol_folder: Optional[Path],
                   nsynth_folder: Optional[Path], csv_file: Optional[Path], variations: int,
                   warn: WarnFn, kindred: bool = False) -> list[PendingNote]:
    """Every note of every source given, not yet rendered or read."""
    pending: list[PendingNote] = []
    for font in fonts:
        pending += soundfont_notes(Path(font), instruments, dynamics, warn, variations, kindred)
    if sol_folder:
        pending += sol_notes(Path(sol_folder), warn)
    if nsynth_folder:
        pending += nsynth_notes(Path(nsynth_folder), warn)
    if csv_file:
        pending += csv_notes(Path(csv_file), warn)
    return pending


def _mixture_notes(fonts: list, instruments: list[str], dynamics: list[str], count: int,
                   warn: WarnFn) -> list[PendingNote]:
    from .mixtures import soundfont_mixtures

    pending = []
    for font in fonts:
        for k, (collection, notes, identity, render) in enumerate(
                soundfont_mixtures(Path(font), instruments, dynamics, count, warn)):
            low = notes[0]
            record = NoteRecord(source=f"mixture:{collection}:{k}", midi=low["midi"], dynamics=low["dynamics"],
                                instrument=low["instrument"], collection=collection,
                                extra={"soundfont": Path(font).name,
                                       "gains_db": [round(n["gain_db"], 2) for n in notes]},
                                voices=[{key: n[key] for key in ("midi", "dynamics", "instrument")} for n in notes[1:]])
            pending.append(PendingNote(record, identity, render))
    return pending


def _analyse_notes(pending: list[PendingNote], cache: FrameCache, config: SpectralConfig, frames_per_note: int,
                   writer: DatasetWriter, warn: WarnFn, progress: ProgressFn, cancel: Optional[CancelFn]) -> None:
    """Write the frames of the notes whose frames could be computed (or were cached), and the skip
    messages of the others, to ``writer``; refuses when no note could be used."""
    try:
        _analyse_into(pending, cache, config, frames_per_note, writer, warn, progress, cancel)
    finally:  # Ctrl-C or cancel included: the notes analysed so far are kept for the next run
        writer.flush()
    if not writer.notes:
        raise GlissandoError("no usable note: every source was skipped or none was given" +
                             (f" ({len(writer.skipped)} skipped)" if writer.skipped else ""))


def _analyse_into(pending: list[PendingNote], cache: FrameCache, config: SpectralConfig, frames_per_note: int,
                  writer: DatasetWriter, warn: WarnFn, progress: ProgressFn, cancel: Optional[CancelFn]) -> None:
    for i, note in enumerate(pending):
        check_cancel(cancel)
        key = cache.key({"note": note.identity, "record": note.record.source, "variation": note.record.variation},
                        config, frames_per_note)
        if writer.done(key):  # written before an interruption
            progress(i + 1, len(pending), "analysing notes")
            continue

        def compute(n: PendingNote = note) -> np.ndarray:
            return note_frames(n.load(), config, frames_per_note)

        try:
            f = cache.get_or_compute(note.identity, config, frames_per_note, compute)
        except (GlissandoError, OSError) as exc:
            msg = str(exc)
            if not msg.startswith(note.record.source):
                msg = f"{note.record.source}: {msg}"
            warn(f"skipped {msg}")
            writer.skip(key, msg)
        else:
            writer.add(key, note.record, f)
        progress(i + 1, len(pending), "analysing notes")
