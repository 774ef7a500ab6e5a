"""The ``glissando`` command: the whole engine from a shell, and its test surface."""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import sys
from pathlib import Path
from typing import Any, Callable, NoReturn, Optional

from .errors import BadOutput, Cancelled, DeviceUnavailable, GlissandoError, OutputExists, UnknownFormat, one_line
from .jobs import atomic_write, check_input, check_output, check_output_folder

FRONTENDS = "glissando.frontends"  # the entry point group front ends register in (pyproject.toml)
# What the command line adds to core's errors: the flag that answers each.
FLAG_HINTS = ((OutputExists, "use --force to replace it"), (UnknownFormat, "choose one with --format"),
              (DeviceUnavailable, "use --device cpu or auto"))

# The choices the parser offers, written here rather than imported from the modules that define them
# (device, render, transcribe, models.vae), which import torch: the parser, and so every refusal of a
# bad argument, answers in a fraction of a second instead of after torch's 1-3 s import.
# tests/core/test_bad_input.py checks that each is the same as the module's own.
DEVICES = ("auto", "cpu", "cuda")  # device.DEVICES
ARCHITECTURES = ("paper", "conv")  # models.vae.ARCHITECTURES
OUTPUT_RATES = (22050, 44100)  # render.OUTPUT_RATES
PHASE_METHODS = ("fast", "gl30")  # render.PHASE_METHODS, RenderSettings.phase the first
BIT_DEPTHS = ("16", "24", "float")  # render.SUBTYPES
NOTE_FORMATS = ("json", "csv", "mid")  # transcribe.FORMATS
DEFAULT_INTERPOLATION = "linear"  # render.RenderSettings.interpolation


