"""The ``glissando`` command: the whole engine from a shell, and its test surface."""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import sys
from pathlib import Path
from typing import Any, NoReturn, Optional

from .errors import BadOutput, Cancelled, DeviceUnavailable, GlissandoError, OutputExists, UnknownFormat, one_line
from .jobs import atomic_write, check_input, check_output, check_output_folder
from .training.options import ARCHITECTURES, DEVICES, add_train_arguments, add_training_options, forward_argv  # noqa: F401
from .training.options import number as _number

FRONTENDS = "glissando.frontends"  # the entry point group front ends register in (pyproject.toml)
# What the command line adds to core's errors: the flag that answers each.
FLAG_HINTS = ((OutputExists, "use --force to replace it"), (UnknownFormat, "choose one with --format"),
              (DeviceUnavailable, "use --device cpu or auto"))

# The choices the parser offers, written here rather than imported from the modules that define them
# (device, render, transcribe, transfer, models.vae), which import torch: the parser, and so every refusal of a
# bad argument, answers in a fraction of a second instead of after torch's 1-3 s import.
# tests/core/test_bad_input.py checks that each is the same as the module's own. DEVICES and ARCHITECTURES
# come from training.options, which the torchrun worker of `train --nproc` parses its arguments with.
OUTPUT_RATES = (22050, 44100)  # render.OUTPUT_RATES
PHASE_METHODS = ("fast", "gl30")  # render.PHASE_METHODS, RenderSettings.phase the first
BIT_DEPTHS = ("16", "24", "float")  # render.SUBTYPES
NOTE_FORMATS = ("json", "csv", "mid")  # transcribe.FORMATS
DEFAULT_INTERPOLATION = "linear"  # render.RenderSettings.interpolation
TRANSFER_METHODS = ("shift", "notes")  # transfer.TRANSFER_METHODS, the default first
TRANSFER_EXPRESSION = 0.25  # transfer.EXPRESSION


class _Parser(argparse.ArgumentParser):
    """argparse, its refusals on one line: the usage it prints before them is what --help shows."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {one_line(message)} (see {self.prog} --help)\n")


class _Bar:
    """Adapts tqdm to core's progress(done, total, message) callback."""

    def __init__(self, unit: str = "it"):
        self.bar: Optional[Any] = None  # a tqdm bar (tqdm has no type hints), made at the first call
        self.unit = unit

    def __call__(self, done: int, total: int, message: str = "") -> None:
        from tqdm import tqdm  # imported with the first progress: never before a refusal

        bar = self.bar
        if bar is None:
            bar = self.bar = tqdm(total=total, unit=self.unit, dynamic_ncols=True, file=sys.stderr)
        bar.set_description(message)
        bar.update(done - bar.n)

    def write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _warn(msg: str) -> None:
    print(f"warning: {one_line(msg)}", file=sys.stderr)


def _refuse(exc: GlissandoError) -> None:
    print(f"glissando: {error_message(exc)}", file=sys.stderr)


def cmd_make_dataset(args) -> int:
    check_output_folder(args.out)  # before the imports below, which load torch
    for source in (args.soundfont or []) + ([args.csv] if args.csv else []):
        check_input(source)
    from .data.importers import build_dataset
    from .data.labels import INSTRUMENT_PRESETS
    from .data.soundfont import training_soundfonts

    fonts = list(args.soundfont or [])
    if args.training_banks:
        found = training_soundfonts()
        absent = [name for name, p in found.items() if p is None]
        if absent:
            raise GlissandoError(f"--training-banks: {', '.join(absent)} not installed "
                                 "(apt-get install fluid-soundfont-gm csound-soundfont timgm6mb-soundfont)")
        fonts += [p for p in found.values() if p not in fonts]
    if args.only_mixtures and not (fonts and args.mixtures):
        raise GlissandoError("--only-mixtures needs --mixtures N and a SoundFont (--soundfont or --training-banks)")
    if not (fonts or args.import_sol or args.import_nsynth or args.csv):
        raise GlissandoError("give a source: --soundfont SF2, --training-banks, --import-sol DIR, "
                             "--import-nsynth DIR or --csv FILE")
    instruments = INSTRUMENT_PRESETS[args.preset]
    if args.instruments:
        instruments = [s.strip() for s in args.instruments.split(",") if s.strip()]
    bar = _Bar("note")
    warnings: list[str] = []

    def warn(msg: str) -> None:
        warnings.append(msg)
        bar.write(f"warning: {msg}")

    try:
        ds = build_dataset(Path(args.out), soundfont=fonts, instruments=instruments,
                           dynamics=[d.strip() for d in args.dynamics.split(",")], sol_folder=args.import_sol,
                           nsynth_folder=args.import_nsynth, csv_file=args.csv, variations=args.variations,
                           mixtures=args.mixtures, single_notes=not args.only_mixtures, kindred=args.kindred,
                           frames_per_note=args.frames_per_note, warn=warn, progress=bar)
    except KeyboardInterrupt:
        bar.close()
        print(f"\ninterrupted: the notes analysed so far are kept in {args.out}; "
              "run the same command again to continue", file=sys.stderr)
        return 130
    finally:
        bar.close()
    labeled = sum(1 for n in ds.notes if not n.silent)
    print(f"{args.out}: {labeled} notes, {len(ds.frames)} frames; skipped {len(ds.skipped)} file(s)")
    for name in ds.collections():
        mine = [n for n in ds.notes if n.collection == name and n.variation is None]
        insts = sorted({n.instrument for n in mine if n.instrument})
        print(f"  {name}: {len(mine)} notes of {len(insts)} instruments")
    return 0


