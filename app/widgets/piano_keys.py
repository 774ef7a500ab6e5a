"""A one-octave keyboard for picking a pitch class (C .. B), also played from the computer keyboard.
Shift-click (or Shift and a letter) adds the key to the held chord instead of replacing the note."""
from __future__ import annotations

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from glissando.core.units import NOTE_NAMES

WHITE = [0, 2, 4, 5, 7, 9, 11]
BLACK = {1: 0, 3: 1, 6: 3, 8: 4, 10: 5}  # pitch class -> index of the white key it sits after
# The usual computer-keyboard piano layout: the home row plays white keys, the row above black ones.
KEYBOARD = {Qt.Key.Key_A: 0, Qt.Key.Key_W: 1, Qt.Key.Key_S: 2, Qt.Key.Key_E: 3, Qt.Key.Key_D: 4, Qt.Key.Key_F: 5,
            Qt.Key.Key_T: 6, Qt.Key.Key_G: 7, Qt.Key.Key_Y: 8, Qt.Key.Key_H: 9, Qt.Key.Key_U: 10, Qt.Key.Key_J: 11}


class PianoKeys(QWidget):
    pitchClassPicked = Signal(int)
    pitchClassAdded = Signal(int)  # Shift-click: this key joins the chord, the notes held before stay

    def __init__(self, parent=None):
        super().__init__(parent)
        self.selected = 0
        self.held: set[int] = set()  # pitch classes of the held chord in the octave shown, marked on the keys
        self.setMinimumSize(210, 80)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setToolTip("Click a key, or type A W S E D F T G Y H U J; with Shift, the key joins the chord")

    def key_rect(self, pitch_class: int) -> QRect:
        w = self.width() / 7
        if pitch_class in BLACK:
            x = (BLACK[pitch_class] + 1) * w - w * 0.3
            return QRect(int(x), 0, int(w * 0.6), int(self.height() * 0.6))
        return QRect(int(WHITE.index(pitch_class) * w), 0, int(w), self.height() - 1)

    def pitch_class_at(self, x: float, y: float) -> int:
        for pc in BLACK:  # black keys lie on top
            if self.key_rect(pc).contains(int(x), int(y)):
                return pc
        return WHITE[min(6, max(0, int(x / (self.width() / 7))))]

    def pick(self, pitch_class: int) -> None:
        self.selected = pitch_class
        self.update()
        self.pitchClassPicked.emit(pitch_class)

    def add(self, pitch_class: int) -> None:
        self.selected = pitch_class
        self.update()
        self.pitchClassAdded.emit(pitch_class)

    def set_held(self, pitch_classes) -> None:
        self.held = set(pitch_classes)
        self.update()

    def mousePressEvent(self, ev):
        pc = self.pitch_class_at(ev.position().x(), ev.position().y())
        (self.add if ev.modifiers() & Qt.KeyboardModifier.ShiftModifier else self.pick)(pc)

    def keyPressEvent(self, ev):
        if ev.key() in KEYBOARD and not ev.isAutoRepeat():
            shift = ev.modifiers() & Qt.KeyboardModifier.ShiftModifier
            (self.add if shift else self.pick)(KEYBOARD[ev.key()])
        else:
            super().keyPressEvent(ev)

    def paintEvent(self, ev):
        p = QPainter(self)
        accent = QColor(255, 200, 60)
        held = QColor(120, 200, 255)  # the chord's keys: the navigator's blue, apart from the picked key's amber
        for pc in WHITE:
            r = self.key_rect(pc)
            p.setBrush(accent if pc == self.selected else held if pc in self.held else QColor(245, 245, 240))
            p.setPen(QColor(60, 60, 60))
            p.drawRect(r)
            bottom_centre = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom
            p.drawText(r.adjusted(0, 0, 0, -4), bottom_centre, NOTE_NAMES[pc])
        for pc in BLACK:
            r = self.key_rect(pc)
            p.setBrush(accent if pc == self.selected else held if pc in self.held else QColor(30, 30, 30))
            p.drawRect(r)
        p.end()
