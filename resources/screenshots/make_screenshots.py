"""Rebuilds the README's screenshots by driving the app as a user would.

    xvfb-run -a -s "-screen 0 1280x1024x24" .venv/bin/python resources/screenshots/make_screenshots.py
"""
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def main() -> None:
    tmp = tempfile.mkdtemp()
    os.environ.update(GLISSANDO_SETTINGS=os.path.join(tmp, "settings.ini"), GLISSANDO_DATA_DIR=tmp)
    from PySide6.QtCore import QCoreApplication, QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication(sys.argv[:1])  # noqa: F841  (kept alive for the whole script)
    from glissando.app.main_window import MainWindow
    from glissando.core.render import write_wav

    window = MainWindow()
    window.resize(1240, 860)
    window.show()

    def wait_for(signal, timeout_ms=120000):
        loop = QEventLoop()
        signal.connect(loop.quit)
        QTimer.singleShot(timeout_ms, loop.quit)
        loop.exec()

    def settle(ms=600):
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    wait_for(window.sessionReady)
    for midi, dyn in ((60, "mf"), (64, "ff"), (67, "mf"), (72, "pp")):
        window.trajectory.add_label(midi, dyn, "flute")
    window.editor.interpolation.setCurrentText("cubic")
    window.picker.set_current(64, "ff", "flute")
    window.navigation.pick(64, "ff", "flute")
    settle(3000)  # the note renders and the cursor decodes on workers
    window.grab().save(str(HERE / "navigator.png"))

    window.open_midi(ROOT / "resources" / "demo" / "melody.mid")
    window.midi.render()
    wait_for(window.jobFinished)
    settle()
    window.grab().save(str(HERE / "midi.png"))

    wav = Path(tmp) / "melody.wav"
    write_wav(wav, window.midi.audio, force=True)
    window.open_audio(wav)
    wait_for(window.jobFinished)
    settle()
    window.grab().save(str(HERE / "transcription.png"))
    window.close()


if __name__ == "__main__":
    main()