def _train_config(args):
    from .training.options import train_config

    return train_config(args)


def cmd_train(args) -> int:
    check_output_folder(args.out)
    if args.nproc > 1:
        return _train_in_processes(args)
    from .training.options import epoch_line, model_overrides
    from .training.train import train

    cfg = _train_config(args)
    bar = _Bar("step")

    def on_epoch(epoch: int, record: dict) -> None:
        bar.write(epoch_line(epoch, record))

    try:
        path = train(args.data, args.out, cfg, model_overrides(args), device=args.device, resume=args.resume,
                     progress=bar, on_epoch=on_epoch, threads=args.threads, precision=args.precision,
                     workers=args.workers)
    except KeyboardInterrupt:
        bar.close()
        print(f"\ninterrupted: checkpoint saved in {args.out}; continue with --resume", file=sys.stderr)
        return 130
    finally:
        bar.close()
    print(f"model written to {path}")
    return 0


def _train_in_processes(args) -> int:
    """``train --nproc N``: refuse what the workers would refuse, then run them through torchrun."""
    from .data.store import load_dataset
    from .device import pick_device
    from .training.distributed import check_nproc, launch
    from .training.train import CHECKPOINT_FILENAME, check_precision

    dev = pick_device(args.device)
    check_precision(args.precision, dev)
    check_nproc(args.nproc, dev)
    if args.batch_size % args.nproc:
        raise GlissandoError(f"--batch-size {args.batch_size} does not split evenly over --nproc {args.nproc}")
    for folder in args.data:
        load_dataset(folder)  # memory-mapped: reads the notes' labels only
    if args.resume and not (Path(args.out) / CHECKPOINT_FILENAME).exists():
        raise GlissandoError(f"{Path(args.out) / CHECKPOINT_FILENAME}: no checkpoint to resume from")
    worker_argv = forward_argv(add_train_arguments(argparse.ArgumentParser()), args)
    return launch(args.nproc, worker_argv)


def cmd_loso(args) -> int:
    check_output_folder(args.out)
    import numpy as np

    from .training.loso import leave_one_source_out
    from .training.options import model_overrides

    overrides = model_overrides(args)
    bar = _Bar("step")

    def report(source: str, result: dict) -> None:
        acc = result["notes"]
        mel = result.get("melodies", {})
        f1 = f" melody F1 {np.mean([m['f1'] for m in mel.values()]):.3f}" if mel else ""
        scores = " ".join(f"{k} {'-' if acc.get(k) is None else format(acc[k], '.1%')}"
                          for k in ("pitch", "octave", "dynamics", "instrument"))
        bar.write(f"without {source}: {scores} ({acc['notes']} notes){f1}")

    try:
        result = leave_one_source_out(args.data, args.out, _train_config(args), overrides, sources=args.sources,
                                      melodies=not args.no_melodies, device=args.device, progress=bar, on_result=report,
                                      rescore=args.rescore)
    finally:
        bar.close()
    path = Path(args.out) / "loso.json"
    with atomic_write(path) as tmp:
        Path(tmp).write_text(json.dumps(result, indent=1))
    print(f"leave-one-source-out results written to {path}")
    return 0


