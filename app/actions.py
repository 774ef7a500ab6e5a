"""The menus, their shortcuts, and the file prompts behind them.

Each action asks the user what it needs (a file name, usually) and hands it to a feature's controller;
nothing here keeps state.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox

from glissando.core.playback import AudioUnavailable, output_devices
from glissando.core.spectral import AUDIO_SUFFIXES

from .dialogs.preferences_dialog import PreferencesDialog

if TYPE_CHECKING:
    from .main_window import MainWindow

AUDIO_FILTER = f"Audio ({' '.join('*' + s for s in sorted(AUDIO_SUFFIXES))});;All files (*)"
SHORTCUTS = (
    "A W S E D F T G Y H U J (on the keyboard widget): pick a pitch class\n"
    "Arrows, Page Up/Down (in the 3-D view): move the cursor\n"
    "Click / Shift+drag: move the cursor · Ctrl+click: add a keyframe there\n"
    "Ctrl+K add the cursor as a keyframe · Ctrl+Z / Ctrl+Shift+Z undo / redo\n"
    "F5 play the trajectory · F6 play the MIDI render · F7 play the cursor · Esc stop\n"
    "Ctrl+O open MIDI · Ctrl+Shift+O open audio · Ctrl+M open a model · Ctrl+L load a trajectory\n"
    "Ctrl+S save the trajectory · Ctrl+E export it as WAV · Ctrl+Shift+E export the MIDI render")
MIDI_SUFFIXES = {".mid", ".midi"}
MODEL_SUFFIXES = {".safetensors"}
TRAJECTORY_SUFFIXES = {".json"}
ABOUT = "Glissando translates between sound and musical symbols through one shared latent space."


def open_path(w: "MainWindow", path: Path) -> None:
    """Whatever the user dropped or picked from the recent files, by its kind."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.exists():
        w.notify(f"{path}: no such file")
    elif suffix in MIDI_SUFFIXES:
        w.open_midi(path)
    elif suffix in AUDIO_SUFFIXES:
        w.open_audio(path)
    elif suffix in MODEL_SUFFIXES:
        w.open_model(str(path))
    elif suffix in TRAJECTORY_SUFFIXES:
        w.trajectory.load(path)
    else:
        w.notify(f"{path}: not a file Glissando opens (audio: {', '.join(sorted(AUDIO_SUFFIXES))}; "
                    f"MIDI: .mid; models: .safetensors; trajectories: .json)")


def _picked(w: "MainWindow", path: str) -> Optional[Path]:
    if not path:
        return None
    w.settings.set("files/last_folder", str(Path(path).parent))
    return Path(path)


def _open(w: "MainWindow", title: str, filter_: str) -> Optional[Path]:
    path, _ = QFileDialog.getOpenFileName(w, title, w.settings.get("files/last_folder"), filter_)
    return _picked(w, path)


def _save(w: "MainWindow", title: str, name: str, filter_: str = "") -> Optional[Path]:
    start = Path(w.settings.get("files/last_folder") or ".") / name
    path, _ = QFileDialog.getSaveFileName(w, title, str(start), filter_)
    return _picked(w, path)


def ask_open_model(w: "MainWindow") -> None:
    if path := _open(w, "Open a Glissando model", "Glissando models (*.safetensors)"):
        w.open_model(str(path))


def ask_open_midi(w: "MainWindow") -> None:
    if path := _open(w, "Open a MIDI file", "MIDI files (*.mid *.midi)"):
        w.open_midi(path)


def ask_open_sound(w: "MainWindow") -> None:
    if path := _open(w, "Open a sound for sound design", AUDIO_FILTER):
        w.sound_design.open(path)


def ask_export_sound(w: "MainWindow", which: str) -> None:
    source = w.sound_design.source
    if source is not None and (path := _save(w, f"Export the {which} version as WAV",
                                             f"{source.stem}-{which.replace(' ', '-')}.wav", "WAV audio (*.wav)")):
        w.sound_design.export(which, path)


def ask_open_audio(w: "MainWindow") -> None:
    if path := _open(w, "Open audio to transcribe", AUDIO_FILTER):
        w.open_audio(path)


def ask_load_trajectory(w: "MainWindow") -> None:
    if path := _open(w, "Load a trajectory", "Trajectory (*.json)"):
        w.trajectory.load(path)


def ask_save_trajectory(w: "MainWindow") -> None:
    if w.trajectory.current() is None:
        w.notify("The trajectory is empty: nothing to save.")
        return
    path = _save(w, "Save the trajectory", "trajectory.json", "Trajectory (*.json)")
    if path and w.trajectory.save(path):
        w.statusBar().showMessage(f"Saved {path}", 5000)


def ask_export_trajectory(w: "MainWindow") -> None:
    if w.trajectory.current() is None:
        w.notify("The trajectory is empty: nothing to export.")
    elif path := _save(w, "Export the trajectory as WAV", "trajectory.wav", "WAV audio (*.wav)"):
        w.trajectory.export(path)


def ask_export_midi(w: "MainWindow") -> None:
    if not w.midi.notes:
        w.notify("Open a MIDI file first: nothing to export.")
        return
    stem = w.midi.path.stem if w.midi.path else "render"
    if path := _save(w, "Export the render as WAV", f"{stem}.wav", "WAV audio (*.wav)"):
        w.midi.export(path, w.midi_panel.chosen_interpolation())


