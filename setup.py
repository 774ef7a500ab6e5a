"""Which packages and files the wheel holds; everything else about the project is in pyproject.toml.

The import names are glissando.core, glissando.app, glissando.models and glissando.resources, but their
folders are core/, app/, models/ and resources/ at the repository root. pyproject.toml alone cannot
discover them under those names: [tool.setuptools.packages.find] names a package after its folder (it
would install top-level `core` and `app` into site-packages), and a hand-written `packages` list silently
drops every subpackage nobody remembered to add (core.playback, app.widgets, app.dialogs were missing).
So the list is computed here at build time: each root folder is mapped to its dotted name through
package_dir, and setuptools.find_namespace_packages lists every folder below it (a folder with Python
files but no __init__.py, and a data-only folder such as resources/demo, count too), so a new subpackage
or data folder needs no edit. Data-only folders are listed as (namespace) packages rather than reached
with "**" globs because setuptools warns about, and plans to stop, shipping files from unlisted folders.

tests/, data/, runs/, bench/ and packaging/ lie outside the four roots and never reach the wheel;
tests/test_packaging.py builds the wheel and checks all of this.
"""
from setuptools import find_namespace_packages, setup

ROOTS = {"glissando.core": "core", "glissando.app": "app", "glissando.models": "models",
         "glissando.resources": "resources"}

# Files other than modules that travel with each package. models/: the model files and their card, never
# a training checkpoint (models/*/checkpoint.pt, hundreds of MB). Everything else: whatever lies in the
# package's folder (icons, style sheets, soundfonts, demo MIDI/WAV...), less the junk below.
DATA = {"glissando.models": ["*.safetensors", "*.md", "*.json"]}
EXCLUDE = ["*.pyc", "*.pyo", "*.tmp", "*~", "*.pt", "*.ckpt", "*.swp"]

packages, package_data = [], {}
for name, folder in ROOTS.items():
    found = [name] + [f"{name}.{sub}" for sub in find_namespace_packages(where=folder, exclude=["*__pycache__*"])]
    packages += found
    for pkg in found:
        package_data[pkg] = next((v for k, v in DATA.items() if pkg == k or pkg.startswith(k + ".")), ["*"])

setup(
    package_dir=ROOTS,
    packages=packages,
    package_data=package_data,
    exclude_package_data={pkg: EXCLUDE for pkg in packages},
    include_package_data=False,
)
