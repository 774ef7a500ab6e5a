"""Constant-Q NSGT analysis / synthesis and phase reconstruction."""
from .nsgt_frames import SpectralConfig, NSGTransform, load_audio, to_mono_22k
from .phase import griffin_lim, spectral_convergence

__all__ = ["SpectralConfig", "NSGTransform", "load_audio", "to_mono_22k", "griffin_lim", "spectral_convergence"]
