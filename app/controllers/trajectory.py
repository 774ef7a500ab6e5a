"""The trajectory being edited: keyframes with undo / redo, autosave, previews, playback and export.

Every edit goes through ``edit`` as a whole-document snapshot on the undo stack: a trajectory is a few
kilobytes, and snapshots cannot drift out of step with the document the way inverse operations can.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from glissando.core.errors import GlissandoError
from glissando.core.render import render_trajectory, write_wav
from glissando.core.session import ModelSession
from glissando.core.trajectory import GLIDE, Keyframe, Trajectory, path_spectrogram, stroke_to_keyframes

from ..settings import Settings, data_dir, export_peak_db, render_settings
from ..workers import CoreJob, JobRunner, LatestOnly
from .live_audio import LiveAudioController

AUTOSAVE_DELAY_MS = 1500
MIN_DURATION = 0.02
PATH_FRAME_RATE = 50.0  # points per second of the path drawn in the navigator


class _Snapshot(QUndoCommand):
    def __init__(self, controller: "TrajectoryController", before: Trajectory, after: Trajectory, text: str):
        super().__init__(text)
        self.controller, self.before, self.after = controller, before, after

    def redo(self):
        self.controller._apply(self.after)

    def undo(self):
        self.controller._apply(self.before)


def _preview(session: ModelSession, trajectory: Trajectory) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    times, mags = path_spectrogram(session, trajectory)
    return times, 20 * np.log10(np.maximum(mags, 1e-6)), session.bin_frequencies()


class TrajectoryController(QObject):
    changed = Signal()  # the document changed (edit, undo, redo, load)
    selectRequested = Signal(int)  # an edit made this keyframe the one to show
    pathShown = Signal(object, object)  # 3-D path and keyframe points, or (None, None)
    previewReady = Signal(object, object, object)  # (times, dB magnitudes, bin frequencies)
    notice = Signal(str, bool)

    def __init__(self, runner: JobRunner, decoder: JobRunner, live: LiveAudioController, settings: Settings,
                 parent: Optional[QObject] = None):
        super().__init__(parent)
        self.runner, self.decoder, self.live, self.settings = runner, decoder, live, settings
        self.session: Optional[ModelSession] = None
        self.document = Trajectory([], settings.get("render/interpolation"))
        self.undo_stack = QUndoStack(self)
        self._restored = False  # the autosaved trajectory is offered once, at the first model
        self._preview = LatestOnly(decoder, "Previewing the trajectory", lambda r: self.previewReady.emit(*r),
                                   lambda text: self.notice.emit(text, True), self)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setSingleShot(True)
        self.autosave_timer.setInterval(AUTOSAVE_DELAY_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.changed.connect(self.refresh)

    # -- editing ---------------------------------------------------------------------------------------
    def edit(self, after: Trajectory, text: str) -> None:
        self.undo_stack.push(_Snapshot(self, self.document.copy(), after.copy(), text))

    def _apply(self, trajectory: Trajectory) -> None:
        self.document = trajectory.copy()
        self.changed.emit()

    def append(self, keyframe: Keyframe) -> None:
        t = self.document.copy()
        t.keyframes.append(keyframe)
        self.edit(t, f"Add {keyframe.describe()}")
        self.selectRequested.emit(len(t.keyframes) - 1)

    def replace_latent(self, index: int, latent: np.ndarray) -> None:
        if not 0 <= index < len(self.document.keyframes):
            return
        t = self.document.copy()
        old = t.keyframes[index]
        t.keyframes[index] = Keyframe(np.array(latent, dtype=np.float32), old.duration, None, old.glide)
        self.edit(t, f"Move keyframe {index + 1}")
        self.selectRequested.emit(index)

    def remove(self, index: int) -> None:
        if not 0 <= index < len(self.document.keyframes):
            return
        t = self.document.copy()
        del t.keyframes[index]
        self.edit(t, f"Remove keyframe {index + 1}")
        self.selectRequested.emit(min(index, len(t.keyframes) - 1))

    def move(self, index: int, step: int) -> None:
        target = index + step
        if index < 0 or not 0 <= target < len(self.document.keyframes):
            return
        t = self.document.copy()
        t.keyframes[index], t.keyframes[target] = t.keyframes[target], t.keyframes[index]
        self.edit(t, f"Move keyframe {index + 1}")
        self.selectRequested.emit(target)

    def clear(self) -> None:
        if self.document.keyframes:
            self.edit(Trajectory([], self.document.interpolation), "Clear trajectory")

    def set_duration(self, index: int, seconds: float) -> None:
        """The whole slot, marker to next marker; the glide keeps its length while it fits."""
        t = self.document.copy()
        t.keyframes[index].duration = max(MIN_DURATION, float(seconds))
        self.edit(t, f"Retime keyframe {index + 1}")

    def set_hold(self, index: int, seconds: float) -> None:
        """How long keyframe ``index`` sounds before gliding on; later keyframes move by the difference."""
        t = self.document.copy()
        k = t.keyframes[index]
        glide = k.duration if k.glide is None else k.glide
        k.glide, k.duration = glide, max(MIN_DURATION, float(seconds) + glide)
        self.edit(t, f"Hold keyframe {index + 1}")

    def set_glide(self, index: int, seconds: float) -> None:
        """How long keyframe ``index`` takes to glide into the next; its hold stays."""
        t = self.document.copy()
        k = t.keyframes[index]
        hold = k.hold
        k.glide = max(0.0, float(seconds))
        k.duration = max(MIN_DURATION, hold + k.glide)
        self.edit(t, f"Glide keyframe {index + 1}")

    def set_interpolation(self, mode: str) -> None:
        if mode != self.document.interpolation:
            t = self.document.copy()
            t.interpolation = mode
            self.edit(t, f"Interpolation {mode}")

    def move_boundary(self, index: int, seconds: float) -> None:
        """Keyframe ``index`` now starts at ``seconds``: retime the segment before it and the one after it,
        so every other keyframe stays where it was."""
        keys = self.document.keyframes
        if not 0 < index < len(keys):
            return
        start_prev = sum(k.duration for k in keys[: index - 1])
        end_this = start_prev + keys[index - 1].duration + keys[index].duration
        last = index == len(keys) - 1
        seconds = max(start_prev + MIN_DURATION, seconds if last else min(seconds, end_this - MIN_DURATION))
        t = self.document.copy()
        t.keyframes[index - 1].duration = seconds - start_prev
        if not last:
            t.keyframes[index].duration = end_this - seconds
        self.edit(t, f"Retime keyframe {index + 1}")

    def starts(self) -> list[float]:
        """Each keyframe's marker: where its sound is fully reached."""
        return [float(t) for t in self.document.markers()] if self.document.keyframes else []

    def current(self) -> Optional[Trajectory]:
        return self.document.copy() if self.document.keyframes else None

    # -- from the navigator ------------------------------------------------------------------------------
    def add_latent(self, latent: Optional[np.ndarray], label: Optional[dict] = None) -> None:
        """A keyframe that holds its sound, then glides to the next one over GLIDE seconds."""
        if latent is not None:
            self.append(Keyframe(np.array(latent, dtype=np.float32), 1.0, label, GLIDE))

    def add_label(self, midi: int, dynamics: str, instrument: str) -> None:
        """A keyframe on a label set. Its latent is the model's to compute, on the decoder thread, whose
        single thread keeps keyframes added in a row in their order."""
        if self.session is None:
            return
        label = {"midi": midi, "dynamics": dynamics, "instrument": instrument}
        self.decoder.call(self.session.label_latent, midi, dynamics, instrument, name="Encoding the labels",
                          session=self.session, on_success=lambda z: self.add_latent(z, label),
                          on_failure=lambda text: self.notice.emit(text, True))

    def from_stroke(self, anchor: np.ndarray, times: np.ndarray, points: np.ndarray) -> None:
        if self.session is None:
            return
        keyframes = stroke_to_keyframes(self.session, anchor, times, points)
        self.edit(Trajectory(keyframes, self.document.interpolation), "Draw path")
        self.notice.emit(f"Drawn path: {len(keyframes)} keyframes, {sum(k.duration for k in keyframes):.2f} s. "
                         "Play it, retime it, or undo.", False)

    # -- views -------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Draw the path and the preview again (after an edit, or when the navigator's view changed)."""
        self.autosave_timer.start()
        s, doc = self.session, self.document
        if s is None or not doc.keyframes:
            self.pathShown.emit(None, None)
            self.previewReady.emit([], None, None)
            return
        _, path = doc.sample(PATH_FRAME_RATE)
        self.pathShown.emit(s.project_3d(path), s.project_3d(np.stack([k.latent for k in doc.keyframes])))
        self._preview.submit(_preview, s, doc.copy(), session=s)

    def set_session(self, session: Optional[ModelSession]) -> None:
        """At the first model: restore the autosaved trajectory. At a model with another latent size: start
        empty (the old keyframes mean nothing there) but keep the autosave file untouched."""
        self.session = session
        if session is None:
            return
        doc = self.document
        if doc.keyframes and len(doc.keyframes[0].latent) != session.config.latent_dim:
            self.undo_stack.clear()
            self._apply(Trajectory([], doc.interpolation))
            self.notice.emit("This model's latent space has another size: the trajectory was set aside "
                             f"(it stays in {self.autosave_path()}).", False)
            return
        if not doc.keyframes and self.autosave_path().exists() and not self._restored:
            self._restored = True
            try:
                restored = Trajectory.load(self.autosave_path(), session.config.latent_dim)
            except GlissandoError as exc:
                self.notice.emit(f"The autosaved trajectory could not be restored: {exc}", True)
                return
            if restored.keyframes:
                self._apply(restored)
                self.notice.emit(f"Restored your trajectory from the last session ({len(restored.keyframes)} "
                                 "keyframes).", False)
                return
        self.refresh()

    # -- files -------------------------------------------------------------------------------------------
    def autosave_path(self) -> Path:
        return data_dir() / "autosave-trajectory.json"

    def autosave(self) -> None:
        try:
            self.document.save(self.autosave_path(), str(self.session.path) if self.session else None)
        except GlissandoError as exc:
            self.notice.emit(f"Autosave failed: {exc}", True)

    def save(self, path: Path) -> bool:
        try:
            self.document.save(path, str(self.session.path) if self.session else None)
        except GlissandoError as exc:
            self.notice.emit(str(exc), True)
            return False
        self.settings.add_recent(str(path))
        return True

    def load(self, path: Path) -> None:
        if self.session is None:
            return
        try:
            doc = Trajectory.load(path, self.session.config.latent_dim)
        except GlissandoError as exc:
            self.notice.emit(str(exc), True)
            return
        self.edit(doc, f"Load {Path(path).name}")
        self.settings.add_recent(str(path))

    def play(self) -> None:
        """Live: the engine follows the path in real time, with the trajectory's interpolation."""
        doc = self.current()
        if doc is None or self.session is None:
            self.notice.emit("The trajectory is empty: pick labels or click in the navigator, then add keyframes.",
                             True)
            return
        times, latents = doc.timeline()
        if not self.live.play_path(times, latents, doc.interpolation):
            self.notice.emit(f"Playback is off ({self.live.off_reason()}); Export WAV still works.", True)

    def export(self, path: Path, bit_depth: str = "16", out_rate: Optional[int] = None) -> Optional[CoreJob]:
        doc, session = self.current(), self.session
        if doc is None or session is None:
            self.notice.emit("The trajectory is empty: nothing to export.", True)
            return None
        times, latents = doc.timeline()
        settings = render_settings(self.settings, doc.interpolation)
        rate = session.spectral.sample_rate
        peak_db = export_peak_db(self.settings)

        def work(progress, cancel):
            audio = render_trajectory(session, times, latents, settings, progress, cancel)
            return write_wav(path, audio, rate, out_rate or rate, bit_depth, force=True, peak_db=peak_db)

        return self.runner.start(CoreJob(work, name="Exporting the trajectory", kind="export", session=session),
                                 on_success=lambda p: self.notice.emit(f"Wrote {p}", False),
                                 on_failure=lambda text: self.notice.emit(text, True))