def cmd_model_card(args) -> int:
    sources = [args.evaluation] + ([args.loso] if args.loso else [])
    for source in sources:
        check_input(source)
    check_output(args.output, force=True, inputs=sources)  # the card is rewritten from its sources
    from .training.card import write_model_card

    path = write_model_card(args.model, args.evaluation, args.loso, args.output, command=args.command,
                            perceptual_json=args.perceptual)
    print(f"model card written to {path}")
    return 0


def cmd_evaluate(args) -> int:
    if args.json:
        check_output(args.json, force=True)  # results are rewritten (make model-card does)
    _model_facts(args)  # a --model from elsewhere is refused before torch's import
    from .models.modelfile import load_model
    from .training.evaluate import evaluate, format_table
    from .training.train import load_training_data

    loaded = load_model(args.model)
    dataset = load_training_data(args.data)
    if args.source and args.source not in dataset.collections():
        raise GlissandoError(f"{dataset.path}: no notes from {args.source} "
                             f"(it holds {', '.join(dataset.collections())})")
    if args.mixtures:
        from .training.evaluate import format_mixtures, mixture_accuracy

        mix = mixture_accuracy(loaded, dataset, collections=[args.source] if args.source else None)
        result = {"model": str(loaded.path), "data": str(dataset.path), "source": args.source, "mixtures": mix}
        print(format_mixtures(mix))
    elif args.notes:
        from .training.evaluate import note_accuracy

        acc = note_accuracy(loaded, dataset, collections=[args.source] if args.source else None)
        result = {"model": str(loaded.path), "data": str(dataset.path), "source": args.source, "note_accuracy": acc}
        from_source = f" from {args.source}" if args.source else ""
        print(f"{acc['notes']} notes of {dataset.path}{from_source}, transcribed note by note:")
        for key in ("pitch", "pitch_class", "octave", "dynamics", "instrument"):
            print(f"  {key:12} {'-' if acc.get(key) is None else format(acc[key], '.1%')}")
    else:
        result = evaluate(loaded, dataset, baseline=not args.no_baseline)
        if "warning" in result:
            _warn(result["warning"])
        print(format_table(result))
    if args.json:
        with atomic_write(args.json) as tmp:
            Path(tmp).write_text(json.dumps(result, indent=2))
        print(f"\nJSON written to {args.json}")
    else:
        print("\n" + json.dumps(result))
    return 0


def _session(args):
    from .session import ModelSession

    return ModelSession(args.model, device=getattr(args, "device", "auto"))


def _model_facts(args):
    """The model's header (vocabulary, instrument ranges), read without torch: inputs the model cannot
    play, and a --model that is not a Glissando model, are refused before torch's import and the load."""
    from .models.modelfile import read_facts

    return read_facts(args.model)


def _render_settings(args):
    from .render import RenderSettings

    return RenderSettings(interpolation=args.interp, phase=args.phase)


def _render_and_write(args, session, notes) -> None:
    from .render import render_notes

    bar = _Bar("block")
    try:
        audio = render_notes(session, notes, _render_settings(args), progress=bar)
    finally:
        bar.close()
    path = _write_wav(args, audio, session.spectral.sample_rate)
    print(f"{path}: {len(audio) / session.spectral.sample_rate:.2f} s written")


def _write_wav(args, audio, sample_rate: int) -> Path:
    """``audio`` to the WAV the options of _wav_out_options name, at their rate, depth and level."""
    from .render import write_wav

    return write_wav(args.output, audio, sample_rate, args.rate, args.bits, force=args.force,
                     peak_db=None if args.no_normalize else args.peak_db)


MAX_CHORD_NOTES = 8  # notes sounding at once in one --notes chord: each is a voice rendered on its own


