"""The main window: lays out the widgets and connects them to the features' controllers.

Each feature's state and logic lives in its controller (app/controllers/); the menus in actions.py.
What is left here is layout, the banner, drag and drop, and the window's own life cycle.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QMainWindow, QProgressBar, QSplitter, QVBoxLayout, QWidget

from glissando.core.data.labels import INSTRUMENTS, RENDERED_DYNAMICS
from glissando.core.device import available_devices
from glissando.core.playback import output_devices
from glissando.core.session import ModelSession
from glissando.core.trajectory import Trajectory

from . import actions
from .controllers.descriptors import DescriptorController
from .controllers.live_audio import LiveAudioController
from .controllers.midi_render import MidiRenderController
from .controllers.navigation import NavigationController
from .controllers.sessions import SessionsController
from .controllers.sound_design import SoundDesignController
from .controllers.sound_projection import SoundProjection
from .controllers.trajectory import TrajectoryController
from .controllers.transcription import TranscriptionController
from .docks import add_docks
from .settings import Settings
from .widgets.decoded_spectrum import DecodedSpectrum
from .widgets.descriptor_tools import DescriptorTools
from .widgets.label_picker import LabelPicker
from .widgets.latent_navigator import LatentNavigator
from .widgets.midi_input_picker import MidiInputPicker
from .widgets.midi_panel import MidiPanel
from .widgets.model_panel import ModelPanel
from .widgets.notice_banner import NoticeBanner
from .widgets.posterior_bars import PosteriorBars
from .widgets.sound_design_panel import SoundDesignPanel
from .widgets.trajectory_editor import TrajectoryEditor
from .widgets.transcription_panel import TranscriptionPanel
from .workers import JobRunner

log = logging.getLogger(__name__)

CLOSE_WAIT_MS = 10000


class MainWindow(QMainWindow):
    sessionReady = Signal()  # a model finished loading and became the current one
    jobFinished = Signal(str)  # kind of a job that ended: "model", "midi", "transcription", "export", "note"
    message = Signal(str)  # every notice shown in the banner

    def __init__(self, model: Optional[str] = None, settings: Optional[Settings] = None,
                 stream_factory: Optional[Callable] = None):
        super().__init__()
        self.settings = settings or Settings()
        self.runner = JobRunner(self)
        self.decoder = JobRunner(self, max_threads=1)  # interactive model calls, one at a time and in order
        self.live = LiveAudioController(self.settings, stream_factory, output_devices, self)
        self.sessions = SessionsController(self.runner, self.settings, self, other_runners=(self.decoder,))
        self.navigation = NavigationController(self.runner, self.decoder, self.live, self.settings, self)
        self.trajectory = TrajectoryController(self.runner, self.decoder, self.live, self.settings, self)
        self.midi = MidiRenderController(self.runner, self.settings, self)
        self.transcription = TranscriptionController(self.runner, self.settings, self)
        self.sound_design = SoundDesignController(self.runner, self.live, self.settings, self)
        self.descriptors = DescriptorController(self.runner, self)
        self.sound_projection = SoundProjection(self.sound_design.latent_at, self)
        devices = available_devices()
        self.setWindowTitle("Glissando")
        self.setAcceptDrops(True)
        self._build_widgets(devices)
        actions.build_menus(self)
        self._connect_controllers()
        self._connect_widgets()
        self._restore_layout()
        self._set_enabled(False)
        # The model loads on a worker from here, while the window shows. Not earlier: with the load's worker
        # running while the widgets were built, the app hung (GUI thread inside pyqtgraph's widget set-up,
        # the worker inside label_view's numpy) in 2 of 3 full test runs; building the widgets takes 0.3 s.
        device = self.settings.get("model/device")
        self.sessions.open(model or self.settings.get("model/last") or None, device if device in devices else "auto",
                           remember=model is not None)
        self._show_loading()
        self.live.report_state()
        # The MIDI ports are listed once the window shows, while the model loads (probing ALSA took 35 ms);
        # the picker's Refresh lists them again.
        QTimer.singleShot(0, self, self.live.list_ports)

    # == layout ========================================================================================
    def _build_widgets(self, devices: list[str]) -> None:
        self.navigator = LatentNavigator()
        self.spectrum = DecodedSpectrum()
        self.bars = PosteriorBars()
        self.picker = LabelPicker()
        self.midi_input = MidiInputPicker()
        self.picker.add_below(self.midi_input)
        self.descriptor_tools = DescriptorTools()
        self.picker.add_below(self.descriptor_tools)
        # Laid out complete before a model is in (disabled until then): the labels Glissando knows, replaced by
        # the model's own once it has loaded.
        self.picker.set_model(list(INSTRUMENTS), list(RENDERED_DYNAMICS),
                              {name: (i.low, i.high) for name, i in INSTRUMENTS.items()})
        self.model_panel = ModelPanel(devices)
        self.model_panel.set_device(self.settings.get("model/device"))
        self.editor = TrajectoryEditor(self.trajectory)
        self.midi_panel = MidiPanel()
        self.midi_panel.set_interpolation(self.settings.get("midi/interpolation"))
        self.transcription_panel = TranscriptionPanel()
        self.sound_design_panel = SoundDesignPanel()
        self.banner = NoticeBanner()

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
        layout.addWidget(self.banner)
        layout.addWidget(split, 1)
        self.setCentralWidget(central)

        left, bottom = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea
        self.docks = add_docks(self, [("labels", "Labels", self.picker, left),
                                      ("models", "Models", self.model_panel, left),
                                      ("sound_design", "Sound design", self.sound_design_panel, left),
                                      ("trajectory", "Trajectory", self.editor, bottom),
                                      ("midi", "MIDI", self.midi_panel, bottom),
                                      ("transcription", "Transcription", self.transcription_panel, bottom)])

        self.model_label = QLabel("Loading model…")
        self.load_bar = QProgressBar()  # busy while a model loads (a load reports no steps)
        self.load_bar.setRange(0, 0)
        self.load_bar.setMaximumWidth(120)
        self.load_bar.setMaximumHeight(14)
        self.audio_label = QLabel()
        self.statusBar().addPermanentWidget(self.load_bar)
        self.statusBar().addPermanentWidget(self.model_label)
        self.statusBar().addPermanentWidget(self.audio_label)

    def _set_enabled(self, on: bool) -> None:
        for w in (self.navigator, self.picker, self.editor, self.midi_panel, self.transcription_panel,
                  self.sound_design_panel):
            w.setEnabled(on)

    # == wiring ========================================================================================
    def _connect_controllers(self) -> None:
        for controller in (self.live, self.sessions, self.navigation, self.trajectory, self.midi, self.transcription,
                           self.sound_design, self.descriptors):
            controller.notice.connect(self.notify)
        self.runner.jobEnded.connect(self.jobFinished)
        self.sessions.currentChanged.connect(self._use_session)
        self.sessions.sessionsChanged.connect(self._show_sessions)
        self.live.stateChanged.connect(lambda text, tip: (self.audio_label.setText(text),
                                                          self.audio_label.setToolTip(tip)))
        self.live.portsListed.connect(self.midi_input.set_ports)
        self.live.midiStatus.connect(self.midi_input.show_status)
        nav = self.navigation
        nav.cursorMoved.connect(self.navigator.set_cursor)
        nav.cursorMoved.connect(lambda _point: self.descriptors.set_cursor(nav.cursor_latent))
        self.descriptors.cloudDescribed.connect(self.navigator.show_descriptors)
        self.descriptors.mapReady.connect(self.navigator.show_map)
        nav.cursorDecoded.connect(lambda freqs, mags, probs: (self.spectrum.show_magnitudes(freqs, mags),
                                                              self.bars.show_probabilities(probs)))
        nav.targetShown.connect(self.navigator.show_target)
        nav.viewChanged.connect(self._show_view)
        nav.noteRendered.connect(self.live.play_rendered)
        self.trajectory.pathShown.connect(self.navigator.show_path)
        self.midi.fileOpened.connect(lambda path, notes, warnings: (self.midi_panel.show_file(path, notes, warnings),
                                                                    self.docks["midi"].raise_()))
        self.midi.stateChanged.connect(lambda has, busy, done: self.midi_panel.set_state(has, busy, done))
        self.midi.progress.connect(self.midi_panel.show_progress)
        self.midi.rendered.connect(self.live.play_rendered)
        self.transcription.busyChanged.connect(self.transcription_panel.set_busy)
        self.transcription.progress.connect(self.transcription_panel.show_progress)
        self.transcription.transcribed.connect(self.transcription_panel.show_result)
        sd, sdp = self.sound_design, self.sound_design_panel
        sd.busyChanged.connect(sdp.set_busy)
        sd.progress.connect(sdp.show_progress)
        sd.opened.connect(lambda path, duration, notes: (sdp.show_file(path, duration, notes),
                                                         self.docks["sound_design"].raise_()))
        sd.versionsChanged.connect(sdp.show_versions)
        sd.transferred.connect(sdp.show_transfer)
        sd.playingChanged.connect(sdp.set_playing)
        sd.soundPathReady.connect(self.sound_projection.set_path)
        sd.playingChanged.connect(self.sound_projection.set_playing)
        sd.playbackPosition.connect(self.sound_projection.follow)
        self.sound_projection.pathProjected.connect(self.navigator.show_sound_path)
        self.sound_projection.markerMoved.connect(self.navigator.show_sound_marker)
        sd.keyframesReady.connect(lambda keyframes: self.trajectory.edit(
            Trajectory(keyframes, self.trajectory.document.interpolation), f"Keyframes from {sd.source.name}"))

    def _connect_widgets(self) -> None:
        nav, traj = self.navigation, self.trajectory
        self.navigator.cursorRequested.connect(nav.move_to)
        self.navigator.keyframeRequested.connect(lambda point: (nav.move_to(point), traj.add_latent(nav.cursor_latent)))
        self.navigator.pathDrawn.connect(lambda times, points: nav.cursor_latent is not None
                                         and traj.from_stroke(nav.cursor_latent, times, points))
        self.navigator.modDirectionRequested.connect(nav.set_mod_direction)
        self.navigator.viewRequested.connect(nav.use_view)
        self.navigator.colourByDescriptor.connect(self.descriptors.set_colouring)
        self.descriptor_tools.mapToggled.connect(self.descriptors.set_map)
        self.descriptor_tools.moveRequested.connect(nav.step)
        self.picker.picked.connect(nav.pick)
        self.picker.chordAddRequested.connect(nav.add_to_chord)
        self.picker.chordRemoveRequested.connect(nav.remove_from_chord)
        self.picker.chordClearRequested.connect(nav.clear_chord)
        self.picker.chordPlayRequested.connect(nav.play_chord)
        nav.chordChanged.connect(self.picker.show_chord)
        self.picker.addKeyframe.connect(traj.add_label)
        self.picker.instrumentChanged.connect(self.live.set_instrument)
        self.editor.addCursorRequested.connect(lambda: traj.add_latent(nav.cursor_latent))
        self.editor.setToCursorRequested.connect(lambda i: nav.cursor_latent is not None
                                                 and traj.replace_latent(i, nav.cursor_latent))
        self.editor.selectionChanged.connect(self._keyframe_selected)
        self.editor.playRequested.connect(traj.play)
        self.editor.exportRequested.connect(lambda: actions.ask_export_trajectory(self))
        self.editor.saveRequested.connect(lambda: actions.ask_save_trajectory(self))
        self.editor.loadRequested.connect(lambda: actions.ask_load_trajectory(self))
        self.midi_panel.openRequested.connect(lambda: actions.ask_open_midi(self))
        chosen = self.midi_panel.chosen_interpolation
        self.midi_panel.renderRequested.connect(lambda: self.midi.render(interpolation=chosen()))
        self.midi_panel.cancelRequested.connect(self.midi.cancel)
        self.midi_panel.playRequested.connect(lambda: self.midi.play(chosen()))
        self.midi_panel.exportRequested.connect(lambda: actions.ask_export_midi(self))
        self.midi_panel.instrumentChanged.connect(lambda: self.midi.set_instrument(self.midi_panel.chosen_instrument()))
        self.transcription_panel.openRequested.connect(lambda: actions.ask_open_audio(self))
        self.transcription_panel.cancelRequested.connect(self.transcription.cancel)
        self.transcription_panel.exportRequested.connect(lambda fmt: actions.ask_export_transcription(self, fmt))
        sd, sdp = self.sound_design, self.sound_design_panel
        sdp.openRequested.connect(lambda: actions.ask_open_sound(self))
        sdp.fileDropped.connect(sd.open)
        sdp.transferRequested.connect(sd.transfer)
        sdp.cancelRequested.connect(sd.cancel)
        sdp.versionChosen.connect(sd.select)
        sdp.playRequested.connect(sd.play)
        sdp.stopRequested.connect(sd.stop)
        sdp.exportRequested.connect(lambda which: actions.ask_export_sound(self, which))
        sdp.keyframesRequested.connect(sd.keyframes_from_path)
        self.model_panel.openRequested.connect(lambda: actions.ask_open_model(self))
        self.model_panel.closeRequested.connect(self.sessions.close_session)
        self.model_panel.currentChanged.connect(self.sessions.use_index)
        self.model_panel.deviceChanged.connect(lambda d: self.settings.set("model/device", d))
        self.midi_input.portChosen.connect(self.live.open_port)
        self.midi_input.refreshRequested.connect(self.live.list_ports)

    # == what the user sees ============================================================================
    def notify(self, text: str, error: bool = True) -> None:
        """Shown in the window itself (never a blocking dialog), and logged."""
        (log.warning if error else log.info)(text)
        self.banner.show_notice(text, error)
        self.statusBar().showMessage(text, 10000)
        self.message.emit(text)

    def _show_loading(self) -> None:
        self.load_bar.setVisible(self.sessions.loading > 0)

    def _show_sessions(self) -> None:
        self._show_loading()
        sessions = self.sessions
        index = sessions.sessions.index(sessions.current) if sessions.current in sessions.sessions else -1
        self.model_panel.set_sessions(sessions.titles(), index)
        if sessions.loading:
            return
        current = sessions.current
        self.model_label.setText(f"{current.path.parent.name} on {current.device.type}" if current
                                 else "No model: open one from the Models panel")

    def _use_session(self, session: Optional[ModelSession]) -> None:
        if self.live.session is not None and self.live.session is not session:
            self.live.stop()  # the engine (or one starting) lets go of a model before it closes
        for controller in (self.midi, self.transcription, self.sound_design, self.descriptors,
                           self.sound_projection):
            controller.set_session(session)
        self._set_enabled(session is not None)
        self._show_sessions()
        if session is None:
            self.navigation.set_session(None)
            self.model_panel.show_model(None)
            return
        self.model_panel.show_model(session.loaded, session.device.type, session.weight_bytes)
        self.model_label.setText(f"{session.path.parent.name} on {session.device.type}")
        self.setWindowTitle(f"Glissando — {session.path.parent.name}")
        self.navigator.set_views({name: view.title for name, view in session.views.items()}, session.view.name)
        self._show_view(session.view)
        self.bars.set_vocabulary(session.vocabulary)
        self.picker.set_model(session.instruments, session.dynamics,
                              {i: session.instrument_range(i) for i in session.instruments})
        self.midi_panel.set_instruments(session.instruments)
        self.sound_design_panel.set_model(session.instruments, session.dynamics)
        self.live.set_instrument(self.picker.current()[2])
        if self.live.session is None:
            self.live.start_for(session)  # on a worker: the window is usable while audio starts
        self.trajectory.set_session(session)
        self.navigation.set_session(session, self.picker.current() if self.picker.in_range() else None)
        self.sessionReady.emit()

    def _show_view(self, view) -> None:
        session = self.sessions.current
        if session is not None:
            self.navigator.set_space(view.points, view.point_labels, session.vocabulary, view.camera)
            self.trajectory.refresh()
            self.descriptors.view_changed()
            self.sound_projection.refresh()

    def _keyframe_selected(self, index: int) -> None:
        keyframes = self.trajectory.document.keyframes
        if 0 <= index < len(keyframes):
            self.navigation.set_cursor(keyframes[index].latent, play=False)

    # == opening things ================================================================================
    def open_model(self, path: Optional[str] = None, remember: bool = True) -> None:
        self.model_label.setText("Loading model…")
        self.sessions.open(path, self.model_panel.chosen_device(), remember)
        self._show_loading()

    def open_midi(self, path: Path) -> bool:
        return self.midi.open(path)

    def open_audio(self, path: Path) -> None:
        if self.transcription.open(path) is not None:
            self.docks["transcription"].raise_()

    def dragEnterEvent(self, ev):
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev):
        for url in ev.mimeData().urls():
            if url.isLocalFile():
                actions.open_path(self, Path(url.toLocalFile()))
        ev.acceptProposedAction()

    # == preferences, layout, closing ==================================================================
    def apply_preferences(self) -> None:
        if self.sessions.current is not None:
            self.live.start_for(self.sessions.current)  # reopens on the chosen device, block and latency
            self.trajectory.set_interpolation(self.settings.get("render/interpolation"))

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
        self.trajectory.autosave_timer.stop()
        if self.trajectory.document.keyframes:
            self.trajectory.autosave()
        self.settings.qsettings.setValue("window/geometry", self.saveGeometry())
        self.settings.qsettings.setValue("window/state", self.saveState())
        self.settings.set("render/interpolation", self.trajectory.document.interpolation)
        self.settings.set("midi/interpolation", self.midi_panel.chosen_interpolation())
        self.settings.sync()
        for runner in (self.runner, self.decoder):
            if not runner.shutdown(CLOSE_WAIT_MS):
                log.warning("a job did not stop within %d s of closing", CLOSE_WAIT_MS // 1000)
        self.live.shutdown()
        self.sessions.close_all()
        super().closeEvent(ev)
