"""Imports run one way (issue: one-way pipeline), read from the source with ``ast``.

cli/commands/worker → pipeline → stages → {ingest, store, ctcae, safety, alerts}
→ models/db/config. Deferred imports inside functions count; only ``if TYPE_CHECKING:``
blocks are ignored (they never run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
STAGES = (
    "read",
    "check",
    "plausibility",
    "code",
    "store",
    "exposure",
    "emergence",
    "reconcile",
    "grade",
    "derive",
    "rules",
    "alerts",
)


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / "aewatch").rglob("*.py")):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


MODULES = _modules()


def _imported_names(path: Path) -> Iterator[str]:
    """Every module name an import statement of this file names, runtime imports only."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.dump(block.test)
        for node in ast.walk(block)
    }
    package = ".".join(path.relative_to(SRC).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for name in _imported_names(path):
            target = _resolve(name)
            if target and target != module and not module.startswith(target + "."):
                edges[module].add(target)
    return edges


EDGES = _edges()


def _third_party(module: str) -> set[str]:
    return {n.split(".")[0] for n in _imported_names(MODULES[module])}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def _in(package: str) -> list[str]:
    return [m for m in MODULES if m == package or m.startswith(package + ".")]


def test_the_source_tree_was_found() -> None:
    assert "aewatch.pipeline.transaction" in MODULES
    assert len(MODULES) > 50


def test_no_import_cycles_between_modules() -> None:
    assert _cycles(EDGES) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize(
    "package", ["aewatch.ingest", "aewatch.ctcae", "aewatch.safety", "aewatch.exposure"]
)
def test_pure_packages_never_touch_the_database(package: str) -> None:
    offenders = {
        module: sorted(
            t for t in EDGES[module] if t in {"aewatch.models", "aewatch.db"} or "store" in t
        )
        + sorted(_third_party(module) & {"sqlalchemy", "alembic", "psycopg"})
        for module in _in(package)
    }
    assert {m: o for m, o in offenders.items() if o} == {}


def test_ingest_imports_nothing_above_it() -> None:
    allowed = ("aewatch.ingest", "aewatch.config", "aewatch.ctcae")
    offenders = {
        module: sorted(t for t in EDGES[module] if not t.startswith(allowed))
        for module in _in("aewatch.ingest")
    }
    assert {m: o for m, o in offenders.items() if o} == {}


def test_only_the_entry_points_import_the_pipeline() -> None:
    importers = {
        m
        for m, targets in EDGES.items()
        if not m.startswith("aewatch.pipeline")
        and any(t.startswith("aewatch.pipeline") for t in targets)
    }
    assert importers <= {"aewatch.cli", "aewatch.worker"} | set(_in("aewatch.commands"))


def test_layers_below_the_pipeline_never_import_the_entry_points() -> None:
    top = ("aewatch.cli", "aewatch.worker", "aewatch.commands", "aewatch.pipeline", "aewatch.web")
    lower = [
        m
        for package in (
            "aewatch.ingest",
            "aewatch.store",
            "aewatch.ctcae",
            "aewatch.safety",
            "aewatch.alerts",
            "aewatch.reports",
        )
        for m in _in(package)
    ]
    offenders = {m: sorted(t for t in EDGES[m] if t.startswith(top)) for m in lower}
    assert {m: o for m, o in offenders.items() if o} == {}


def test_only_the_serve_command_imports_the_web_server() -> None:
    importers = {
        m
        for m, targets in EDGES.items()
        if not m.startswith("aewatch.web") and any(t.startswith("aewatch.web") for t in targets)
    }
    assert importers == {"aewatch.commands.web"}


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_imports_only_earlier_stages_and_the_context(stage: str) -> None:
    module = f"aewatch.pipeline.{stage}"
    allowed = {f"aewatch.pipeline.{s}" for s in STAGES[: STAGES.index(stage)]}
    allowed.add("aewatch.pipeline.context")
    pipeline_imports = {t for t in EDGES[module] if t.startswith("aewatch.pipeline")}
    assert pipeline_imports <= allowed, f"{module} imports {sorted(pipeline_imports - allowed)}"


def test_every_stage_has_its_module_and_is_in_the_transaction() -> None:
    for stage in STAGES:
        assert f"aewatch.pipeline.{stage}" in MODULES
    transaction = EDGES["aewatch.pipeline.transaction"]
    assert {f"aewatch.pipeline.{s}" for s in STAGES if s != "read"} <= transaction
