"""The package's import graph: evaluation sits on top, the library never reaches into indexing/serving.

Every ``import`` statement of every module under ``drqa_ng/`` is read with ``ast`` (function-level
imports included, since a lazy import is still a dependency), so these fail as soon as someone adds
an edge the architecture forbids.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "drqa_ng"


@dataclass(frozen=True, slots=True)
class Edge:
    source: str  # importing module, dotted
    target: str  # imported module, dotted (``from a import b`` gives ``a.b`` when that is a module)
    lazy: bool  # inside a function body
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(source: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = source.split(".") if is_package else source.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(path: Path) -> list[Edge]:
    source = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    edges: list[Edge] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                edges.extend(Edge(source, a.name, lazy, child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(source, path.name == "__init__.py", child)
                edges.append(Edge(source, base, lazy, child.lineno))
                edges.extend(Edge(source, f"{base}.{a.name}", lazy, child.lineno) for a in child.names)
            visit(child, inner)

    visit(tree, False)
    return edges


def all_edges() -> list[Edge]:
    return [e for p in sorted(PACKAGE.rglob("*.py")) for e in imports_of(p)]


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.fixture(scope="module")
def edges() -> list[Edge]:
    found = all_edges()
    assert len(found) > 100, "the walk found too few imports: is PACKAGE right?"
    return found


def test_walker_sees_lazy_imports() -> None:
    pkg = ROOT / "drqa_ng" / "retrieval" / "loader.py"  # imports its openers inside functions
    lazy = [e for e in imports_of(pkg) if e.lazy]
    assert any(e.target == "drqa_ng.retrieval.sparse" for e in lazy), lazy


def test_evaluation_is_a_leaf(edges: list[Edge]) -> None:
    """Nothing below the evaluation layer (retrieval, reading, pipeline, store, video...) imports it."""
    bad = [
        e
        for e in edges
        if _under(e.target, "drqa_ng.evaluation")
        and not _under(e.source, "drqa_ng.evaluation")
        and not _under(e.source, "drqa_ng.cli")
    ]
    assert not bad, "\n".join(f"{e.source}:{e.line} imports {e.target}" for e in bad)


def test_library_never_imports_indexing_or_serving(edges: list[Edge]) -> None:
    """drqa_ng/ is the library; only the CLI's command handlers reach the builders and the server, lazily."""
    bad = [
        e
        for e in edges
        if (_under(e.target, "indexing") or _under(e.target, "serving"))
        and (not _under(e.source, "drqa_ng.cli") or not e.lazy)
    ]
    assert not bad, "\n".join(f"{e.source}:{e.line} imports {e.target}" for e in bad)


def test_no_two_modules_import_each_other(edges: list[Edge]) -> None:
    """No import cycle of length two anywhere in drqa_ng (lazy imports count: they hide a loop, not fix it)."""
    pairs = {(e.source, e.target) for e in edges}
    loops = sorted({tuple(sorted((a, b))) for a, b in pairs if a != b and (b, a) in pairs})
    assert not loops, loops


