"""Frozen-app entry point for PyInstaller: the same as `glissando gui`."""
import sys

from glissando.core.cli import main

sys.exit(main(["gui", *sys.argv[1:]]))
