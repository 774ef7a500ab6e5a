"""The cross-modal VAE and its file format.

Names are resolved on first use: ``modelfile``'s header reader (what the CLI checks inputs against) must
import without torch, and importing it runs this file first.
"""
from typing import Any

__all__ = ["CrossModalVAE", "ModelConfig", "load_model", "save_model", "ModelFileError"]


def __getattr__(name: str) -> Any:
    if name in ("CrossModalVAE", "ModelConfig"):
        from . import vae

        return getattr(vae, name)
    if name in ("ModelFileError", "load_model", "save_model"):
        from . import modelfile

        return getattr(modelfile, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
