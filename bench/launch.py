"""Launch time: from starting the process to a usable window with the default model loaded and the
navigator drawn, against a reference measured in the same run: a bare torch + Qt process that shows
an empty window (the floor any app on this stack pays). The app starts as `glissando gui` does
(app.main.open_window); window_s is when its window first reached the event loop, shown. Each process
also reports its main (GUI) thread's CPU seconds at READY: on a machine busy with other work, where wall
times spread widely, they show which side's own work changed.

    xvfb-run -a .venv/bin/python bench/launch.py [--runs 5]

Ends with one line: launch: median_s=... reference_s=... ratio=... window_s=... budget_s=4
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Optional

APP = r"""
from glissando.app.main import open_window
app, window = open_window()
from PySide6.QtCore import QTimer
QTimer.singleShot(0, lambda: print("SHOWN", flush=True))
def ready():
    window.navigator.view.grabFramebuffer()  # the 3-D view has really drawn
    import time
    print("READY", time.thread_time(), flush=True)
    window.close()
    app.quit()
window.sessionReady.connect(lambda: QTimer.singleShot(0, ready))
app.exec()
"""

REFERENCE = r"""
import sys
import torch
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1])
window = QMainWindow()
window.show()
def ready():
    import time
    print("READY", time.thread_time(), flush=True)
    app.quit()
QTimer.singleShot(0, ready)
app.exec()
"""


def time_to_ready(code: str, env: dict, shown: Optional[list] = None, cpu: Optional[list] = None) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("SHOWN") and shown is not None:
            shown.append(time.perf_counter() - start)
        if line.startswith("READY"):
            elapsed = time.perf_counter() - start
            if cpu is not None:
                cpu.append(float(line.split()[1]))
            proc.wait(timeout=60)
            return elapsed
    raise RuntimeError(f"the process ended without a window (exit {proc.wait()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        sys.exit("launch.py needs a display: run it under xvfb-run -a")
    with tempfile.TemporaryDirectory() as tmp:
        # A fresh settings file: the launch a new user sees, without a remembered layout or model.
        env = dict(os.environ, GLISSANDO_SETTINGS=os.path.join(tmp, "settings.ini"), GLISSANDO_DATA_DIR=tmp)
        time_to_ready(APP, env)  # warm the OS file cache once, as a second launch would be
        app, ref, shown, app_cpu, ref_cpu = [], [], [], [], []
        for _ in range(args.runs):
            ref.append(time_to_ready(REFERENCE, env, cpu=ref_cpu))
            app.append(time_to_ready(APP, env, shown, app_cpu))
    median, reference = statistics.median(app), statistics.median(ref)
    print("app runs (s):", " ".join(f"{t:.2f}" for t in app))
    print("window shown (s):", " ".join(f"{t:.2f}" for t in shown))
    print("reference runs (s):", " ".join(f"{t:.2f}" for t in ref))
    print(f"main thread CPU at READY (s): app {statistics.median(app_cpu):.2f} "
          f"reference {statistics.median(ref_cpu):.2f} "
          f"ratio {statistics.median(app_cpu) / statistics.median(ref_cpu):.2f}")
    print(f"launch: median_s={median:.2f} reference_s={reference:.2f} ratio={median / reference:.2f} "
          f"window_s={statistics.median(shown):.2f} budget_s=4")


if __name__ == "__main__":
    main()
