"""The model file: one safetensors file holding weights and, in its metadata, everything needed to
use them (config, label vocabulary, normalization, spectral settings, instrument ranges, the
navigator's 3-D projection, training facts). Loading it never executes code.

The header (``read_header``, ``read_facts``) is read without importing torch, so that the command line
can refuse a file from elsewhere, an instrument the model lacks or a note out of its range in a fraction
of a second instead of after torch's import and the model's load; torch and the network come in with
``read_metadata``'s config checks and ``load_model``.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from ..data.labels import DYNAMICS, FAMILIES, INSTRUMENTS, OCTAVES, PITCH_CLASSES, SILENT
from ..errors import one_line
from ..jobs import GlissandoError, atomic_write, check_input
from ..spectral import SpectralConfig
from ..units import note_name

if TYPE_CHECKING:
    import torch

    from .vae import CrossModalVAE, ModelConfig

FORMAT_NAME = "glissando-model"
FORMAT_VERSION = 1
MODEL_FILENAME = "model.safetensors"


class ModelFileError(GlissandoError):
    pass


def resolve_model_path(path: str | os.PathLike) -> Path:
    """A model is named by its file or by the folder holding model.safetensors."""
    p = Path(path)
    return p / MODEL_FILENAME if p.is_dir() else p


def default_model_path() -> Path:
    here = Path(__file__).resolve().parents[2] / "models" / "default" / MODEL_FILENAME
    if here.exists():  # source checkout / editable install
        return here
    try:  # installed wheel: models/ is package data of glissando.models
        from importlib.resources import files

        installed = Path(str(files("glissando.models") / "default" / MODEL_FILENAME))
    except (ImportError, OSError):
        return here
    return installed if installed.exists() else here


def save_model(path: str | os.PathLike, model: CrossModalVAE, spectral: SpectralConfig, info: dict,
               projection: Optional[dict[str, torch.Tensor]] = None, half: bool = True) -> Path:
    """Write the model file atomically. ``info`` holds instrument ranges, training facts, metrics."""
    from safetensors.torch import save_file

    path = resolve_model_path(path) if Path(path).suffix != ".safetensors" else Path(path)
    tensors = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu()
        if v.is_floating_point():
            v = v.half() if half and v.dim() > 0 else v.float()
        tensors[f"model.{k}"] = v
    for k, v in (projection or {}).items():
        tensors[f"projection.{k}"] = v.detach().cpu().contiguous()
    meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "config": model.config.to_dict(),
            "spectral": spectral.to_dict(), "info": info}
    with atomic_write(path) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata={"glissando": json.dumps(meta)})
    return path


class LoadedModel:
    def __init__(self, path: Path, model: CrossModalVAE, spectral: SpectralConfig, info: dict, projection: dict):
        self.path, self.model, self.spectral, self.info, self.projection = path, model, spectral, info, projection

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    @property
    def instrument_ranges(self) -> dict[str, list[int]]:
        return self.info.get("instrument_ranges", {})

    @property
    def missing_instruments(self) -> list[str]:
        """Instruments Glissando knows that this model was not trained on (an older vocabulary, or a
        model of a few instruments): said in the app's model panel and in refusals."""
        from ..data.labels import INSTRUMENTS

        return [i for i in INSTRUMENTS if i not in self.config.vocabulary.get("instrument", [])]


def read_header(path: Path) -> dict:
    """The model's metadata as far as it can be checked without torch: a safetensors file of Glissando's
    format and version, its label vocabulary and its facts (instrument ranges). ``read_metadata`` checks
    the rest (model and spectral settings)."""
    from safetensors import safe_open

    if not path.exists():
        raise ModelFileError(f"{path}: no such model file")
    try:
        check_input(path)  # a folder, a pipe (reading one would block) or no permission
    except GlissandoError as exc:
        raise ModelFileError(str(exc)) from None
    try:
        # numpy, not pt: opening the header with torch's framework would import torch for nothing.
        with safe_open(str(path), framework="numpy") as fh:
            raw = (fh.metadata() or {}).get("glissando")
    except Exception as exc:  # safetensors raises its own error types for anything not a safetensors file
        raise ModelFileError(f"{path}: not a Glissando model (not a valid safetensors file: {one_line(exc)[:200]})") \
            from None
    if raw is None:
        raise ModelFileError(f"{path}: not a Glissando model (a safetensors file from another program)")
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError):
        raise ModelFileError(f"{path}: the model's metadata is damaged (not JSON)") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: the model's metadata is damaged (not a JSON object)")
    if meta.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: not a Glissando model (format {one_line(repr(meta.get('format')))[:80]})")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{path}: the model's metadata is damaged (format version "
                             f"{one_line(repr(version))[:80]})")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: model format version {version} is newer than this Glissando reads "
                             f"(up to {FORMAT_VERSION}); update Glissando")
    config = meta.get("config")
    if not isinstance(config, dict):
        problem: Optional[str] = "no model settings"
    elif "vocabulary" not in config:
        problem = "no label vocabulary"
    else:
        problem = _vocabulary_problem(config["vocabulary"]) or _info_problem(meta.get("info", {}))
    if problem:
        raise ModelFileError(f"{path}: the model's metadata is damaged ({problem})")
    return meta


