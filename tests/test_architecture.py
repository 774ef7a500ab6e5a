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
