"""Training loop, evaluation metrics and the PCA+MLP baseline."""