class _Parser(argparse.ArgumentParser):
    """argparse, its refusals on one line: the usage it prints before them is what --help shows."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {one_line(message)} (see {self.prog} --help)\n")


def _number(kind: Callable[[str], Any], low: float, high: float, what: str) -> Callable[[str], Any]:
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
                           frames_per_note=args.frames_per_note, warn=warn, progress=bar)
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
    from .training.train import TrainConfig

    cfg = TrainConfig(epochs=args.epochs, seed=args.seed, batch_size=args.batch_size, augment=not args.no_augment,
                      exclude_collections=list(getattr(args, "leave_out", None) or []))
    cfg.augment_config["shift_probability"] = args.transpose
    cfg.augment_config["shift_semitones"] = args.transpose_semitones
    if args.eq_db is not None:
        cfg.augment_config["eq_db"] = args.eq_db
        cfg.augment_config["tilt_db_per_octave"] = args.eq_db
    if args.beta_max is not None:
        cfg.beta_max = args.beta_max
    return cfg


def cmd_train(args) -> int:
    check_output_folder(args.out)
    from .training.train import train

    overrides = {}
    if args.hidden:
        overrides["signal_hidden"] = args.hidden
    if args.symbol_hidden:
        overrides["symbol_hidden"] = args.symbol_hidden
    overrides.update(arch=args.arch, dropout=args.dropout)
    cfg = _train_config(args)
    bar = _Bar("step")

    def on_epoch(epoch: int, record: dict) -> None:
        acc = record.get("validation_signal_to_symbol", {})
        accs = " ".join(f"{k}={v:.3f}" for k, v in acc.items() if v is not None)
        bar.write(f"epoch {epoch}: loss={record['loss']:.1f} rec_signal={record['rec_signal']:.1f} "
                  f"rec_symbol={record.get('rec_symbol', float('nan')):.3f} "
                  f"cross_kl={record.get('cross_kl', float('nan')):.2f} "
                  f"beta={record['beta']:.2f} | validation {accs}")

    try:
        path = train(args.data, args.out, cfg, overrides, device=args.device, resume=args.resume, progress=bar,
                     on_epoch=on_epoch, threads=args.threads)
    except KeyboardInterrupt:
        bar.close()
        print(f"\ninterrupted: checkpoint saved in {args.out}; continue with --resume", file=sys.stderr)
        return 130
    finally:
        bar.close()
    print(f"model written to {path}")
    return 0


def cmd_loso(args) -> int:
    check_output_folder(args.out)
    import numpy as np

    from .training.loso import leave_one_source_out

    overrides = {"arch": args.arch, "dropout": args.dropout}
    if args.hidden:
        overrides["signal_hidden"] = args.hidden
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

    path = write_model_card(args.model, args.evaluation, args.loso, args.output, command=args.command)
    print(f"model card written to {path}")
    return 0


def cmd_evaluate(args) -> int:
    if args.json:
        check_output(args.json, force=True)  # results are rewritten (make model-card does)
    from .models.modelfile import load_model
    from .training.evaluate import evaluate, format_table
    from .training.train import load_training_data

    loaded = load_model(args.model)
    dataset = load_training_data(args.data)
    if args.notes:
        from .training.evaluate import note_accuracy

        if args.source and args.source not in dataset.collections():
            raise GlissandoError(f"{dataset.path}: no notes from {args.source} "
                                 f"(it holds {', '.join(dataset.collections())})")
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


def _render_settings(args):
    from .render import RenderSettings

    return RenderSettings(interpolation=args.interp, phase=args.phase)


def _render_and_write(args, session, notes) -> None:
    from .render import render_notes, write_wav

    bar = _Bar("block")
    try:
        audio = render_notes(session, notes, _render_settings(args), progress=bar)
    finally:
        bar.close()
    path = write_wav(args.output, audio, session.spectral.sample_rate, args.rate, args.bits, force=args.force)
    print(f"{path}: {len(audio) / session.spectral.sample_rate:.2f} s written")


def parse_note_list(text: str, default_instrument: str = "") -> list:
    """'C4:mf:1.0 E4:ff:0.5 R:0.25' -> consecutive notes (R is a rest), every number checked; notes that
    name no instrument get ``default_instrument`` ("": the caller gives them one once a model is loaded)."""
    from .data.labels import DYNAMICS, INSTRUMENTS
    from .midi import MAX_NOTE_SECONDS, MAX_SECONDS, MIN_NOTE_SECONDS, Note
    from .units import parse_note

    notes, now = [], 0.0
    for token in text.split():
        parts = token.split(":")
        rest = parts[0].upper() == "R"
        try:
            if len(parts) > (2 if rest else 4):
                raise ValueError(token)
            seconds = float(parts[1 if rest else 2]) if len(parts) > (1 if rest else 2) else 0.5
            midi = 0 if rest else parse_note(parts[0])
        except ValueError:
            raise GlissandoError(f"--notes: cannot read {token!r} "
                                 "(write NOTE:DYNAMICS:SECONDS, e.g. C4:mf:1.0, or R:0.5 for a rest)") from None
        if not (math.isfinite(seconds) and MIN_NOTE_SECONDS <= seconds <= MAX_NOTE_SECONDS):
            raise GlissandoError(f"--notes: {token!r}: a note or rest lasts from {MIN_NOTE_SECONDS:g} to "
                                 f"{MAX_NOTE_SECONDS:g} s")
        if rest:
            now += seconds
            continue
        dynamics = parts[1] if len(parts) > 1 and parts[1] else "mf"
        instrument = parts[3] if len(parts) > 3 else default_instrument
        if not 0 <= midi <= 127:
            raise GlissandoError(f"--notes: {token!r} is outside MIDI's notes (C-1 to G9)")
        if dynamics not in DYNAMICS:
            raise GlissandoError(f"--notes: {token!r} has an unknown dynamic {dynamics!r} (use {', '.join(DYNAMICS)})")
        if len(parts) > 3 and instrument not in INSTRUMENTS:
            raise GlissandoError(f"--notes: {token!r} names an unknown instrument {instrument!r} "
                                 f"(Glissando knows {', '.join(INSTRUMENTS)})")
        notes.append(Note(now, now + seconds, midi, dynamics, instrument))
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
    session = _session(args)
    default = _default_instrument(session, args.instrument)
    for n in notes:
        n.instrument = n.instrument or default
    _render_and_write(args, session, notes)
    return 0


def cmd_render_midi(args) -> int:
    from .midi import check_note_times, notes_for_model, parse_midi, read_midi

    # The MIDI file (readable, pitched notes, a length a render can hold) and the output, before the model.
    parsed = parse_midi(args.input)
    check_note_times(read_midi(args.input, [], "piano", parsed=parsed), str(args.input))
    _check_instrument_name(args.instrument)
    check_output(args.output, args.force, inputs=[args.input])
    session = _session(args)
    _default_instrument(session, args.instrument)  # an unknown --instrument stops here
    ranges = {i: session.instrument_range(i) for i in session.instruments}
    notes = notes_for_model(args.input, session.instruments, session.dynamics, ranges, args.instrument, args.strict,
                            warn=_warn, parsed=parsed)
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
    parser.add_argument("--data", type=Path, required=True, nargs="+",
                        help="data set folder(s); several are combined (same spectral settings and dynamics)")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--arch", choices=ARCHITECTURES, default="conv",
                        help="signal encoder: conv (harmonic-stack convolutions, default) or the paper's MLP")
    parser.add_argument("--epochs", type=_number(int, 1, 100000, "1 to 100000"), default=60,
                        help="(1-100000, default 60)")
    parser.add_argument("--batch-size", type=_number(int, 1, 65536, "1 to 65536"), default=256,
                        help="(1-65536, default 256)")
    parser.add_argument("--hidden", type=_number(int, 1, 65536, "1 to 65536"),
                        help="signal VAE hidden units (1-65536; paper: 2000)")
    parser.add_argument("--beta-max", type=_number(float, 0, 100, "a number from 0 to 100"),
                        help="final weight of the KL terms after warm-up (0-100)")
    parser.add_argument("--seed", type=_number(int, 0, 2**32 - 1, "0 to 4294967295"), default=0)
    parser.add_argument("--no-augment", action="store_true", help="no frame augmentation during training")
    parser.add_argument("--transpose", type=_number(float, 0, 1, "a share from 0 to 1"), default=0.5,
                        help="share of training frames transposed by up to --transpose-semitones, "
                             "relabelled (0-1, default 0.5)")
    parser.add_argument("--transpose-semitones", type=_number(int, 0, 12, "0 to 12"), default=2,
                        help="largest transposition (0-12, default 2)")
    parser.add_argument("--eq-db", type=_number(float, 0, 24, "a number of dB from 0 to 24"),
                        help="frame augmentation: random EQ and tilt (dB/octave) up to this (0-24, default 1.5)")
    parser.add_argument("--dropout", type=_number(float, 0, 0.95, "a number from 0 to 0.95"), default=0.2,
                        help="dropout in the conv encoder's head (0-0.95, default 0.2)")


def _add_training(sub) -> None:
    t = sub.add_parser("train", help="train a cross-modal model on a data set")
    _training_options(t)
    t.add_argument("--out", type=Path, required=True, help="model folder (model.safetensors, checkpoint.pt)")
    t.add_argument("--symbol-hidden", type=_number(int, 1, 65536, "1 to 65536"),
                   help="symbol VAE hidden units (1-65536; paper: 800)")
    t.add_argument("--threads", type=_number(int, 1, 1024, "1 to 1024"), help="CPU threads for torch (1-1024)")
    t.add_argument("--leave-out", action="append", metavar="SOURCE", help="train without this sample set (repeatable)")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
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
    e.add_argument("--source", help="with --notes: only the notes of this sample set")
    e.set_defaults(func=cmd_evaluate)


def _audio_out_options(parser) -> None:
    from .interpolation import MODES

    parser.add_argument("--model", help="model file or folder (default: the shipped model)")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--interp", choices=MODES, default=DEFAULT_INTERPOLATION,
                        help="how the latent path moves between targets")
    parser.add_argument("--phase", choices=PHASE_METHODS, default=PHASE_METHODS[0],
                        help="phase reconstruction: fast (default) or the paper's Griffin-Lim, 30 iterations")
    parser.add_argument("--rate", type=int, choices=OUTPUT_RATES, default=OUTPUT_RATES[0],
                        help="output sample rate, Hz (default %(default)s)")
    parser.add_argument("--bits", choices=BIT_DEPTHS, default="16")
    parser.add_argument("--instrument", type=_instrument_name,
                        help="instrument to play, written with a space or an underscore (render-midi: for every track)")
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
                         f'INSTRUMENT; the notes end by {MAX_SECONDS:g} s')
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
