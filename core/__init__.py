"""Glissando's Qt-free engine: spectral analysis, note corpora, the cross-modal VAE and its training."""
