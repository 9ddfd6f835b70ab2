"""The package's layers and their one import direction (docs/architecture.md).

Every ``import`` statement of every module is read, including those inside functions and
under ``TYPE_CHECKING``: a module may import only from its own layer or the layers below it
(nn <- train <- check <- apps <- cli), never from the package root or a facade module, and
no chain of imports that run may lead back to where it started (an import under
``if TYPE_CHECKING:`` never runs: it names a type for the checker, as ``Solver`` in the
callbacks that receive one, and counts for the layer order only).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "minirnn"
#: The layers from the bottom up; each may import from itself and those before it.
LAYERS = ("nn", "train", "check", "apps", "cli")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                inside.update(id(n) for n in ast.walk(stmt))
    return inside


def imported_modules(name: str, path: Path, modules: dict[str, Path],
                     runtime_only: bool = False) -> Iterator[tuple[str, int]]:
    """Yield (module imported, line) for every minirnn import in the file (with
    ``runtime_only``, not those under ``if TYPE_CHECKING:``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree) if runtime_only else set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "minirnn":
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "minirnn":
                continue
            for alias in node.names:
                # `from package import module` imports the module itself.
                candidate = f"{target}.{alias.name}"
                yield (candidate if candidate in modules else target), node.lineno


def layer_of(module: str) -> int | None:
    """Index of the module's layer in LAYERS; None for the root and facade modules."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    return None


def import_graph(runtime_only: bool = False) -> dict[str, list[tuple[str, int]]]:
    modules = all_modules()
    return {name: list(imported_modules(name, path, modules, runtime_only))
            for name, path in modules.items()}


def find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), or self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, []):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, []):
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_every_module_sits_in_a_layer_or_is_a_facade() -> None:
    top = sorted(p.stem for p in PACKAGE.glob("*.py"))
    folders = sorted(p.name for p in PACKAGE.iterdir()
                     if p.is_dir() and (p / "__init__.py").exists())
    assert folders == sorted(LAYERS), folders
    # Top-level modules only re-export (the public paths of DESIGN.md) or start the CLI.
    for stem in top:
        if stem in ("__init__", "__main__"):
            continue
        tree = ast.parse((PACKAGE / f"{stem}.py").read_text(encoding="utf-8"))
        statements = [n for n in tree.body if not (
            isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
        assert all(isinstance(n, ast.ImportFrom | ast.Assign) for n in statements), stem


def test_imports_go_one_way() -> None:
    upward = []
    for module, imports in import_graph().items():
        here = layer_of(module)
        if here is None:
            continue
        for target, line in imports:
            there = layer_of(target)
            if there is None or there > here:
                upward.append(f"{module}:{line} imports {target}")
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def test_no_import_cycles() -> None:
    graph = {m: sorted({t for t, _ in imports})
             for m, imports in import_graph(runtime_only=True).items()}
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_checks_catch_what_they_claim() -> None:
    assert find_cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert find_cycles({"a": ["a"]}) == [["a"]]
    assert find_cycles({"a": ["b"], "b": []}) == []
    assert layer_of("minirnn.nn.layers.recurrent") == 0
    assert layer_of("minirnn.cli") == 4
    assert layer_of("minirnn.layers") is None  # a facade


@pytest.mark.parametrize("public", ["cells", "layers", "losses", "optim", "data", "gradcheck",
                                    "testing", "callbacks", "functional", "estimators"])
def test_public_paths_re_export_the_layered_objects(public: str) -> None:
    import importlib

    facade = importlib.import_module(f"minirnn.{public}")
    assert facade.__all__
    for name in facade.__all__:
        obj = getattr(facade, name)
        home = getattr(obj, "__module__", None)
        if home is not None and isinstance(obj, type):
            assert layer_of(home) is not None, (public, name, home)
