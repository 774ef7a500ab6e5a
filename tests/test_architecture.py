import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QT_MODULES = {"PySide6", "pyqtgraph", "shiboken6", "PyQt5", "PyQt6", "OpenGL"}


def _imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


def test_core_never_imports_qt():
    offenders = {str(p.relative_to(ROOT)): sorted(set(_imports(p)) & QT_MODULES) for p in (ROOT / "core").rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_core_imports_without_qt_installed_modules_loaded():
    import subprocess
    import sys

    code = ("import sys, glissando.core.cli, glissando.core.training.train, glissando.core.data.importers;"
            "bad=[m for m in sys.modules if m.split('.')[0] in ('PySide6','pyqtgraph')]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def _lint_imports(cwd: Path, env: dict | None = None):
    import subprocess
    import sys

    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_import_contracts_hold():
    """pyproject.toml's [tool.importlinter] contracts: core Qt-free, core never importing app, core's layers."""
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_import_contracts_catch_a_leak(tmp_path):
    """The same contracts on a copy of the package with three leaks planted in it: a Qt import, an import of
    the app, and a lower layer importing a higher one. The copy lives in tmp_path, so nothing can be left
    behind in the working tree."""
    import os
    import shutil

    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    # glissando stays a namespace package, as installed (grimp takes glissando.core as a root only then).
    for folder in ("core", "app"):
        shutil.copytree(ROOT / folder, tmp_path / "glissando" / folder, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    units = tmp_path / "glissando" / "core" / "units.py"
    units.write_text(units.read_text() + "\nimport PySide6  # noqa\n")
    errors = tmp_path / "glissando" / "core" / "errors.py"
    errors.write_text(errors.read_text() + "\nfrom glissando.app import main  # noqa\n")
    session = tmp_path / "glissando" / "core" / "session.py"
    session.write_text(session.read_text() + "\nfrom . import render  # noqa\n")
    # The copy comes first on the path, before the editable install's finder; the planted imports in the
    # output below show that the copy is what was linted.
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = _lint_imports(tmp_path, env)
    out = result.stdout
    assert result.returncode != 0, out + result.stderr
    # The three core contracts break (the app's layers too: the planted core -> app import closes a cycle).
    for contract in ("core is Qt-free", "core never imports the app", "core layers"):
        assert f"{contract}" in out.split("Broken contracts")[-1], out
    assert "glissando.core.units -> PySide6" in out
    assert "glissando.core.errors -> glissando.app.main" in out
    assert "glissando.core.session -> glissando.core.render" in out
