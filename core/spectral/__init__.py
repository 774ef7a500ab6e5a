"""Constant-Q NSGT analysis / synthesis and phase reconstruction."""
from .nsgt_frames import AUDIO_SUFFIXES, SAMPLE_RATE, NSGTransform, SpectralConfig, load_audio, to_mono_22k
from .phase import griffin_lim, spectral_convergence

__all__ = ["AUDIO_SUFFIXES", "SAMPLE_RATE", "SpectralConfig", "NSGTransform", "load_audio", "to_mono_22k",
           "griffin_lim", "spectral_convergence"]
