"""A read-only summary of the loaded model: what it knows and how well it did."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel


class ModelSummary(QLabel):
    def __init__(self, loaded, parent=None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setMargin(16)
        info = loaded.info
        training = info.get("training", {})
        ranges = info.get("instrument_ranges", {})
        history = training.get("history") or [{}]
        held = history[-1].get("held_out_signal_to_symbol", {})
        rows = "".join(f"<tr><td>{name}</td><td>{lo}–{hi}</td></tr>" for name, (lo, hi) in sorted(ranges.items()))
        accs = ", ".join(f"{k} {v:.1%}" for k, v in held.items() if v is not None)
        self.setText(
            f"<h2>{loaded.path.parent.name}</h2>"
            f"<p>{loaded.config.latent_dim}-d shared latent space, trained on {training.get('notes', '?')} notes "
            f"for {training.get('epochs', '?')} epochs ({training.get('device', '?')}).</p>"
            f"<p>Held-out signal→symbol accuracy: {accs or 'not recorded'}</p>"
            f"<table><tr><th align=left>instrument</th><th align=left>MIDI range</th></tr>{rows}</table>"
        )
