"""A read-only summary of a loaded model: what it knows and how well it did."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel


class ModelSummary(QLabel):
    def __init__(self, loaded=None, parent=None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setMargin(8)
        self.setOpenExternalLinks(True)
        self.show_model(loaded)

    def show_model(self, loaded, device: str = "", weight_bytes: int = 0) -> None:
        if loaded is None:
            self.setText("No model is open.")
            return
        info = loaded.info
        training = info.get("training", {})
        ranges = info.get("instrument_ranges", {})
        history = training.get("history") or [{}]
        # Older models recorded held-out accuracy per epoch; newer ones validation accuracy, of the kept epoch.
        kept = next((r for r in reversed(history) if r.get("best")), history[-1])
        held = kept.get("validation_signal_to_symbol", kept.get("held_out_signal_to_symbol", {}))
        rows = "".join(f"<tr><td>{name.replace('_', ' ')}</td><td>{lo}–{hi}</td></tr>"
                       for name, (lo, hi) in sorted(ranges.items()))
        accs = ", ".join(f"{k.replace('_', ' ')} {v:.1%}" for k, v in held.items() if v is not None)
        where = f" on {device}" if device else ""
        memory = f"<p>Holds {weight_bytes / 2**20:.1f} MiB of weights on the {device.upper()}" \
                 f"{' (GPU memory)' if device == 'cuda' else ''}.</p>" if weight_bytes and device else ""
        card = loaded.path.parent / "MODEL_CARD.md"
        card_link = f"<p><a href='{card.as_uri()}'>Model card</a></p>" if card.exists() else ""
        self.setText(
            f"<h3>{loaded.path.parent.name}{where}</h3>"
            f"<p>{loaded.config.latent_dim}-d shared latent space, trained on {training.get('notes', '?')} notes "
            f"for {training.get('epochs', '?')} epochs ({training.get('device', '?')}).</p>"
            f"{memory}<p>Held-out signal→symbol accuracy: {accs or 'not recorded'}</p>"
            + (f"<p>Not trained on: {', '.join(i.replace('_', ' ') for i in loaded.missing_instruments)}</p>"
               if loaded.missing_instruments else "") +
            f"<table><tr><th align=left>instrument</th><th align=left>MIDI range</th></tr>{rows}</table>"
            f"{card_link}<p style='color:gray'>{loaded.path}</p>"
        )
