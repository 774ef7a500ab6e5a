"""Trajectory editor: keyframes with durations, interpolation, undo / redo, a decoded preview."""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QLabel, QPushButton, QSplitter, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from glissando.core.paths import MODES
from glissando.core.trajectory import Keyframe, Trajectory

from .spectrogram_view import SpectrogramView

MIN_DURATION = 0.02


class _Snapshot(QUndoCommand):
    """Whole-document snapshots: a trajectory is a few kilobytes, and snapshots cannot drift out of
    step with the document the way hand-written inverse operations can."""

    def __init__(self, editor: "TrajectoryEditor", before: Trajectory, after: Trajectory, text: str):
        super().__init__(text)
        self.editor, self.before, self.after = editor, before, after

    def redo(self):
        self.editor._apply(self.after)

    def undo(self):
        self.editor._apply(self.before)


class TrajectoryEditor(QWidget):
    changed = Signal()  # the document changed (edit, undo, redo, load)
    selectionChanged = Signal(int)  # keyframe index, -1 for none
    addCursorRequested = Signal()
    setToCursorRequested = Signal(int)
    playRequested = Signal()
    exportRequested = Signal()
    saveRequested = Signal()
    loadRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.document = Trajectory()
        self.undo_stack = QUndoStack(self)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["#", "target", "duration (s)"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.interpolation = QComboBox()
        self.interpolation.addItems(list(MODES))
        self.interpolation.setToolTip("How the path moves between keyframes: none jumps, linear and cubic glide, "
                                      "spherical keeps to the prior's radius")
        self.preview = SpectrogramView(title="Decoded preview (drag the numbered markers to retime keyframes)")
        self.length_label = QLabel()

        def button(text, tip, slot):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            return b

        self.add_button = button("Add cursor", "Append the navigator's cursor as a keyframe (also: click with Ctrl)",
                                 self.addCursorRequested)
        self.set_button = button("Set to cursor", "Move the selected keyframe to the navigator's cursor",
                                 lambda: self.setToCursorRequested.emit(self.selected()))
        self.remove_button = button("Remove", "Remove the selected keyframe", self.remove_selected)
        self.up_button = button("Up", "Move the selected keyframe earlier", lambda: self.move_selected(-1))
        self.down_button = button("Down", "Move the selected keyframe later", lambda: self.move_selected(1))
        self.clear_button = button("Clear", "Remove every keyframe", self.clear)
        self.play_button = button("Play", "Render the trajectory and play it", self.playRequested)
        self.export_button = button("Export WAV…", "Render the trajectory to a WAV file", self.exportRequested)
        self.save_button = button("Save…", "Save the trajectory as JSON", self.saveRequested)
        self.load_button = button("Load…", "Load a trajectory saved as JSON", self.loadRequested)

        edit_row = QHBoxLayout()
        for b in (self.add_button, self.set_button, self.remove_button, self.up_button, self.down_button, self.clear_button):
            edit_row.addWidget(b)
        edit_row.addStretch(1)
        file_row = QHBoxLayout()
        file_row.addWidget(QLabel("Interpolation"))
        file_row.addWidget(self.interpolation)
        file_row.addWidget(self.length_label)
        file_row.addStretch(1)
        for b in (self.play_button, self.export_button, self.save_button, self.load_button):
            file_row.addWidget(b)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(edit_row)
        left_layout.addWidget(self.table)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.preview)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(file_row)
        layout.addWidget(splitter, 1)

        self._updating = False
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.itemSelectionChanged.connect(lambda: self.selectionChanged.emit(self.selected()))
        self.interpolation.currentTextChanged.connect(self._on_interpolation)
        self.preview.markerMoved.connect(self._on_marker_moved)
        self._refresh()

    # -- editing -------------------------------------------------------------------------------
    def edit(self, after: Trajectory, text: str) -> None:
        """Every change goes through here, so each one can be undone."""
        self.undo_stack.push(_Snapshot(self, self.document.copy(), after.copy(), text))

    def set_document(self, trajectory: Trajectory, text: str = "Load trajectory") -> None:
        self.edit(trajectory, text)

    def append(self, keyframe: Keyframe) -> None:
        t = self.document.copy()
        t.keyframes.append(keyframe)
        self.edit(t, f"Add {keyframe.describe()}")
        self.select(len(t.keyframes) - 1)

    def replace_latent(self, index: int, keyframe: Keyframe) -> None:
        if not 0 <= index < len(self.document.keyframes):
            return
        t = self.document.copy()
        keyframe.duration = t.keyframes[index].duration
        t.keyframes[index] = keyframe
        self.edit(t, f"Move keyframe {index + 1}")
        self.select(index)

    def remove_selected(self) -> None:
        i = self.selected()
        if i < 0:
            return
        t = self.document.copy()
        del t.keyframes[i]
        self.edit(t, f"Remove keyframe {i + 1}")
        self.select(min(i, len(t.keyframes) - 1))

    def move_selected(self, step: int) -> None:
        i = self.selected()
        j = i + step
        if i < 0 or not 0 <= j < len(self.document.keyframes):
            return
        t = self.document.copy()
        t.keyframes[i], t.keyframes[j] = t.keyframes[j], t.keyframes[i]
        self.edit(t, f"Move keyframe {i + 1}")
        self.select(j)

    def clear(self) -> None:
        if self.document.keyframes:
            self.edit(Trajectory([], self.document.interpolation), "Clear trajectory")

    def set_duration(self, index: int, seconds: float) -> None:
        t = self.document.copy()
        t.keyframes[index].duration = max(MIN_DURATION, float(seconds))
        self.edit(t, f"Retime keyframe {index + 1}")

    def selected(self) -> int:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return rows[0].row() if rows else -1

    def select(self, index: int) -> None:
        if 0 <= index < self.table.rowCount():
            self.table.selectRow(index)

    # -- view ----------------------------------------------------------------------------------
    def _apply(self, trajectory: Trajectory) -> None:
        self.document = trajectory.copy()
        self._refresh()
        self.changed.emit()

    def _refresh(self) -> None:
        self._updating = True
        selected = self.selected()
        self.table.setRowCount(len(self.document.keyframes))
        for row, k in enumerate(self.document.keyframes):
            number = QTableWidgetItem(str(row + 1))
            number.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            target = QTableWidgetItem(k.describe())
            target.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            duration = QTableWidgetItem(f"{k.duration:.3f}")
            self.table.setItem(row, 0, number)
            self.table.setItem(row, 1, target)
            self.table.setItem(row, 2, duration)
        self.interpolation.blockSignals(True)
        self.interpolation.setCurrentText(self.document.interpolation)
        self.interpolation.blockSignals(False)
        self.length_label.setText(f"{len(self.document.keyframes)} keyframes, {self.document.duration:.2f} s")
        has = bool(self.document.keyframes)
        for b in (self.play_button, self.export_button, self.save_button, self.clear_button):
            b.setEnabled(has)
        if 0 <= selected < self.table.rowCount():
            self.table.selectRow(selected)
        self._updating = False

    def show_preview(self, times, db, frequencies) -> None:
        starts = [0.0]
        for k in self.document.keyframes[:-1]:
            starts.append(starts[-1] + k.duration)
        if len(times):
            self.preview.show_image(db.T, 0.0, float(self.document.duration), frequencies)
        self.preview.show_markers(starts if self.document.keyframes else [])

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._updating or item.column() != 2:
            return
        try:
            seconds = float(item.text())
            if not seconds > 0:
                raise ValueError
        except ValueError:
            self._refresh()  # not a positive number: show the duration that is still in force
            return
        self.set_duration(item.row(), seconds)

    def _on_interpolation(self, mode: str) -> None:
        if mode != self.document.interpolation:
            t = self.document.copy()
            t.interpolation = mode
            self.edit(t, f"Interpolation {mode}")

    def _on_marker_moved(self, index: int, seconds: float) -> None:
        """Marker ``index`` is the start of keyframe ``index``: retime the segment before it and
        the one after it, so every other keyframe stays where it was."""
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

    def current(self) -> Optional[Trajectory]:
        return self.document.copy() if self.document.keyframes else None
