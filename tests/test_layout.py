"""The tree says the architecture: forge_lib.metrics never imports the course, and every public
name is re-exported explicitly by forge_lib (no star imports)."""

import ast
import importlib
import pkgutil
from pathlib import Path

import forge_lib
import forge_lib.metrics

FORGE = Path(forge_lib.__file__).parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):  # nested imports count too: a lazy import is still a dependency
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_metrics_imports_neither_the_course_nor_the_tools():
    for path in sorted((FORGE / "metrics").glob("*.py")):
        imports = _imports(path)
        course = {m for m in imports if m.split(".")[:2] in (["forge_lib", "course"],
                                                            ["forge_lib", "check"],
                                                            ["forge_lib", "tools"])}
        assert not course, f"{path.name} imports {sorted(course)}: metrics must stand alone"
        assert "forge_lib" not in imports or path.name == "__init__.py", path.name


def test_every_public_name_is_exported_explicitly_and_once():
    source = (FORGE / "__init__.py").read_text()
    assert "import *" not in source
    exported = {n for n in dir(forge_lib) if not n.startswith("_")}
    for package in ("metrics", "course"):
        for info in pkgutil.iter_modules([str(FORGE / package)]):
            module = importlib.import_module(f"forge_lib.{package}.{info.name}")
            missing = set(getattr(module, "__all__", [])) - exported
            assert not missing, f"forge_lib.{package}.{info.name}: {sorted(missing)} not in fl"


def test_each_notebook_has_its_own_checker_module():
    notebooks = sorted(p.stem for p in (FORGE.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    checkers = sorted(p.stem.removeprefix("nb") for p in (FORGE / "check").glob("nb*.py"))
    assert set(checkers) <= set(notebooks) and len(checkers) >= 16
