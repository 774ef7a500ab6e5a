"""The model file: one safetensors file holding weights and, in its metadata, everything needed to
use them (config, label vocabulary, normalization, spectral settings, instrument ranges, the
navigator's 3-D projection, training facts). Loading it never executes code."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import torch

from ..jobs import GlissandoError, atomic_write
from ..spectral import SpectralConfig
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


def read_metadata(path: Path) -> dict:
    """The model's metadata, checked, without reading the weights."""
    from safetensors import safe_open

    if not path.exists():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = (fh.metadata() or {}).get("glissando")
    except Exception as exc:  # safetensors raises its own error types for anything not a safetensors file
        raise ModelFileError(f"{path}: not a Glissando model (not a valid safetensors file: {exc})") from None
    if raw is None:
        raise ModelFileError(f"{path}: not a Glissando model (a safetensors file from another program)")
    try:
        meta = json.loads(raw)
    except ValueError:
        raise ModelFileError(f"{path}: the model's metadata is damaged") from None
    if meta.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: not a Glissando model (format {meta.get('format')!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: model format version {version} is newer than this Glissando reads "
                             f"(up to {FORMAT_VERSION}); update Glissando")
    return meta


def load_model(path: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> LoadedModel:
    from safetensors.torch import load_file

    path = resolve_model_path(path) if path is not None else default_model_path()
    meta = read_metadata(path)
    try:
        config = ModelConfig.from_dict(meta["config"])
        tensors = load_file(str(path), device="cpu")
        model = CrossModalVAE(config)
        state = {k[len("model."):]: v.float() if v.is_floating_point() else v
                 for k, v in tensors.items() if k.startswith("model.")}
        model.load_state_dict(state)
    except Exception as exc:
        raise ModelFileError(f"{path}: the model's weights do not match its config ({exc})") from None
    projection = {k[len("projection."):]: v for k, v in tensors.items() if k.startswith("projection.")}
    model.eval().to(device)
    return LoadedModel(path, model, SpectralConfig.from_dict(meta["spectral"]), meta.get("info", {}), projection)
