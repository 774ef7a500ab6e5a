"""Trajectory editor: the view of a TrajectoryController (keyframes with durations, interpolation, path shape,
a decoded preview); every edit is the controller's, so it can be undone."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from glissando.core.descriptors import DESCRIPTORS
from glissando.core.interpolation import MODES
from glissando.core.trajectory import SHAPES, Trajectory

from ..controllers.descriptors import DESCRIPTOR_WORDS
from ..controllers.trajectory import TrajectoryController, curve_text
from .spectrogram_view import SpectrogramView

# The path shapes as the combo reads them, in core.trajectory.SHAPES order.
SHAPE_NAMES = {"plain": "plain", "geodesic": "geodesic (through the notes)",
               **{name: f"keep {DESCRIPTOR_WORDS[name]}" for name in DESCRIPTORS}}


class TrajectoryEditor(QWidget):
    selectionChanged = Signal(int)  # keyframe index, -1 for none
    addCursorRequested = Signal()
    setToCursorRequested = Signal(int)
    playRequested = Signal()
    exportRequested = Signal()
    saveRequested = Signal()
    loadRequested = Signal()

    def __init__(self, controller: TrajectoryController, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["#", "target", "hold (s)", "glide (s)"])
        self.table.horizontalHeaderItem(2).setToolTip("How long the keyframe sounds from its marker")
        self.table.horizontalHeaderItem(3).setToolTip("How long it then takes to glide into the next keyframe "
                                                      "(with the interpolation chosen above)")
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.interpolation = QComboBox()
        self.interpolation.addItems(list(MODES))
        self.interpolation.setToolTip("How the path moves between keyframes: none jumps, linear and cubic glide, "
                                      "spherical keeps to the prior's radius")
        self.shape = QComboBox()
        for shape in SHAPES:
            self.shape.addItem(SHAPE_NAMES[shape], shape)
        self.shape.setToolTip("How the path bends between keyframes: plain (the interpolation alone), geodesic "
                              "(through where the model's notes are), or keeping a descriptor on a straight line "
                              "from each keyframe's value to the next (for example constant loudness while the "
                              "instrument changes). Rendered through points 50 ms apart, linearly.")
        self.curve = QLineEdit()
        self.curve.setPlaceholderText("follow: time:value …")
        self.curve.setToolTip("A curve for the descriptor to follow instead: time (s) and value pairs, in the "
                              "descriptor's unit (Hz or dB), e.g. \"0:-20 1.5:-8 3:-20\". Empty: from keyframe to "
                              "keyframe.")
        self.curve.setMinimumWidth(120)
        self.preview = SpectrogramView(title="Decoded preview (drag the numbered markers to retime keyframes)")
        self.length_label = QLabel()
        self._build_buttons(controller)
        self._lay_out()
        self._updating = False
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.itemSelectionChanged.connect(lambda: self.selectionChanged.emit(self.selected()))
        self.interpolation.currentTextChanged.connect(controller.set_interpolation)
        self.shape.activated.connect(lambda i: controller.set_shape(self.shape.itemData(i)))
        self.curve.editingFinished.connect(lambda: controller.set_curve_text(self.curve.text()))
        self.preview.markerMoved.connect(controller.move_boundary)
        controller.changed.connect(self._refresh)
        controller.selectRequested.connect(self.select)
        controller.previewReady.connect(self.show_preview)
        self._refresh()

    def _build_buttons(self, controller: TrajectoryController) -> None:
        def button(text, tip, slot):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            return b

        self.add_button = button("Add cursor", "Append the navigator's cursor as a keyframe (also: click with Ctrl)",
                                 self.addCursorRequested)
        self.set_button = button("Set to cursor", "Move the selected keyframe to the navigator's cursor",
                                 lambda: self.setToCursorRequested.emit(self.selected()))
        selected = self.selected
        self.remove_button = button("Remove", "Remove the selected keyframe", lambda: controller.remove(selected()))
        self.up_button = button("Up", "Move the selected keyframe earlier", lambda: controller.move(selected(), -1))
        self.down_button = button("Down", "Move the selected keyframe later", lambda: controller.move(selected(), 1))
        self.clear_button = button("Clear", "Remove every keyframe", controller.clear)
        self.play_button = button("Play", "Render the trajectory and play it", self.playRequested)
        self.export_button = button("Export WAV…", "Render the trajectory to a WAV file", self.exportRequested)
        self.save_button = button("Save…", "Save the trajectory as JSON", self.saveRequested)
        self.load_button = button("Load…", "Load a trajectory saved as JSON", self.loadRequested)

    def _lay_out(self) -> None:
        edit_row = QHBoxLayout()
        for b in (self.add_button, self.set_button, self.remove_button, self.up_button, self.down_button,
                  self.clear_button):
            edit_row.addWidget(b)
        edit_row.addStretch(1)
        file_row = QHBoxLayout()
        file_row.addWidget(QLabel("Interpolation"))
        file_row.addWidget(self.interpolation)
        file_row.addWidget(QLabel("Path shape"))
        file_row.addWidget(self.shape)
        file_row.addWidget(self.curve, 1)
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

    @property
    def document(self) -> Trajectory:
        return self.controller.document

    def selected(self) -> int:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return rows[0].row() if rows else -1

    def select(self, index: int) -> None:
        if 0 <= index < self.table.rowCount():
            self.table.selectRow(index)

    # -- view ----------------------------------------------------------------------------------
    def _refresh(self) -> None:
        self._updating = True
        selected = self.selected()
        self.table.setRowCount(len(self.document.keyframes))
        for row, k in enumerate(self.document.keyframes):
            number = QTableWidgetItem(str(row + 1))
            number.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            target = QTableWidgetItem(k.describe())
            target.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            hold = QTableWidgetItem(f"{k.hold:.3f}")
            glide = QTableWidgetItem(f"{k.duration if k.glide is None else k.glide:.3f}")
            self.table.setItem(row, 0, number)
            self.table.setItem(row, 1, target)
            self.table.setItem(row, 2, hold)
            self.table.setItem(row, 3, glide)
        self.interpolation.blockSignals(True)
        self.interpolation.setCurrentText(self.document.interpolation)
        self.interpolation.blockSignals(False)
        self.shape.setCurrentIndex(self.shape.findData(self.document.shape))
        descriptor = self.document.shape in DESCRIPTORS
        self.curve.setEnabled(descriptor)
        if not self.curve.hasFocus():
            self.curve.setText(curve_text(self.document.curve))
        if descriptor:
            unit = DESCRIPTORS[self.document.shape][1]
            self.curve.setPlaceholderText(f"follow {DESCRIPTOR_WORDS[self.document.shape]}: time:{unit} …")
        self.length_label.setText(f"{len(self.document.keyframes)} keyframes, {self.document.duration:.2f} s")
        has = bool(self.document.keyframes)
        for b in (self.play_button, self.export_button, self.save_button, self.clear_button):
            b.setEnabled(has)
        if 0 <= selected < self.table.rowCount():
            self.table.selectRow(selected)
        self.preview.show_markers(self.controller.starts())
        self._updating = False

    def show_preview(self, times, db, frequencies) -> None:
        if len(times):
            self.preview.show_image(db.T, 0.0, float(self.document.duration), frequencies)
        else:  # cleared: the old preview must not stay drawn
            self.preview.clear_image()
        self.preview.show_markers(self.controller.starts())

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._updating or item.column() not in (2, 3):
            return
        try:
            seconds = float(item.text())
            if not 0 <= seconds < float("inf"):
                raise ValueError
        except ValueError:
            self._refresh()  # not a duration: show the one still in force
            return
        (self.controller.set_hold if item.column() == 2 else self.controller.set_glide)(item.row(), seconds)
