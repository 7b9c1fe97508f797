"""The package's layering, read from the source with `ast` (nothing is imported).

- no import cycle between modules (an import inside a function counts too);
- `data` and `worlds` import no other prmkit package;
- `prm` never imports `rl`, `search` or `serve`;
- no library module imports `prmkit.commands` or `prmkit.demo`: only the CLI does.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
TOP = "prmkit"
FRONT = ("prmkit.cli", "prmkit.commands", "prmkit.demo")  # the CLI and what only it imports


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in (SRC / TOP).rglob("*.py")}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The prmkit modules that `name` imports. `from pkg import sub` names the
    submodule `pkg.sub` when there is one, else `pkg`."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            subs = {f"{base}.{a.name}" for a in node.names} & known
            out |= subs or {base}
    return {m for m in out if m in known and m != name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(name, path, set(mods)) for name, path in mods.items()}


def under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_the_walker_sees_relative_and_submodule_imports(tmp_path):
    known = {"prmkit.a", "prmkit.a.b", "prmkit.a.c", "prmkit.d"}
    f = tmp_path / "b.py"
    f.write_text("from . import c\nfrom prmkit.d import thing\n\ndef f():\n    import prmkit.a\n")
    assert imports("prmkit.a.b", f, known) == {"prmkit.a.c", "prmkit.d", "prmkit.a"}
    assert cycles({"x": {"y"}, "y": {"z"}, "z": {"x"}, "w": {"x"}}) == [["x", "y", "z"]]


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_data_and_worlds_import_no_other_prmkit_package():
    bad = [
        (m, d)
        for m, deps in graph().items()
        for pkg in ("prmkit.data", "prmkit.worlds")
        if under(m, pkg)
        for d in deps
        if not under(d, pkg)
    ]
    assert bad == []


def test_prm_never_imports_rl_search_or_serve():
    bad = [
        (m, d)
        for m, deps in graph().items()
        if under(m, "prmkit.prm")
        for d in deps
        if any(under(d, p) for p in ("prmkit.rl", "prmkit.search", "prmkit.serve"))
    ]
    assert bad == []


def test_the_library_never_imports_the_commands_or_the_demo():
    g = graph()
    library = [m for m in g if not any(under(m, f) for f in FRONT)]
    bad = [(m, d) for m in library for d in g[m] if any(under(d, f) for f in FRONT[1:])]
    assert bad == []
    # and only the demo command imports the demo
    users = {m for m, deps in g.items() for d in deps if under(d, "prmkit.demo")}
    assert {m for m in users if not under(m, "prmkit.demo")} == {"prmkit.commands.demo"}