def ask_export_transcription(w: "MainWindow", fmt: str) -> None:
    source = w.transcription.source
    if source is not None and (path := _save(w, f"Export the notes as {fmt.upper()}", f"{source.stem}.{fmt}")):
        w.transcription.export(path, fmt)


def show_preferences(w: "MainWindow") -> None:
    try:
        devices, notice = output_devices(), ""
    except AudioUnavailable as exc:
        devices, notice = [], str(exc)
    if PreferencesDialog(devices, notice, w.settings, w).exec():
        w.apply_preferences()


def _add(w: "MainWindow", menu: QMenu, text: str, slot: Callable, shortcut=None, tip: str = "") -> QAction:
    action = QAction(text, w)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
    action.triggered.connect(lambda: slot())
    menu.addAction(action)
    return action


def _standard_or(key: QKeySequence.StandardKey, *usual: str) -> list[QKeySequence]:
    """The platform's bindings for ``key``, plus the usual ones it lacks (Linux desktops leave Preferences unbound
    and Redo on one of Ctrl+Shift+Z / Ctrl+Y): each key sequence once, so no shortcut is ambiguous."""
    bindings = list(QKeySequence.keyBindings(key))
    for text in usual:
        if QKeySequence(text) not in bindings:
            bindings.append(QKeySequence(text))
    return bindings


def stop(w: "MainWindow") -> None:
    """Esc: silence, and cancel what is running (a MIDI render, a transcription)."""
    w.live.stop_sound()
    w.midi.cancel()
    w.transcription.cancel()
    w.sound_design.cancel()
    w.sound_design.stop()


def _fill_recent(w: "MainWindow", menu: QMenu) -> None:
    menu.clear()
    recent = w.settings.get("files/recent")
    for p in recent:
        menu.addAction(p, lambda p=p: open_path(w, Path(p)))
    if not recent:
        menu.addAction("(none yet)").setEnabled(False)


def build_menus(w: "MainWindow") -> None:
    bar = w.menuBar()
    f = bar.addMenu("&File")
    _add(w, f, "Open &Model…", lambda: ask_open_model(w), "Ctrl+M", "Open another model in a new session")
    _add(w, f, "&Open MIDI…", lambda: ask_open_midi(w), QKeySequence.StandardKey.Open, "Open a MIDI file to render")
    _add(w, f, "Open &Audio…", lambda: ask_open_audio(w), "Ctrl+Shift+O", "Open an audio file to transcribe")
    _add(w, f, "Open &Trajectory…", lambda: ask_load_trajectory(w), "Ctrl+L")
    _add(w, f, "Open Sound for Sound &Design…", lambda: ask_open_sound(w), "Ctrl+Shift+D",
         "Transfer a sound to another instrument, hear it A/B against the model's reconstruction")
    recent = f.addMenu("Recent Files")
    recent.aboutToShow.connect(lambda: _fill_recent(w, recent))
    f.addSeparator()
    _add(w, f, "&Save Trajectory…", lambda: ask_save_trajectory(w), QKeySequence.StandardKey.Save)
    _add(w, f, "&Export Trajectory WAV…", lambda: ask_export_trajectory(w), "Ctrl+E")
    _add(w, f, "Export MIDI Render WAV…", lambda: ask_export_midi(w), "Ctrl+Shift+E")
    f.addSeparator()
    _add(w, f, "&Quit", w.close, QKeySequence.StandardKey.Quit)

    e = bar.addMenu("&Edit")
    undo = w.trajectory.undo_stack.createUndoAction(w, "&Undo")
    undo.setShortcut(QKeySequence.StandardKey.Undo)
    redo = w.trajectory.undo_stack.createRedoAction(w, "&Redo")
    redo.setShortcuts(_standard_or(QKeySequence.StandardKey.Redo, "Ctrl+Shift+Z", "Ctrl+Y"))
    e.addAction(undo)
    e.addAction(redo)
    e.addSeparator()
    _add(w, e, "Add Cursor as &Keyframe", lambda: w.trajectory.add_latent(w.navigation.cursor_latent), "Ctrl+K")
    prefs = _add(w, e, "&Preferences…", lambda: show_preferences(w))
    prefs.setShortcuts(_standard_or(QKeySequence.StandardKey.Preferences, "Ctrl+,"))

    p = bar.addMenu("&Play")
    _add(w, p, "Play &Trajectory", w.trajectory.play, "F5")
    _add(w, p, "Play &MIDI Render", lambda: w.midi.play(w.midi_panel.chosen_interpolation()), "F6")
    _add(w, p, "Play &Cursor", w.navigation.play_cursor, "F7")
    _add(w, p, "&Stop", lambda: stop(w), "Esc", "Stop the sound and cancel a running render or transcription")

    v = bar.addMenu("&View")
    for dock in w.docks.values():
        v.addAction(dock.toggleViewAction())
    _add(w, v, "Reset 3-D View", w.navigator.reset_view, "Ctrl+0")

    h = bar.addMenu("&Help")
    _add(w, h, "&Keyboard Shortcuts", lambda: QMessageBox.information(w, "Keyboard shortcuts", SHORTCUTS), "F1")
    _add(w, h, "&About Glissando", lambda: QMessageBox.about(w, "Glissando", ABOUT))