def parse_note_list(text: str, default_instrument: str = "") -> list:
    """'C4:mf:1.0 E4:ff:0.5 R:0.25' -> consecutive notes (R is a rest), every number checked; notes that
    name no instrument get ``default_instrument`` ("": the caller gives them one once a model is loaded).
    A chord joins notes with '+' and shares the dynamics and length: 'C4+E4+G4:mf:1.0'; each of its notes
    may name its instrument in front, 'flute:C5+violin:E4:mf:1.0' (a duet)."""
    from .data.labels import DYNAMICS, INSTRUMENTS
    from .midi import MAX_NOTE_SECONDS, MAX_SECONDS, MIN_NOTE_SECONDS, Note
    from .units import parse_note

    def unreadable(token: str) -> GlissandoError:
        return GlissandoError(f"--notes: cannot read {token!r} (write NOTE:DYNAMICS:SECONDS, e.g. C4:mf:1.0, "
                              "a chord C4+E4:mf:1.0, or R:0.5 for a rest)")

    def member(token: str, part: str) -> tuple[str, int, list[str]]:
        """(instrument written in front or "", MIDI note, the fields after the note) of one note of a chord."""
        fields = part.split(":")
        if len(fields) > 1:
            try:
                parse_note(fields[0])
            except ValueError:  # not a note: the instrument that plays the note after it
                name = _instrument_name(fields[0])
                if name not in INSTRUMENTS:
                    raise GlissandoError(f"--notes: {token!r} names an unknown instrument {fields[0]!r} "
                                         f"(Glissando knows {', '.join(INSTRUMENTS)})") from None
                return name, parse_note(fields[1]), fields[2:]
        return "", parse_note(fields[0]), fields[1:]

    notes, now = [], 0.0
    for token in text.split():
        rest = token.split(":")[0].upper() == "R"
        members: list[tuple[str, int]] = []
        try:
            if rest:
                tail = token.split(":")[1:]
                if len(tail) > 1:
                    raise ValueError(token)
                seconds = float(tail[0]) if tail else 0.5
            else:
                chord = token.split("+")
                if len(chord) > MAX_CHORD_NOTES:
                    raise GlissandoError(f"--notes: {token!r} holds {len(chord)} notes at once; a chord has at "
                                         f"most {MAX_CHORD_NOTES}")
                tail = []
                for k, part in enumerate(chord):
                    own, midi, after = member(token, part)
                    if after and k < len(chord) - 1:  # dynamics and length are written once, after the chord
                        raise ValueError(token)
                    tail = after
                    members.append((own, midi))
                if len(tail) > 3:
                    raise ValueError(token)
                seconds = float(tail[1]) if len(tail) > 1 else 0.5
        except ValueError:
            raise unreadable(token) from None
        if not (math.isfinite(seconds) and MIN_NOTE_SECONDS <= seconds <= MAX_NOTE_SECONDS):
            raise GlissandoError(f"--notes: {token!r}: a note or rest lasts from {MIN_NOTE_SECONDS:g} to "
                                 f"{MAX_NOTE_SECONDS:g} s")
        if rest:
            now += seconds
            continue
        dynamics = tail[0] if tail and tail[0] else "mf"
        shared = tail[2] if len(tail) > 2 else ""
        if dynamics not in DYNAMICS:
            raise GlissandoError(f"--notes: {token!r} has an unknown dynamic {dynamics!r} (use {', '.join(DYNAMICS)})")
        if shared and shared not in INSTRUMENTS:
            raise GlissandoError(f"--notes: {token!r} names an unknown instrument {shared!r} "
                                 f"(Glissando knows {', '.join(INSTRUMENTS)})")
        for own, midi in members:
            if not 0 <= midi <= 127:
                raise GlissandoError(f"--notes: {token!r} is outside MIDI's notes (C-1 to G9)")
            notes.append(Note(now, now + seconds, midi, dynamics, own or shared or default_instrument))
        now += seconds
        if now > MAX_SECONDS:
            raise GlissandoError(f"--notes: the notes last more than {MAX_SECONDS:g} s, the longest render")
    if not notes:
        raise GlissandoError("--notes: no notes given")
    return notes


def _instrument_name(text: str) -> str:
    """An instrument as people write it ("alto sax", "Alto_Sax") -> the label ("alto_sax"); transcriptions
    print names with a space, and the CLI takes them back as they are."""
    return "_".join(text.strip().lower().split()).replace("-", "_")


def _check_instrument_name(name: Optional[str]) -> None:
    """An --instrument Glissando has never heard of is refused before a model is loaded (the model's own
    list is checked once it is)."""
    from .data.labels import INSTRUMENTS

    if name and name not in INSTRUMENTS:
        raise GlissandoError(f"--instrument {name}: unknown instrument (Glissando knows {', '.join(INSTRUMENTS)})")


def _default_instrument(session, wanted):
    if wanted:
        if wanted not in session.instruments:
            raise GlissandoError(f"--instrument {wanted}: the model knows {', '.join(session.instruments)}")
        return wanted
    return "piano" if "piano" in session.instruments else session.instruments[0]


def cmd_synth(args) -> int:
    # Everything that can be checked without the model, before loading it: the notes, the output.
    notes = parse_note_list(args.notes)
    _check_instrument_name(args.instrument)
    check_output(args.output, args.force)
    facts = _model_facts(args)  # then what needs the model's header: its instruments and ranges
    default = _default_instrument(facts, args.instrument)
    for n in notes:
        n.instrument = n.instrument or default
        facts.check_note(n.midi, n.dynamics, n.instrument)
    session = _session(args)
    _render_and_write(args, session, notes)
    return 0