def package_of(module: str) -> str | None:
    """The room a module lives in: ``drqa_ng.X`` (a subpackage or a top-level module); None outside."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "drqa_ng" and len(parts) > 1 else None


def package_loops(edges: list[Edge]) -> list[list[Edge]]:
    """Each group of rooms that import each other, directly or round a longer loop (a strongly
    connected component of the room graph with two rooms or more), as the edges inside it."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        a, b = package_of(e.source), package_of(e.target)
        if a and b and a != b:
            graph.setdefault(a, set()).add(b)
            graph.setdefault(b, set())

    def reach(start: str) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in graph[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reachable = {n: reach(n) for n in graph}
    groups = {frozenset(m for m in reachable[n] if n in reachable[m]) for n in graph}
    return [
        [
            e
            for e in edges
            if package_of(e.source) in g
            and package_of(e.target) in g
            and package_of(e.source) != package_of(e.target)
        ]
        for g in sorted(groups, key=sorted)
        if len(g) > 1
    ]


def test_package_loop_finder_sees_a_long_loop() -> None:
    """retrieval -> reading -> video -> retrieval is a loop though no two modules import each other."""
    loop = [
        Edge("drqa_ng.retrieval.encoder", "drqa_ng.reading.features", True, 1),
        Edge("drqa_ng.reading.distant", "drqa_ng.video.index", False, 2),
        Edge("drqa_ng.video.index", "drqa_ng.retrieval.sparse", True, 3),
        Edge("drqa_ng.video.qa", "drqa_ng.errors", False, 4),
    ]
    (found,) = package_loops(loop)
    assert found == loop[:3]
    assert package_loops(loop[:2]) == []


def test_no_package_loops(edges: list[Edge]) -> None:
    """No two rooms of drqa_ng depend on each other, however long the loop (lazy imports count: they
    hide a loop, not fix it). Before: retrieval <-> video (the loader opened video indexes) and
    retrieval <-> reading (the dense encoder borrowed the reader's tokenizer loader)."""
    loops = package_loops(edges)
    assert not loops, "\n\n".join(
        "\n".join(f"{e.source}:{e.line} imports {e.target}" for e in g) for g in loops
    )


def test_no_package_loop_between_pipeline_reading_and_evaluation(edges: list[Edge]) -> None:
    """pipeline, reading and retrieval never import evaluation, so the three cannot form a loop through it."""
    top = {"drqa_ng.pipeline", "drqa_ng.reading", "drqa_ng.retrieval"}
    bad = [
        e for e in edges if any(_under(e.source, t) for t in top) and _under(e.target, "drqa_ng.evaluation")
    ]
    assert not bad, bad


def test_each_protocol_is_declared_once() -> None:
    """``class X(Protocol)`` for every protocol the stages meet at appears only in drqa_ng.protocols
    (before: TextEncoder lived in retrieval.encoder, Recognizer in video.recognize, Progress in
    evaluation.runner)."""
    declared: dict[str, list[str]] = {}
    for p in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(b, ast.Name) and b.id == "Protocol" for b in node.bases
            ):
                declared.setdefault(node.name, []).append(module_name(p))
    for name in (
        "Reader",
        "PassageStore",
        "Retriever",
        "GoldQuestion",
        "TextEncoder",
        "Recognizer",
        "Progress",
    ):
        assert declared.get(name) == ["drqa_ng.protocols"], (name, declared.get(name))
    readers = [n for n, mods in declared.items() if "Reader" in n]
    assert readers == ["Reader"], declared


def test_reading_a_data_home_never_needs_the_builders(edges: list[Edge]) -> None:
    """ask/search/add read config.json through drqa_ng.config, not through indexing.quickstart."""
    readers = {"indexing.quickstart.read_home_config", "indexing.quickstart.HomeConfig"}
    bad = [e for e in edges if e.target in readers]
    assert not bad, bad


def _module_level_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }


def test_every_format_has_one_home() -> None:
    """KIND / FORMAT_VERSION / CONFIG_VERSION are defined only in drqa_ng (beside the reader), and the
    builders in indexing/ write manifests only through the typed classes (no raw write_manifest)."""
    constants = {"KIND", "FORMAT_VERSION", "CONFIG_VERSION"}
    homes: dict[str, list[str]] = {}
    for p in sorted(ROOT.glob("indexing/**/*.py")) + sorted(PACKAGE.rglob("*.py")):
        for name in _module_level_names(p) & constants:
            homes.setdefault(name, []).append(str(p.relative_to(ROOT)))
    assert all(path.startswith("drqa_ng/") for paths in homes.values() for path in paths), homes
    assert homes["CONFIG_VERSION"] == ["drqa_ng/config.py"], homes
    raw = [
        f"{module_name(p)}: {e.target}"
        for p in sorted(ROOT.glob("indexing/**/*.py"))
        for e in imports_of(p)
        if e.target in ("drqa_ng.index_io.write_manifest", "drqa_ng.index_io.read_manifest")
    ]
    assert not raw, raw
