"""The tree says the architecture: forge_lib.metrics never imports the course, exports no course
helper (nothing simulated, no demo, no stand-in), and every public name is re-exported
explicitly by forge_lib (no star imports)."""

import ast
import importlib
import inspect
import pkgutil
import re
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


def _module_graph() -> dict[str, set[str]]:
    """forge_lib's modules and the forge_lib modules each imports (a package counts as its
    __init__; `from forge_lib.tools import site` is an edge to forge_lib.tools.site)."""
    modules = {}
    for path in FORGE.rglob("*.py"):
        parts = list(path.relative_to(FORGE.parent).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolve against this module's package
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    edges.add(full if full in modules else base)
            elif isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names)
        graph[name] = {m for m in edges if m in modules and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` as [a, b, ..., a], or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [node, nxt] if nxt in path else [node, nxt]
            if nxt not in state and (found := visit(nxt, path + [node])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [])):
            return found
    return None


def test_no_forge_lib_modules_import_each_other():
    # Issue 19 section 6: tools/publish.py and tools/site.py imported each other (one of them
    # lazily, inside a function: nested imports count here). Every dependency goes one way.
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]  # it can fail
    assert _cycle({"a": {"b"}, "b": set()}) is None
    graph = _module_graph()
    assert "forge_lib.tools.site" in graph["forge_lib.tools.publish"]  # edges are found
    cycle = _cycle(graph)
    assert cycle is None, f"forge_lib modules import each other: {' -> '.join(cycle)}"


# What only the course needs: demonstrations of failures and the stand-in for a network that
# cannot be installed offline. A practitioner copies metrics/; these would travel with it.
COURSE_ONLY = {"simulated_crash", "SimulatedCrash", "simulated_bit_flip", "RandomVideoFeatures"}
DEMO_WORDS = re.compile(r"simulat|\bdemo|stand-in|stands in", re.IGNORECASE)


def _metrics_exports() -> dict[str, object]:
    found = {}
    for info in pkgutil.iter_modules([str(FORGE / "metrics")]):
        module = importlib.import_module(f"forge_lib.metrics.{info.name}")
        found.update({name: getattr(module, name) for name in getattr(module, "__all__", [])})
    return found


def test_metrics_exports_nothing_simulated_or_demo():
    for name, obj in _metrics_exports().items():
        own = inspect.isfunction(obj) or inspect.isclass(obj)  # a constant has its type's doc
        doc = (inspect.getdoc(obj) or "") if own else ""
        doc = "\n".join(line for line in doc.splitlines() if not line.startswith(("...", ">>>")))
        assert not DEMO_WORDS.search(name), f"forge_lib.metrics exports {name}: a course helper"
        assert not DEMO_WORDS.search(doc), (f"forge_lib.metrics.{name}'s docstring says "
                                            f"{DEMO_WORDS.search(doc).group()!r}: move it to course/")


def test_course_only_helpers_live_in_the_course_and_keep_their_fl_names():
    for name in COURSE_ONLY:
        module = getattr(forge_lib, name).__module__
        assert module.startswith("forge_lib.course."), f"fl.{name} lives in {module}"
    assert not COURSE_ONLY & set(_metrics_exports())


def test_metrics_modules_do_not_mention_course_helpers_as_their_own():
    # a metric's default may not be a course object: metrics never import the course, and the
    # defaults they build (RandomConvFeatures) live in metrics/
    for path in sorted((FORGE / "metrics").glob("*.py")):
        code = "\n".join(line for line in path.read_text().splitlines()
                         if not line.lstrip().startswith(("#", ">>>")))
        for name in COURSE_ONLY:
            assert f"{name}(" not in code, f"{path.name} calls the course's {name}"