def cmd_render_midi(args) -> int:
    from .midi import check_note_times, notes_for_model, parse_midi, read_midi

    # The MIDI file (readable, pitched notes, a length a render can hold) and the output, before the model.
    parsed = parse_midi(args.input)
    check_note_times(read_midi(args.input, [], "piano", parsed=parsed), str(args.input))
    _check_instrument_name(args.instrument)
    check_output(args.output, args.force, inputs=[args.input])
    # The notes against the model's header (an unknown --instrument, --strict's ranges) before torch and the load.
    facts = _model_facts(args)
    _default_instrument(facts, args.instrument)
    ranges = {i: facts.instrument_range(i) for i in facts.instruments}
    notes = notes_for_model(args.input, facts.instruments, facts.dynamics, ranges, args.instrument, args.strict,
                            warn=_warn, parsed=parsed)
    session = _session(args)
    _render_and_write(args, session, notes)
    return 0


def _transcription_jobs(args) -> tuple[list[tuple[Path, Path, str]], int]:
    """(input, output, format) of every input that can be transcribed and written, and how many cannot:
    each of those refused here, on its own line, before the model is loaded."""
    from .transcribe import check_audio_input, notes_format

    inputs = [Path(p) for p in args.inputs]
    if len(inputs) > 1:
        if args.output is None:
            raise GlissandoError("several inputs: give -o FOLDER for the outputs")
        out_dir = check_output_folder(args.output)
        fmt = notes_format(out_dir / "notes", args.format or "json")
        targets = [out_dir / f"{p.stem}.{fmt}" for p in inputs]
    else:
        if args.output and Path(args.output).is_dir():
            raise BadOutput(args.output, "is a folder; give a file name")
        fmt = notes_format(args.output, args.format) if args.output else notes_format("notes", args.format or "json")
        targets = [Path(args.output) if args.output else inputs[0].with_suffix(f".{fmt}")]
    readable = []
    for source, target in zip(inputs, targets):
        try:
            check_audio_input(source)
            readable.append((source, target))
        except GlissandoError as exc:
            _refuse(exc)
    if readable and len(inputs) > 1:
        try:
            Path(args.output).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadOutput(args.output, f"cannot be created ({exc.strerror or exc})") from None
    jobs: list[tuple[Path, Path, str]] = []
    first_of: dict[Path, Path] = {}  # output -> the input it is for
    for source, target in readable:
        try:
            if target in first_of:
                raise BadOutput(target, f"is also the output of {first_of[target]}; give the inputs different names")
            first_of[target] = source
            check_output(target, args.force, inputs=inputs)
            jobs.append((source, target, fmt))
        except GlissandoError as exc:
            _refuse(exc)
    return jobs, len(inputs) - len(jobs)


def cmd_transcribe(args) -> int:
    from .transcribe import transcribe, write_notes

    jobs, failures = _transcription_jobs(args)
    if not jobs:
        return 2
    _model_facts(args)  # a --model from elsewhere is refused before torch's import
    session = _session(args)  # loaded once for every input
    for source, target, fmt in jobs:
        bar = _Bar("sample")

        def warn(message: str, bar: _Bar = bar) -> None:
            bar.write(f"warning: {one_line(message)}")

        try:
            notes, _ = transcribe(session, source, progress=bar, warn=warn)
            bar.close()
            write_notes(notes, target, fmt, force=args.force)
            print(f"{source}: {len(notes)} notes -> {target}")
        except GlissandoError as exc:  # this input fails; the others still get their outputs
            bar.close()
            _refuse(exc)
            failures += 1
    return 2 if failures else 0


