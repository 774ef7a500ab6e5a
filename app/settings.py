"""Settings kept across runs (QSettings), with the defaults a first run uses."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QStandardPaths

from glissando.core.errors import GlissandoError
from glissando.core.render import DEFAULT_PEAK_DB, RenderSettings, check_peak_db

DEFAULTS: dict[str, Any] = {
    "model/last": "",
    "model/device": "auto",
    "audio/device": -1,  # -1: the system's default output
    "audio/block": 256,  # samples per callback at the model's rate
    "audio/latency_blocks": 2,  # blocks queued ahead of the device
    "audio/held_loops": 1,  # held sounds settle into their reconstructed loop
    "render/interpolation": "linear",
    "render/phase": "fast",
    "files/recent": [],
    "files/last_folder": "",  # where the file dialogs open: the folder of the last file picked
    "midi/interpolation": "linear",  # the MIDI panel's own choice, apart from the trajectory's
    "export/normalize": 1,  # exported WAVs peak at export/peak_db; 0: the model's own level
    "export/peak_db": DEFAULT_PEAK_DB,
}
MAX_RECENT = 10


class Settings:
    """Typed access to QSettings. ``GLISSANDO_SETTINGS`` points at an INI file instead of the
    user's settings (tests and portable installs)."""

    def __init__(self):
        path = os.environ.get("GLISSANDO_SETTINGS")
        self.qsettings = QSettings(path, QSettings.Format.IniFormat) if path else QSettings("Glissando", "Glissando")

    def get(self, key: str) -> Any:
        default = DEFAULTS[key]
        value = self.qsettings.value(key, default)
        if isinstance(default, list):
            if value in (None, ""):
                return []
            return [str(v) for v in (value if isinstance(value, list) else [value])]
        if isinstance(default, (int, float)):
            try:
                return type(default)(value)
            except (TypeError, ValueError):
                return default
        return str(value) if value is not None else default

    def set(self, key: str, value: Any) -> None:
        self.qsettings.setValue(key, value)

    def add_recent(self, path: str) -> list[str]:
        recent = [p for p in self.get("files/recent") if p != path]
        recent.insert(0, path)
        del recent[MAX_RECENT:]
        self.set("files/recent", recent)
        return recent

    def sync(self) -> None:
        self.qsettings.sync()


def data_dir() -> Path:
    """Where the app keeps its own files (the autosaved trajectory); ``GLISSANDO_DATA_DIR`` overrides it."""
    override = os.environ.get("GLISSANDO_DATA_DIR")
    location = QStandardPaths.StandardLocation.AppDataLocation
    path = Path(override) if override else Path(QStandardPaths.writableLocation(location))
    path.mkdir(parents=True, exist_ok=True)
    return path


def export_peak_db(settings: Settings) -> float | None:
    """The peak level (dBFS) exported WAVs are normalized to; None: the model's own level. A stored value
    out of range (an edited INI file) falls back to the default rather than failing every export."""
    if not settings.get("export/normalize"):
        return None
    try:
        return check_peak_db(settings.get("export/peak_db"))
    except GlissandoError:
        return DEFAULT_PEAK_DB


def render_settings(settings: Settings, interpolation: str | None = None) -> RenderSettings:
    """How renders sound with the user's preferences; ``interpolation`` overrides the default glide."""
    return RenderSettings(interpolation=interpolation or settings.get("render/interpolation"),
                          phase=settings.get("render/phase"))
