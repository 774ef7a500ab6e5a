"""Frozen-app entry point for PyInstaller.

`glissando` alone (or with gui options such as --model/--screenshot) opens the desktop app, as a
double-clicked bundle should; `glissando VERB ...` runs that verb of the CLI (transcribe, synth, ...), so
the bundle also does everything `glissando` does when installed with pip.
"""
import multiprocessing
import sys

from glissando.core.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process must not start another app
    args = sys.argv[1:]
    if not args or (args[0].startswith("-") and args[0] not in ("-h", "--help")):
        args = ["gui", *args]
    sys.exit(main(args))
