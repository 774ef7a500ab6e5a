"""The cross-modal VAE and its file format."""
from .vae import CrossModalVAE, ModelConfig
from .modelfile import load_model, save_model, ModelFileError

__all__ = ["CrossModalVAE", "ModelConfig", "load_model", "save_model", "ModelFileError"]
