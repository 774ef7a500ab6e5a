"""Pick a label set: pitch class on a keyboard, octave, dynamics, instrument; hold several as a chord or a duet.

The held chord is the navigation controller's (it refuses what cannot be held and says what the navigator
shows); this panel shows it and asks for changes: add the picked note, remove one, clear, play."""
from __future__ import annotations

from html import escape

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from glissando.core.units import note_name

from .piano_keys import KEYBOARD, PianoKeys


class LabelPicker(QWidget):
    picked = Signal(int, str, str)  # midi, dynamics, instrument: the user chose a note
    addKeyframe = Signal(int, str, str)
    instrumentChanged = Signal(str)
    chordAddRequested = Signal(int, str, str)  # hold this label set too (midi, dynamics, instrument)
    chordRemoveRequested = Signal(int)  # let go of the held note at this index (lowest first)
    chordClearRequested = Signal()
    chordPlayRequested = Signal()

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
        self.chord_add_button = QPushButton("Add to chord")
        self.chord_add_button.setToolTip("Hold this note with its dynamics and instrument; the notes held before "
                                         "stay (Shift-click a key does the same)")
        self.chord_play_button = QPushButton("Play chord")
        self.chord_clear_button = QPushButton("Clear")
        # The held notes, one row each with its remove button: rows in a plain layout rather than a list view, so
        # that they take the panel's width (the remove buttons always in sight) and every note shows at once
        # (at most MAX_CHORD_NOTES; a list that scrolls would hide the notes one is building).
        self.chord_list = QFrame()
        self.chord_list.setFrameShape(QFrame.Shape.StyledPanel)
        self.chord_list.setToolTip("The held notes, lowest first: each sounds with its own dynamics and instrument")
        self.chord_rows = QVBoxLayout(self.chord_list)
        self.chord_rows.setContentsMargins(2, 2, 2, 2)
        self.chord_rows.setSpacing(0)
        self.chord_row_widgets: list[QWidget] = []
        self.chord_caption = QLabel()
        self.chord_caption.setWordWrap(True)
        self.held: list[tuple[int, str, str]] = []

        form = QFormLayout()
        form.addRow("Octave", self.octave)
        form.addRow("Dynamics", self.dynamics_row)
        form.addRow("Instrument", self.instrument)
        buttons = QHBoxLayout()
        buttons.addWidget(self.play_button)
        buttons.addWidget(self.add_button)
        chord = QGroupBox("Chord")
        # Build, then play: adding and clearing above the held notes, playing below them (and the panel no wider
        # than the note row above it).
        chord_buttons = QHBoxLayout()
        chord_buttons.addWidget(self.chord_add_button)
        chord_buttons.addWidget(self.chord_clear_button)
        chord_layout = QVBoxLayout(chord)
        chord_layout.addLayout(chord_buttons)
        chord_layout.addWidget(self.chord_list)
        chord_layout.addWidget(self.chord_play_button)
        chord_layout.addWidget(self.chord_caption)
        layout = QVBoxLayout(self)
        layout.addWidget(self.keys)
        layout.addLayout(form)
        layout.addWidget(self.range_label)
        layout.addLayout(buttons)
        layout.addWidget(chord)
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
        self.octave.valueChanged.connect(lambda _: self._mark_held())
        self.keys.pitchClassAdded.connect(lambda _: self._add_to_chord())
        self.chord_add_button.clicked.connect(self._add_to_chord)
        self.chord_play_button.clicked.connect(self.chordPlayRequested)
        self.chord_clear_button.clicked.connect(self.chordClearRequested)
        self._quiet = False
        self.show_chord([], "", False)
        # Pitch letters work wherever the focus is in the panel, not only on the keyboard widget: the octave
        # box and the instrument list would otherwise swallow them.
        for child in (self, self.octave, self.octave.lineEdit(), self.instrument):
            child.installEventFilter(self)

    def eventFilter(self, watched, ev) -> bool:
        if ev.type() == QEvent.Type.KeyPress and ev.key() in KEYBOARD:
            shift = ev.modifiers() == Qt.KeyboardModifier.ShiftModifier
            if ev.modifiers() and not shift:
                return super().eventFilter(watched, ev)
            if not ev.isAutoRepeat():
                (self.keys.add if shift else self.keys.pick)(KEYBOARD[ev.key()])
            return True
        return super().eventFilter(watched, ev)

    def _add_to_chord(self) -> None:
        """The picked label set joins the chord; the controller refuses it, naming the note, if it cannot."""
        self._show_range()
        self.chordAddRequested.emit(*self.current())

    def show_chord(self, notes: list[tuple[int, str, str]], text: str, warning: bool) -> None:
        """The held notes (lowest first), each with a button that lets go of it, and what the navigator shows
        of them or why a change was refused (red)."""
        self.held = list(notes)
        for old in self.chord_row_widgets:
            self.chord_rows.removeWidget(old)
            old.hide()  # at once; deleted once the click that may have come from its button has returned
            old.deleteLater()
        self.chord_row_widgets = []
        for i, (midi, dynamics, instrument) in enumerate(notes):
            row = QWidget()
            row_layout = QHBoxLayout(row)
            row_layout.setContentsMargins(4, 0, 0, 0)
            row_layout.addWidget(QLabel(f"<b>{note_name(midi)}</b> {dynamics} {instrument.replace('_', ' ')}"), 1)
            remove = QToolButton()
            remove.setText("×")
            remove.setToolTip(f"Remove {note_name(midi)} {instrument.replace('_', ' ')} from the chord")
            remove.clicked.connect(lambda _=False, i=i: self.chordRemoveRequested.emit(i))
            row_layout.addWidget(remove)
            self.chord_rows.addWidget(row)
            self.chord_row_widgets.append(row)
        self.chord_list.setVisible(bool(notes))
        if not notes and not text:
            text = ("Shift-click keys, or Add to chord, to hold several notes at once: each keeps its own "
                    "dynamics and instrument.")
        text = escape(text, quote=False)  # a refusal quotes paths and names, which are not markup
        colour = "#e55" if warning else None if notes else "gray"
        self.chord_caption.setText(f"<span style='color:{colour}'>{text}</span>" if colour else text)
        self.chord_play_button.setEnabled(bool(notes))
        self.chord_play_button.setText(f"Play chord ({len(notes)})" if len(notes) > 1 else "Play chord")
        self.chord_clear_button.setEnabled(bool(notes))
        self._mark_held()

    def _mark_held(self) -> None:
        octave = self.octave.value()
        self.keys.set_held(midi % 12 for midi, _, _ in self.held if midi // 12 - 1 == octave)

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