def cmd_transfer(args) -> int:
    from .data.labels import INSTRUMENTS
    from .transcribe import check_audio_input

    # The input, the target's name and the output, before torch and the model are loaded.
    check_audio_input(args.input)
    if args.to not in INSTRUMENTS:
        raise GlissandoError(f"--to {args.to}: unknown instrument (Glissando knows "
                             f"{', '.join(i.replace('_', ' ') for i in INSTRUMENTS)})")
    check_output(args.output, args.force, inputs=[args.input])
    facts = _model_facts(args)
    if args.to not in facts.instruments:  # transfer.check_target's question, asked of the header before torch
        raise GlissandoError(f"--to {args.to}: the model knows {', '.join(facts.instruments)}")
    from .transfer import check_target, transfer

    session = _session(args)
    check_target(session, args.to, args.dynamics)
    bar = _Bar("step")

    def warn(message: str) -> None:
        bar.write(f"warning: {one_line(message)}")

    try:
        result = transfer(session, args.input, args.to, args.dynamics, args.method, args.expression,
                          progress=bar, warn=warn)
    finally:
        bar.close()
    path = _write_wav(args, result.audio, session.spectral.sample_rate)
    heard = sorted({n.instrument.replace("_", " ") for n in result.heard})
    print(f"{path}: {len(result.played)} notes heard as {', '.join(heard)}, played by {args.to.replace('_', ' ')} "
          f"({len(result.audio) / session.spectral.sample_rate:.2f} s)")
    return 0


def cmd_gui(args) -> int:
    run_app = _frontend("gui")
    return run_app(model=args.model, screenshot=args.screenshot)


def _frontend(name: str):
    """A front end registered in the ``glissando.frontends`` entry point group: core never imports
    one, so the engine installs and runs without the desktop app's dependencies."""
    found = list(importlib.metadata.entry_points(group=FRONTENDS, name=name))
    if not found:
        raise GlissandoError(f"the {name} front end is not installed (install Glissando with the 'gui' extra: "
                             "pip install 'glissando[gui]')")
    try:
        return found[0].load()
    except (ImportError, AttributeError) as exc:  # PySide6 or a system library (libGL, libEGL) missing
        raise GlissandoError(f"the {name} front end is not available ({exc}); "
                             "install Glissando with the 'gui' extra") from None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="glissando", description="Translate between sound and musical symbols.")
    sub = p.add_subparsers(dest="command", required=True)
    _add_make_dataset(sub)
    _add_training(sub)
    _add_evaluation(sub)
    _add_audio_out(sub)
    _add_transcribe(sub)
    _add_transfer(sub)
    g = sub.add_parser("gui", help="open the desktop app")
    g.add_argument("--model")
    g.add_argument("--screenshot", type=Path, help="open, draw, save the window to this PNG and exit")
    g.set_defaults(func=cmd_gui)
    return p


def _add_make_dataset(sub) -> None:
    from .data.labels import DYNAMICS, INSTRUMENT_PRESETS, RENDERED_DYNAMICS

    d = sub.add_parser("make-dataset", help="render or import notes and extract their frames")
    d.add_argument("--soundfont", type=Path, action="append",
                   help="render isolated notes from this SF2 "
                        "(repeat for several banks: one data set, each note keeps its bank)")
    d.add_argument("--training-banks", action="store_true",
                   help="render from the four banks allowed for training: "
                        "FluidR3_GM, the csound GM bank, TimGM6mb, GeneralUser GS")
    d.add_argument("--variations", type=_number(int, 0, 16, "0 to 16"), default=0,
                   help="augmented renderings per SoundFont note: vibrato, room, EQ, noise (0-16, default 0)")
    d.add_argument("--mixtures", type=_number(int, 0, 1_000_000, "0 to 1000000"), default=0,
                   help="mixtures of 2 and 3 notes per SoundFont (different instruments, now and then a chord of "
                        "one; each voice within 6 dB of the others), for models that hear several notes at once "
                        "(train --voices 3); default 0")
    d.add_argument("--only-mixtures", action="store_true",
                   help="the banks' mixtures without their single notes: train on it together with a single-note "
                        "data set (train --data NOTES MIXTURES)")
    d.add_argument("--kindred", action="store_true",
                   help="also render each instrument's kin from the same banks under its name, over the notes both "
                        "play: soprano, tenor and baritone sax as alto sax, piccolo as flute, cor anglais as oboe")
    d.add_argument("--frames-per-note", type=_number(int, 1, 1000, "1 to 1000"), default=24,
                   help="sustained frames kept per note (1-1000, default 24)")
    d.add_argument("--instruments", help="comma-separated instrument names (default: the preset's)")
    d.add_argument("--preset", choices=list(INSTRUMENT_PRESETS), default="default",
                   help="default: 14 orchestral instruments; paper: flute, violin, alto sax, trumpet, piano")
    d.add_argument("--dynamics", default=",".join(RENDERED_DYNAMICS),
                   help=f"dynamics to render, comma-separated from {', '.join(DYNAMICS)} (default %(default)s)")
    d.add_argument("--import-sol", type=Path, help="a folder of SOL / TinySOL-named audio files")
    d.add_argument("--import-nsynth", type=Path, help="an NSynth folder (examples.json + audio/)")
    d.add_argument("--csv", type=Path, help="a CSV: file[,note|midi][,dynamics][,instrument]")
    d.add_argument("--out", type=Path, required=True)
    d.set_defaults(func=cmd_make_dataset)


