"""The main window: wires the widgets to model sessions, jobs, playback, settings and autosave.

Everything that touches a model or a signal is a core/ call; this file decides when to call it,
on which thread, and what the user sees meanwhile.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QHBoxLayout, QLabel, QMainWindow, QMessageBox, QPushButton,
                               QSplitter, QVBoxLayout, QWidget)

from glissando.core.jobs import GlissandoError
from glissando.core.midi import Note, notes_for_model
from glissando.core.playback import (AudioUnavailable, EngineSettings, LiveEngine, MidiNotes, MidiUnavailable,
                                     input_ports, output_devices)
from glissando.core.render import RenderSettings, render_notes, render_trajectory, write_wav
from glissando.core.session import ModelSession
from glissando.core.spectral.overview import audio_overview
from glissando.core.trajectory import Keyframe, Trajectory, path_spectrogram, stroke_to_keyframes
from glissando.core.transcribe import transcribe, write_notes

from .dialogs.preferences_dialog import BLOCK_SIZES, LATENCY_BLOCKS, PreferencesDialog
from .settings import Settings, data_dir
from .widgets.decoded_spectrum import DecodedSpectrum
from .widgets.label_picker import LabelPicker
from .widgets.latent_navigator import LatentNavigator
from .widgets.midi_input_picker import MidiInputPicker
from .widgets.midi_panel import MidiPanel
from .widgets.model_panel import ModelPanel
from .widgets.posterior_bars import PosteriorBars
from .widgets.trajectory_editor import TrajectoryEditor
from .widgets.transcription_panel import TranscriptionPanel
from .workers import Job, JobRunner

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".aif", ".aiff", ".mp3"}
MIDI_SUFFIXES = {".mid", ".midi"}
MODEL_SUFFIXES = {".safetensors"}
TRAJECTORY_SUFFIXES = {".json"}
CURSOR_GLIDE = 0.03  # seconds
TRAJECTORY_RELEASE = 0.08  # seconds of fade after a trajectory played live
NOTE_SECONDS = 0.8
AUTOSAVE_DELAY_MS = 1500
TARGET_SAMPLES = 300


class MainWindow(QMainWindow):
    sessionReady = Signal()  # a model finished loading and became the current one
    audioRendered = Signal(object)  # (audio, sample_rate): what was just sent to the speakers
    jobFinished = Signal(str)  # name of a job that ended (done, failed or cancelled)
    message = Signal(str)  # every notice shown in the banner
    engineNotice = Signal(str)  # from the audio and MIDI threads; queued to the GUI thread

    def __init__(self, model: Optional[str] = None, settings: Optional[Settings] = None, stream_factory=None):
        super().__init__()
        self.settings = settings or Settings()
        self.runner = JobRunner(self)
        self.sessions: list[ModelSession] = []
        self.current: Optional[ModelSession] = None
        self.cursor_latent: Optional[np.ndarray] = None
        self.last_audio: Optional[np.ndarray] = None
        self.midi_notes: list[Note] = []
        self.midi_path: Optional[Path] = None
        self.midi_audio: Optional[np.ndarray] = None
        self.midi_job: Optional[Job] = None
        self.transcription_job: Optional[Job] = None
        self.transcription = None
        self.loading = 0
        self.setWindowTitle("Glissando")
        self.setAcceptDrops(True)

        self.audio_notice = ""
        self.stream_factory = stream_factory
        self.engine: Optional[LiveEngine] = None
        self.midi_in: Optional[MidiNotes] = None
        self.mod_origin: Optional[np.ndarray] = None  # the last picked label set's latent
        self.mod_direction: Optional[np.ndarray] = None  # where the mod wheel leads from there
        self._restored = False  # the autosaved trajectory is offered once, at the first model
        self.no_audio_device = False  # no PortAudio or no output device at start: do not try at every click
        if stream_factory is None:
            try:
                output_devices()
            except AudioUnavailable as exc:
                self.audio_notice, self.no_audio_device = str(exc), True

        self._build_widgets()
        self._build_menus()
        self._connect()
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setSingleShot(True)
        self.autosave_timer.setInterval(AUTOSAVE_DELAY_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self._restore_layout()
        self._set_enabled(False)
        self.engineNotice.connect(self._engine_notice)
        self.meter_timer = QTimer(self)  # playback state is read at a human rate, never signalled per block
        self.meter_timer.timeout.connect(self._show_audio_state)
        self.meter_timer.start(500)
        self.port_timer = QTimer(self)
        self.port_timer.timeout.connect(self._check_midi_port)
        self.port_timer.start(2000)
        self.open_model(model or self.settings.get("model/last") or None, remember=model is not None)

    # == construction ==================================================================================
    def _build_widgets(self) -> None:
        self.navigator = LatentNavigator()
        self.spectrum = DecodedSpectrum()
        self.bars = PosteriorBars()
        self.picker = LabelPicker()
        self.midi_input = MidiInputPicker()
        self.picker.layout().insertWidget(self.picker.layout().count() - 1, self.midi_input)
        import torch

        devices = ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        self.model_panel = ModelPanel(devices)
        self.model_panel.device.setCurrentText(self.settings.get("model/device"))
        self.editor = TrajectoryEditor()
        self.editor.interpolation.setCurrentText(self.settings.get("render/interpolation"))
        self.editor.undo_stack.clear()
        self.midi_panel = MidiPanel()
        self.midi_panel.interpolation.setCurrentText(self.settings.get("render/interpolation"))
        self.transcription_panel = TranscriptionPanel()

        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #5a2a1a; color: white; padding: 6px; border-radius: 3px")
        self.banner_close = QPushButton("✕")
        self.banner_close.setFixedWidth(28)
        banner_row = QHBoxLayout()
        banner_row.setContentsMargins(0, 0, 0, 0)
        banner_row.addWidget(self.banner, 1)
        banner_row.addWidget(self.banner_close)
        self.banner_box = QWidget()
        self.banner_box.setLayout(banner_row)
        self.banner_box.setVisible(False)
        self.banner_close.clicked.connect(lambda: self.banner_box.setVisible(False))

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.spectrum)
        right.addWidget(self.bars)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.navigator)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([560, 400])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.banner_box)
        layout.addWidget(split, 1)
        self.setCentralWidget(central)

        self.docks = {}
        for name, title, widget, area in (
            ("labels", "Labels", self.picker, Qt.DockWidgetArea.LeftDockWidgetArea),
            ("models", "Models", self.model_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
            ("trajectory", "Trajectory", self.editor, Qt.DockWidgetArea.BottomDockWidgetArea),
            ("midi", "MIDI", self.midi_panel, Qt.DockWidgetArea.BottomDockWidgetArea),
            ("transcription", "Transcription", self.transcription_panel, Qt.DockWidgetArea.BottomDockWidgetArea),
        ):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock_{name}")  # saveState needs names to restore the layout
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
            self.docks[name] = dock
        self.tabifyDockWidget(self.docks["trajectory"], self.docks["midi"])
        self.tabifyDockWidget(self.docks["midi"], self.docks["transcription"])
        self.tabifyDockWidget(self.docks["labels"], self.docks["models"])
        self.docks["trajectory"].raise_()
        self.docks["labels"].raise_()


        self.model_label = QLabel("Loading model…")
        self.audio_label = QLabel()
        self.statusBar().addPermanentWidget(self.model_label)
        self.statusBar().addPermanentWidget(self.audio_label)
        self._show_audio_state()

    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        f = bar.addMenu("&File")
        self._action(f, "Open &Model…", self.ask_open_model, "Ctrl+M", "Open another model in a new session")
        self._action(f, "&Open MIDI…", self.ask_open_midi, QKeySequence.StandardKey.Open, "Open a MIDI file to render")
        self._action(f, "Open &Audio…", self.ask_open_audio, "Ctrl+Shift+O", "Open an audio file to transcribe")
        self._action(f, "Open &Trajectory…", self.ask_load_trajectory, "Ctrl+L")
        self.recent_menu = f.addMenu("Recent Files")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        f.addSeparator()
        self._action(f, "&Save Trajectory…", self.ask_save_trajectory, QKeySequence.StandardKey.Save)
        self._action(f, "&Export Trajectory WAV…", self.ask_export_trajectory, "Ctrl+E")
        self._action(f, "Export MIDI Render WAV…", self.ask_export_midi, "Ctrl+Shift+E")
        f.addSeparator()
        self._action(f, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        e = bar.addMenu("&Edit")
        undo = self.editor.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.editor.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Shift+Z")])
        e.addAction(undo)
        e.addAction(redo)
        e.addSeparator()
        self._action(e, "Add Cursor as &Keyframe", self.add_cursor_keyframe, "Ctrl+K")
        self._action(e, "&Preferences…", self.show_preferences, QKeySequence.StandardKey.Preferences)

        p = bar.addMenu("&Play")
        self._action(p, "Play &Trajectory", self.play_trajectory, "F5")
        self._action(p, "Play &MIDI Render", self.play_midi, "F6")
        self._action(p, "Play &Cursor", self.play_cursor, "F7")
        self._action(p, "&Stop", self.stop_sound, "Esc")

        v = bar.addMenu("&View")
        for dock in self.docks.values():
            v.addAction(dock.toggleViewAction())
        self._action(v, "Reset 3-D View", self.navigator.reset_view, "Ctrl+0")

        h = bar.addMenu("&Help")
        self._action(h, "&Keyboard Shortcuts", self.show_shortcuts, "F1")
        self._action(h, "&About Glissando", lambda: QMessageBox.about(
            self, "Glissando", "Glissando translates between sound and musical symbols through one shared latent space."))

    def _connect(self) -> None:
        self.navigator.cursorRequested.connect(self.move_cursor_to)
        self.navigator.keyframeRequested.connect(self._keyframe_at)
        self.navigator.pathDrawn.connect(self._path_drawn)
        self.picker.picked.connect(self.pick_label)
        self.picker.addKeyframe.connect(self.add_label_keyframe)
        self.editor.changed.connect(self._trajectory_changed)
        self.editor.addCursorRequested.connect(self.add_cursor_keyframe)
        self.editor.setToCursorRequested.connect(self._set_keyframe_to_cursor)
        self.editor.selectionChanged.connect(self._keyframe_selected)
        self.editor.playRequested.connect(self.play_trajectory)
        self.editor.exportRequested.connect(self.ask_export_trajectory)
        self.editor.saveRequested.connect(self.ask_save_trajectory)
        self.editor.loadRequested.connect(self.ask_load_trajectory)
        self.midi_panel.openRequested.connect(self.ask_open_midi)
        self.midi_panel.renderRequested.connect(self.render_midi)
        self.midi_panel.cancelRequested.connect(lambda: self.midi_job and self.midi_job.cancel())
        self.midi_panel.playRequested.connect(self.play_midi)
        self.midi_panel.exportRequested.connect(self.ask_export_midi)
        self.midi_panel.instrumentChanged.connect(lambda: self.midi_path and self.open_midi(self.midi_path))
        self.transcription_panel.openRequested.connect(self.ask_open_audio)
        self.transcription_panel.cancelRequested.connect(lambda: self.transcription_job and self.transcription_job.cancel())
        self.transcription_panel.exportRequested.connect(self.ask_export_transcription)
        self.model_panel.openRequested.connect(self.ask_open_model)
        self.model_panel.closeRequested.connect(self.close_session)
        self.model_panel.currentChanged.connect(lambda i: 0 <= i < len(self.sessions) and self.use_session(self.sessions[i]))
        self.model_panel.deviceChanged.connect(lambda d: self.settings.set("model/device", d))
        self.midi_input.portChosen.connect(self.open_midi_port)
        self.midi_input.refreshRequested.connect(self._list_midi_ports)
        self.navigator.modDirectionRequested.connect(self._set_mod_direction)
        self.picker.instrument.currentTextChanged.connect(self._midi_instrument)

    # == notices =======================================================================================
    def notify(self, text: str, error: bool = True) -> None:
        """Shown in the window itself (never a blocking dialog), and logged."""
        (log.warning if error else log.info)(text)
        self.banner.setStyleSheet(("background: #5a2a1a;" if error else "background: #1a3a5a;")
                                  + " color: white; padding: 6px; border-radius: 3px")
        self.banner.setText(text)
        self.banner_box.setVisible(True)
        self.statusBar().showMessage(text, 10000)
        self.message.emit(text)

    def _set_enabled(self, on: bool) -> None:
        for w in (self.navigator, self.picker, self.editor, self.midi_panel, self.transcription_panel):
            w.setEnabled(on)

    def _show_audio_state(self) -> None:
        if self.engine is not None and self.engine.started:
            engine = self.engine
            rate = "" if engine.device_rate == engine.sample_rate else f" · resampled to {engine.device_rate} Hz"
            held = " · held: loop" if engine.loop_level >= 1.0 else ""
            self.audio_label.setText(f"Playback: on · {engine.underruns} underruns{rate}{held}")
            self.audio_label.setToolTip("Live audio: the cursor, picks, trajectories and MIDI input sound at once.\n"
                                        "held: loop: the held sound plays from the reconstruction an export uses")
        elif self.audio_notice:
            self.audio_label.setText("Playback: off")
            self.audio_label.setToolTip(self.audio_notice + "\nRendering and exports still work.")
        else:
            self.audio_label.setText("Playback: starting")

    def _engine_notice(self, text: str) -> None:
        self.notify(text, error="lost" in text or "outside" in text)

    def _start_engine(self, session: ModelSession) -> None:
        """One live engine per current model: it decodes with that model."""
        port = self.midi_in.port_name if self.midi_in is not None else None
        self._stop_engine()
        if self.no_audio_device:
            return
        # A hand-edited settings file must not keep the engine from starting: only the dialog's choices.
        block = self.settings.get("audio/block")
        latency = self.settings.get("audio/latency_blocks")
        engine_settings = EngineSettings(block=block if block in BLOCK_SIZES else 256,
                                         latency_blocks=latency if latency in LATENCY_BLOCKS else 2,
                                         held_loops=bool(self.settings.get("audio/held_loops")),
                                         interpolation=self.settings.get("render/interpolation"))
        engine = LiveEngine(session, engine_settings, stream_factory=self.stream_factory, device=self._audio_device(), on_notice=self.engineNotice.emit)
        try:
            engine.start()
        except AudioUnavailable as exc:
            self.audio_notice = str(exc)
            self._show_audio_state()
            return
        self.engine = engine
        self.audio_notice = ""
        if port:  # the keyboard keeps playing, now into this engine
            self.open_midi_port(port)
        self._show_audio_state()

    def _stop_engine(self) -> None:
        if self.midi_in is not None:
            self.midi_in.close()
            self.midi_in = None
        engine, self.engine = self.engine, None
        if engine is not None:
            engine.stop()

    def stop_sound(self) -> None:
        if self.engine is not None:
            self.engine.stop_clip()
            self.engine.release()

    # -- live MIDI -----------------------------------------------------------------------------------
    def _list_midi_ports(self) -> None:
        try:
            names, notice = input_ports(), ""
        except MidiUnavailable as exc:
            names, notice = [], str(exc) + ". Everything else works."
        current = self.midi_in.port_name if self.midi_in is not None else ""
        self.midi_input.set_ports(names, notice, current or "")

    def open_midi_port(self, name: str) -> None:
        if self.midi_in is not None:
            self.midi_in.close()
            self.midi_in = None
        if not name:
            return
        if self.engine is None or self.current is None:
            self.notify("Live MIDI needs audio output, which is off: " + (self.audio_notice or "no engine"))
            return
        notes = MidiNotes(self.engine, self.current, self.picker.current()[2], self.settings.get("render/interpolation"),
                          on_notice=self.engineNotice.emit)
        try:
            notes.open(name)
        except MidiUnavailable as exc:
            self.notify(str(exc))
            return
        if self.mod_direction is not None:
            notes.mod_direction = self.mod_direction
        self.midi_in = notes
        self.midi_input.status.setText(f"playing {notes.instrument.replace('_', ' ')} from {name}")

    def _check_midi_port(self) -> None:
        if self.midi_in is None or self.midi_in.port_name is None:
            return
        try:
            present = self.midi_in.port_name in input_ports()
        except MidiUnavailable:
            present = False
        if not present:
            name = self.midi_in.port_name
            self.midi_in.close()
            self.midi_in = None
            self.engine and self.engine.release()
            self._list_midi_ports()
            self.notify(f"MIDI port {name!r} went away; live MIDI stopped. Plug it back in and choose it again.")

    def _midi_instrument(self, instrument: str) -> None:
        if self.midi_in is not None and instrument:
            self.midi_in.instrument = instrument

    def _set_mod_direction(self) -> None:
        """The mod wheel moves from the last picked label set towards where the cursor is now."""
        if self.cursor_latent is None or self.mod_origin is None:
            self.notify("Pick a note first, then move the cursor where the mod wheel should lead.", error=False)
            return
        self.mod_direction = self.cursor_latent - self.mod_origin
        if self.midi_in is not None:
            self.midi_in.mod_direction = self.mod_direction
        self.notify("The mod wheel now moves from the picked note towards this point.", error=False)

    def _audio_device(self) -> Optional[int]:
        device = self.settings.get("audio/device")
        return None if device < 0 else device

    # == model sessions ================================================================================
    def open_model(self, path: Optional[str] = None, remember: bool = True) -> None:
        device = self.model_panel.device.currentText() or "auto"
        self.loading += 1
        self.model_label.setText("Loading model…")

        def loaded(session: ModelSession) -> None:
            self.sessions.append(session)
            if remember and path:
                self.settings.set("model/last", str(session.path))
                self.settings.add_recent(str(session.path))
            self.use_session(session)

        def failed(text: str) -> None:
            self.notify(text)
            if not self.sessions and path:  # the remembered model is gone or damaged: fall back to the default
                self.settings.set("model/last", "")
                self.open_model(None, remember=False)
            elif not self.sessions:
                self.model_label.setText("No model")

        def ended() -> None:
            self.loading -= 1
            self.jobFinished.emit("model")

        self.runner.start(Job(ModelSession, path, device, name="Loading the model", with_callbacks=False),
                          on_success=loaded, on_failure=failed, on_end=ended)

    def use_session(self, session: ModelSession) -> None:
        self.current = session
        index = self.sessions.index(session)
        self.model_panel.set_sessions([f"{s.path.parent.name} ({s.device.type})" for s in self.sessions], index)
        self.model_panel.summary.show_model(session.loaded, session.device.type)
        self.model_label.setText(f"{session.path.parent.name} on {session.device.type}")
        self.setWindowTitle(f"Glissando — {session.path.parent.name}")
        p = session.loaded.projection
        self.navigator.set_space(p["points"].float().numpy(), p["point_labels"].numpy(), session.vocabulary)
        self.bars.set_vocabulary(session.vocabulary)
        self.picker.set_model(session.instruments, session.dynamics, {i: session.instrument_range(i) for i in session.instruments})
        self.midi_panel.set_instruments(session.instruments)
        self._set_enabled(True)
        if self.engine is None or self.engine.session is not session:
            self._start_engine(session)
        self._list_midi_ports()
        self._adopt_trajectory(session)
        midi, dyn, inst = self.picker.current()
        self.set_cursor(session.label_latent(midi, dyn, inst) if self.picker.in_range() else session.silence_latent(), play=False)
        if self.midi_path is not None:
            self.open_midi(self.midi_path)
        self.sessionReady.emit()

    def close_session(self, index: int) -> None:
        if not 0 <= index < len(self.sessions):
            return
        if self.runner.busy and self.loading == 0:
            self.notify("Wait for the running render or transcription to end (or cancel it) before closing its model.")
            return
        session = self.sessions.pop(index)
        if session is self.current:
            self.current = None
        if self.engine is not None and self.engine.session is session:
            self._stop_engine()
        session.close()
        if self.sessions:
            self.use_session(self.sessions[min(index, len(self.sessions) - 1)])
        else:
            self.model_panel.set_sessions([], -1)
            self.model_panel.summary.show_model(None)
            self.model_label.setText("No model: open one from the Models panel")
            self._set_enabled(False)

    # == the cursor ====================================================================================
    def move_cursor_to(self, point_3d) -> None:
        if self.current is None or self.cursor_latent is None:
            return
        self.set_cursor(self.current.move_in_view(self.cursor_latent, point_3d))

    def set_cursor(self, latent: np.ndarray, play: bool = True) -> None:
        s = self.current
        self.cursor_latent = np.asarray(latent, dtype=np.float32)
        self.navigator.set_cursor(s.project_3d(self.cursor_latent[None])[0])
        self.spectrum.show_magnitudes(s.bin_frequencies(), s.decode_magnitudes(self.cursor_latent[None])[0])
        self.bars.show_probabilities({f: p[0] for f, p in s.decode_symbols(self.cursor_latent[None]).items()})
        if play and self.engine is not None:
            # Short glide: the sound follows the hand without zipper noise between mouse events.
            self.engine.set_target(self.cursor_latent, glide=CURSOR_GLIDE)

    def play_cursor(self) -> None:
        if self.cursor_latent is not None and self.engine is not None:
            self.engine.set_target(self.cursor_latent)

    def pick_label(self, midi: int, dynamics: str, instrument: str) -> None:
        s = self.current
        if s is None:
            return
        try:
            s.check_note(midi, dynamics, instrument)
        except GlissandoError as exc:
            self.notify(str(exc))
            return
        mean, std = s.label_distribution(midi, dynamics, instrument)
        self.mod_origin = mean
        if self.engine is not None:
            self.engine.release(glide=0.02)  # the picked note replaces whatever the cursor was holding
        samples = mean + std * np.random.default_rng(midi).standard_normal((TARGET_SAMPLES, len(mean))).astype(np.float32)
        self.navigator.show_target(s.project_3d(samples))
        self.set_cursor(mean, play=False)
        note = Note(0.0, NOTE_SECONDS, midi, dynamics, instrument)
        self.runner.start(Job(render_notes, s, [note], self.render_settings(), name="Playing the note"),
                          on_success=self.play, on_failure=self.notify)

    def render_settings(self, interpolation: Optional[str] = None) -> RenderSettings:
        return RenderSettings(interpolation=interpolation or self.settings.get("render/interpolation"),
                              phase=self.settings.get("render/phase"))

    # == playback ======================================================================================
    def play(self, audio: np.ndarray) -> None:
        """Rendered audio (a picked note, a MIDI render) through the live engine's output."""
        self.last_audio = np.asarray(audio, dtype=np.float32)
        rate = self.current.spectral.sample_rate if self.current else 22050
        self.audioRendered.emit((self.last_audio, rate))
        if self.engine is not None:
            self.engine.play_clip(self.last_audio)
        elif not self.no_audio_device:
            self.statusBar().showMessage(self.audio_notice or "Playback is off", 5000)

    # == trajectory ====================================================================================
    def add_cursor_keyframe(self) -> None:
        if self.cursor_latent is not None:
            self.editor.append(Keyframe(self.cursor_latent.copy(), 1.0))

    def add_label_keyframe(self, midi: int, dynamics: str, instrument: str) -> None:
        if self.current is None:
            return
        self.editor.append(Keyframe(self.current.label_latent(midi, dynamics, instrument).copy(), 1.0,
                                    {"midi": midi, "dynamics": dynamics, "instrument": instrument}))

    def _keyframe_at(self, point_3d) -> None:
        self.move_cursor_to(point_3d)
        self.add_cursor_keyframe()

    def _set_keyframe_to_cursor(self, index: int) -> None:
        if self.cursor_latent is not None and index >= 0:
            self.editor.replace_latent(index, Keyframe(self.cursor_latent.copy()))

    def _keyframe_selected(self, index: int) -> None:
        if 0 <= index < len(self.editor.document.keyframes) and self.current is not None:
            self.set_cursor(self.editor.document.keyframes[index].latent, play=False)

    def _path_drawn(self, times, points) -> None:
        if self.current is None or self.cursor_latent is None:
            return
        keyframes = stroke_to_keyframes(self.current, self.cursor_latent, times, points)
        self.editor.set_document(Trajectory(keyframes, self.editor.document.interpolation), "Draw path")
        self.navigator.draw_button.setChecked(False)
        self.notify(f"Drawn path: {len(keyframes)} keyframes, {sum(k.duration for k in keyframes):.2f} s. "
                    "Play it, retime it, or undo.", error=False)

    def _trajectory_changed(self) -> None:
        s = self.current
        doc = self.editor.document
        self.autosave_timer.start()
        if s is None or not doc.keyframes:
            self.navigator.show_path(None)
            self.editor.show_preview([], None, None)
            return
        _, path = doc.sample(50.0)
        self.navigator.show_path(s.project_3d(path), s.project_3d(np.stack([k.latent for k in doc.keyframes])))
        times, mags = path_spectrogram(s, doc)
        self.editor.show_preview(times, 20 * np.log10(np.maximum(mags, 1e-6)), s.bin_frequencies())

    def _adopt_trajectory(self, session: ModelSession) -> None:
        """At the first model: restore the autosaved trajectory. At a model with another latent size:
        start empty (the old keyframes mean nothing there) but keep the autosave file untouched."""
        doc = self.editor.document
        if doc.keyframes and len(doc.keyframes[0].latent) != session.config.latent_dim:
            self.editor.undo_stack.clear()
            self.editor._apply(Trajectory([], doc.interpolation))
            self.notify("This model's latent space has another size: the trajectory was set aside "
                        f"(it stays in {self.autosave_path()}).", error=False)
            return
        if not doc.keyframes and self.autosave_path().exists() and not self._restored:
            self._restored = True
            try:
                restored = Trajectory.load(self.autosave_path(), session.config.latent_dim)
            except GlissandoError as exc:
                self.notify(f"The autosaved trajectory could not be restored: {exc}")
                return
            if restored.keyframes:
                self.editor._apply(restored)
                self.notify(f"Restored your trajectory from the last session ({len(restored.keyframes)} keyframes).", error=False)
        self._trajectory_changed()

    def autosave_path(self) -> Path:
        return data_dir() / "autosave-trajectory.json"

    def autosave(self) -> None:
        try:
            self.editor.document.save(self.autosave_path(), str(self.current.path) if self.current else None)
        except GlissandoError as exc:
            self.statusBar().showMessage(f"Autosave failed: {exc}", 10000)

    def play_trajectory(self) -> None:
        """Live: the engine follows the path in real time, with the trajectory's interpolation."""
        doc = self.editor.current()
        if doc is None or self.current is None:
            self.notify("The trajectory is empty: pick labels or click in the navigator, then add keyframes.")
            return
        if self.engine is None:
            self.notify("Playback is off (" + (self.audio_notice or "no audio output") + "); Export WAV still works.")
            return
        times, latents = doc.timeline()
        self.engine.stop_clip()
        self.engine.play_path(times, latents, doc.interpolation, release_glide=TRAJECTORY_RELEASE)

    def export_trajectory(self, path: Path, bit_depth: str = "16", out_rate: int = 22050) -> Job:
        doc = self.editor.current()
        if doc is None:
            raise GlissandoError("the trajectory is empty: nothing to export")
        session = self.current
        times, latents = doc.timeline()
        settings = self.render_settings(doc.interpolation)

        def work(progress, cancel):
            audio = render_trajectory(session, times, latents, settings, progress, cancel)
            return write_wav(path, audio, session.spectral.sample_rate, out_rate, bit_depth, force=True)

        return self.runner.start(Job(work, name="Exporting the trajectory"),
                                 on_success=lambda p: self.notify(f"Wrote {p}", error=False), on_failure=self.notify,
                                 on_end=lambda: self.jobFinished.emit("export"))

    def ask_export_trajectory(self) -> None:
        if self.editor.current() is None:
            self.notify("The trajectory is empty: nothing to export.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export the trajectory as WAV", "trajectory.wav", "WAV audio (*.wav)")
        if path:
            self.export_trajectory(Path(path))

    def ask_save_trajectory(self) -> None:
        if self.editor.current() is None:
            self.notify("The trajectory is empty: nothing to save.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save the trajectory", "trajectory.json", "Trajectory (*.json)")
        if path:
            try:
                self.editor.document.save(path, str(self.current.path) if self.current else None)
                self.settings.add_recent(path)
                self.statusBar().showMessage(f"Saved {path}", 5000)
            except GlissandoError as exc:
                self.notify(str(exc))

    def ask_load_trajectory(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a trajectory", "", "Trajectory (*.json)")
        if path:
            self.load_trajectory(Path(path))

    def load_trajectory(self, path: Path) -> None:
        if self.current is None:
            return
        try:
            doc = Trajectory.load(path, self.current.config.latent_dim)
        except GlissandoError as exc:
            self.notify(str(exc))
            return
        self.editor.set_document(doc, f"Load {path.name}")
        self.settings.add_recent(str(path))

    # == MIDI ==========================================================================================
    def ask_open_midi(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a MIDI file", "", "MIDI files (*.mid *.midi)")
        if path:
            self.open_midi(Path(path))

    def open_midi(self, path: Path) -> bool:
        s = self.current
        if s is None:
            return False
        warnings: list[str] = []
        ranges = {i: s.instrument_range(i) for i in s.instruments}
        try:
            notes = notes_for_model(path, s.instruments, s.dynamics, ranges, self.midi_panel.chosen_instrument(),
                                    warn=warnings.append)
        except GlissandoError as exc:
            self.notify(str(exc))
            return False
        self.midi_path, self.midi_notes, self.midi_audio = Path(path), notes, None
        self.midi_panel.show_file(path, notes, warnings)
        self.midi_panel.set_state(has_notes=True, busy=False, rendered=False)
        self.docks["midi"].raise_()
        self.settings.add_recent(str(path))
        return True

    def render_midi(self, then=None) -> Optional[Job]:
        if not self.midi_notes or self.current is None or self.midi_job is not None:
            return None
        settings = self.render_settings(self.midi_panel.interpolation.currentText())
        self.midi_panel.set_state(has_notes=True, busy=True, rendered=False)

        def done(audio) -> None:
            self.midi_audio = audio
            self.statusBar().showMessage(f"Rendered {len(audio) / self.current.spectral.sample_rate:.1f} s", 5000)
            if then is not None:
                then(audio)

        def ended() -> None:
            self.midi_job = None
            self.midi_panel.set_state(has_notes=bool(self.midi_notes), busy=False, rendered=self.midi_audio is not None)
            self.jobFinished.emit("midi")

        self.midi_job = self.runner.start(
            Job(render_notes, self.current, list(self.midi_notes), settings, name="Rendering the MIDI file"),
            on_success=done, on_failure=self.notify, on_progress=lambda d, t, _: self.midi_panel.show_progress(d, t),
            on_cancel=lambda: self.statusBar().showMessage("Render cancelled", 5000), on_end=ended)
        return self.midi_job

    def play_midi(self) -> None:
        if self.midi_audio is not None:
            self.play(self.midi_audio)
        elif self.midi_notes:
            self.render_midi(then=self.play)

    def ask_export_midi(self) -> None:
        if not self.midi_notes:
            self.notify("Open a MIDI file first: nothing to export.")
            return
        stem = self.midi_path.stem if self.midi_path else "render"
        path, _ = QFileDialog.getSaveFileName(self, "Export the render as WAV", f"{stem}.wav", "WAV audio (*.wav)")
        if path:
            self.export_midi(Path(path))

    def export_midi(self, path: Path) -> None:
        rate = self.current.spectral.sample_rate

        def write(audio) -> None:
            try:
                write_wav(path, audio, rate, force=True)
                self.notify(f"Wrote {path}", error=False)
            except GlissandoError as exc:
                self.notify(str(exc))

        if self.midi_audio is not None:
            write(self.midi_audio)
        else:
            self.render_midi(then=write)

    # == transcription =================================================================================
    def ask_open_audio(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open audio to transcribe", "",
                                              "Audio (*.wav *.flac *.ogg *.aif *.aiff *.mp3);;All files (*)")
        if path:
            self.open_audio(Path(path))

    def open_audio(self, path: Path) -> Optional[Job]:
        s = self.current
        if s is None or self.transcription_job is not None:
            return None
        panel = self.transcription_panel

        def work(progress, cancel):
            overview = audio_overview(path, s.spectral, progress=progress, cancel=cancel)
            notes, post = transcribe(s, path, progress=progress, cancel=cancel)
            return overview, notes, post

        def done(result) -> None:
            overview, notes, post = result
            self.transcription = (path, notes)
            panel.show_result(path, overview, notes, post, s.vocabulary)
            self.settings.add_recent(str(path))
            if not notes:
                self.notify(f"{path}: no notes found (everything is below the level of a note).", error=False)

        def ended() -> None:
            self.transcription_job = None
            panel.set_busy(False)
            self.jobFinished.emit("transcription")

        panel.set_busy(True)
        self.docks["transcription"].raise_()
        self.transcription_job = self.runner.start(
            Job(work, name=f"Transcribing {path.name}"), on_success=done, on_failure=self.notify,
            on_progress=lambda d, t, _: panel.show_progress(d, t), on_end=ended)
        return self.transcription_job

    def ask_export_transcription(self, fmt: str) -> None:
        if not self.transcription:
            return
        source, notes = self.transcription
        path, _ = QFileDialog.getSaveFileName(self, f"Export the notes as {fmt.upper()}", f"{source.stem}.{fmt}")
        if path:
            try:
                write_notes(notes, path, fmt, force=True)
                self.notify(f"Wrote {path}", error=False)
            except GlissandoError as exc:
                self.notify(str(exc))

    # == files in general ==============================================================================
    def ask_open_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a Glissando model", "", "Glissando models (*.safetensors)")
        if path:
            self.open_model(path)

    def open_path(self, path: Path) -> None:
        """Whatever the user dropped or picked from the recent files, by its kind."""
        path = Path(path)
        suffix = path.suffix.lower()
        if not path.exists():
            self.notify(f"{path}: no such file")
        elif suffix in MIDI_SUFFIXES:
            self.open_midi(path)
        elif suffix in AUDIO_SUFFIXES:
            self.open_audio(path)
        elif suffix in MODEL_SUFFIXES:
            self.open_model(str(path))
        elif suffix in TRAJECTORY_SUFFIXES:
            self.load_trajectory(path)
        else:
            self.notify(f"{path}: not a file Glissando opens (audio: {', '.join(sorted(AUDIO_SUFFIXES))}; "
                        f"MIDI: .mid; models: .safetensors; trajectories: .json)")

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.get("files/recent")
        for p in recent:
            self.recent_menu.addAction(p, lambda p=p: self.open_path(Path(p)))
        if not recent:
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    def dragEnterEvent(self, ev):
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev):
        for url in ev.mimeData().urls():
            if url.isLocalFile():
                self.open_path(Path(url.toLocalFile()))
        ev.acceptProposedAction()

    # == preferences, layout, closing ==================================================================
    def show_preferences(self) -> None:
        try:
            devices, notice = output_devices(), ""
        except AudioUnavailable as exc:
            devices, notice = [], str(exc)
        dialog = PreferencesDialog(devices, notice, self.settings, self)
        if dialog.exec():
            self.apply_preferences()

    def apply_preferences(self) -> None:
        if self.current is not None:
            self._start_engine(self.current)  # reopens on the chosen device, with the chosen block and latency
            self.editor.interpolation.setCurrentText(self.settings.get("render/interpolation"))

    def show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts", (
            "A W S E D F T G Y H U J (on the keyboard widget): pick a pitch class\n"
            "Arrows, Page Up/Down (in the 3-D view): move the cursor\n"
            "Click / Shift+drag: move the cursor · Ctrl+click: add a keyframe there\n"
            "Ctrl+K add the cursor as a keyframe · Ctrl+Z / Ctrl+Shift+Z undo / redo\n"
            "F5 play the trajectory · F6 play the MIDI render · F7 play the cursor · Esc stop\n"
            "Ctrl+O open MIDI · Ctrl+Shift+O open audio · Ctrl+M open a model · Ctrl+L load a trajectory\n"
            "Ctrl+S save the trajectory · Ctrl+E export it as WAV · Ctrl+Shift+E export the MIDI render"))

    def _restore_layout(self) -> None:
        geometry = self.settings.qsettings.value("window/geometry")
        state = self.settings.qsettings.value("window/state")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1240, 820)
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        else:  # docks only take sizes once the window is laid out
            QTimer.singleShot(0, self, lambda: (
                self.resizeDocks([self.docks["labels"]], [290], Qt.Orientation.Horizontal),
                self.resizeDocks([self.docks["trajectory"]], [280], Qt.Orientation.Vertical)))

    def closeEvent(self, ev):
        self.autosave_timer.stop()
        if self.editor.document.keyframes:
            self.autosave()
        self.settings.qsettings.setValue("window/geometry", self.saveGeometry())
        self.settings.qsettings.setValue("window/state", self.saveState())
        self.settings.set("render/interpolation", self.editor.document.interpolation)
        self.settings.sync()
        if not self.runner.shutdown(10000):
            log.warning("a job did not stop within 10 s of closing")
        self.meter_timer.stop()
        self.port_timer.stop()
        self._stop_engine()
        for s in self.sessions:
            s.close()
        self.sessions = []
        super().closeEvent(ev)