def read_metadata(path: Path) -> dict:
    """The model's metadata, checked, without reading the weights."""
    meta = read_header(path)
    problem = _config_problem(meta["config"]) or _spectral_problem(meta.get("spectral"), meta["config"])
    if problem:
        raise ModelFileError(f"{path}: the model's metadata is damaged ({problem})")
    return meta


class ModelFacts:
    """What a model file says about the notes it plays, from its header alone (no torch, no weights):
    the same answers as a loaded ``ModelSession``'s ``instruments``, ``dynamics``, ``instrument_range``
    and ``check_note``, for checking a command's input before the model is loaded."""

    def __init__(self, path: Path, vocabulary: dict[str, list[str]], instrument_ranges: dict):
        self.path = path
        self.vocabulary = vocabulary
        self.instrument_ranges = instrument_ranges

    @classmethod
    def from_header(cls, path: Path, meta: dict) -> "ModelFacts":
        return cls(path, meta["config"]["vocabulary"], meta.get("info", {}).get("instrument_ranges", {}))

    @property
    def instruments(self) -> list[str]:
        return [i for i in self.vocabulary["instrument"] if i != SILENT]

    @property
    def dynamics(self) -> list[str]:
        return [d for d in self.vocabulary["dynamics"] if d != SILENT]

    def instrument_range(self, instrument: str) -> tuple[int, int]:
        lo, hi = self.instrument_ranges.get(instrument, (21, 108))  # the piano's, as ModelSession assumes
        return int(lo), int(hi)

    def check_note(self, midi: int, dynamics: str, instrument: str) -> None:
        """A note this model cannot play, refused with the reason (a session's own check_note is this one)."""
        if instrument not in self.instruments:
            why = "was trained without" if instrument in INSTRUMENTS else "does not know the instrument"
            raise GlissandoError(f"{self.path}: the model {why} {instrument!r} "
                                 f"(it knows {', '.join(self.instruments)})")
        if dynamics not in self.dynamics:
            raise GlissandoError(f"{self.path}: the model does not know the dynamic {dynamics!r} "
                                 f"(it knows {', '.join(self.dynamics)})")
        lo, hi = self.instrument_range(instrument)
        if not lo <= midi <= hi:
            raise GlissandoError(f"{note_name(midi)} is outside the {instrument}'s trained range "
                                 f"{note_name(lo)}-{note_name(hi)} in {self.path}")


def read_facts(path: str | os.PathLike | None = None) -> ModelFacts:
    """The header's facts of the model at ``path`` (a file or its folder; None: the shipped default),
    checked as far as ``read_header`` goes, without importing torch."""
    resolved = resolve_model_path(path) if path is not None else default_model_path()
    return ModelFacts.from_header(resolved, read_header(resolved))


# Bounds of the model settings a file may hold (each int setting not named here: 1-65536): a damaged
# file must not make the loader build a network of billions of weights or thousands of layers.
_INT_LIMITS = {"n_bins": 4096, "latent_dim": 4096, "bins_per_octave": 192, "signal_layers": 16, "symbol_layers": 16,
               "conv_channels": 1024}


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: object) -> bool:
    return _is_int(v) or (isinstance(v, float) and math.isfinite(v))


def _config_problem(config: object) -> Optional[str]:
    """What is wrong with a file's model settings, None if nothing is."""
    from .vae import ARCHITECTURES, ModelConfig

    if not isinstance(config, dict):
        return "no model settings"
    fields = ModelConfig.__dataclass_fields__
    unknown = sorted(set(config) - set(fields))
    if unknown:
        return f"unknown model setting {one_line(unknown[0])[:40]!r}"
    defaults = ModelConfig()
    for name, value in config.items():
        default = getattr(defaults, name)
        if name == "vocabulary":
            problem = _vocabulary_problem(value)
            if problem:
                return problem
        elif name == "arch":
            if value not in ARCHITECTURES:
                return f"unknown architecture {one_line(repr(value))[:40]}"
        elif _is_int(default):
            if not _is_int(value) or not 1 <= value <= _INT_LIMITS.get(name, 65536):
                return f"{name} {one_line(repr(value))[:40]}"
        elif isinstance(default, float):
            if not _is_number(value) or value < 0 or (name == "dropout" and value >= 1):
                return f"{name} {one_line(repr(value))[:40]}"
    if "vocabulary" not in config:
        return "no label vocabulary"
    return None