def _training_options(parser) -> None:
    add_training_options(parser)  # training.options: the torchrun worker of --nproc parses the same


def _add_training(sub) -> None:
    t = sub.add_parser("train", help="train a cross-modal model on a data set")
    add_train_arguments(t)
    t.add_argument("--nproc", type=_number(int, 1, 1024, "1 to 1024"), default=1,
                   help="training processes on this machine, run through torchrun with DistributedDataParallel "
                        "(gloo on the CPU, NCCL on CUDA; one per core or GPU at most; default 1: no process group)")
    t.set_defaults(func=cmd_train)

    lo = sub.add_parser("loso", help="leave-one-source-out: train without each sample set, evaluate on it")
    _training_options(lo)
    lo.add_argument("--out", type=Path, required=True, help="folder: one model per left-out source, and loso.json")
    lo.add_argument("--sources", nargs="+", help="only these sources (default: every source of the data)")
    lo.add_argument("--no-melodies", action="store_true", help="skip the melody transcription (note F1)")
    lo.add_argument("--rescore", action="store_true", help="evaluate finished sources' models again, without training")
    lo.set_defaults(func=cmd_loso)


def _add_evaluation(sub) -> None:
    mc = sub.add_parser("model-card", help="write a model's MODEL_CARD.md from evaluate --json and loso outputs")
    mc.add_argument("--model", required=True)
    mc.add_argument("--evaluation", type=Path, required=True, help="JSON from 'glissando evaluate --json'")
    mc.add_argument("--loso", type=Path, help="loso.json from 'glissando loso'")
    mc.add_argument("--perceptual", type=Path, help="JSON from 'bench/perceptual.py --json': the perceptual term, "
                    "trained with and without")
    mc.add_argument("--command", help="the command that rebuilds the model, for the card")
    mc.add_argument("-o", "--output", type=Path, required=True)
    mc.set_defaults(func=cmd_model_card)

    e = sub.add_parser("evaluate", help="the paper's metrics on a data set's held-out split")
    e.add_argument("--model", required=True)
    e.add_argument("--data", type=Path, required=True, nargs="+", help="data set folder(s), combined as in training")
    e.add_argument("--json", type=Path, help="also write the results here")
    e.add_argument("--no-baseline", action="store_true")
    e.add_argument("--notes", action="store_true",
                   help="instead: note-level transcription accuracy over every note of DATA "
                        "(for data the model never saw)")
    e.add_argument("--mixtures", action="store_true",
                   help="instead: the paper's Table 2 on the mixtures of DATA (strict and loose per family, and how "
                        "often every note of a mixture is found), for a model trained with --voices")
    e.add_argument("--source", help="with --notes or --mixtures: only the notes of this sample set")
    e.set_defaults(func=cmd_evaluate)


def _audio_out_options(parser) -> None:
    """The options of the verbs that render notes to a WAV (synth, render-midi)."""
    from .interpolation import MODES

    parser.add_argument("--interp", choices=MODES, default=DEFAULT_INTERPOLATION,
                        help="how the latent path moves between targets")
    parser.add_argument("--phase", choices=PHASE_METHODS, default=PHASE_METHODS[0],
                        help="phase reconstruction: fast (default) or the paper's Griffin-Lim, 30 iterations")
    parser.add_argument("--instrument", type=_instrument_name,
                        help="instrument to play, written with a space or an underscore (render-midi: for every track)")
    _wav_out_options(parser)


def _wav_out_options(parser) -> None:
    """The model and the WAV file of every verb that writes audio: rate, depth, level, path."""
    parser.add_argument("--model", help="model file or folder (default: the shipped model)")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--rate", type=int, choices=OUTPUT_RATES, default=OUTPUT_RATES[0],
                        help="output sample rate, Hz (default %(default)s)")
    parser.add_argument("--bits", choices=BIT_DEPTHS, default="16")
    level = parser.add_mutually_exclusive_group()
    # render.DEFAULT_PEAK_DB and render.PEAK_DB_RANGE (render is not imported before the inputs are checked)
    level.add_argument("--peak-db", type=_number(float, -60, 0, "a peak level in dBFS from -60 to 0"), default=-1.0,
                       help="normalize the file to this peak level, dBFS (default %(default)s)")
    level.add_argument("--no-normalize", action="store_true",
                       help="keep the model's own level, so that separate renders keep their relative loudness")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the WAV file to write")
    parser.add_argument("--force", action="store_true", help="replace an existing output file")


