"""The window's side and bottom panels as docks that scroll and tab, so that every one fits a laptop screen."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QFrame, QMainWindow, QScrollArea, QWidget


def _scrollable(widget: QWidget) -> QScrollArea:
    """A dock's content scrolls when the dock is smaller than it: on a 1366x768 laptop every panel still fits."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    return area


def add_docks(window: QMainWindow, panels: list[tuple[str, str, QWidget, Qt.DockWidgetArea]]) -> dict[str, QDockWidget]:
    """(name, title, widget, area) -> docks; the panels of one area share it as tabs, the first one in front."""
    docks: dict[str, QDockWidget] = {}
    first: dict[Qt.DockWidgetArea, QDockWidget] = {}
    last: dict[Qt.DockWidgetArea, QDockWidget] = {}
    for name, title, widget, area in panels:
        dock = QDockWidget(title, window)
        dock.setObjectName(f"dock_{name}")  # saveState needs names to restore the layout
        dock.setWidget(_scrollable(widget))
        window.addDockWidget(area, dock)
        if area in last:
            window.tabifyDockWidget(last[area], dock)
        first.setdefault(area, dock)
        last[area] = dock
        docks[name] = dock
    for dock in first.values():
        dock.raise_()
    return docks
