"""A model's card, written from the JSON that `glissando evaluate --json` and `glissando loso` print.

Every number in the card comes from those files or from the model file's own metadata, so running
the generator again on the same inputs gives the same card (a test checks the shipped one).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np

from ..data.labels import FAMILIES
from ..jobs import GlissandoError, atomic_write
from ..models.modelfile import read_metadata, resolve_model_path
from ..units import note_name

TARGETS = {"pitch": 0.99, "octave": 0.995, "instrument": 0.95, "dynamics": 0.85, "melody_f1": 0.95}


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _model_section(meta: dict, path: Path) -> list[str]:
    cfg, info = meta["config"], meta.get("info", {})
    training = info.get("training", {})
    vocab = cfg["vocabulary"]
    insts = [i for i in vocab["instrument"] if i != "silent"]
    enc = ("harmonic-stack convolutions along the constant-Q axis (7 harmonics, "
           f"{cfg.get('conv_channels', 16)} channels) and a {cfg['signal_hidden']}-unit head"
           if cfg.get("arch") == "conv" else f"the paper's MLP, {cfg['signal_layers']} x {cfg['signal_hidden']}")
    lines = [
        f"File: `{path.name}` ({path.stat().st_size / 1e6:.1f} MB); config, label vocabulary, normalization, "
        "instrument ranges and the navigator's 3-D projection are in its metadata.",
        "",
        "## Model",
        "",
        f"- Signal encoder: {enc} -> {cfg['latent_dim']}-d latent; signal decoder: MLP "
        f"{cfg['latent_dim']} -> {' -> '.join([str(cfg['signal_hidden'])] * cfg['signal_layers'])} -> {cfg['n_bins']}.",
        f"- Symbol VAE: MLP {cfg['symbol_layers']} x {cfg['symbol_hidden']} on one-hot pitch class, octave, "
        f"dynamics and instrument (each with a silent class); "
        f"cross term {cfg['cross_weight']:g} x KL(q_signal || q_symbol).",
        f"- Instruments ({len(insts)}): {', '.join(i.replace('_', ' ') for i in insts)}.",
        f"- Dynamics: {', '.join(d for d in vocab['dynamics'] if d != 'silent')}.",
        "",
        "## Data and training",
        "",
        f"- Sample sets: {', '.join(training.get('collections', [])) or '?'}; {training.get('notes', '?')} notes "
        f"({training.get('frames', '?')} frames), {training.get('train_frames', '?')} training frames.",
        f"- Split by (instrument, pitch): {_pct(training.get('held_out'))} of the groups for test, "
        f"{_pct(training.get('validation'))} for validation (which picks the epoch kept: "
        f"{training.get('best_epoch', '?')} of {training.get('epochs', '?')}); seed {training.get('split_seed', '?')}.",
        f"- Trained for {training.get('seconds', 0) / 60:.1f} min on {training.get('device', '?')} "
        f"({training.get('hardware', '?')}).",
    ]
    kin = training.get("kindred_presets")
    if kin:
        lines.insert(lines.index("## Data and training") + 3,
                     "- Kindred presets of the same banks heard under an instrument's name, over the notes both play: "
                     + "; ".join(f"{inst.replace('_', ' ')}: {', '.join(names)}" for inst, names in kin.items()) + ".")
    ranges = info.get("instrument_ranges", {})
    if ranges:
        spans = ", ".join(f"{k.replace('_', ' ')} {note_name(lo)}-{note_name(hi)}"
                          for k, (lo, hi) in sorted(ranges.items()))
        lines.append(f"- Ranges (C4 = MIDI 60, as the app names notes): {spans}.")
    return lines


def _evaluation_section(ev: dict) -> list[str]:
    lines = ["## On the test groups (instrument and pitch never trained)", "",
             "Frame-level, as in the paper (`glissando evaluate --json`).", "",
             "| | log-likelihood | Itakura-Saito |", "|---|---|---|"]
    for key in ("signal_to_signal", "symbol_to_signal"):
        if key in ev:
            lines.append(f"| {key.replace('_', ' ')} | {ev[key]['log_likelihood']:.1f} "
                         f"| {ev[key]['itakura_saito']:.3f} |")
    cols = [c for c in ("symbol_to_symbol", "signal_to_symbol", "baseline_signal_to_symbol") if c in ev]
    lines += ["", "| classification | " + " | ".join(c.replace("_to_", " -> ").replace("_", " ") for c in cols) + " |",
              "|---" * (len(cols) + 1) + "|"]
    for f in FAMILIES:
        lines.append(f"| {f.replace('_', ' ')} | " + " | ".join(_pct(ev[c].get(f)) for c in cols) + " |")
    lines += ["", "Baseline: the paper's PCA (latent size) + MLP, same split, epochs and frame augmentation."]
    return lines


def _level_note(augment: dict) -> str:
    share = augment.get("level_probability", 0)
    return f", level moved {augment['level_db'][0]:g} to +{augment['level_db'][1]:g} dB on {share:.0%} of the " \
        "frames (their dynamics label dropped)" if share else ""


def _loso_section(loso: dict) -> list[str]:
    sources = loso["sources"]
    lines = ["## Leave one source out: sounds the model never heard", "",
             "For each sample set, a model trained without it transcribes that set's notes (posteriors averaged "
             "over each note) and melodies rendered from it (mir_eval note F1, onsets within 50 ms). "
             f"Each model: `glissando loso`, encoder {loso.get('model_overrides', {}).get('arch', 'paper')}, "
             f"{loso['train_config'].get('epochs')} epochs, transposition "
             f"{loso['train_config'].get('augment_config', {}).get('shift_probability', 0):g} "
             f"(up to {loso['train_config'].get('augment_config', {}).get('shift_semitones', 0)} semitones), "
             f"dropout {loso.get('model_overrides', {}).get('dropout', 0):g}"
             f"{_level_note(loso['train_config'].get('augment_config', {}))}.", "",
             "| left out | notes | pitch | pitch class | octave | dynamics | instrument | melody F1 "
             "| melodies: instrument |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in sources.items():
        a = r["notes"]
        mel = r.get("melodies") or {}
        f1 = np.mean([m["f1"] for m in mel.values()]) if mel else None
        named = np.mean([m["instrument"] for m in mel.values()]) if mel else None
        f1_cell = "-" if f1 is None else f"{f1:.3f}"
        lines.append(f"| {name} | {a['notes']} | {_pct(a['pitch'])} | {_pct(a['pitch_class'])} | {_pct(a['octave'])} | "
                     f"{_pct(a['dynamics'])} | {_pct(a['instrument'])} | {f1_cell} | {_pct(named)} |")
    insts = sorted({i for r in sources.values() for i in r["notes"]["per_instrument"]})
    lines += ["", "Per instrument (pitch / instrument / dynamics right, per left-out source):", "",
              "| instrument | " + " | ".join(sources) + " |", "|---" * (len(sources) + 1) + "|"]
    for inst in insts:
        cells = []
        for r in sources.values():
            d = r["notes"]["per_instrument"].get(inst)
            cells.append("-" if d is None
                         else f"{_pct(d.get('pitch'))} / {_pct(d.get('instrument'))} / {_pct(d.get('dynamics'))}")
        lines.append(f"| {inst.replace('_', ' ')} | " + " | ".join(cells) + " |")
    lines += ["",
              "Confidence: share of notes the model marks at least 90% confident, and how many of those are right:",
              "",
              "| left out | " + " | ".join(FAMILIES) + " |", "|---" * (len(FAMILIES) + 1) + "|"]
    for name, r in sources.items():
        conf = r["notes"].get("confident", {})
        lines.append(f"| {name} | " + " | ".join(
            f"{_pct(conf[f]['share'])} marked, {_pct(conf[f]['right'])} right" if f in conf else "-"
            for f in FAMILIES) + " |")
    worst = {f: min((r["notes"][f] for r in sources.values() if r["notes"].get(f) is not None), default=None)
             for f in ("pitch", "octave", "instrument", "dynamics")}
    f1s = [np.mean([m["f1"] for m in r["melodies"].values()]) for r in sources.values() if r.get("melodies")]
    lines += ["", "Against the targets (worst left-out source):", ""]
    for f, v in worst.items():
        met = v is not None and v >= TARGETS[f]
        lines.append(f"- {f}: {_pct(v)} (target {_pct(TARGETS[f])}){'' if met else ' — not met'}")
    if f1s:
        met = min(f1s) >= TARGETS["melody_f1"]
        lines.append(f"- melody note F1: {min(f1s):.3f} (target {TARGETS['melody_f1']}){'' if met else ' — not met'}")
    return lines


def _perceptual_section(comparison: dict, weight_used: float) -> list[str]:
    """Seed 003's term, trained with and without: what it changed (``bench/perceptual.py --json``)."""
    ref, mod = comparison["reference"], comparison["model"]
    weight = mod.get("perceptual_weight", "?")
    lines = ["## The perceptual term, measured", "",
             "Seed paper 003 makes distances in the latent space follow perceived timbre distances; with no listener "
             "ratings here, timbre descriptors (centroid, bandwidth, flatness, rolloff, loudness) are the proxy "
             f"(`train --perceptual W`). Two models of the leave-one-source-out recipe, {ref.get('left_out', '?')} "
             f"left out, without the term and with weight {weight:g}; the rows are that set's notes and melodies, "
             "the model's space, and timbre transfer of melodies from that set (`bench/perceptual.py --json`, "
             "`bench/transfer.py --json`).", "",
             f"| | without | with weight {weight:g} |", "|---|---|---|"]

    def row(label: str, get, fmt) -> None:
        values = []
        for record in (ref, mod):
            try:
                values.append(fmt(get(record)))
            except (KeyError, TypeError):
                values.append("-")
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    for family in ("pitch", "dynamics", "instrument"):
        row(f"{family} right (notes)", lambda r, f=family: r["loso"]["notes"][f], _pct)
    row("melody note F1", lambda r: np.mean([m["f1"] for m in r["loso"]["melodies"].values()]), lambda v: f"{v:.3f}")
    row("neighbours' descriptor distance / random pairs' (lower: neighbours sound alike)",
        lambda r: r["neighbours"], lambda v: f"{v:.3f}")
    row("descriptor-map roughness (lower: smoother)", lambda r: r["roughness"], lambda v: f"{v:.4f}")
    methods = sorted({m for r in (ref, mod) for m in r.get("transfer", {})})
    for method in methods:
        for key, label in (("pitch", "pitch kept"), ("named_model", "named by the model"),
                           ("named_judge", "named by the MFCC judge"), ("descriptors", "descriptors in range")):
            row(f"transfer ({method}): {label}", lambda r, m=method, k=key: r["transfer"][m][k], _pct)
    if any("transfer_target_itself" in r for r in (ref, mod)):
        # The same judges on the target instrument playing the melody itself, from the same set.
        for key, label in (("model", "named by the model"), ("judge", "named by the MFCC judge"),
                           ("desc", "descriptors in range")):
            row(f"the target instrument itself: {label}", lambda r, k=key: r["transfer_target_itself"][k], _pct)
    lines += ["", f"The model above trains with weight {weight_used:g}."]
    return lines


