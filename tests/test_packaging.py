"""The wheel `pip install .` builds holds every package and data file, under glissando.* only.

The wheel is built from a copy of the source (so a stale build/ in the checkout, or another build running
there at the same time, cannot leak into or break it), with decoys that must stay out: a training
checkpoint next to the model and data/, runs/ folders. It is then unpacked (a pure wheel's install is its
unpacking) and imported with nothing but that folder and the third-party packages on the path, so nothing
resolves back into the checkout through the editable install.
"""
import configparser
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE_ROOTS = ("core", "app", "models", "resources")
# Top-level things the wheel must never hold, by the first part of their path.
OUTSIDE = {"core", "app", "models", "resources", "tests", "data", "runs", "bench", "packaging"}
_TOP_SKIP = {".git", ".venv", "build", "dist", "data", "runs"}  # only at the top: core/data is a package
_SKIP = shutil.ignore_patterns("*.egg-info", "__pycache__", "*.pyc", ".*_cache", "checkpoint.pt", "*.tmp", ".cache")


def _ignore(folder, names):
    return _SKIP(folder, names) | (_TOP_SKIP & set(names) if Path(folder) == ROOT else set())


def _files(folder: Path):
    return [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".")
            and p.suffix not in (".pyc", ".tmp") and not p.name.endswith("~")]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=_ignore)
    for decoy in ("data/notes.json", "runs/loso/loso.json", "models/default/checkpoint.pt"):
        (src / decoy).parent.mkdir(parents=True, exist_ok=True)
        (src / decoy).write_text("decoy\n")
    (src / "data" / "stray.py").write_text("")
    out = tmp / "dist"
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
               "-w", str(out), str(src)]
    proc = subprocess.run(command, check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = out.glob("glissando-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry_points = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    return src, wheel, names, entry_points


def test_every_source_file_is_in_the_wheel_under_glissando(built):
    src, _, names, _ = built
    expected = {f"glissando/{p.relative_to(src).as_posix()}" for root in SOURCE_ROOTS for p in _files(src / root)}
    expected -= {"glissando/models/default/checkpoint.pt"}
    assert sorted(expected - names) == []
    # Every package folder (any folder with a .py file) under the checkout's core/ and app/, e.g. core/playback.
    packages = {p.parent.relative_to(ROOT).as_posix() for root in ("core", "app") for p in (ROOT / root).rglob("*.py")
                if "__pycache__" not in p.parts}
    assert {"core/playback", "app/widgets", "app/dialogs"} <= packages
    assert sorted(p for p in packages if not any(n.startswith(f"glissando/{p}/") for n in names)) == []


def test_wheel_holds_only_glissando_and_its_metadata(built):
    _, _, names, _ = built
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"glissando"}
    assert {n.split("/")[1] for n in names if n.startswith("glissando/")} <= {"core", "app", "models", "resources"}
    assert not [n for n in names if n.split("/")[0] in OUTSIDE]
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pt", ".tmp"))]


def test_model_and_resources_are_package_data(built):
    _, _, names, _ = built
    for name in ("models/default/model.safetensors", "models/default/MODEL_CARD.md", "resources/demo/melody.mid",
                 "resources/soundfonts/GeneralUserGS.sf2", "resources/soundfonts/README.md"):
        assert f"glissando/{name}" in names


def test_entry_points(built):
    *_, text = built
    ep = configparser.ConfigParser()
    ep.read_string(text)
    assert ep["console_scripts"]["glissando"].strip() == "glissando.core.cli:main"
    assert ep["glissando.frontends"]["gui"].strip() == "glissando.app.main:run_app"


def test_unpacked_wheel_finds_its_model_and_soundfont(built, tmp_path):
    """Installed, the code finds the shipped model and soundfont inside the install, not in the checkout."""
    _, wheel, _, _ = built
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(target)
    code = (
        "import sys; sys.path[:0] = sys.argv[1:3]\n"
        "from importlib.metadata import entry_points\n"
        "import glissando.core.cli, glissando.core.playback\n"
        "from glissando.core.models.modelfile import default_model_path\n"
        "from glissando.core.data.soundfont import TRAINING_SOUNDFONTS\n"
        "(gui,) = entry_points(group='glissando.frontends', name='gui')\n"
        "print(glissando.core.cli.__file__); print(default_model_path()); print(TRAINING_SOUNDFONTS['GeneralUserGS'])\n"
        "print(gui.dist.locate_file(''))\n"
    )
    # -S: no site-packages .pth files, so the checkout's editable-install finder stays out of the way; the
    # third-party packages come after the unpacked wheel on the path.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.run([sys.executable, "-S", "-c", code, str(target), sysconfig.get_paths()["purelib"]],
                          check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split()
    assert len(lines) == 4 and all(line.startswith(str(target)) for line in lines), proc.stdout
    assert all(Path(line).exists() for line in lines[1:3])
