"""One controller per feature: its state and logic, as a QObject with signals and no widgets.

Widgets call controllers' public methods and listen to their signals; controllers never touch a
widget, so each one is tested without building the window.
"""
