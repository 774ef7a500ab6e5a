"""Descriptor tools for the navigator, in the Labels panel: the "Map" toggle (the descriptor map of the plane
through the cursor, drawn behind the cloud) and the "brighter / darker / noisier / purer / louder / softer"
buttons, each asking to move the cursor one step along that descriptor's local gradient
(NavigationController.step).

They sit here rather than in the navigator's own rows: the navigator's toolbar is as wide, and its view as
tall, as the navigator was laid out for, so what a click in the view plays stays as it was."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QGridLayout, QGroupBox, QSizePolicy, QToolButton

from glissando.core.descriptors import DESCRIPTORS, MOVES


class DescriptorTools(QGroupBox):
    mapToggled = Signal(bool)
    moveRequested = Signal(str)  # one of core.descriptors.MOVES

    def __init__(self, parent=None):
        super().__init__("Sound descriptors", parent)
        layout = QGridLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        self.map_box = QCheckBox("Map behind the cloud")
        self.map_box.setToolTip("The descriptor map of the plane through the cursor, drawn behind the cloud: the "
                                "descriptor chosen in the navigator's Colour by (brightness while it colours by "
                                "labels)")
        self.map_box.toggled.connect(self.mapToggled)
        layout.addWidget(self.map_box, 0, 0, 1, 3)
        self.buttons: dict[str, QToolButton] = {}
        # Three columns, one per descriptor: "more" on the upper row, "less" below it.
        for index, (move, (name, direction)) in enumerate(MOVES.items()):
            b = QToolButton()
            b.setText(move)
            b.setToolTip(f"Move the cursor one step towards {'more' if direction > 0 else 'less'} "
                         f"{DESCRIPTORS[name][0]}, the way the decoded sound changes so fastest, and play it")
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            b.clicked.connect(lambda _=False, m=move: self.moveRequested.emit(m))
            layout.addWidget(b, 1 if direction > 0 else 2, index // 2)
            self.buttons[move] = b
