"""The house's order, held by machine: ``core`` -> (``io``, ``tracking``) -> ``app`` ->
(``cli``, ``gui``), with ``bench`` on ``app``; and no circle of imports anywhere.

Every ``import`` in the package counts, the lazy ones inside functions and the
``TYPE_CHECKING`` ones included: an arrow that runs back up is a wrong arrow whether it
runs at import time or later. Read from the source (``ast``), so nothing is executed. The
one arrow across the top floor is declared here, with its reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tracker_annotate"

#: Each room (a subpackage) and the rooms it may import, itself included.
LOWER: dict[str, set[str]] = {
    "core": set(),
    "models": {"core"},
    "synth": {"core"},
    "io": {"core"},
    "tracking": {"core", "models"},
    "app": {"core", "models", "synth", "io", "tracking"},
    "bench": {"core", "models", "synth", "io", "tracking", "app"},
    "cli": {"core", "models", "synth", "io", "tracking", "app", "bench"},
    "gui": {"core", "models", "synth", "io", "tracking", "app"},
    "__main__": {"cli"},  # python -m tracker_annotate
}
for _room, _below in LOWER.items():
    _below.add(_room)
    _below.add("")  # the root package: only ``__version__``, importing nothing (tested)

#: Declared exceptions: (importing module, imported room) -> why.
EXCEPTIONS = {
    ("tracker_annotate.cli.gui", "gui"): "the `gui` command launches the app (lazily, so the "
    "rest of the CLI runs without PyQt6)",
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def _resolve(name: str) -> str | None:
    """The module a dotted name lands in: the longest prefix that is one of ours."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _imports(module: str) -> Iterator[tuple[str, int]]:
    """``(imported module, line)`` for every import of ours in ``module``."""
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    package = module if _is_package(module) else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name)
                if target is not None:
                    yield target, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            if not base.startswith("tracker_annotate"):
                continue
            for alias in node.names:
                # `from pkg import submodule` imports the submodule
                target = _resolve(f"{base}.{alias.name}") or _resolve(base)
                if target is not None:
                    yield target, node.lineno


GRAPH = {m: sorted({t for t, _ in _imports(m) if t != m}) for m in MODULES}


def test_the_root_package_imports_nothing_of_ours() -> None:
    assert GRAPH["tracker_annotate"] == []


def test_the_reader_sees_the_arrows_it_must() -> None:
    """The parser is not blind: known arrows (top-level, lazy, relative) are found."""
    assert "tracker_annotate.core.boxes" in GRAPH["tracker_annotate.tracking.assoc"]
    assert "tracker_annotate.app.pipeline" in GRAPH["tracker_annotate.cli.track"]
    assert "tracker_annotate.gui.app" in GRAPH["tracker_annotate.cli.gui"]  # a lazy import
    assert len(MODULES) > 100


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_arrow_runs_back_up(module: str) -> None:
    room = _room(module)
    if module == "tracker_annotate":
        return
    assert room in LOWER, f"{module}: room {room!r} has no place in the order; add it to LOWER"
    wrong = []
    for target, line in _imports(module):
        to = _room(target)
        if to not in LOWER[room] and (module, to) not in EXCEPTIONS:
            wrong.append(f"{MODULES[module].relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not wrong, f"{room} may import only {sorted(LOWER[room])}:\n" + "\n".join(wrong)


def test_no_circle_anywhere() -> None:
    """Tarjan's strongly connected components over module imports: none of two or more.

    A package's ``__init__`` that re-exports its own submodules is not a circle with them
    unless one of them imports the package back."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                circles.append(sorted(comp))

    for m in sorted(GRAPH):
        if m not in index:
            visit(m)
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)
