"""The trajectory being edited: keyframes with undo / redo, autosave, previews, playback and export.

Every edit goes through ``edit`` as a whole-document snapshot on the undo stack: a trajectory is a few
kilobytes, and snapshots cannot drift out of step with the document the way inverse operations can.

A shaped path (geodesic, or one that keeps or follows a descriptor) runs the decoder to be computed, so it is
computed in a job wherever it is needed: for the path drawn in the navigator and the preview (newest edit
wins), for playing and for exporting. The last one computed is kept with the document it belongs to, so
playing right after an edit does not compute it twice. A shaped path is rendered linearly through its dense
points (they already are the path); a plain one keeps the chosen interpolation between its keyframes.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from glissando.core.descriptors import latent_descriptors
from glissando.core.errors import GlissandoError
from glissando.core.interpolation import interpolate
from glissando.core.render import render_trajectory, write_wav
from glissando.core.session import ModelSession
from glissando.core.trajectory import GLIDE, SHAPES, Keyframe, Trajectory, path_spectrogram, stroke_to_keyframes

from ..settings import Settings, data_dir, export_peak_db, render_settings
from ..workers import CoreJob, JobRunner, LatestOnly
from .live_audio import LiveAudioController

AUTOSAVE_DELAY_MS = 1500
MIN_DURATION = 0.02
PATH_FRAME_RATE = 50.0  # points per second of the path drawn in the navigator
PREVIEW_RATE = 60.0  # columns per second of the decoded preview (as core.trajectory.path_spectrogram)


class _Snapshot(QUndoCommand):
    def __init__(self, controller: "TrajectoryController", before: Trajectory, after: Trajectory, text: str):
        super().__init__(text)
        self.controller, self.before, self.after = controller, before, after

    def redo(self):
        self.controller._apply(self.after)

    def undo(self):
        self.controller._apply(self.before)


def _preview(session: ModelSession, trajectory: Trajectory,
             shaped: Optional[tuple[np.ndarray, np.ndarray]] = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if shaped is None:
        times, mags = path_spectrogram(session, trajectory)
    else:  # the shaped path's dense points, linearly, as it is rendered
        key_times, latents = shaped
        times = np.arange(0.0, max(float(key_times[-1]), 1e-6), 1.0 / PREVIEW_RATE)
        mags = session.decode_magnitudes(interpolate(key_times, latents, times, "linear").astype(np.float32))
    return times, 20 * np.log10(np.maximum(mags, 1e-6)), session.bin_frequencies()


def _shaped(session: ModelSession, trajectory: Trajectory, key: str) -> tuple[str, np.ndarray, np.ndarray]:
    times, latents = trajectory.shaped(session)
    return key, times, latents


def curve_text(curve: Optional[np.ndarray]) -> str:
    """A descriptor curve as the editor shows it: "time:value" pairs."""
    return "" if curve is None else " ".join(f"{t:g}:{v:g}" for t, v in curve)


def parse_curve(text: str) -> Optional[np.ndarray]:
    """"0:-20 1.5:-8" (or commas between pairs) as a (K, 2) curve; empty text: None. GlissandoError if not."""
    pairs = text.replace(",", " ").split()
    if not pairs:
        return None
    try:
        curve = np.array([[float(x) for x in pair.split(":")] for pair in pairs], dtype=np.float64)
    except ValueError:
        curve = np.zeros((0, 0))
    if curve.ndim != 2 or curve.shape[1] != 2 or not np.all(np.isfinite(curve)) or np.any(curve[:, 0] < 0):
        raise GlissandoError(f"{text!r} is not a descriptor curve: write time:value pairs, e.g. 0:-20 1.5:-8")
    return curve


def _document_key(doc: Trajectory) -> str:
    """What a shaped path depends on: the whole document (keyframes, timing, interpolation, shape, curve)."""
    return json.dumps(doc.to_dict())


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
        # On the job runner, not the decoder: a shaped path takes a fraction of a second to a few seconds, and the
        # cursor's decodes must not wait behind it.
        self._shaping = LatestOnly(runner, "Shaping the path", self._shaped_ready,
                                   lambda text: self.notice.emit(text, True), self)
        self.shaped_path: Optional[tuple[str, np.ndarray, np.ndarray]] = None  # (document key, times, latents)
        self._shown_path: Optional[np.ndarray] = None  # the shaped path drawn last, in 3-D
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

    def set_shape(self, shape: str) -> None:
        """How the path is bent between keyframes (core.trajectory.SHAPES): plain, geodesic, or keeping a
        descriptor. A curve belongs to its descriptor: choosing another shape drops it.

        "Keep loudness" keeps it constant, at the first keyframe's value: core bends a descriptor shape without a
        curve along a straight line between the keyframes' own values, which moves (flute pp to trumpet ff
        gets louder all the way). So a descriptor shape comes with a one-point curve at the first keyframe's
        value (decoded on the decoder thread), set in the same undoable edit; the editor shows it, and emptying
        it gives core's keyframe-to-keyframe line."""
        if shape not in SHAPES:
            self.notice.emit(f"Unknown path shape {shape!r}", True)
            return
        if shape == self.document.shape:
            return
        t = self.document.copy()
        t.shape, t.curve = shape, None
        if shape in SHAPES[2:] and t.keyframes and self.session is not None:
            session, first = self.session, t.keyframes[0].latent.copy()

            def measured(values: dict) -> None:
                if self.session is session:  # onto the document as it is now: an edit may have come meanwhile
                    now = self.document.copy()
                    now.shape, now.curve = shape, np.array([[0.0, float(values[shape][0])]])
                    self.edit(now, f"Path shape {shape}")

            self.decoder.call(latent_descriptors, session, first[None], name="Measuring the first keyframe",
                              session=session, on_success=measured,
                              on_failure=lambda text: self.notice.emit(text, True))
            return
        self.edit(t, f"Path shape {shape}")

    def set_curve_text(self, text: str) -> None:
        try:
            curve = parse_curve(text)
        except GlissandoError as exc:
            self.notice.emit(str(exc), True)
            self.changed.emit()  # the editor shows the curve still in force
            return
        self.set_curve(curve)

    def set_curve(self, curve: Optional[np.ndarray]) -> None:
        """The values (time s, value in the descriptor's unit) the shape's descriptor follows; None: from each
        keyframe's own value to the next one's."""
        t = self.document.copy()
        if curve is not None:
            curve = np.asarray(curve, dtype=np.float64).reshape(-1, 2)
            curve = curve[np.argsort(curve[:, 0], kind="stable")]
            if not len(curve) or not np.all(np.isfinite(curve)):
                curve = None
        if t.shape not in SHAPES[2:] and curve is not None:
            self.notice.emit("A curve is followed by a descriptor shape: choose keep brightness, loudness, ... first.",
                             True)
            return
        same = (curve is None and t.curve is None) or (curve is not None and t.curve is not None
                                                       and np.array_equal(curve, t.curve))
        if not same:
            t.curve = curve
            self.edit(t, "Descriptor curve" if curve is not None else "No descriptor curve")

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
        keyframes = s.project_3d(np.stack([k.latent for k in doc.keyframes]))
        if doc.shape == "plain":
            _, path = doc.sample(PATH_FRAME_RATE)
            self.pathShown.emit(s.project_3d(path), keyframes)
            self._preview.submit(_preview, s, doc.copy(), session=s)
            return
        key = _document_key(doc)
        if self.shaped_path is not None and self.shaped_path[0] == key:
            self._show_shaped()
        else:
            # Until the shaped path arrives the old line stays drawn; only the keyframes move at once.
            self.pathShown.emit(self._shown_path, keyframes)
            self._shaping.submit(_shaped, s, doc.copy(), key, session=s)

    def _shaped_ready(self, result: tuple[str, np.ndarray, np.ndarray]) -> None:
        self.shaped_path = result
        if result[0] == _document_key(self.document):
            self._show_shaped()

    def _show_shaped(self) -> None:
        s, doc = self.session, self.document
        if s is None or not doc.keyframes or self.shaped_path is None:
            return
        _, times, latents = self.shaped_path
        self._shown_path = s.project_3d(latents)
        self.pathShown.emit(self._shown_path, s.project_3d(np.stack([k.latent for k in doc.keyframes])))
        self._preview.submit(_preview, s, doc.copy(), (times, latents), session=s)

    def shaped_now(self, doc: Trajectory) -> Optional[tuple[np.ndarray, np.ndarray]]:
        """The shaped path of ``doc`` if the last one computed is that one's (else None: compute it in a job)."""
        if self.shaped_path is not None and self.shaped_path[0] == _document_key(doc):
            return self.shaped_path[1], self.shaped_path[2]
        return None

    def set_session(self, session: Optional[ModelSession]) -> None:
        """At the first model: restore the autosaved trajectory. At a model with another latent size: start
        empty (the old keyframes mean nothing there) but keep the autosave file untouched."""
        self.session = session
        self.shaped_path, self._shown_path = None, None  # another model bends the same keyframes otherwise
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
        if doc.shape == "plain":
            times, latents = doc.timeline()
            self._play_path(times, latents, doc.interpolation)
            return
        ready = self.shaped_now(doc)
        if ready is not None:
            self._play_path(*ready, "linear")
            return
        session = self.session

        def shaped(result: tuple[str, np.ndarray, np.ndarray]) -> None:
            self.shaped_path = result
            if self.session is session:
                self._play_path(result[1], result[2], "linear")

        self.runner.start(CoreJob(_shaped, session, doc, _document_key(doc), name="Shaping the path", kind="shape",
                                  session=session, with_callbacks=False),
                          on_success=shaped, on_failure=lambda text: self.notice.emit(text, True))

    def _play_path(self, times: np.ndarray, latents: np.ndarray, interpolation: str) -> None:
        if not self.live.play_path(times, latents, interpolation):
            self.notice.emit(f"Playback is off ({self.live.off_reason()}); Export WAV still works.", True)

    def export(self, path: Path, bit_depth: str = "16", out_rate: Optional[int] = None) -> Optional[CoreJob]:
        doc, session = self.current(), self.session
        if doc is None or session is None:
            self.notice.emit("The trajectory is empty: nothing to export.", True)
            return None
        plain = doc.shape == "plain"
        ready = None if plain else self.shaped_now(doc)
        settings = render_settings(self.settings, doc.interpolation if plain else "linear")
        rate = session.spectral.sample_rate
        peak_db = export_peak_db(self.settings)

        def work(progress, cancel):
            if plain:
                times, latents = doc.timeline()
            elif ready is not None:
                times, latents = ready
            else:
                progress(0, 1, "Shaping the path")
                times, latents = doc.shaped(session, cancel=cancel)
            audio = render_trajectory(session, times, latents, settings, progress, cancel)
            return write_wav(path, audio, rate, out_rate or rate, bit_depth, force=True, peak_db=peak_db)

        return self.runner.start(CoreJob(work, name="Exporting the trajectory", kind="export", session=session),
                                 on_success=lambda p: self.notice.emit(f"Wrote {p}", False),
                                 on_failure=lambda text: self.notice.emit(text, True))