def _add_audio_out(sub) -> None:
    from .data.labels import DYNAMICS
    from .midi import MAX_NOTE_SECONDS, MAX_SECONDS, MIN_NOTE_SECONDS

    sy = sub.add_parser("synth", help="render notes written as NOTE:DYNAMICS:SECONDS to a WAV")
    sy.add_argument("--notes", required=True,
                    help='e.g. "C4:mf:1.0 E4:ff:0.5 R:0.25 G4:pp:1"; NOTE from C-1 to G9, DYNAMICS one of '
                         f'{" ".join(DYNAMICS)} (default mf), SECONDS from {MIN_NOTE_SECONDS:g} to '
                         f'{MAX_NOTE_SECONDS:g} for a note or a rest (default 0.5), an optional 4th field '
                         f'INSTRUMENT; a chord joins notes with + and each may name its instrument in front: '
                         f'"C4+E4+G4:mf:1" or "flute:C5+violin:E4:ff:2" (up to {MAX_CHORD_NOTES} notes); '
                         f'the notes end by {MAX_SECONDS:g} s')
    _audio_out_options(sy)
    sy.set_defaults(func=cmd_synth)

    rm = sub.add_parser("render-midi", help=f"render a MIDI file (up to {MAX_SECONDS:g} s long) to a WAV")
    rm.add_argument("input", type=Path)
    rm.add_argument("--strict", action="store_true", help="refuse notes outside the instrument's trained range")
    _audio_out_options(rm)
    rm.set_defaults(func=cmd_render_midi)


def _add_transcribe(sub) -> None:
    tr = sub.add_parser("transcribe", help="audio -> notes (JSON, CSV or MIDI)",
                        description="Audio -> notes. Silent or empty audio gives an empty note list and a "
                                    "warning. With several inputs, one that cannot be read or written is reported "
                                    "and the others are still transcribed; the exit status is then 2.")
    tr.add_argument("inputs", nargs="+")
    tr.add_argument("--model")
    tr.add_argument("--device", choices=DEVICES, default="auto")
    tr.add_argument("--format", choices=NOTE_FORMATS,
                    help="default: the output's suffix; several inputs: json")
    tr.add_argument("-o", "--output", help="output file (one input) or folder (several)")
    tr.add_argument("--force", action="store_true", help="replace existing output files")
    tr.set_defaults(func=cmd_transcribe)


def _add_transfer(sub) -> None:
    from .data.labels import DYNAMICS

    tf = sub.add_parser("transfer", help="timbre transfer: a recording played again by another instrument",
                        description="Timbre transfer through the shared latent space: the notes' pitch and timing "
                                    "come from IN, the timbre from the instrument named by --to. A source far from "
                                    "what the model learned (speech, noise) still transfers, with a warning.")
    tf.add_argument("input", type=Path, metavar="IN")
    tf.add_argument("--to", required=True, type=_instrument_name, metavar="INSTRUMENT",
                    help="the instrument to play it, written with a space or an underscore")
    tf.add_argument("--dynamics", choices=("keep", *DYNAMICS), default="keep",
                    help="keep each note's dynamic as heard (default) or play every note at one")
    tf.add_argument("--method", choices=TRANSFER_METHODS, default=TRANSFER_METHODS[0],
                    help="shift: move every frame's latent by the label change, keeping part of the source's "
                         "detail (default); notes: transcribe and render the notes again")
    tf.add_argument("--expression", type=_number(float, 0, 1, "a number from 0 to 1"), default=TRANSFER_EXPRESSION,
                    help="with shift: how much of the source's vibrato, envelope and room is kept inside notes, "
                         "0 to 1 (default %(default)s)")
    _wav_out_options(tf)
    tf.set_defaults(func=cmd_transfer)


def error_message(exc: GlissandoError) -> str:
    """The error's message, with the flag that answers it where there is one: core's errors describe
    the problem, only the command line knows its flags."""
    hint = next((h for kind, h in FLAG_HINTS if isinstance(exc, kind)), None)
    return one_line(f"{exc} ({hint})" if hint else exc)


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except GlissandoError as exc:
        print(f"glissando: {error_message(exc)}", file=sys.stderr)
        return 2
    except Cancelled:
        print("glissando: cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
