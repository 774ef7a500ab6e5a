"""The cross-modal VAE and its file format."""
from .modelfile import ModelFileError, load_model, save_model
from .vae import CrossModalVAE, ModelConfig

__all__ = ["CrossModalVAE", "ModelConfig", "load_model", "save_model", "ModelFileError"]