def _vocabulary_problem(vocabulary: object) -> Optional[str]:
    if not isinstance(vocabulary, dict) or set(vocabulary) != set(FAMILIES):
        return "label vocabulary"
    allowed = {"pitch_class": PITCH_CLASSES, "octave": OCTAVES, "dynamics": DYNAMICS, "instrument": None}
    for family, labels in vocabulary.items():
        if not isinstance(labels, list) or len(labels) < 2 or labels[-1] != SILENT \
                or not all(isinstance(v, str) and 0 < len(v) <= 64 for v in labels) or len(set(labels)) != len(labels):
            return f"{family} labels"
        known = allowed[family]
        if known is not None and not set(labels[:-1]) <= set(known):
            return f"{family} labels"
    return None


def _spectral_problem(spectral: object, config: dict) -> Optional[str]:
    """What is wrong with a file's spectral settings (checked against its model settings), None if nothing."""
    from .vae import ModelConfig

    if not isinstance(spectral, dict):
        return "no spectral settings"
    cfg = {**SpectralConfig().to_dict(), "block": 32768, **spectral}  # files from before ``block`` was stored
    rate, fmin, fmax, bpo, floor, block = (cfg[k] for k in ("sample_rate", "fmin", "fmax", "bins_per_octave",
                                                            "log_floor", "block"))
    if not _is_int(rate) or not 8000 <= rate <= 192000:
        return "spectral sample_rate"
    if not (_is_number(fmin) and _is_number(fmax) and 1.0 <= fmin < fmax <= rate / 2):
        return "spectral fmin / fmax"
    if not _is_int(bpo) or not 1 <= bpo <= 192 or bpo != config.get("bins_per_octave", ModelConfig.bins_per_octave):
        return "spectral bins_per_octave"
    if not _is_number(floor) or not 0 < floor < 1:
        return "spectral log_floor"
    if not _is_int(block) or not 1024 <= block <= 1 << 20 or block % 2:
        return "spectral block"
    # nsgt's OctScale: one bin per step of 1/bpo octave from fmin to fmax, both included.
    if int(math.ceil(math.log2(fmax / fmin) * bpo)) + 1 != config.get("n_bins", ModelConfig.n_bins):
        return "the spectral settings do not give the model's n_bins"
    return None


def _info_problem(info: object) -> Optional[str]:
    """What is wrong with a file's facts: the instrument ranges must be notes of the octaves 0-8, the
    only ones labelled (data.labels.midi_to_labels)."""
    if not isinstance(info, dict):
        return "info"
    ranges = info.get("instrument_ranges", {})
    if not isinstance(ranges, dict):
        return "instrument ranges"
    for name, span in ranges.items():
        if not (isinstance(span, list) and len(span) == 2 and all(_is_int(v) for v in span)
                and 12 <= span[0] <= span[1] <= 119):
            return f"instrument range of {one_line(name)[:40]!r}"
    if not isinstance(info.get("training", {}), dict):
        return "training facts"
    return None


def _check_weights(path: Path, config: ModelConfig) -> CrossModalVAE:
    """The file's tensors are the ones its config builds, names and shapes (read from the header, and
    the network built without memory on torch's meta device): a config that does not match its weights,
    however large it says the network is, is refused before anything is allocated. Returns that network,
    whose weights the file's then replace."""
    import torch
    from safetensors import safe_open

    from .vae import CrossModalVAE

    try:
        with torch.device("meta"):
            skeleton = CrossModalVAE(config)
    except Exception as exc:  # settings in range that still do not build a network
        raise ModelFileError(f"{path}: the model's metadata is damaged ({one_line(exc)[:200]})") from None
    expected = {f"model.{k}": tuple(v.shape) for k, v in skeleton.state_dict().items()}
    with safe_open(str(path), framework="pt") as fh:
        found = {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys() if k.startswith("model.")}
    if found != expected:
        wrong = sorted(set(found) ^ set(expected)) or sorted(k for k in found if found[k] != expected[k])
        raise ModelFileError(f"{path}: the model's weights do not match its config ({wrong[0][len('model.'):]})")
    return skeleton


def load_model(path: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> LoadedModel:
    from safetensors.torch import load_file

    from .vae import ModelConfig

    path = resolve_model_path(path) if path is not None else default_model_path()
    meta = read_metadata(path)
    config = ModelConfig.from_dict(meta["config"])
    model = _check_weights(path, config)
    try:
        tensors = load_file(str(path), device="cpu")
        state = {k[len("model."):]: v.float() if v.is_floating_point() else v
                 for k, v in tensors.items() if k.startswith("model.")}
        # The meta-device network takes the file's tensors as they are: building it on the CPU would draw
        # random initial weights (a tenth of a load) only for them to be overwritten.
        model.load_state_dict(state, assign=True)
    except Exception as exc:
        raise ModelFileError(f"{path}: the model's weights do not match its config ({one_line(exc)[:200]})") from None
    projection = {k[len("projection."):]: v for k, v in tensors.items() if k.startswith("projection.")}
    model.eval().to(device)
    return LoadedModel(path, model, SpectralConfig.from_dict(meta["spectral"]), meta.get("info", {}), projection)