def render_model_card(model: str | Path, evaluation: dict, loso: Optional[dict] = None,
                      command: Optional[str] = None, perceptual: Optional[dict] = None) -> str:
    path = resolve_model_path(model)
    meta = read_metadata(path)
    lines = [f"# Glissando model: {path.parent.name}", "",
             "One cross-modal VAE (a signal VAE on NSGT frames and a symbol VAE on labels sharing one latent space).",
             "This card is generated: `glissando model-card` from the JSON files beside it.", ""]
    lines += _model_section(meta, path)
    if command:
        lines += ["", "## Rebuild it", "", "```", command, "```"]
    lines += [""] + _evaluation_section(evaluation)
    if loso:
        lines += [""] + _loso_section(loso)
    if perceptual:
        used = meta.get("info", {}).get("training", {}).get("train_config", {}).get("perceptual_weight", 0.0)
        lines += [""] + _perceptual_section(perceptual, used)
    return "\n".join(lines) + "\n"


def write_model_card(model, evaluation_json: str | Path, loso_json: Optional[str | Path], out: str | Path,
                     command: Optional[str] = None, perceptual_json: Optional[str | Path] = None) -> Path:
    def read(path, key):
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise GlissandoError(f"{path}: cannot be read as JSON ({exc})") from None
        if key not in data:
            expected = {"signal_to_symbol": "an evaluation", "sources": "a leave-one-source-out run",
                        "reference": "bench/perceptual.py --json"}[key]
            raise GlissandoError(f"{path}: not the output the card needs (no {key!r}: expected the JSON results of "
                                 f"{expected})")
        return data

    evaluation = read(evaluation_json, "signal_to_symbol")
    loso = read(loso_json, "sources") if loso_json else None
    perceptual = read(perceptual_json, "reference") if perceptual_json else None
    text = render_model_card(model, evaluation, loso, command, perceptual)
    out = Path(out)
    with atomic_write(out) as tmp:
        Path(tmp).write_text(text)
    return out
