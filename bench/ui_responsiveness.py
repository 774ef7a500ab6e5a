"""How the desktop app answers while the cursor is dragged continuously, against a reference in the same
process: the same drag with the cursor decoded on the GUI thread at every mouse event (how the app did
it before decoding moved to a throttled worker).

Prints, for each way, the median and worst time the GUI thread spends on one mouse event and the
median and 95th percentile of the gaps between event-loop turns; then the ratio of the worst per-event
times (reference / app: how many times shorter the app's longest event is).

    xvfb-run -a .venv/bin/python bench/ui_responsiveness.py [--seconds 3] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np


def drag(app, window, seconds: float, on_gui_thread: bool) -> tuple[list[float], list[float]]:
    """Move the cursor every 5 ms for ``seconds``; returns (per-event handling times, event-loop gaps)."""
    from PySide6.QtCore import QTimer

    from glissando.app.controllers.navigation import _decode_view

    session = window.sessions.current
    start = window.navigator.cursor.copy()
    handling: list[float] = []
    gaps: list[float] = []
    last = [time.monotonic()]
    step = [0]

    def on_event():
        step[0] += 1
        began = time.monotonic()
        point = start + np.array([np.sin(step[0] / 20), np.cos(step[0] / 30), 0.0])
        window.navigator.cursorRequested.emit(point)
        if on_gui_thread:  # the reference: decode here, as the window once did
            freqs, mags, probs = _decode_view(session, window.navigation.cursor_latent)
            window.spectrum.show_magnitudes(freqs, mags)
            window.bars.show_probabilities(probs)
        handling.append(time.monotonic() - began)
        gaps.append(began - last[0])
        last[0] = began

    timer = QTimer()
    timer.timeout.connect(on_event)
    timer.start(5)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    return handling, gaps[1:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("GLISSANDO_SETTINGS", os.path.join(tempfile.mkdtemp(), "settings.ini"))
    os.environ.setdefault("GLISSANDO_DATA_DIR", tempfile.mkdtemp())
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtWidgets import QApplication

    from glissando.app.main_window import MainWindow
    from glissando.core.playback import PulledStream

    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(None, stream_factory=PulledStream)
    window.show()
    deadline = time.monotonic() + 120
    while window.navigation.cursor_latent is None and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    worst = {}
    for label, on_gui in (("reference (decode on the GUI thread)", True), ("app (throttled worker)", False)):
        runs = [drag(app, window, args.seconds, on_gui) for _ in range(args.repeats)]
        handling = [h for run, _ in runs for h in run]
        gaps = [g for _, run in runs for g in run]
        worst[on_gui] = statistics.median(max(run) for run, _ in runs)
        print(f"{label}: per event median {1000 * statistics.median(handling):.1f} ms, "
              f"worst {1000 * worst[on_gui]:.1f} ms (median of {args.repeats} runs); event-loop gaps median "
              f"{1000 * statistics.median(gaps):.1f} ms, 95th percentile {1000 * np.percentile(gaps, 95):.1f} ms")
    print(f"ratio (reference worst event / app worst event): {worst[True] / worst[False]:.1f}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
