"""Pick a label set: pitch class on a keyboard, octave, dynamics, instrument."""
from __future__ import annotations

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from glissando.core.units import note_name

from .piano_keys import KEYBOARD, PianoKeys


class LabelPicker(QWidget):
    picked = Signal(int, str, str)  # midi, dynamics, instrument: the user chose a note
    addKeyframe = Signal(int, str, str)
    instrumentChanged = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.keys = PianoKeys()
        self.octave = QSpinBox()
        self.octave.setRange(0, 8)
        self.octave.setValue(4)
        self.instrument = QComboBox()
        self.dynamics_group = QButtonGroup(self)
        self.dynamics_row = QHBoxLayout()
        self.range_label = QLabel()
        self.range_label.setWordWrap(True)
        self.play_button = QPushButton("Play note")
        self.add_button = QPushButton("Add as keyframe")
        self.add_button.setToolTip("Append this label set to the trajectory")
        self.ranges: dict[str, tuple[int, int]] = {}

        form = QFormLayout()
        form.addRow("Octave", self.octave)
        form.addRow("Dynamics", self.dynamics_row)
        form.addRow("Instrument", self.instrument)
        buttons = QHBoxLayout()
        buttons.addWidget(self.play_button)
        buttons.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.keys)
        layout.addLayout(form)
        layout.addWidget(self.range_label)
        layout.addLayout(buttons)
        layout.addStretch(1)

        self.keys.pitchClassPicked.connect(lambda _: self._emit())
        self.dynamics_group.buttonClicked.connect(lambda _: self._emit())
        self.play_button.clicked.connect(self._emit)
        self.add_button.clicked.connect(lambda: self.addKeyframe.emit(*self.current()))
        self.instrument.currentTextChanged.connect(self._show_range)
        self.instrument.currentTextChanged.connect(self.instrumentChanged)
        self.octave.valueChanged.connect(lambda _: self._show_range())
        # Any change of a label moves the cursor (and sounds), not only a pitch key or a dynamic.
        self.instrument.activated.connect(lambda _: self._emit_if_in_range())
        self.octave.valueChanged.connect(lambda _: self._emit_if_in_range())
        self._quiet = False
        # Pitch letters work wherever the focus is in the panel, not only on the keyboard widget: the octave
        # box and the instrument list would otherwise swallow them.
        for child in (self, self.octave, self.octave.lineEdit(), self.instrument):
            child.installEventFilter(self)

    def eventFilter(self, watched, ev) -> bool:
        if ev.type() == QEvent.Type.KeyPress and ev.key() in KEYBOARD and not ev.modifiers():
            if not ev.isAutoRepeat():
                self.keys.pick(KEYBOARD[ev.key()])
            return True
        return super().eventFilter(watched, ev)

    def _emit_if_in_range(self) -> None:
        if not self._quiet and self.in_range():
            self._emit()

    def add_below(self, widget: QWidget) -> None:
        """Another control that plays the picked instrument (the live MIDI input), above the spacing."""
        layout = self.layout()
        layout.insertWidget(layout.count() - 1, widget)

    def set_model(self, instruments: list[str], dynamics: list[str], ranges: dict[str, tuple[int, int]]) -> None:
        self.ranges = ranges
        keep = self.instrument.currentText()
        self.instrument.blockSignals(True)
        self.instrument.clear()
        self.instrument.addItems(instruments)
        # A flute's clean tone is the friendliest first sound; otherwise keep what the user had.
        preferred = keep if keep in instruments else ("flute" if "flute" in instruments else instruments[0])
        self.instrument.setCurrentText(preferred)
        self.instrument.blockSignals(False)
        for button in self.dynamics_group.buttons():
            self.dynamics_group.removeButton(button)
            button.deleteLater()
        for i, d in enumerate(dynamics):
            button = QRadioButton(d)
            self.dynamics_group.addButton(button, i)
            self.dynamics_row.addWidget(button)
            button.setChecked(d == "mf" or (i == len(dynamics) // 2 and "mf" not in dynamics))
        self._show_range()

    def current(self) -> tuple[int, str, str]:
        midi = 12 * (self.octave.value() + 1) + self.keys.selected
        checked = self.dynamics_group.checkedButton()
        return midi, checked.text() if checked else "mf", self.instrument.currentText()

    def set_current(self, midi: int, dynamics: str, instrument: str) -> None:
        """Show a label set without picking it (the caller decides whether it sounds)."""
        self._quiet = True
        self.octave.setValue(midi // 12 - 1)
        self.keys.selected = midi % 12
        self.keys.update()
        for b in self.dynamics_group.buttons():
            b.setChecked(b.text() == dynamics)
        self.instrument.setCurrentText(instrument)
        self._quiet = False

    def in_range(self) -> bool:
        midi, _, instrument = self.current()
        lo, hi = self.ranges.get(instrument, (0, 127))
        return lo <= midi <= hi

    def _show_range(self) -> None:
        instrument = self.instrument.currentText()
        if instrument not in self.ranges:
            self.range_label.clear()
            return
        lo, hi = self.ranges[instrument]
        text = f"{instrument.replace('_', ' ')}: {note_name(lo)} – {note_name(hi)}"
        if not self.in_range():
            text += f"<br><span style='color:#e55'>{note_name(self.current()[0])} is outside this range</span>"
        self.range_label.setText(text)
        self.play_button.setEnabled(self.in_range())
        self.add_button.setEnabled(self.in_range())

    def _emit(self) -> None:
        self._show_range()
        if self.in_range():
            self.picked.emit(*self.current())
